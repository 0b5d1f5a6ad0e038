#!/usr/bin/env bash
# tally-score --store at several store sizes, the same depth of history (RECORDS_PER_PERSON,
# default 50, two years of the city's mix): how the per-core scoring rate depends on how many
# people one scorer holds. This is what sizes a cluster's partitions (SCALING.md): a partition
# of a country scored where it lies is a store of this kind.
# SIZES (people, default "24000 120000 240000"); RUNS (default 5) runs of each, one thread,
# interleaved across sizes (the machine's load drifts); the median rate of each.
# Each size makes a ledger of PEOPLE x RECORDS_PER_PERSON records once (tally-bench score-data
# --city-crosswalk, ingested, the store rebuilt, its identifiers linked), kept in
# bench-data/score-sizes/PEOPLE while the sizes match. Each store is scored twice over: from its
# rows in ledger order (a second directory of hard links to the store's files, without the
# ordered copy) and from its copy in person order (tally-store order-scoring, timed once), on one
# thread and on two. Every run of a size must give the same bytes.
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
orders=$(mktemp)
for p in $SIZES; do
    make_once "$DATA/score-sizes/$p" "$p $DEPTH" make_size "$DATA/score-sizes/$p" "$p"
    d=$DATA/score-sizes/$p
    # The ordered copy, made (and timed) when missing; the plain directory reads the rows alone.
    if [ ! -e "$d/ledger.db.scoring/ordered" ]; then
        /usr/bin/time -o "$d/order.time" -f "%e %M" "$BIN/tally-store" order-scoring "$d/ledger.db" --persons "$d/persons.bin" 2>/dev/null
    fi
    echo "$p $(cat "$d/order.time" 2>/dev/null || echo "- -")" >> "$orders"
    plain_store "$d/ledger.db.scoring" "$d/plain"
    for t in 1 2; do
        for where in plain ledger.db.scoring; do
            commands+=("'$BIN/tally-score' --store '$d/$where' --persons '$d/persons.bin' --rules '$RULES' --as-of 2026-11-28 --threads $t --stats '$d/stats.json' > '$d/out-$where-$t.jsonl'")
        done
    done
done
table=$(mktemp)
python3 "$ROOT/bench/paired.py" "$RUNS" "${commands[@]}" > "$table"
same="the same bytes"
for p in $SIZES; do
    [ "$(sha256sum "$DATA/score-sizes/$p"/out-*.jsonl | cut -d' ' -f1 | sort -u | wc -l)" = 1 ] || same="**DIFFERENT BYTES** at $p people"
    rm -f "$DATA/score-sizes/$p"/out-*.jsonl
done
{
    echo "$(machine_line)"
    echo
    echo "tally-score --store at stores of several sizes with the same depth of history ($DEPTH records a person from \`tally-bench score-data --city-crosswalk\`, whose identifiers are cards, shop accounts and resident numbers, most cards and accounts in the crosswalk), as of 2026-11-28: from the rows in ledger order, and from the copy ordered by person (tally-store order-scoring), on one thread and on two. $RUNS runs of each command, interleaved; the time is the whole run (the persons file loaded, the corrections read, the scores written). Every run of a size gave $same."
    echo
    echo "| people | records | threads | ledger order s | rows/s | person order s | rows/s | person / ledger |"
    echo "|---|---|---|---|---|---|---|---|"
    python3 - "$table" "$DATA/score-sizes" $SIZES <<'PY'
import json, sys
table, root, sizes = sys.argv[1], sys.argv[2], sys.argv[3:]
medians = []
for line in open(table):
    cells = [c.strip() for c in line.split("|")]
    if len(cells) > 3 and cells[1].startswith("`"):
        medians.append(float(cells[2]))
k = 0
for p in sizes:
    rows = json.load(open(f"{root}/{p}/stats.json"))["records"]
    for t in (1, 2):
        plain, ordered = medians[k], medians[k + 1]
        k += 2
        print(f"| {int(p):,} | {rows:,} | {t} | {plain:.2f} | {rows / plain / 1e6:.2f}M | {ordered:.2f} | {rows / ordered / 1e6:.2f}M | {ordered / plain:.2f} |")
PY
    echo
    echo "Making the copy (tally-store order-scoring, once per store, wall seconds and peak RSS):"
    echo
    echo "| people | seconds | peak RSS MB |"
    echo "|---|---|---|"
    while read -r p secs kb; do
        [ "$secs" = - ] && continue
        echo "| $p | $secs | $((kb / 1024)) |"
    done < "$orders"
    echo
    echo "Command: \`bash bench/score-sizes.sh\` (SIZES=\"$SIZES\" RECORDS_PER_PERSON=$DEPTH RUNS=$RUNS)."
} | write_section score-sizes
rm -f "$table" "$orders"
