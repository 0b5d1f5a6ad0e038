#!/usr/bin/env bash
# Input layer: count the lines of a 2,000,000-row transit CSV.gz through tally's reader (gzip by
# magic bytes, every member, SHA-256 of the raw bytes, bounded lines), side by side with
# `zcat FILE | wc -l`, with each inflate engine (ISA-L, the default, and zlib, the fallback:
# TALLY_INFLATE). Goal: no slower than 1.2x zcat.
source "$(dirname "$0")/lib.sh"
require hyperfine
build_release tally-bench
ensure_bench_feeds
FILE=$TRANSIT
json=$(mktemp)
hyperfine --warmup 1 --runs "${RUNS:-9}" --export-json "$json" \
    "zcat $FILE | wc -l" \
    "$BIN/tally-bench lines $FILE" \
    "TALLY_INFLATE=zlib $BIN/tally-bench lines $FILE" >&2
medians=$(hyperfine_medians "$json")
zcat_s=$(echo "$medians" | awk -F'\t' 'NR==1{print $2}')
tally_s=$(echo "$medians" | awk -F'\t' 'NR==2{print $2}')
zlib_s=$(echo "$medians" | awk -F'\t' 'NR==3{print $2}')
{
    echo "$(machine_line)"
    echo
    echo "File: \`transit-20261101.csv.gz\` from \`tally-synth --people $ROWS --days 1 --seed 1\`: $(zcat "$FILE" | wc -l) lines, $(stat -c %s "$FILE") bytes compressed, $(zcat "$FILE" | wc -c) decompressed."
    echo
    echo "| command | median s | min s | max s |"
    echo "|---|---|---|---|"
    echo "$medians" | awk -F'\t' '{gsub(/\|/, "\\|", $1); printf "| `%s` | %s | %s | %s |\n", $1, $2, $3, $4}' | sed "s#$ROOT/##g; s#$DATA/##g"
    echo
    echo "Ratio tally / zcat: **$(python3 -c "print(f'{$tally_s/$zcat_s:.2f}')")x** with ISA-L, $(python3 -c "print(f'{$zlib_s/$zcat_s:.2f}')")x with zlib (goal ≤ 1.2x). tally also computes the file's SHA-256 and checks line bounds; zcat and wc run on two cores, tally on one."
    echo
    echo "Command: \`bench/input.sh\` (RUNS=${RUNS:-9})."
} | write_section input
rm -f "$json"
sed -n '/<!-- input:begin -->/,/<!-- input:end -->/p' "$ROOT/BENCHMARKS.md"
