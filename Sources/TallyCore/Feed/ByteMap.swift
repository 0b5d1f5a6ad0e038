/// A small map from byte strings to values, looked up straight from a row's bytes.
///
/// The maps in a feed declaration (kind by status, scheme by taxpayer kind) have two to five
/// entries; comparing bytes beats making a `String` and hashing it for every row, which cost
/// a noticeable share of parsing a court file (measured with perf).
public struct ByteMap<Value>: Sendable where Value: Sendable {
    private var keys: [[UInt8]]
    private var values: [Value]

    public init(_ dictionary: [String: Value]) {
        let sorted = dictionary.sorted { $0.key < $1.key }
        keys = sorted.map { Array($0.key.utf8) }
        values = sorted.map(\.value)
    }

    /// The value for the key spelled by `bytes`.
    @inline(__always)
    public subscript(_ bytes: UnsafeRawBufferPointer) -> Value? {
        for i in keys.indices where RowValidator.equal(bytes, keys[i]) { return values[i] }
        return nil
    }

    /// Every value, in key order.
    public var allValues: [Value] { values }

    /// The value for a string key.
    public subscript(_ key: String) -> Value? {
        var key = key
        return key.withUTF8 { self[UnsafeRawBufferPointer($0)] }
    }
}
