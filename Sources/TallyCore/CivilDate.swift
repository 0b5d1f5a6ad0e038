/// A proleptic Gregorian calendar date with no time zone, as feeds write `YYYY-MM-DD`.
public struct CivilDate: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    /// Makes a date if `year`-`month`-`day` is a real calendar date (years 1 to 9999).
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
              day >= 1, day <= CivilDate.daysIn(month: month, year: year) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// The date `days` days after 1970-01-01.
    public init(daysSinceEpoch days: Int) {
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// Days since 1970-01-01 (negative before).
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Whether `year` is a Gregorian leap year.
    public static func isLeap(_ year: Int) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    /// The number of days in a month.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Parses exactly `YYYY-MM-DD`; nil if the text is not that shape or not a real date.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> CivilDate? {
        guard bytes.count == 10, bytes[4] == 0x2D, bytes[7] == 0x2D,
              let y = digits(bytes, 0, 4), let m = digits(bytes, 5, 2), let d = digits(bytes, 8, 2) else { return nil }
        return CivilDate(year: y, month: m, day: d)
    }

    /// Parses exactly `YYYY-MM-DD` from a string.
    public static func parse(_ text: String) -> CivilDate? {
        var text = text
        return text.withUTF8 { parse(UnsafeRawBufferPointer($0)) }
    }

    /// Parses `YYYYMMDD` (as inside a resident identity number).
    public static func parseCompact(_ bytes: UnsafeRawBufferPointer) -> CivilDate? {
        guard bytes.count == 8, let y = digits(bytes, 0, 4), let m = digits(bytes, 4, 2), let d = digits(bytes, 6, 2) else { return nil }
        return CivilDate(year: y, month: m, day: d)
    }

    /// The date `n` days later.
    public func adding(days n: Int) -> CivilDate { CivilDate(daysSinceEpoch: daysSinceEpoch + n) }

    /// `YYYY-MM-DD`.
    public var description: String {
        let out = ByteBuffer(capacity: 16)
        out.appendDate(self)
        return out.string
    }

    /// `YYYYMMDD`, as in feed file names.
    public var compact: String {
        let out = ByteBuffer(capacity: 16)
        out.appendPadded(year, width: 4); out.appendPadded(month, width: 2); out.appendPadded(day, width: 2)
        return out.string
    }

    public static func < (a: CivilDate, b: CivilDate) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    @inline(__always)
    static func digits(_ b: UnsafeRawBufferPointer, _ at: Int, _ n: Int) -> Int? {
        var v = 0
        for i in at..<(at + n) {
            let d = b[i] &- 0x30
            guard d < 10 else { return nil }
            v = v * 10 + Int(d)
        }
        return v
    }
}

/// The ten bytes of a date (`YYYY-MM-DD`) and its day number, as last parsed
/// (`Timestamp.parseUTC(_:memo:)`) or written (`ByteBuffer.appendTimestamp`).
public struct DayMemo {
    var head: UInt64 = 0
    var tail: UInt16 = 0
    var days: Int64?
    public init() {}
    init(head: UInt64, tail: UInt16, days: Int64) { self.head = head; self.tail = tail; self.days = days }
}

