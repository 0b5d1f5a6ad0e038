import TallyCore
import TallyIO

/// A rules file and the feed declarations it is checked against, loaded for a stage: an
/// unreadable file is 66, a fault in it 65 with its line.
public enum RulesFile {
    /// Every feed declaration (read once: the rules' kinds and sources are checked against them,
    /// and explanations take natural keys from them).
    public static func feeds(_ schemasDirectory: String?) throws -> [FeedSpec] {
        let names = FeedCatalog.feedNames(schemasDirectory: schemasDirectory)
        // Without them every kind in the rules would read as unknown, which misleads: say what
        // is missing instead (a binary copied away from its share/tally, say).
        guard !names.isEmpty else {
            throw StageFailure("no feed declarations (*.feed.json) found (looked in \(FeedCatalog.placesTried(schemasDirectory: schemasDirectory))); the rules are checked against them: give --schemas DIR or set TALLY_SCHEMAS", status: ExitStatus.noInput)
        }
        return try names.map { try FeedCatalog.loadForStage($0, schemasDirectory: schemasDirectory).spec }
    }

    /// Loads and checks the rules file at `path` (when nil, the default rules found by
    /// `FeedCatalog.rulesSearchPath`) against `feeds`' event kinds.
    public static func load(_ given: String?, feeds: [FeedSpec]) throws -> Rules {
        let path: String
        if let given { path = given } else {
            do { path = try FeedCatalog.defaultRules() } catch { throw StageFailure(error.description, status: ExitStatus.noInput) }
        }
        let bytes: [UInt8]
        do { bytes = try readWholeFile(path) } catch { throw StageFailure(error.description, status: error.exitStatus) }
        let digest = "sha256:" + Hex.encode(SHA256Digest.of(bytes))
        let kinds = feeds.reduce(into: Set<String>()) { $0.formUnion($1.eventKinds) }
        do throws(RulesError) {
            return try Rules.load(yaml: String(decoding: bytes, as: UTF8.self), digest: digest, knownKinds: kinds)
        } catch {
            throw StageFailure("\(path):\(error.line > 0 ? "\(error.line):" : "") \(error.message)", status: ExitStatus.data)
        }
    }

    /// Per source, the attribute names that make its natural key.
    public static func naturalKeys(_ feeds: [FeedSpec]) -> [String: [String]] {
        Dictionary(feeds.map { spec in (spec.name, spec.naturalKey.map { spec.fields[$0].name }) }, uniquingKeysWith: { a, _ in a })
    }
}
