import Testing
import TallyCore

@Suite struct CivilTimeTests {
    @Test func daysSinceEpochRoundTripsOverFourCenturies() {
        var expected = CivilDate(year: 1800, month: 1, day: 1)!
        for days in expected.daysSinceEpoch...(expected.daysSinceEpoch + 146_097) {
            let date = CivilDate(daysSinceEpoch: days)
            #expect(date == expected)
            #expect(date.daysSinceEpoch == days)
            expected = expected.day < CivilDate.daysIn(month: expected.month, year: expected.year)
                ? CivilDate(year: expected.year, month: expected.month, day: expected.day + 1)!
                : (expected.month == 12 ? CivilDate(year: expected.year + 1, month: 1, day: 1)! : CivilDate(year: expected.year, month: expected.month + 1, day: 1)!)
        }
        #expect(CivilDate(year: 1970, month: 1, day: 1)!.daysSinceEpoch == 0)
    }

    @Test(arguments: ["2026-02-29", "2100-02-29", "2026-13-01", "2026-00-10", "2026-04-31", "2026-1-01", "20261101", "2026-11-01x"])
    func rejectsDatesThatAreNotOnTheCalendar(text: String) {
        #expect(CivilDate.parse(text) == nil)
    }

    /// The record scanner remembers the last date it parsed; whatever came before, the answer
    /// must be `parseUTC`'s, including for a bad time on a remembered date and a bad date that
    /// shares its first eight bytes with a good one.
    @Test func parsingWithAMemoAgreesWithParsingWithout() {
        let texts = ["2026-11-27T16:00:00Z", "2026-11-27T23:59:59Z", "2026-11-27T24:00:00Z", "2026-11-27T12:60:00Z",
                     "2026-11-27T12:00:60Z", "2026-11-27 12:00:00Z", "2026-11-27T12:00:00+", "2026-11-2712:00:00Z",
                     "2026-11-28T00:00:00Z", "2026-11-31T00:00:00Z", "2026-11-3xT00:00:00Z", "2024-02-29T08:00:00Z",
                     "2026-02-29T08:00:00Z", "1969-12-31T23:59:59Z", "2026-11-27T1:00:00Z", "2026-11-27T16:00:00"]
        var memo = DayMemo()
        var state: UInt64 = 99
        var parsed = 0
        for _ in 0..<5_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let text = texts[Int((state >> 33) % UInt64(texts.count))]
            let (plain, memoised) = Array(text.utf8).withUnsafeBytes { b in
                (Timestamp.parseUTC(b), Timestamp.parseUTC(b, memo: &memo))
            }
            #expect(plain == memoised, "\(text)")
            if memoised != nil { parsed += 1 }
        }
        // Five of the sixteen texts are good: both outcomes were exercised.
        #expect(parsed > 1_000 && parsed < 2_500)
    }

    /// A buffer remembers the last date it wrote; over a run of times that share days, change
    /// days and cross midnight and the epoch, one buffer's text must parse back to each time.
    @Test func timestampsWrittenByOneBufferParseBack() {
        let out = ByteBuffer()
        var state: UInt64 = 7
        var t: Int64 = 1_795_000_000
        for i in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let r = Int64((state >> 33) % 100_000)
            t = i % 500 == 0 ? -r * 1_000 : (r % 3 == 0 ? t + r : t + r % 60)
            out.removeAll()
            out.appendTimestamp(Timestamp(seconds: t))
            let back = Array(out.string.utf8).withUnsafeBytes { Timestamp.parseUTC($0) }
            #expect(back == Timestamp(seconds: t), "\(out.string)")
        }
        out.removeAll()
        out.appendTimestamp(Timestamp(seconds: 0))
        out.appendTimestamp(Timestamp(seconds: 86_399))
        out.appendTimestamp(Timestamp(seconds: -1))
        #expect(out.string == "1970-01-01T00:00:00Z1970-01-01T23:59:59Z1969-12-31T23:59:59Z")
    }

    @Test func acceptsLeapDays() {
        #expect(CivilDate.parse("2024-02-29") != nil)
        #expect(CivilDate.parse("2000-02-29") != nil)
    }

    @Test func chinaMidnightIsFourPMTheDayBeforeInUTC() {
        let t = Timestamp(chinaMidnightOf: CivilDate(year: 2026, month: 11, day: 27)!)
        #expect(t.description == "2026-11-26T16:00:00Z")
        #expect(t.chinaDate == CivilDate(year: 2026, month: 11, day: 27)!)
    }

    @Test(arguments: [
        ("2026-11-27T13:45:10+08:00", "2026-11-27T05:45:10Z"),
        ("2026-11-27T13:45:10.123Z", "2026-11-27T13:45:10Z"),
        ("2026-01-01T01:00:00+02:30", "2025-12-31T22:30:00Z"),
        ("1969-12-31T23:59:59-00:00", "1969-12-31T23:59:59Z"),
    ])
    func parsesRFC3339WithOffsets(text: String, utc: String) {
        var text = text
        let t = text.withUTF8 { Timestamp.parseRFC3339(UnsafeRawBufferPointer($0)) }
        #expect(t?.description == utc)
    }

    @Test(arguments: ["2026-11-27T13:45:10", "2026-11-27T24:00:00Z", "2026-11-27T13:45:10+8:00", "2026-11-27 13:45:10Z", "2026-11-27T13:45:10.Z"])
    func refusesTimesWithoutAValidOffset(text: String) {
        var text = text
        #expect(text.withUTF8 { Timestamp.parseRFC3339(UnsafeRawBufferPointer($0)) } == nil)
    }
}

@Suite struct YuanTests {
    @Test(arguments: [("12345.67", Int64(1_234_567)), ("0", 0), ("0.5", 50), ("7.05", 705), ("1200.50", 120_050), ("00.10", 10)])
    func parsesExactly(text: String, fen: Int64) {
        #expect(Yuan.parseFen(text) == .success(fen))
    }

    @Test(arguments: [
        ("12.345", Yuan.Fault.tooManyDecimals), ("", .empty), ("-1.00", .negative), ("1e3", .notAnAmount),
        (".5", .notAnAmount), ("5.", .notAnAmount), ("1,000.00", .notAnAmount), (" 5", .notAnAmount),
        ("12345678901234", .tooLarge),
    ])
    func refuses(text: String, fault: Yuan.Fault) {
        #expect(Yuan.parseFen(text) == .failure(fault))
    }

    @Test func formats() {
        #expect(Yuan.format(fen: 1_234_567) == "12345.67")
        #expect(Yuan.format(fen: 5) == "0.05")
    }
}
