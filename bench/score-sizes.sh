#!/usr/bin/env bash
# tally-score --store at several store sizes, the same depth of history (RECORDS_PER_PERSON,
# default 50, two years of the city's mix): how the per-core scoring rate depends on how many
# people one scorer holds. This is what sizes a cluster's partitions (SCALING.md): a partition
# of a country scored where it lies is a store of this kind.
# SIZES (people, default "24000 120000 240000"); RUNS (default 5) runs of each, one thread,
# interleaved across sizes (the machine's load drifts); the median rate of each.
# Each size makes a ledger of PEOPLE x RECORDS_PER_PERSON records once (tally-bench score-data
# --city-crosswalk, ingested, the store rebuilt, its identifiers linked), kept in
# bench-data/score-sizes/PEOPLE while the sizes match.
source "$(dirname "$0")/lib.sh"
for p in tally-bench tally-store tally-link tally-score; do build_release "$p"; done
SIZES=${SIZES:-24000 120000 240000}
DEPTH=${RECORDS_PER_PERSON:-50}
RUNS=${RUNS:-5}
RULES=$ROOT/pipelines/rules/default.yaml
make_size() { # make_size DIR PEOPLE
    local dir=$1 p=$2
    rm -rf "$dir"
    mkdir -p "$dir"
    (umask 077; echo "score-sizes benchmark secret, synthetic only" > "$dir/tally.secret")
    "$BIN/tally-bench" score-data --people "$p" --records $((p * DEPTH)) --out /dev/stdout --corrections "$dir/corrections.jsonl" \
        --city-crosswalk "$dir/crosswalk.jsonl" | split -l 2000000 --filter="'$BIN/tally-store' ingest '$dir/ledger.db' - 2>/dev/null"
    "$BIN/tally-store" ingest "$dir/ledger.db" "$dir/corrections.jsonl" 2>/dev/null
    "$BIN/tally-store" rebuild-scoring "$dir/ledger.db" 2>/dev/null
    "$BIN/tally-link" --store "$dir/ledger.db.scoring" --output "$dir/persons.bin" --crosswalk "$dir/crosswalk.jsonl" --secret-file "$dir/tally.secret" 2>/dev/null
}
commands=()
for p in $SIZES; do
    make_once "$DATA/score-sizes/$p" "$p $DEPTH" make_size "$DATA/score-sizes/$p" "$p"
    d=$DATA/score-sizes/$p
    commands+=("'$BIN/tally-score' --store '$d/ledger.db.scoring' --persons '$d/persons.bin' --rules '$RULES' --as-of 2026-11-28 --threads 1 --stats '$d/stats.json'")
done
table=$(mktemp)
python3 "$ROOT/bench/paired.py" "$RUNS" "${commands[@]}" > "$table"
{
    echo "$(machine_line)"
    echo
    echo "tally-score --store on one thread, at stores of several sizes with the same depth of history ($DEPTH records a person from \`tally-bench score-data --city-crosswalk\`, whose identifiers are cards, shop accounts and resident numbers, most cards and accounts in the crosswalk), as of 2026-11-28. $RUNS runs of each size, interleaved; the time is the whole run (the persons file loaded, the corrections read, the scores written to /dev/null)."
    echo
    echo "| people | records | median s | rows/s | people scored | scorer bytes a person |"
    echo "|---|---|---|---|---|---|"
    python3 - "$table" "$DATA/score-sizes" $SIZES <<'PY'
import json, re, sys
table, root, sizes = sys.argv[1], sys.argv[2], sys.argv[3:]
medians = []
for line in open(table):
    cells = [c.strip() for c in line.split("|")]
    if len(cells) > 3 and cells[1].startswith("`"):
        medians.append(float(cells[2]))
for p, secs in zip(sizes, medians):
    stats = json.load(open(f"{root}/{p}/stats.json"))
    rows = stats["records"]
    print(f"| {int(p):,} | {rows:,} | {secs:.2f} | {rows / secs / 1e6:.2f}M | {stats['people']:,} | {stats['memory_bytes'] // max(stats['people'], 1)} |")
PY
    echo
    echo "Command: \`bash bench/score-sizes.sh\` (SIZES=\"$SIZES\" RECORDS_PER_PERSON=$DEPTH RUNS=$RUNS)."
} | write_section score-sizes
rm -f "$table"
