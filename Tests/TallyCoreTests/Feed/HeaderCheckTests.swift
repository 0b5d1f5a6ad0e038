import Testing
import TallyCore

/// `HeaderCheck`: the one comparison behind tally-validate's label problems and tally-parse's
/// refusal, so the two can never disagree on whether a header matches.
@Suite struct HeaderCheckTests {
    static let fields = ["event_id", "card_id", "line", "fare_fen"]

    @Test func aMatchingHeaderHasNoProblems() {
        let h = HeaderCheck(expected: Self.fields, labels: Self.fields)
        #expect(h.matches && h.problems.isEmpty)
    }

    @Test func eachKindOfMismatchIsNamedBothWays() {
        let renamed = HeaderCheck(expected: Self.fields, labels: ["event_id", "card", "line", "fare_fen"])
        #expect(!renamed.matches)
        #expect(renamed.problems == [.init(code: "incorrect-label", fieldNumber: 2, field: "card_id", message: "label \"card\" where card_id is expected")])
        #expect(renamed.summary == "renamed card_id → card")

        let short = HeaderCheck(expected: Self.fields, labels: ["event_id", "card_id", "line"])
        #expect(short.problems.map(\.code) == ["missing-label"] && short.problems[0].fieldNumber == 4)
        #expect(short.summary == "missing fare_fen")

        let long = HeaderCheck(expected: Self.fields, labels: Self.fields + ["note\u{1}"])
        #expect(long.problems.map(\.code) == ["extra-label"] && long.problems[0].fieldNumber == 5)
        #expect(long.summary == #"extra "note\x01""#)

        let swapped = HeaderCheck(expected: Self.fields, labels: ["card_id", "event_id", "line", "fare_fen"])
        #expect(swapped.problems.map(\.code) == ["incorrect-label", "incorrect-label"])
        #expect(swapped.summary == "columns out of order: expected event_id,card_id,line,fare_fen")
    }

    /// A header that is a whole file (one line of a million labels) is never echoed whole.
    @Test func aHugeHeaderIsSummarisedShort() {
        let labels = (0..<100_000).map { "x\($0)" }
        let h = HeaderCheck(expected: Self.fields, labels: labels)
        #expect(h.summary.utf8.count < 1_000 && h.summary.contains("and 99990 more"))
    }
}
