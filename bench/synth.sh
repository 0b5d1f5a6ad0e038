#!/usr/bin/env bash
# tally-synth: time for a day of 1,000,000 people (1,000,000 transit rows plus every other feed),
# and peak RSS for 1 and for 10 days of 100,000 people (memory must not grow with days).
source "$(dirname "$0")/lib.sh"
require hyperfine
build_release tally-synth
out=$(mktemp -d)
j=$(mktemp)
hyperfine --runs "${RUNS:-3}" --export-json "$j" --prepare "rm -rf $out/a" "$BIN/tally-synth --people 1000000 --days 1 --seed 1 --out $out/a" >&2
rows=$(zcat "$out/a/transit-20261101.csv.gz" | tail -n +2 | wc -l)
rss1=$(/usr/bin/time -f %M "$BIN/tally-synth" --people 100000 --days 1 --out "$out/b" 2>&1 >/dev/null | tail -1)
rss10=$(/usr/bin/time -f %M "$BIN/tally-synth" --people 100000 --days 10 --out "$out/c" 2>&1 >/dev/null | tail -1)
{
    echo "$(machine_line)"
    echo
    echo "| command | median s | min s | max s |"
    echo "|---|---|---|---|"
    hyperfine_medians "$j" | awk -F'\t' '{printf "| `%s` | %s | %s | %s |\n", $1, $2, $3, $4}' | sed "s#$ROOT/##g; s#$out#OUT#g"
    echo
    echo "That run writes $rows transit rows (gzip level 1) and every other feed of the day, people.csv included. Peak RSS with 100,000 people: $((rss1 / 1024)) MB for 1 day, $((rss10 / 1024)) MB for 10 days."
    echo
    echo "Command: \`bench/synth.sh\`."
} | write_section synth
rm -rf "$out" "$j"
sed -n '/<!-- synth:begin -->/,/<!-- synth:end -->/p' "$ROOT/BENCHMARKS.md"
