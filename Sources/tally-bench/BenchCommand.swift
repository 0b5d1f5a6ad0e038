import ArgumentParser
import TallyCLI

/// Benchmarks that time tally's hot paths in-process, to be run side by side with their peers by
/// the scripts in bench/. Not a stage: it measures, it changes nothing.
@main
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tally-bench",
        abstract: "Time tally's hot paths against Foundation and count lines as a stage reads them.",
        discussion: "Run by bench/*.sh, which build release first and write BENCHMARKS.md. Exit status: 0, or 64 for bad usage, 65/66/74 for input failures.",
        version: Stage.version,
        subcommands: [Codec.self, Lines.self, LinkData.self, ScoreData.self, Patterns.self, MetroData.self])
}
