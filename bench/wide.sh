#!/usr/bin/env bash
# usage: bench/wide.sh [BEFORE_BINDIR]
# tally-parse and tally-validate on a second CSV shape: a wide metro export (bench/metro/,
# `tally-bench metro-data`: 12 columns, about 150 bytes a row, quoted Chinese names, timestamps
# with offsets, four pattern constraints), ROWS rows (default 2,000,000), gzip. Side by side in
# interleaved rounds (ROUNDS, default 5) with `zcat | wc -l` (the decompression floor) and
# Miller (MLR_ROUNDS, default 2), and with BEFORE_BINDIR's tally-parse when given. Then a perf
# profile of tally-parse (the top symbols), when perf is installed.
# Goals (issue "Parse at the decompression floor"): tally-parse and tally-validate no slower
# than zcat | wc -l; at least 8x faster than Miller.
source "$(dirname "$0")/lib.sh"
require mlr
BEFORE=${1:+$(cd "$1" && pwd)}
build_release tally-parse; build_release tally-validate
METRO_ROWS=${ROWS:-2000000}; ROUNDS=${ROUNDS:-5}; MLR_ROUNDS=${MLR_ROUNDS:-2}
ensure_metro
ROWS=$METRO_ROWS; DIR=$DATA/metro; F=$METRO; SCHEMAS=$METRO_SCHEMAS
times=$(mktemp)
trap 'rm -f "$times"' EXIT
run() { # run NAME COMMAND: one timed run, wall seconds appended to $times
    local name=$1; shift
    /usr/bin/time -f "$name %e" -a -o "$times" bash -c "$*" >/dev/null 2>&1
}
for round in $(seq "$ROUNDS"); do
    run zcat "zcat '$F' | wc -l"
    run tally-parse "'$BIN/tally-parse' --schemas '$SCHEMAS' --feed metro '$F' > /dev/null"
    run tally-validate "'$BIN/tally-validate' --schemas '$SCHEMAS' --feed metro '$F' > /dev/null"
    [ -z "$BEFORE" ] || run before-parse "'$BEFORE/tally-parse' --schemas '$SCHEMAS' --feed metro '$F' > /dev/null"
    [ "$round" -gt "$MLR_ROUNDS" ] || run miller "mlr --gzin --icsv --ojsonl cat '$F' > /dev/null"
done
profile=""
if command -v perf >/dev/null; then
    perf record -q -o "$DIR/perf.data" "$BIN/tally-parse" --schemas "$SCHEMAS" --feed metro "$F" >/dev/null 2>&1 || true
    profile=$(perf report -i "$DIR/perf.data" --no-children --sort dso,symbol 2>/dev/null | grep -E '^ +[0-9]' | head -14 \
        | awk '{pct=$1; dso=$2; $1=""; $2=""; $3=""; sub(/^ +/, ""); sub(/ +- +- *$/, ""); printf "| %s | %s | `%s` |\n", pct, dso, substr($0, 1, 90)}' || true)
fi
{
    echo "$(machine_line)"
    echo
    echo "File: \`metro-20261101.csv.gz\`, $ROWS rows, $(stat -c %s "$F") bytes gzip, $(zcat "$F" | wc -c) bytes plain (\`tally-bench metro-data --rows $ROWS\`; declaration in bench/metro/)."
    echo
    python3 - "$times" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, secs = line.split()
    d[name].append(float(secs))
med = {k: statistics.median(v) for k, v in d.items()}
print("| command | runs | median s | min s | max s |")
print("|---|---|---|---|---|")
for k in ["zcat", "tally-parse", "tally-validate", "before-parse", "miller"]:
    if k in d:
        print(f"| {k} | {len(d[k])} | {med[k]:.2f} | {min(d[k]):.2f} | {max(d[k]):.2f} |")
print()
z = med["zcat"]
print(f"tally-parse / zcat = **{med['tally-parse'] / z:.2f}x**, tally-validate / zcat = **{med['tally-validate'] / z:.2f}x** (goal ≤ 1x); "
      f"Miller / tally-parse = **{med['miller'] / med['tally-parse']:.1f}x** (goal ≥ 8x).", end="")
if "before-parse" in med:
    print(f" Before this change tally-parse took {med['before-parse']:.2f} s.", end="")
print()
PY
    if [ -n "$profile" ]; then
        echo
        echo "Where tally-parse spends its CPU (\`perf record\`, both threads, self time):"
        echo
        echo "| share | object | symbol |"
        echo "|---|---|---|"
        echo "$profile"
    fi
    echo
    echo "Command: \`bench/wide.sh${BEFORE:+ BEFORE_BINDIR}\` (ROUNDS=$ROUNDS, MLR_ROUNDS=$MLR_ROUNDS)."
} | write_section wide
sed -n '/<!-- wide:begin -->/,/<!-- wide:end -->/p' "$ROOT/BENCHMARKS.md"
