#!/usr/bin/env bash
# usage: bench/anywhere.sh [BEFORE_BINDIR]
# What taking corrections anywhere costs tally-score: RECORDS linked records (default 3,000,000)
# over PEOPLE people (300,000), one in a thousand corrected, scored from a file and from standard
# input with the corrections first (as tally-store dump writes them) and last (the worst case:
# everything is read twice), and from standard input with --corrections-first (no copy kept, as
# nightly.sh scores the ledger's dump). With BEFORE_BINDIR (a build from before the change, which refused a
# late correction), the corrections-first runs are timed for it too, alternating with this build
# round by round (ROUNDS, default 5). Prints medians and writes the BENCHMARKS.md section.
source "$(dirname "$0")/lib.sh"
build_release tally-score
build_release tally-bench
BEFORE=${1:-}
[ -n "$BEFORE" ] && BEFORE=$(cd "$BEFORE" && pwd)
ROUNDS=${ROUNDS:-5}; N=${RECORDS:-3000000}; PEOPLE=${PEOPLE:-300000}
DIR=$DATA/anywhere
mkdir -p "$DIR"
make_once "$DIR" "$PEOPLE $N" "$BIN/tally-bench" score-data --people "$PEOPLE" --records "$N" --out "$DIR/records.jsonl" --corrections "$DIR/corrections.jsonl"
[ -s "$DIR/first.jsonl" ] && [ "$DIR/first.jsonl" -nt "$DIR/.size" ] || cat "$DIR/corrections.jsonl" "$DIR/records.jsonl" > "$DIR/first.jsonl"
[ -s "$DIR/last.jsonl" ] && [ "$DIR/last.jsonl" -nt "$DIR/.size" ] || cat "$DIR/records.jsonl" "$DIR/corrections.jsonl" > "$DIR/last.jsonl"
RULES=$ROOT/pipelines/rules/default.yaml
times=$(mktemp)
trap 'rm -f "$times"' EXIT
score() { # score LABEL BINDIR ARGS...: one timed run, its output checked against the first run's
    local label=$1 bin=$2
    shift 2
    /usr/bin/time -f "$label %e %M" -a -o "$times" "$bin/tally-score" --rules "$RULES" --as-of 2026-11-28 "$@" > "$DIR/out.jsonl" 2>/dev/null
    if [ -s "$DIR/want.jsonl" ]; then cmp -s "$DIR/out.jsonl" "$DIR/want.jsonl" || { echo "anywhere.sh: $label gave other bytes" >&2; exit 1; }
    else mv "$DIR/out.jsonl" "$DIR/want.jsonl"; fi
}
rm -f "$DIR/want.jsonl"
for _ in $(seq "$ROUNDS"); do
    for who in after before; do
        [ "$who" = before ] && [ -z "$BEFORE" ] && continue
        bin=$BIN; [ "$who" = before ] && bin=$BEFORE
        score "first-file-$who" "$bin" "$DIR/first.jsonl"
        score "first-stdin-$who" "$bin" < "$DIR/first.jsonl"
    done
    score "first-promised-after" "$BIN" --corrections-first < "$DIR/first.jsonl"
    score "last-file-after" "$BIN" "$DIR/last.jsonl"
    score "last-stdin-after" "$BIN" < "$DIR/last.jsonl"
done
{
    echo "$(machine_line)"
    echo
    echo "Data: \`tally-bench score-data --people $PEOPLE --records $N\` ($(stat -c %s "$DIR/first.jsonl") bytes, $(wc -l < "$DIR/corrections.jsonl") corrections), the corrections first or last; ROUNDS=$ROUNDS, alternating. Every run's output is compared with the first's: the same bytes."
    echo
    python3 - "$times" "$N" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    label, secs, kb = line.split()
    d[label].append((float(secs), int(kb)))
n = int(sys.argv[2])
print("| corrections | input | build | median s | records/s | peak RSS MB |")
print("|---|---|---|---|---|---|")
for label in sorted(d, key=lambda l: (l.split("-")[0] != "first", l.split("-")[1], l.split("-")[2])):
    where, how, who = label.split("-")
    secs = statistics.median(s for s, _ in d[label])
    rss = statistics.median(k for _, k in d[label]) / 1024
    shown = {"file": "a file", "stdin": "standard input", "promised": "standard input, `--corrections-first`"}[how]
    print(f"| {where} | {shown} | {who} | {secs:.2f} | {n / secs / 1e6:.2f}M | {rss:.0f} |")
PY
    echo
    echo "Command: \`bench/anywhere.sh${BEFORE:+ BEFORE_BINDIR}\`${BEFORE:+ (before: a release build of the commit before the change)}."
} | tee /dev/stderr | write_section anywhere
