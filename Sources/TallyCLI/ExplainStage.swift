import TallyCore
import TallyIO

/// Which person tally-explain is asked about.
public enum ExplainTarget {
    case person(String)
    case all
}

/// What tally-explain does: gathers one person's records (or everyone's, with --all) and every
/// correction, in any order, and prints the explanation as text or JSON.
public final class ExplainStage {
    public struct Options {
        public var target: ExplainTarget
        public var rules: Rules
        public var asOf: CivilDate
        public var json: Bool
        public var correctionPaths: [String]
        public var paths: [String]
        public var limits: InputLimits
        public var naturalKeys: [String: [String]]
        /// Exit 0 although lines were rejected.
        public var keepGoing = false
        /// Write the notice as a page (`NoticePage`) instead of text: for one person to standard
        /// output; with `.all`, one file a person and an index into `htmlDirectory`.
        public var html = false
        public var htmlDirectory: String?
        public var language = Language.en
        public init(target: ExplainTarget, rules: Rules, asOf: CivilDate, json: Bool, correctionPaths: [String], paths: [String],
                    limits: InputLimits, naturalKeys: [String: [String]]) {
            self.target = target
            self.rules = rules
            self.asOf = asOf
            self.json = json
            self.correctionPaths = correctionPaths
            self.paths = paths
            self.limits = limits
            self.naturalKeys = naturalKeys
        }
    }

    let options: Options
    let name = "tally-explain"

    public init(_ options: Options) { self.options = options }

    public func run() throws -> Int32 {
        var scanner = RecordViewScanner()
        let decoder = RecordDecoder()
        var book = CorrectionBook(asOf: options.asOf, today: Timestamp.now.chinaDate, deadlineDays: options.rules.disputeDeadlineDays)
        var sources = SourceNames()
        var byPerson: [String: [Record]] = [:]
        var wanted: [UInt8]? = nil
        if case .person(let key) = options.target { wanted = Array(key.utf8) }
        // Lines that are not records, and malformed corrections, are reported as tally-score
        // reports them (the first 20 on stderr); the first make the exit status 65.
        let rejects = try RejectLog(stage: name, path: nil)
        var input = LineInput(paths: options.correctionPaths + options.paths, limits: options.limits, stage: name)
        try input.forEachLine { file, lineNumber, line in
            guard let v = try rejects.view(line, &scanner, file: file, line: lineNumber) else { return }
            if v.isCorrection {
                if let fault = book.add(v, sources: &sources) {
                    try rejects.add(file: file, line: lineNumber, code: "bad-correction", reason: fault, raw: line.text)
                }
                return
            }
            guard let person = v.person else { return }
            if let wanted, !(person.content.count == wanted.count && wanted.withUnsafeBytes { $0.elementsEqual(person.content) }) { return }
            byPerson[person.string, default: []].append(decoder.record(v))
        }
        let out = OutputSink.standardOutput()
        func explain(_ key: String) -> Explanation {
            Explanation.make(person: key, records: byPerson[key] ?? [], corrections: book, sources: &sources,
                             rules: options.rules, asOf: options.asOf, naturalKeys: options.naturalKeys)
        }
        switch options.target {
        case .person(let key):
            let explanation = explain(key)
            if options.html {
                out.buffer.append(NoticePage.render(explanation, rules: options.rules, language: options.language))
            } else if options.json {
                ExplanationFormat.json(explanation, rules: options.rules, into: out.buffer)
            } else {
                out.buffer.append(ExplanationFormat.text(explanation, rules: options.rules))
            }
            if byPerson[key] == nil { Stage.report(name, "no record names \(key): the score is the base score") }
        case .all:
            let progress = Progress.start(name, unit: "people")
            var index: [(person: String, score: Int, tier: String)] = []
            if let dir = options.htmlDirectory { try Directory.create(dir) }
            for key in byPerson.keys.sorted() {
                progress?.advance()
                let explanation = explain(key)
                if let dir = options.htmlDirectory {
                    // Notices hold record keys and file lines: readable by their owner only, as rejects are.
                    try Stage.writePage(NoticePage.render(explanation, rules: options.rules, language: options.language),
                                        to: dir + "/" + key + ".html", mode: 0o600)
                    index.append((key, explanation.score, explanation.tier.name))
                } else {
                    ExplanationFormat.json(explanation, rules: options.rules, into: out.buffer)
                    try out.flushIfFull()
                }
            }
            if let dir = options.htmlDirectory {
                try Stage.writePage(NoticePage.index(index, asOf: options.asOf, rules: options.rules, language: options.language),
                                    to: dir + "/index.html", mode: 0o600)
                Stage.report(name, "\(dir): \(index.count) notices and index.html")
            }
        }
        try out.flush()
        try rejects.finish()
        return ExitStatus.worst(input.status, rejects.count > 0 && !options.keepGoing ? ExitStatus.data : ExitStatus.ok)
    }
}
