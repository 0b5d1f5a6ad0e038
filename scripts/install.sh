#!/usr/bin/env bash
# usage: scripts/install.sh [PREFIX]     (default /usr/local)
# Builds release binaries with the Swift standard library linked in (they run where no Swift
# toolchain is installed; libxml2, zlib, ISA-L and SQLite come from the system) and installs:
#   PREFIX/bin/tally-*                        the programs
#   PREFIX/share/tally/schemas/               the feed declarations and record schemas
#   PREFIX/share/tally/pipelines/             nightly.sh, demo.sh, crontab.example, rules/default.yaml, spark/
#   PREFIX/share/man/man1/tally-*.1           manual pages made from each program's --help
#   PREFIX/share/bash-completion/completions/, PREFIX/share/zsh/site-functions/,
#   PREFIX/share/fish/vendor_completions.d/   shell completions
# Each program finds the feed declarations without flags: --schemas, then TALLY_SCHEMAS, then
# ../share/tally/schemas/feeds beside itself, then ./schemas/feeds.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
programs=(tally-synth tally-validate tally-parse tally-link tally-store tally-score tally-explain tally-report)
bash scripts/setup.sh build
# Its own build folder, so that the static link does not rebuild the development build each time.
scratch=${TALLY_INSTALL_BUILD:-.build-install}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
build() { # the last line of a build, or its last 30 when it fails
    if ! swift build -c release --scratch-path "$scratch" "$@" > "$log" 2>&1; then tail -n 30 "$log" >&2; exit 1; fi
    tail -n 1 "$log"
}
for p in "${programs[@]}"; do build --static-swift-stdlib --product "$p"; done
build --product generate-manual
bin=$scratch/release
# generate-manual reads the help's declared parts; the EXAMPLES that end each program's --help
# go in as the manual's EXAMPLES section (before AUTHORS), as literal text.
add_examples() { # add_examples PROGRAM PAGE
    local examples
    examples=$(mktemp)
    {
        echo ".Sh EXAMPLES"
        echo ".Bd -literal"
        "$1" --help | sed -n '/^EXAMPLES:$/,$p' | tail -n +3 | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/"
        echo ".Ed"
    } > "$examples"
    grep -q '^EXAMPLES' <("$1" --help) || { echo "install.sh: $1 --help has no EXAMPLES" >&2; exit 1; }
    awk -v f="$examples" '/^\.Sh AUTHORS/ { while ((getline l < f) > 0) print l } { print }' "$2" > "$2.new"
    mv "$2.new" "$2"
    rm -f "$examples"
}
mkdir -p "$prefix/bin" "$prefix/share/tally" "$prefix/share/man/man1" \
    "$prefix/share/bash-completion/completions" "$prefix/share/zsh/site-functions" "$prefix/share/fish/vendor_completions.d"
for p in "${programs[@]}"; do
    install -m 0755 "$bin/$p" "$prefix/bin/$p"
    "$bin/generate-manual" "$bin/$p" --output-directory "$prefix/share/man/man1" --authors "the tally project" >/dev/null
    add_examples "$bin/$p" "$prefix/share/man/man1/$p.1"
    "$bin/$p" --generate-completion-script bash > "$prefix/share/bash-completion/completions/$p"
    "$bin/$p" --generate-completion-script zsh > "$prefix/share/zsh/site-functions/_$p"
    "$bin/$p" --generate-completion-script fish > "$prefix/share/fish/vendor_completions.d/$p.fish"
done
rm -rf "$prefix/share/tally/schemas" "$prefix/share/tally/pipelines"
cp -R schemas "$prefix/share/tally/schemas"
cp -R pipelines "$prefix/share/tally/pipelines"
"$prefix/bin/tally-parse" --version > "$prefix/share/tally/VERSION"
echo "install.sh: $(cat "$prefix/share/tally/VERSION"): ${#programs[@]} programs in $prefix/bin, data in $prefix/share/tally, manual pages and completions"
