/// Why an input could not be read, with the exit status it deserves (sysexits).
///
/// Messages name the file and, where there is one, the line: `transit-20261127.csv.gz: truncated
/// gzip stream (ends inside a member)`.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What kind of failure.
    public enum Kind: Sendable, Equatable {
        /// The file does not exist or cannot be opened (exit 66).
        case noInput
        /// The bytes are bad: corrupt or truncated gzip, a line too long, a ratio too high (exit 65).
        case data
        /// Reading failed at the system level (exit 74).
        case io
        /// The environment names a setting that does not exist (exit 78).
        case config
    }

    public var kind: Kind
    /// The file's display name (`-` for standard input).
    public var file: String
    /// The 1-based line, when the fault belongs to one.
    public var line: Int?
    /// What is wrong.
    public var message: String

    public init(_ kind: Kind, file: String, line: Int? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`, or `file: message`.
    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }

    /// The sysexits status for this failure.
    public var exitStatus: Int32 {
        switch kind {
        case .noInput: return 66
        case .data: return 65
        case .io: return 74
        case .config: return 78
        }
    }
}
