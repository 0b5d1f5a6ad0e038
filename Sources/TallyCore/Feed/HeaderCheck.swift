/// A CSV file's header against its feed's fields: the one comparison behind tally-validate's
/// per-label problems (Frictionless's `missing-label`, `incorrect-label`, `extra-label`) and
/// tally-parse's one-line refusal (missing, extra and renamed columns). The header matches
/// only when its labels are the field names, in order.
public struct HeaderCheck {
    /// One label problem, in Frictionless's vocabulary and numbering (fields from 1).
    public struct Problem: Equatable {
        public var code: String
        public var fieldNumber: Int
        /// The declared field's name (empty for an extra label).
        public var field: String
        public var message: String
        public init(code: String, fieldNumber: Int, field: String, message: String) {
            (self.code, self.fieldNumber, self.field, self.message) = (code, fieldNumber, field, message)
        }
    }

    public let expected: [String]
    public let labels: [String]

    public init(expected: [String], labels: [String]) {
        self.expected = expected
        self.labels = labels
    }

    public var matches: Bool { labels == expected }

    /// Every label that is missing, wrong or extra, position by position.
    public var problems: [Problem] {
        var out: [Problem] = []
        for (i, name) in expected.enumerated() {
            if i >= labels.count {
                out.append(Problem(code: "missing-label", fieldNumber: i + 1, field: name, message: "no label for field \(name)"))
            } else if labels[i] != name {
                out.append(Problem(code: "incorrect-label", fieldNumber: i + 1, field: name,
                                   message: "label \(InertText.quoted(labels[i], limit: 64)) where \(name) is expected"))
            }
        }
        for i in expected.count..<max(labels.count, expected.count) {
            out.append(Problem(code: "extra-label", fieldNumber: i + 1, field: "", message: "extra label \(InertText.quoted(labels[i], limit: 64))"))
        }
        return out
    }

    /// The mismatch as one line for people: the columns missing, extra and renamed (a label in
    /// a field's place when neither name appears elsewhere), or that they are out of order. Labels
    /// come from the file: each is quoted inert and short, and at most ten are named, so a header
    /// that is a whole file (lone CR line ends, say) is never echoed.
    public var summary: String {
        var parts: [String] = []
        var renamed: [String] = []
        if labels.count == expected.count {
            for (g, e) in zip(labels, expected) where g != e && !expected.contains(g) && !labels.contains(e) { renamed.append("\(e) → \(g)") }
        }
        let renamedFrom = Set(renamed.map { String($0.split(separator: " ")[0]) })
        let missing = expected.filter { !labels.contains($0) && !renamedFrom.contains($0) }
        let extra = labels.filter { g in !expected.contains(g) && !renamed.contains { $0.hasSuffix("→ \(g)") } }
        func list(_ labels: [String]) -> String {
            let named = labels.prefix(10).map { InertText.quoted($0, limit: 64) }.joined(separator: ", ")
            return labels.count > 10 ? named + " and \(labels.count - 10) more" : named
        }
        if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
        if !extra.isEmpty { parts.append("extra \(list(extra))") }
        if !renamed.isEmpty { parts.append("renamed \(renamed.prefix(10).map { InertText.escaped($0, limit: 140) }.joined(separator: ", "))") }
        if parts.isEmpty { parts.append("columns out of order: expected \(expected.joined(separator: ","))") }
        return parts.joined(separator: "; ")
    }
}
