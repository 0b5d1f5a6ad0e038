#!/usr/bin/env bash
# usage: scripts/install-test.sh
# The install test (run by .ci/run): scripts/install.sh into a temporary prefix, then two nights
# of synthetic feeds run from the installed copy alone, in a private mount namespace where the
# source tree and the Swift toolchain are hidden under empty file systems and no TALLY_*
# variable points anywhere. It checks that:
#   - the programs carry the Swift runtime (ldd names no libswift*) and say their version;
#   - manual pages and bash, zsh and fish completions are there for every program;
#   - inside the namespace, swift and the source tree are really gone;
#   - every program finds the feed declarations beside itself (../share/tally/schemas/feeds);
#   - nightly.sh finds PREFIX/bin and its rules, runs both nights, writes scores and a run
#     summary carrying the installed version, and tally-explain (finding the installed default
#     rules by itself) explains a scored person;
#   - a wrong TALLY_SCHEMAS is said, with the place tried.
# Needs root, or unprivileged user namespaces, for the mount namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tally-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
case $work/ in "$src"/*) echo "install-test: TMPDIR ($work) is inside the source tree, which the test hides" >&2; exit 64 ;; esac
fail() { echo "install-test: FAIL: $*" >&2; exit 1; }

bash scripts/install.sh "$prefix"
programs=(tally-synth tally-validate tally-parse tally-link tally-store tally-score tally-explain tally-report)
version=$("$prefix/bin/tally-parse" --version)
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+\ \(commit\ [0-9a-f]{12}(\+changes)?\)$ ]] || fail "tally-parse --version said '$version'"
for p in "${programs[@]}"; do
    [ -x "$prefix/bin/$p" ] || fail "$p not installed"
    ! ldd "$prefix/bin/$p" | grep -q 'libswift\|libFoundation' || fail "$p links the Swift runtime dynamically: $(ldd "$prefix/bin/$p" | grep libswift | head -1)"
    [ "$("$prefix/bin/$p" --version)" = "$version" ] || fail "$p --version differs from tally-parse's"
    [ -s "$prefix/share/man/man1/$p.1" ] || fail "no manual page for $p"
    grep -q "EXAMPLES" "$prefix/share/man/man1/$p.1" || fail "the manual page of $p has no EXAMPLES"
    [ -s "$prefix/share/bash-completion/completions/$p" ] || fail "no bash completion for $p"
    [ -s "$prefix/share/zsh/site-functions/_$p" ] || fail "no zsh completion for $p"
    [ -s "$prefix/share/fish/vendor_completions.d/$p.fish" ] || fail "no fish completion for $p"
done
[ "$(cat "$prefix/share/tally/VERSION")" = "$version" ] || fail "share/tally/VERSION differs"
[ -f "$prefix/share/tally/pipelines/rules/default.yaml" ] || fail "no default rules installed"

# The toolchain's root: the directory holding usr/bin/swift (or bin/swift).
toolchain=""
if command -v swift >/dev/null; then
    toolchain=$(dirname "$(dirname "$(readlink -f "$(command -v swift)")")")
    [ "$(basename "$toolchain")" = usr ] && toolchain=$(dirname "$toolchain")
fi
case $toolchain in /|/usr|"") toolchain="" ;; esac # a toolchain in /usr cannot be hidden whole

if [ "$(id -u)" = 0 ]; then ns=(unshare --mount --propagation private); else ns=(unshare --user --map-root-user --mount --propagation private); fi
"${ns[@]}" true 2>/dev/null || fail "no private mount namespace here (${ns[*]}): run as root"

cat > "$work/night.sh" <<'NIGHT'
set -euo pipefail
src=$1 toolchain=$2 prefix=$3 work=$4 version=$5
fail() { echo "install-test (inside): FAIL: $*" >&2; exit 1; }
mount -t tmpfs -o ro tmpfs "$src"
[ -z "$toolchain" ] || mount -t tmpfs -o ro tmpfs "$toolchain"
for v in $(env | sed -n 's/^\(TALLY_[A-Z_]*\)=.*/\1/p'); do unset "$v"; done
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
[ ! -e "$src/Package.swift" ] || fail "the source tree is still visible"
! command -v swift >/dev/null || fail "swift is still on PATH: $(command -v swift)"
[ -z "$toolchain" ] || [ -z "$(ls -A "$toolchain")" ] || fail "the toolchain is still visible"
home=$work/home
mkdir -p "$home" && cd "$home"
bin=$prefix/bin
"$bin/tally-synth" --people 300 --days 2 --start 2026-11-01 --seed 11 --dirty 0.01 --history-days 60 --out feeds > synth.log
tax=feeds/tax-20261031.csv
[ -s "$tax" ] || fail "tally-synth wrote no $tax"
"$bin/tally-validate" --feed tax "$tax" > validate.txt || fail "tally-validate failed on $tax without --schemas: $(cat validate.txt)"
"$bin/tally-parse" --feed tax "$tax" > tax.jsonl 2> parse.err || fail "tally-parse failed: $(cat parse.err)"
grep -q '"source":"tax"' tax.jsonl || fail "tally-parse wrote no tax record: $(cat parse.err)"
if TALLY_SCHEMAS=/nowhere "$bin/tally-parse" --feed tax "$tax" > /dev/null 2> wrong.err; then fail "a wrong TALLY_SCHEMAS was passed over"; fi
grep -q '/nowhere (missing)' wrong.err || fail "the message does not name the place tried: $(cat wrong.err)"
(umask 077; head -c 32 /dev/urandom | base64 > tally.secret)
mkdir incoming
for day in 20261101 20261102; do
    mv feeds/*-"$day".* incoming/
    [ "$day" != 20261101 ] || mv feeds/*-20261031.* incoming/
    status=0
    TALLY_SETTLE_SECONDS=0 TALLY_MIN_FREE_MB=1 TALLY_AS_OF=${day:0:4}-${day:4:2}-${day:6:2} \
        bash "$prefix/share/tally/pipelines/nightly.sh" incoming ledger.db out > "night-$day.log" 2>&1 || status=$?
    [ "$status" = 0 ] || [ "$status" = 2 ] || { cat "night-$day.log" >&2; fail "the night of $day exited $status"; }
done
scores=out/scores-2026-11-02.jsonl
[ -s "$scores" ] || fail "no scores written"
grep -q "\"tally_version\":\"$version\"" out/last-run.json || fail "the run summary does not carry $version"
person=$(head -1 "$scores" | sed 's/.*"person":"\(p_[0-9a-f]*\)".*/\1/')
"$bin/tally-store" dump ledger.db \
    | "$bin/tally-link" --relink --crosswalk out/crosswalk/*.jsonl --secret-file tally.secret 2>/dev/null \
    | "$bin/tally-explain" --person "$person" --as-of 2026-11-02 > explain.txt
grep -q "$person" explain.txt || fail "tally-explain did not explain $person"
echo "install-test: two nights from $prefix: $(wc -l < "$scores") people scored; $(ls out/done | wc -l) files done"
NIGHT
"${ns[@]}" bash "$work/night.sh" "$src" "$toolchain" "$prefix" "$work" "$version"
echo "install-test: passed ($version; source tree $src and toolchain ${toolchain:-(in /usr, not hidden)} hidden)"
