#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import TallyCore

/// Foundation's JSON decoder, for the feed declarations (TallyCore checks them; it imports no
/// Foundation).
public struct FoundationJSON: JSONDecoding {
    public init() {}
    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(bytes))
    }
}

extension FeedSpec {
    /// Builds a spec from the bytes of a feed file and, for CSV feeds, of its Table Schema (read
    /// by `readSibling`), decoded with Foundation's JSON decoder.
    public static func load(feedFile: String, bytes: [UInt8], readSibling: (String) throws -> [UInt8]) throws -> FeedSpec {
        try load(feedFile: feedFile, bytes: bytes, readSibling: readSibling, json: FoundationJSON())
    }
}
