import Foundation
import PackagePlugin

/// Writes the commit the package is built from into `Commit.swift` before every build, so that
/// `--version` can name it: the short hash, `+changes` when tracked files differ from it, or
/// `unknown` outside a git checkout. The file is replaced only when its text changes, so an
/// unchanged commit rebuilds nothing.
@main
struct CommitStamp: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) async throws -> [Command] {
        let out = context.pluginWorkDirectoryURL.appending(path: "stamp")
        let script = """
            mkdir -p "$1" || exit 1
            c=$(git -C "$2" rev-parse --short=12 HEAD 2>/dev/null) || c=unknown
            if [ "$c" != unknown ] && [ -n "$(git -C "$2" status --porcelain --untracked-files=no 2>/dev/null)" ]; then c="$c+changes"; fi
            printf '/// Written by Plugins/CommitStamp.\\nlet buildCommit = "%s"\\n' "$c" > "$1/Commit.swift.new"
            if cmp -s "$1/Commit.swift.new" "$1/Commit.swift"; then rm -f "$1/Commit.swift.new"; else mv "$1/Commit.swift.new" "$1/Commit.swift"; fi
            """
        return [.prebuildCommand(displayName: "Stamping the commit into TallyBuildInfo", executable: URL(fileURLWithPath: "/bin/sh"),
                                 arguments: ["-c", script, "sh", out.path, context.package.directoryURL.path], outputFilesDirectory: out)]
    }
}
