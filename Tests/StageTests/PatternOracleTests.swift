import Foundation
import Testing
import TallyCore

@Suite struct PatternOracleTests {
    static let patterns = [
        "[0-9]{16}", "[0-9]{17}[0-9Xx]", "A[0-9]{10}", "[0-9A-Za-z]{18}", "[0-9]+(\\.[0-9]{1,2})?",
        "(ab|cd)*e", "a?b+c{2,3}", "[^0-9]+", "\\d{2,}-\\w*", "x(?:y|z){0,2}", "[a\\-z]+", "\\.\\s?", ".*q",
    ]

    @Test func agreesWithPythonsFullmatch() throws {
        var rng = TestRandom(state: 99)
        let alphabet = Array("0123456789AXxabcdeqyz-. _\n")
        var inputs = ["", "0", "1234567890123456", "12345678901234567X", "A0123456789", "12.5", "12.345", "abe", "cdabe", "e",
                      "abbcc", "bccc", "xyz", "xzz", "12-ab", "1-", "a-z", ".", ". ", "qq", "11010519491231002x", "9111000060003734IL"]
        for _ in 0..<3000 {
            let n = Int.random(in: 0...20, using: &rng)
            inputs.append(String((0..<n).map { _ in alphabet.randomElement(using: &rng)! }))
        }
        let job = try JSONSerialization.data(withJSONObject: ["patterns": Self.patterns, "inputs": inputs])
        let oracle = try Harness.run("/usr/bin/env", ["python3", Harness.root + "/Tests/oracles/fullmatch.py"], stdin: job)
        #expect(oracle.status == 0, "\(oracle.stderr)")
        let lines = oracle.text.split(separator: "\n")
        #expect(lines.count == Self.patterns.count)
        for (p, line) in zip(Self.patterns, lines) {
            let pattern = try Pattern(p)
            var disagreements: [String] = []
            for (input, expected) in zip(inputs, line) {
                var text = input
                let got = text.withUTF8 { pattern.matches(UnsafeRawBufferPointer($0)) }
                if got != (expected == "1") { disagreements.append(input) }
            }
            #expect(disagreements.isEmpty, "\(p): disagrees with Python on \(disagreements.prefix(5))")
        }
    }

    @Test(arguments: ["[0-9", "a{2", "*a", "(ab", "ab)", "a{5,2}", "^a$", "\\q", String(repeating: "[0-9]", count: 65), "3[09]{2222222222222222222217u{X", "a{99999999999999999999}",
                       "0(||||)" + String(repeating: "+", count: 40)])
    func refusesWhatItCannotCheck(pattern: String) {
        #expect(throws: Pattern.SyntaxError.self) { _ = try Pattern(pattern) }
    }
}
