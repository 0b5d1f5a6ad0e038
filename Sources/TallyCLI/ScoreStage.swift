import TallyCore
import TallyIO

/// What tally-score does: corrections first (from --corrections, then any at the head of the
/// stream), then every linked record, into one score line per person, ordered by person key.
public final class ScoreStage {
    public struct Options {
        public var rules: Rules
        public var asOf: CivilDate
        public var correctionPaths: [String]
        public var paths: [String]
        public var limits: InputLimits
        public var rejectsPath: String?
        public var statsPath: String?
        public var strict: Bool
        public init(rules: Rules, asOf: CivilDate, correctionPaths: [String], paths: [String], limits: InputLimits,
                    rejectsPath: String?, statsPath: String?, strict: Bool) {
            self.rules = rules
            self.asOf = asOf
            self.correctionPaths = correctionPaths
            self.paths = paths
            self.limits = limits
            self.rejectsPath = rejectsPath
            self.statsPath = statsPath
            self.strict = strict
        }
    }

    let options: Options
    let name = "tally-score"
    let scorer: Scorer

    public init(_ options: Options) {
        self.options = options
        scorer = Scorer(rules: options.rules, asOf: options.asOf, today: Timestamp.now.chinaDate)
    }

    public func run() throws -> Int32 {
        let rejects = try RejectLog(stage: name, path: options.rejectsPath)
        var scanner = RecordViewScanner()
        var read = 0
        var status = ExitStatus.ok
        var corrections = LineInput(paths: options.correctionPaths, limits: options.limits, stage: name)
        try corrections.forEachLine { file, lineNumber, line in
            read += 1
            let v: RecordView
            do { v = try scanner.view(line) } catch {
                try rejects.add(file: file, line: lineNumber, code: "not-a-record", reason: "not a tally.record: \(error)", raw: line.text); return
            }
            guard v.isCorrection else {
                throw StageFailure("\(file):\(lineNumber): --corrections holds a record that is not a correction (kind \(v.kind.string))", status: ExitStatus.data)
            }
            if let fault = scorer.corrections.add(v, sources: &scorer.sources) {
                try rejects.add(file: file, line: lineNumber, code: "bad-correction", reason: fault, raw: line.text)
            }
        }
        status = ExitStatus.worst(status, corrections.status)
        var input = LineInput(paths: options.paths, limits: options.limits, stage: name)
        var recordsBegan = false
        try input.forEachLine { file, lineNumber, line in
            read += 1
            let v: RecordView
            do { v = try scanner.view(line) } catch {
                try rejects.add(file: file, line: lineNumber, code: "not-a-record", reason: "not a tally.record: \(error)", raw: line.text); return
            }
            if v.isCorrection {
                // A correction must be known before the record it corrects is summed, and only a
                // person's sums (not their records) are kept: so corrections come first.
                guard !recordsBegan else {
                    throw StageFailure("\(file):\(lineNumber): a correction after the first record; give corrections first (--corrections FILE, or tally-store dump, which puts them first)", status: ExitStatus.data)
                }
                if let fault = scorer.corrections.add(v, sources: &scorer.sources) {
                    try rejects.add(file: file, line: lineNumber, code: "bad-correction", reason: fault, raw: line.text)
                }
                return
            }
            recordsBegan = true
            do throws(Scorer.Fault) { try scorer.add(v) } catch {
                try rejects.add(file: file, line: lineNumber, code: "unscorable", reason: error.reason, raw: line.text)
            }
        }
        status = ExitStatus.worst(status, input.status)
        let out = OutputSink.standardOutput()
        var tiers = [Int](repeating: 0, count: options.rules.tiers.count)
        var people = 0
        try scorer.finish(into: out.buffer) { tier in
            try out.flushIfFull()
            tiers[tier] += 1
            people += 1
        }
        try out.flush()
        try rejects.finish()
        let c = scorer.counts
        let perTier = options.rules.tiers.enumerated().map { "\($1.name) \(tiers[$0])" }.joined(separator: ", ")
        Stage.report(name, "read \(read), corrections \(c.corrections) (after --as-of \(c.correctionsAfterAsOf)), records \(c.records) (counted \(c.counted), expired \(c.expired), after --as-of \(c.future), retracted \(c.retracted), dispute lapsed \(c.lapsed), not in the rules \(c.unscored)), rejected \(rejects.count); \(people) people: \(perTier)")
        if let path = options.statsPath {
            try StatsFile.write(path, counts: [("read", read), ("corrections", c.corrections), ("corrections_after_as_of", c.correctionsAfterAsOf), ("records", c.records), ("counted", c.counted),
                                               ("expired", c.expired), ("after_as_of", c.future), ("retracted", c.retracted), ("disputed", c.disputed), ("dispute_lapsed", c.lapsed),
                                               ("not_in_rules", c.unscored), ("rejected", rejects.count), ("people", people),
                                               ("memory_bytes", scorer.memoryBytes)]) { b in
                b.append(",\"as_of\":\""); b.appendDate(options.asOf); b.append("\",\"rules\":"); b.appendJSONString(options.rules.digest)
                b.append(",\"tiers\":{")
                for (i, t) in options.rules.tiers.enumerated() {
                    if i > 0 { b.append(",") }
                    b.appendJSONString(t.name); b.append(":"); b.appendDecimal(Int64(tiers[i]))
                }
                b.append("}")
            }
        }
        if options.strict && rejects.count > 0 { status = ExitStatus.worst(status, ExitStatus.data) }
        return status
    }
}
