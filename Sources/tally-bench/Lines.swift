import ArgumentParser
import TallyCLI
import TallyIO

/// `tally-bench lines`: count lines the way every stage reads its input (gzip by magic bytes,
/// every member, SHA-256 of the raw bytes, bounded lines), to compare with `zcat | wc -l`.
struct Lines: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count the lines of files through tally's input layer, hashing as it goes.",
        discussion: "Prints the line count and SHA-256 of each file. Exit status: 0, 65 for corrupt input, 66 for a missing file.")

    @OptionGroup var input: InputOptions

    func run() throws {
        try Stage.run("tally-bench") {
            // Through the stages' output, so that a failed write is exit 74 (print would lose it).
            let out = OutputSink.standardOutput()
            for path in input.paths {
                let file = try InputFile.open(path, limits: input.limits)
                let reader = LineReader(file)
                var count = 0
                while try reader.next() != nil { count += 1 }
                out.buffer.append("\(count)\t\(try file.finishDigest())\t\(file.name)\n")
                try out.flush()
            }
            return ExitStatus.ok
        }
    }
}
