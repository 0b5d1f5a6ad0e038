#!/usr/bin/env bash
# JSON Lines codec: encode and decode 2,000,000 records with tally's codec, with Foundation's
# JSONEncoder/JSONDecoder (on a 200,000-record sample, scaled to records/s), and `jq -c .` on the
# same file. Goal: decode >= 1,000,000 records/s and encode >= 2,000,000 records/s on one core,
# at least 10x Foundation.
source "$(dirname "$0")/lib.sh"
require hyperfine jq
build_release tally-bench
N=${RECORDS:-2000000}
RUNS=${RUNS:-5}
FILE=$DATA/codec-records.jsonl
results=$(mktemp)
for i in $(seq "$RUNS"); do
    "$BIN/tally-bench" codec --records "$N" --out "$FILE" --foundation "${FOUNDATION:-200000}" >> "$results"
done
# The same file read as RecordViews: the decoder's checks with nothing copied, as stages read.
for i in $(seq "$RUNS"); do
    "$BIN/tally-bench" codec --records "$N" --out "$FILE" --decode-only --views >> "$results"
done
json=$(mktemp)
hyperfine --runs "${JQ_RUNS:-3}" --export-json "$json" "jq -c . $FILE > /dev/null" >&2
jq_s=$(hyperfine_medians "$json" | awk -F'\t' '{print $2}')
{
    echo "$(machine_line)"
    echo
    echo "$N records shaped like tally-parse output (90% transit events, 10% court events with CJK attributes), $(stat -c %s "$FILE") bytes of JSON Lines; median of $RUNS runs, one core."
    echo
    echo "| what | records/s (median) | runs |"
    echo "|---|---|---|"
    python3 - "$results" "$N" "$jq_s" <<'PY'
import sys, statistics, collections
rates = collections.defaultdict(list)
for line in open(sys.argv[1]):
    name, count, secs, rate = line.rstrip("\n").split("\t")
    rates[name].append(int(rate))
n, jq = int(sys.argv[2]), float(sys.argv[3])
med = {k: statistics.median(v) for k, v in rates.items()}
for k, v in rates.items():
    print(f"| {k} | {int(med[k]):,} | {', '.join(f'{x:,}' for x in v)} |")
print(f"| jq -c . (parse + print, whole file) | {int(n / jq):,} | median {jq:.2f} s |")
print()
print(f"Ratios: tally decode / Foundation JSONDecoder **{med['tally decode'] / med['Foundation JSONDecoder']:.1f}x**; "
      f"tally encode / Foundation JSONEncoder **{med['tally encode'] / med['Foundation JSONEncoder']:.1f}x**; "
      f"tally decode / jq **{med['tally decode'] / (n / jq):.1f}x**.")
PY
    echo
    echo "Command: \`bench/codec.sh\` (RECORDS=$N RUNS=$RUNS; runs \`tally-bench codec\` and \`hyperfine 'jq -c . FILE > /dev/null'\`)."
} | write_section codec
rm -f "$results" "$json"
sed -n '/<!-- codec:begin -->/,/<!-- codec:end -->/p' "$ROOT/BENCHMARKS.md"