/// An instant, in whole seconds since 1970-01-01T00:00:00Z. Records carry `at` in this precision.
public struct Timestamp: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Seconds since the Unix epoch, UTC.
    public var seconds: Int64

    public init(seconds: Int64) { self.seconds = seconds }

    /// China Standard Time's offset from UTC; feeds write local times in it.
    public static let chinaOffsetSeconds: Int64 = 8 * 3600

    /// Midnight China Standard Time at the start of `date` (16:00Z the day before).
    public init(chinaMidnightOf date: CivilDate) {
        seconds = Int64(date.daysSinceEpoch) * 86_400 - Timestamp.chinaOffsetSeconds
    }

    /// The UTC calendar date of this instant.
    public var utcDate: CivilDate { CivilDate(daysSinceEpoch: Int(seconds.floorDiv(86_400))) }

    /// The calendar date in China Standard Time.
    public var chinaDate: CivilDate { CivilDate(daysSinceEpoch: chinaDay) }

    /// The day number (days since 1970-01-01) of this instant's date in China.
    @inline(__always)
    public var chinaDay: Int { Int((seconds + Timestamp.chinaOffsetSeconds).floorDiv(86_400)) }

    /// Parses the record format: exactly `YYYY-MM-DDTHH:MM:SSZ`.
    public static func parseUTC(_ b: UnsafeRawBufferPointer) -> Timestamp? {
        guard b.count == 20, b[10] == UInt8(ascii: "T"), b[19] == UInt8(ascii: "Z") else { return nil }
        return parseLocal(UnsafeRawBufferPointer(rebasing: b[0..<19]), offsetSeconds: 0)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS` as local time at `offsetSeconds` east of UTC.
    public static func parseLocal(_ b: UnsafeRawBufferPointer, offsetSeconds: Int64) -> Timestamp? {
        guard b.count == 19, let date = CivilDate.parse(UnsafeRawBufferPointer(rebasing: b[0..<10])),
              let time = secondsOfDay(b) else { return nil }
        return Timestamp(seconds: Int64(date.daysSinceEpoch) * 86_400 + time - offsetSeconds)
    }

    /// `THH:MM:SS` at bytes 10-18, as seconds since midnight; nil unless a real time of day.
    @inline(__always)
    static func secondsOfDay(_ b: UnsafeRawBufferPointer) -> Int64? {
        guard b[10] == UInt8(ascii: "T"), b[13] == 0x3A, b[16] == 0x3A,
              let hh = CivilDate.digits(b, 11, 2), let mm = CivilDate.digits(b, 14, 2), let ss = CivilDate.digits(b, 17, 2),
              hh < 24, mm < 60, ss < 60 else { return nil }
        return Int64(hh * 3600 + mm * 60 + ss)
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ` as `parseUTC` does, with the date's day number taken from
    /// `memo` when the date is the one parsed last time.
    @inline(__always)
    public static func parseUTC(_ b: UnsafeRawBufferPointer, memo: inout DayMemo) -> Timestamp? {
        guard b.count == 20, let p = b.baseAddress else { return nil }
        let head = p.loadUnaligned(as: UInt64.self), tail = p.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
        let days: Int64
        if let known = memo.days, head == memo.head, tail == memo.tail {
            days = known
        } else {
            guard let date = CivilDate.parse(UnsafeRawBufferPointer(rebasing: b[0..<10])) else { return nil }
            days = Int64(date.daysSinceEpoch)
            memo = DayMemo(head: head, tail: tail, days: days)
        }
        guard b[19] == UInt8(ascii: "Z"), let time = secondsOfDay(b) else { return nil }
        return Timestamp(seconds: days * 86_400 + time)
    }

    /// Parses RFC 3339 with a mandatory offset (`Z` or `±HH:MM`) and optional fractional seconds,
    /// which are truncated.
    public static func parseRFC3339(_ b: UnsafeRawBufferPointer) -> Timestamp? {
        guard b.count >= 20 else { return nil }
        var i = 19
        if b[i] == UInt8(ascii: ".") {
            i += 1
            let fractionStart = i
            while i < b.count, b[i] &- 0x30 < 10 { i += 1 }
            guard i > fractionStart else { return nil }
        }
        guard i < b.count else { return nil }
        let offset: Int64
        if b[i] == UInt8(ascii: "Z") && i + 1 == b.count {
            offset = 0
        } else if (b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-")) && i + 6 == b.count && b[i + 3] == 0x3A,
                  let oh = CivilDate.digits(b, i + 1, 2), let om = CivilDate.digits(b, i + 4, 2), oh < 24, om < 60 {
            offset = Int64(oh * 3600 + om * 60) * (b[i] == UInt8(ascii: "-") ? -1 : 1)
        } else {
            return nil
        }
        return parseLocal(UnsafeRawBufferPointer(rebasing: b[0..<19]), offsetSeconds: offset)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ`.
    public var description: String {
        let out = ByteBuffer(capacity: 24)
        out.appendTimestamp(self)
        return out.string
    }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.seconds < b.seconds }
}

extension Int64 {
    @inline(__always)
    func floorDiv(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}

extension ByteBuffer {
    /// Appends `YYYY-MM-DD`.
    public func appendDate(_ d: CivilDate) {
        appendPadded(d.year, width: 4); append(UInt8(ascii: "-"))
        appendPadded(d.month, width: 2); append(UInt8(ascii: "-"))
        appendPadded(d.day, width: 2)
    }

    /// Appends `YYYY-MM-DDTHH:MM:SSZ`.
    public func appendTimestamp(_ t: Timestamp) {
        let days = t.seconds.floorDiv(86_400)
        let secs = Int(t.seconds - days * 86_400)
        if days == lastDay.days {
            reserve(10)
            UnsafeMutableRawPointer(base + count).storeBytes(of: lastDay.head, as: UInt64.self)
            UnsafeMutableRawPointer(base + count + 8).storeBytes(of: lastDay.tail, as: UInt16.self)
            count += 10
        } else {
            let start = count
            appendDate(CivilDate(daysSinceEpoch: Int(days)))
            // Years beyond four digits are written longer, and not remembered.
            if count - start == 10 {
                lastDay = DayMemo(head: UnsafeRawPointer(base + start).loadUnaligned(as: UInt64.self),
                                  tail: UnsafeRawPointer(base + start + 8).loadUnaligned(as: UInt16.self), days: days)
            }
        }
        reserve(10)
        let p = base + count
        let h = secs / 3600, m = secs / 60 % 60, s = secs % 60
        p[0] = UInt8(ascii: "T")
        p[1] = 0x30 &+ UInt8(truncatingIfNeeded: h / 10); p[2] = 0x30 &+ UInt8(truncatingIfNeeded: h % 10)
        p[3] = UInt8(ascii: ":")
        p[4] = 0x30 &+ UInt8(truncatingIfNeeded: m / 10); p[5] = 0x30 &+ UInt8(truncatingIfNeeded: m % 10)
        p[6] = UInt8(ascii: ":")
        p[7] = 0x30 &+ UInt8(truncatingIfNeeded: s / 10); p[8] = 0x30 &+ UInt8(truncatingIfNeeded: s % 10)
        p[9] = UInt8(ascii: "Z")
        count += 10
    }
}
