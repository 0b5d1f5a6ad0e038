import TallyCore
import TallyIO

/// A file of identifiers, one JSON object a line as a record's subject is written
/// (`{"scheme":"transit-card","id":"8000000000000001"}`), read into the hashes a scoring
/// store's rows keep (`ScoringStore.hash`): the identifiers whose rows a partition of the history
/// keeps but no longer scores (`tally-score --skip-identifiers`), or hands on (`tally-store
/// extract --identifiers`).
/// A line that is not such an object stops the stage (65), naming it: a list that half-loaded
/// would score or move the wrong people.
enum IdentifierList {
    static func hashes(_ path: String, stage: String) throws -> Set<ScoringStore.Hash128> {
        var set = Set<ScoringStore.Hash128>()
        var input = LineInput(paths: [path], limits: .standard, stage: stage)
        try input.forEachLine { file, lineNumber, line in
            var scheme: String?, id: String?
            do {
                var s = JSONScanner(line)
                try s.forEachMember { s, key throws(JSONSyntaxError) in
                    if key.equals("scheme") { scheme = try s.string() } else if key.equals("id") { id = try s.string() } else { throw s.fault("an identifier has only \"scheme\" and \"id\"") }
                }
                try s.expectEnd()
            } catch {
                throw StageFailure("\(file):\(lineNumber): not an identifier (\(error))", status: ExitStatus.data)
            }
            guard var scheme, var id, !scheme.isEmpty, !id.isEmpty else {
                throw StageFailure("\(file):\(lineNumber): an identifier needs a non-empty \"scheme\" and \"id\"", status: ExitStatus.data)
            }
            scheme.withUTF8 { s in id.withUTF8 { i in _ = set.insert(ScoringStore.hash(scheme: UnsafeRawBufferPointer(s), id: UnsafeRawBufferPointer(i))) } }
        }
        guard input.status == ExitStatus.ok else { throw StageFailure("\(path): could not be read whole", status: input.status) }
        return set
    }
}
