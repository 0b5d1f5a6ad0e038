#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TallyCore

extension Timestamp {
    /// The current time, to the second (it asks the system clock, so it lives here, not in TallyCore).
    public static var now: Timestamp { Timestamp(seconds: Int64(time(nil))) }
}
