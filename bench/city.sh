#!/usr/bin/env bash
# A city's nights at a tenth of its size, on this machine: a ledger holding PEOPLE (default
# 1,200,000) people's two years of history, RECORDS (default 60,000,000) records made by
# `tally-bench score-data --city-crosswalk` (subjects are transit cards, shop accounts and
# resident numbers; a crosswalk maps most cards and accounts), then NIGHTS (default 3)
# consecutive nights of pipelines/nightly.sh, each one day of every feed for PEOPLE people from
# tally-synth, timed stage by stage (TALLY_TIMES). The night scores through the scoring store.
#
# Beside it, the night's scoring as it was before the store: the whole ledger dumped, relinked
# and scored (tally-store dump | tally-link --relink | tally-score), timed BEFORE_RUNS times
# (default 2) on the ledger after the last night; its scores must be the last night's bytes.
#
# Goal (issue 23): a city's night in at most 2 minutes here, projected from a tenth of it.
# SECTION (default city) names the section of BENCHMARKS.md the results go to, so that a run at
# another size (with TALLY_BENCH_DATA elsewhere) does not take the tenth's place.
# Needs about 35 GB of disk in bench-data/city (the ledger is most of it); making it takes
# about half an hour, once, and is reused while PEOPLE and RECORDS match.
source "$(dirname "$0")/lib.sh"
for p in tally-bench tally-synth tally-validate tally-parse tally-link tally-store tally-score tally-report; do build_release "$p"; done
P=${PEOPLE:-1200000}
N=${RECORDS:-60000000}
NIGHTS=${NIGHTS:-3}
BEFORE_RUNS=${BEFORE_RUNS:-2}
DIR=$DATA/city
RULES=$ROOT/pipelines/rules/default.yaml
timed() { # timed NAME COMMAND...: appends "NAME seconds KB" to $DIR/setup.times
    /usr/bin/time -a -o "$DIR/setup.times" -f "$1 %e %M" "${@:2}"
}
make_history() {
    rm -rf "$DIR"
    mkdir -p "$DIR/out/crosswalk"
    (umask 077; echo "city benchmark secret, synthetic only" > "$DIR/tally.secret")
    # The history goes straight into the ledger (no 20 GB file), two million records an ingest
    # (one ingest is one transaction: the WAL of sixty million would outgrow the disk), its
    # corrections after it.
    timed history-ingest bash -c "'$BIN/tally-bench' score-data --people $P --records $N --out /dev/stdout --corrections '$DIR/corrections.jsonl' \
        --city-crosswalk '$DIR/out/crosswalk/history.jsonl' | split -l 2000000 --filter=\"'$BIN/tally-store' ingest '$DIR/ledger.db' - 2>/dev/null\""
    "$BIN/tally-store" ingest "$DIR/ledger.db" "$DIR/corrections.jsonl"
    # The ledger as it was when nightly.sh's first night ran, for the nights to start from.
    timed store-rebuild "$BIN/tally-store" rebuild-scoring "$DIR/ledger.db"
    "$BIN/tally-synth" --people "$P" --days "$NIGHTS" --start 2026-11-28 --seed 7 --out "$DIR/feeds"
}
make_once "$DIR" "$P $N $NIGHTS" make_history
# The store's rows copied in person order, as the nightly pipeline keeps it (made again once 5%
# of the rows are not in it, which three nights do not reach): made once here, and timed.
if [ ! -e "$DIR/ledger.db.scoring/ordered" ]; then
    mapfile -t cw < <(ls "$DIR"/out/crosswalk/*.jsonl)
    "$BIN/tally-link" --store "$DIR/ledger.db.scoring" --output "$DIR/persons.bin" --crosswalk "${cw[@]}" --secret-file "$DIR/tally.secret" 2>/dev/null
    timed store-order "$BIN/tally-store" order-scoring "$DIR/ledger.db" --persons "$DIR/persons.bin"
    rm -f "$DIR/persons.bin"
fi
# SETUP_ONLY=1: the data made (or found) and nothing more, so that the nights can run later (on
# another build) from the same starting point.
if [ -n "${SETUP_ONLY:-}" ]; then echo "bench/city.sh: $DIR is ready for its nights"; exit 0; fi
# A night run earlier moved its feeds: the nights start again only from fresh data.
if [ -e "$DIR/nights-done" ]; then
    echo "bench/city.sh: $DIR has already run its nights; remove $DIR/.size to make the data again" >&2
    exit 1
fi
touch "$DIR/nights-done"

all=$DIR/nights.times
: > "$all"
for i in $(seq 0 $((NIGHTS - 1))); do
    day=$(date -u -d "2026-11-28 + $i days" +%F)
    mkdir -p "$DIR/in"
    mv "$DIR"/feeds/*-"${day//-/}".* "$DIR/in/"
    times=$DIR/night-$i.times
    : > "$times"
    start=$(date +%s.%N)
    TALLY_BIN=$BIN TALLY_SECRET_FILE=$DIR/tally.secret TALLY_AS_OF=$day TALLY_TIMES=$times TALLY_SETTLE_SECONDS=0 \
        bash "$ROOT/pipelines/nightly.sh" "$DIR/in" "$DIR/ledger.db" "$DIR/out" > "$DIR/night-$i.summary" || { cat "$DIR/night-$i.summary"; exit 1; }
    end=$(date +%s.%N)
    echo "total all $(echo "$end - $start" | bc) 0" >> "$times"
    sed "s/^/$i /" "$times" >> "$all"
done
last=$(date -u -d "2026-11-28 + $((NIGHTS - 1)) days" +%F)

# The scoring steps alone after the last night, tally-score on one thread and on two.
steps=$DIR/steps.times
: > "$steps"
mapfile -t cw < <(ls "$DIR"/out/crosswalk/*.jsonl)
/usr/bin/time -a -o "$steps" -f "update-scoring %e %M" "$BIN/tally-store" update-scoring "$DIR/ledger.db" 2>/dev/null
/usr/bin/time -a -o "$steps" -f "link-store %e %M" "$BIN/tally-link" --store "$DIR/ledger.db.scoring" --output "$DIR/persons.bin" \
    --crosswalk "${cw[@]}" --secret-file "$DIR/tally.secret" 2>/dev/null
# The same from the nights' crosswalk fold (every identifier linked: one table made of the fold),
# and as a night does it, from the fold and last night's persons file; the same bytes each time.
/usr/bin/time -a -o "$steps" -f "link-store-fold %e %M" "$BIN/tally-link" --store "$DIR/ledger.db.scoring" --output "$DIR/persons-fold.bin" \
    --fold "$DIR/out/work/crosswalk.fold" --crosswalk "${cw[@]}" --secret-file "$DIR/tally.secret" 2>/dev/null
/usr/bin/time -a -o "$steps" -f "link-store-fold-previous %e %M" "$BIN/tally-link" --store "$DIR/ledger.db.scoring" --output "$DIR/persons-previous.bin" \
    --previous "$DIR/out/work/persons.previous" --fold "$DIR/out/work/crosswalk.fold" --crosswalk "${cw[@]}" --secret-file "$DIR/tally.secret" 2>/dev/null
for f in persons-fold.bin persons-previous.bin; do
    cmp -s "$DIR/persons.bin" "$DIR/$f" || { echo "bench/city.sh: $f is not the bytes of linking every identifier from the crosswalk files" >&2; exit 1; }
done
rm -f "$DIR/persons-fold.bin" "$DIR/persons-previous.bin"
# From the copy in person order, and from the rows in ledger order (a directory of hard links to
# the store's files without the copy).
plain_store "$DIR/ledger.db.scoring" "$DIR/plain"
for t in 1 2; do
    /usr/bin/time -a -o "$steps" -f "score-store-threads-$t %e %M" "$BIN/tally-score" --store "$DIR/ledger.db.scoring" --persons "$DIR/persons.bin" \
        --rules "$RULES" --as-of "$last" --threads "$t" > "$DIR/steps-scores-$t.jsonl" 2>/dev/null
    /usr/bin/time -a -o "$steps" -f "score-plain-threads-$t %e %M" "$BIN/tally-score" --store "$DIR/plain" --persons "$DIR/persons.bin" \
        --rules "$RULES" --as-of "$last" --threads "$t" > "$DIR/steps-plain-scores-$t.jsonl" 2>/dev/null
done
rm -rf "$DIR/persons.bin" "$DIR/plain"

# Before the store: the whole history dumped, relinked and scored, on the same ledger.
before=$DIR/before.times
: > "$before"
for i in $(seq "$BEFORE_RUNS"); do
    start=$(date +%s.%N)
    "$BIN/tally-store" dump "$DIR/ledger.db" \
        | "$BIN/tally-link" --relink --crosswalk "${cw[@]}" --secret-file "$DIR/tally.secret" 2>/dev/null \
        | "$BIN/tally-score" --corrections-first --rules "$RULES" --as-of "$last" > "$DIR/before-scores.jsonl" 2>/dev/null
    end=$(date +%s.%N)
    echo "$(echo "$end - $start" | bc)" >> "$before"
done
same="the same bytes"
for f in "$DIR/out/scores-$last.jsonl" "$DIR"/steps-scores-[12].jsonl "$DIR"/steps-plain-scores-[12].jsonl; do
    cmp -s "$DIR/before-scores.jsonl" "$f" || same="**DIFFERENT BYTES** ($f)"
done
records=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from records").fetchone()[0])' "$DIR/ledger.db")
{
    echo "$(machine_line)"
    echo
    echo "$(python3 -c "import sys; f = 12000000 / int(sys.argv[1]); print('A tenth of the city' if f == 10 else f'One {f:g}th of the city')" "$P"): $P people's two years of history ($N records from \`tally-bench score-data --city-crosswalk\`, $(du -sh "$DIR/ledger.db" | cut -f1) of SQLite ledger), then $NIGHTS nights of \`pipelines/nightly.sh\`, each one day of every feed for $P people from tally-synth. After the last night the ledger holds $records lines. Median over the nights:"
    echo
    python3 - "$all" "$before" "$DIR/setup.times" "$steps" "$N" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(lambda: collections.defaultdict(float))
rss = collections.defaultdict(int)
for line in open(sys.argv[1]):
    f = line.split()
    if len(f) != 5:
        continue
    run, stage, file, secs, kb = f
    key = (stage, file.split("-")[0] if file not in ("scores", "all") else file)
    runs[key][run] += float(secs)
    rss[stage] = max(rss[stage], int(kb))
print("| stage | on | median wall (s) | peak RSS (MB) |")
print("|---|---|---|---|")
for (stage, feed), per in sorted(runs.items(), key=lambda kv: (kv[0][0] == "total", -statistics.median(kv[1].values()))):
    med = statistics.median(per.values())
    if stage == "total":
        print(f"| **whole night** (nightly.sh) | all files | **{med:.1f}** | |")
    elif stage == "tally-store" and feed == "ledger":
        print(f"| tally-store checkpoint --follow, in the background: from the first ingest until the night's log is copied (not on the night's path) | ledger | {med:.2f} | {rss[stage] / 1024:.0f} |")
    elif med >= 0.05:
        print(f"| {stage} | {feed} | {med:.2f} | {rss[stage] / 1024:.0f} |")
print()
before = [float(l) for l in open(sys.argv[2]) if l.strip()]
print(f"The night's scoring before the store (tally-store dump | tally-link --relink | tally-score over the whole ledger, as nightly.sh did): **{statistics.median(before):.1f} s** (runs: {', '.join(f'{b:.1f}' for b in before)}).")
print()
setup = {}
for line in open(sys.argv[3]):
    f = line.split()
    if len(f) == 3:
        setup[f[0]] = (float(f[1]), int(f[2]))
steps = {}
for line in open(sys.argv[4]):
    f = line.split()
    if len(f) == 3:
        steps[f[0]] = (float(f[1]), int(f[2]))
n = int(sys.argv[5])
if steps:
    print("The scoring steps alone after the last night (the update has nothing left to do):")
    print()
    print("| step | wall (s) | peak RSS (MB) | rate |")
    print("|---|---|---|---|")
    for name, label in [("update-scoring", "tally-store update-scoring"), ("link-store", "tally-link --store (every identifier, the crosswalk files parsed)"),
                        ("link-store-fold", "tally-link --store --fold (every identifier, from the fold)"), ("link-store-fold-previous", "tally-link --store --fold --previous (as a night links)"),
                        ("score-store-threads-1", "tally-score --store --threads 1, the copy in person order"), ("score-store-threads-2", "tally-score --store --threads 2, the copy in person order"),
                        ("score-plain-threads-1", "tally-score --store --threads 1, the rows in ledger order"), ("score-plain-threads-2", "tally-score --store --threads 2, the rows in ledger order")]:
        if name in steps:
            secs, kb = steps[name]
            rate = f"{n / secs / 1e6:.1f}M rows/s" if name.startswith("score") else ""
            print(f"| {label} | {secs:.1f} | {kb / 1024:.0f} | {rate} |")
    print()
if "history-ingest" in setup:
    print(f"Once, to set up: the history ingested in {setup['history-ingest'][0]:.0f} s; the scoring store made from the ledger (tally-store rebuild-scoring) in {setup['store-rebuild'][0]:.0f} s, peak RSS {setup['store-rebuild'][1] / 1024:.0f} MB.")
if "store-order" in setup:
    print(f"The store's rows copied in person order (tally-store order-scoring, before the first night; nightly.sh makes it again once 5% of the rows are not in it): {setup['store-order'][0]:.0f} s, peak RSS {setup['store-order'][1] / 1024:.0f} MB.")
PY
    echo
    echo "The scores of the last night ($last), of the steps alone on one and on two threads (from the copy and from the rows), and of the dump relinked and scored are $same. Rows under 0.05 s are left out; on \"scores\" the three steps run one after another (update-scoring, link --store, score --store). Last night's summary:"
    echo
    echo '```'
    cat "$DIR/night-$((NIGHTS - 1)).summary"
    echo '```'
    echo
    echo "Command: \`bash bench/city.sh\` (PEOPLE=$P RECORDS=$N NIGHTS=$NIGHTS BEFORE_RUNS=$BEFORE_RUNS)."
} | write_section "${SECTION:-city}"
