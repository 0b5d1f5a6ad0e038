/// What `--version` says, and what stats files and run summaries record: tally's version and the
/// commit the binary was built from (stamped at build time by Plugins/CommitStamp).
public enum BuildInfo {
    public static let version = "0.8.0"
    /// The short commit hash, with `+changes` when the tree differed from it; `unknown` when built
    /// outside a git checkout.
    public static let commit = buildCommit
    /// `0.8.0 (commit 0123456789ab)`.
    public static let description = "\(version) (commit \(commit))"
}
