/// The exit statuses every stage uses (BSD sysexits), in one place.
public enum ExitStatus {
    /// Success, including a reader that closed the pipe early.
    public static let ok: Int32 = 0
    /// Bad usage: unknown option, bad value (EX_USAGE).
    public static let usage: Int32 = 64
    /// Bad input data (EX_DATAERR).
    public static let data: Int32 = 65
    /// An input file is missing or unreadable (EX_NOINPUT).
    public static let noInput: Int32 = 66
    /// An internal error (EX_SOFTWARE).
    public static let software: Int32 = 70
    /// A read or write failed (EX_IOERR).
    public static let ioError: Int32 = 74
    /// Try again later: something else held what was needed (EX_TEMPFAIL).
    public static let tempFail: Int32 = 75

    /// The status to exit with when a run has met both `a` and `b`: a failed write outranks a
    /// missing input, which outranks bad data, which outranks success. Stages that go on past a
    /// bad file fold each file's status in with this.
    public static func worst(_ a: Int32, _ b: Int32) -> Int32 {
        func rank(_ s: Int32) -> Int {
            switch s {
            case ok: return 0
            case data: return 1
            case noInput: return 2
            default: return 3
            }
        }
        return rank(b) > rank(a) ? b : a
    }
}
