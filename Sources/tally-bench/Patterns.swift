import ArgumentParser
import Foundation
import TallyCore

/// `tally-bench patterns`: the Table Schema pattern matcher alone, on the shapes the shipped
/// feeds use and on CJK names, to measure it apart from the row path around it.
struct Patterns: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the pattern matcher on synthetic values, ASCII and CJK.",
        discussion: "Prints, per pattern, the median over the rounds of nanoseconds per value and MB/s, and how many values matched. Exit status: 0.")

    @Option(help: "Values per pattern.") var values = 1_000_000
    @Option(help: "Timed rounds (the median is printed).") var rounds = 5

    func run() throws {
        var state: UInt64 = 7
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        let digits = Array("0123456789")
        let hanzi = Array("马丽王李张伟芳娜秀英敏静丽强磊军洋勇艳杰涛明超秀兰霞平刚桂英")
        let cases: [(String, () -> String)] = [
            ("[0-9]{16}", { String((0..<16).map { _ in digits[next(10)] }) }),
            ("[0-9]{17}[0-9Xx]", { String((0..<17).map { _ in digits[next(10)] }) + (next(10) == 0 ? "X" : "7") }),
            ("[0-9]+(\\.[0-9]{1,2})?", { String((0..<(1 + next(6))).map { _ in digits[next(10)] }) + ".\(next(100))" }),
            ("[一-龥·]{2,20}", { String((0..<(2 + next(3))).map { _ in hanzi[next(hanzi.count)] }) }),
            ("\\w+", { String((0..<(2 + next(3))).map { _ in hanzi[next(hanzi.count)] }) }),
        ]
        for (source, make) in cases {
            let pattern = try Pattern(source)
            let baseline = source == cases[0].0
            let texts = (0..<values).map { _ in make() }
            var bytes: [UInt8] = []
            var ends: [Int] = []
            for t in texts { bytes += Array(t.utf8); ends.append(bytes.count) }
            var times: [Double] = []
            var matched = 0
            // The first pattern's values also go through the loop with a check that reads every
            // byte and decides nothing: what the loop itself costs.
            for round in 0..<(baseline ? 2 * rounds : rounds) {
                let probe = baseline && round >= rounds
                if round == rounds { reportTimes(source, times, bytes.count, matched); times = [] }
                matched = 0
                let clock = ContinuousClock()
                let elapsed = clock.measure {
                    bytes.withUnsafeBytes { all in
                        var start = 0
                        for end in ends {
                            let value = UnsafeRawBufferPointer(rebasing: all[start..<end])
                            if probe ? value.reduce(0, &+) == 0 : pattern.matches(value) { matched += 1 }
                            start = end
                        }
                    }
                }
                times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
            }
            reportTimes(baseline ? "(the loop alone, summing the bytes)" : source, times, bytes.count, matched)
        }

        func reportTimes(_ what: String, _ times: [Double], _ byteCount: Int, _ matched: Int) {
            let median = times.sorted()[times.count / 2]
            let ns = median / Double(values) * 1e9
            let rate = Double(byteCount) / median / 1e6
            print("\(what)\t\(String(format: "%.1f", ns)) ns/value\t\(String(format: "%.0f", rate)) MB/s\t\(matched)/\(values) matched")
        }
    }
}
