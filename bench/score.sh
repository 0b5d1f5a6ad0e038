#!/usr/bin/env bash
# tally-score: 10,000,000 linked records over 1,000,000 people (RECORDS, PEOPLE to change them),
# made by `tally-bench score-data`, scored RUNS times against pipelines/rules/default.yaml.
# Reports the median rate, peak RSS and bytes per person. Goal: >= 1,000,000 records/s on one
# core and under 200 bytes per person. There is no peer tool that scores; the rate stands alone.
source "$(dirname "$0")/lib.sh"
build_release tally-bench
build_release tally-score
N=${RECORDS:-10000000}
P=${PEOPLE:-1000000}
RUNS=${RUNS:-3}
DIR=$DATA/score
mkdir -p "$DIR"
make_once "$DIR" "$P $N" "$BIN/tally-bench" score-data --people "$P" --records "$N" --out "$DIR/records.jsonl" --corrections "$DIR/corrections.jsonl"
times=$(mktemp)
for i in $(seq "$RUNS"); do
    /usr/bin/time -f "%e %M" -a -o "$times" "$BIN/tally-score" --rules "$ROOT/pipelines/rules/default.yaml" --as-of 2026-11-28 \
        --corrections "$DIR/corrections.jsonl" --stats "$DIR/stats.json" "$DIR/records.jsonl" > /dev/null 2>&1
done
{
    echo "$(machine_line)"
    echo
    echo "$N records ($(stat -c %s "$DIR/records.jsonl") bytes of linked JSON Lines, every scored kind, dates over two years) over $P people, with $(wc -l < "$DIR/corrections.jsonl") corrections; median of $RUNS runs, one core, output to /dev/null."
    echo
    python3 - "$times" "$N" "$DIR/stats.json" <<'PY'
import sys, statistics, json
runs = [tuple(map(float, l.split())) for l in open(sys.argv[1])]
n = int(sys.argv[2]); stats = json.load(open(sys.argv[3]))
wall = statistics.median(s for s, _ in runs); rss = max(k for _, k in runs) * 1024
people = stats["people"]
print("| median wall | records/s | peak RSS | RSS per person | scorer's own tables per person |")
print("|---|---|---|---|---|")
print(f"| {wall:.2f} s | {n / wall / 1e6:.2f}M | {rss / 2**20:.0f} MB | {rss / people:.0f} B | {stats['memory_bytes'] / people:.0f} B |")
print()
print("runs (s): " + ", ".join(f"{s:.2f}" for s, _ in runs) + f"; {people} people scored, {stats['counted']} records counted, {stats['expired']} expired.")
PY
    echo
    echo "Command: \`bash bench/score.sh\` (PEOPLE=$P RECORDS=$N RUNS=$RUNS)."
} | write_section score
rm -f "$times"
