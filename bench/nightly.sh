#!/usr/bin/env bash
# One night for a city: tally-synth makes one day of every feed for PEOPLE (default 1,000,000)
# synthetic people (about a million transit rows), and pipelines/nightly.sh takes it into a
# fresh SQLite ledger with release binaries, timing every stage (TALLY_TIMES). Reports wall time
# and peak RSS per stage and in all, median of RUNS nights (each on a fresh ledger). Goal: <= 60 s
# for 1,000,000 people on this machine.
source "$(dirname "$0")/lib.sh"
for p in tally-synth tally-validate tally-parse tally-link tally-store tally-score; do build_release "$p"; done
P=${PEOPLE:-1000000}
RUNS=${RUNS:-3}
DIR=$DATA/nightly
make_city() {
    rm -rf "$DIR"
    mkdir -p "$DIR"
    "$BIN/tally-synth" --people "$P" --days 1 --seed 1 --out "$DIR/feeds"
}
make_once "$DIR" "$P" make_city
(umask 077; echo "city benchmark secret, synthetic" > "$DIR/tally.secret")
all=$(mktemp)
for i in $(seq "$RUNS"); do
    rm -rf "$DIR/run" && mkdir -p "$DIR/run/in"
    cp "$DIR"/feeds/*-20261101.* "$DIR/run/in/"
    times=$DIR/run/times
    start=$(date +%s.%N)
    TALLY_BIN=$BIN TALLY_SECRET_FILE=$DIR/tally.secret TALLY_AS_OF=2026-11-01 TALLY_TIMES=$times \
        bash "$ROOT/pipelines/nightly.sh" "$DIR/run/in" "$DIR/run/ledger.db" "$DIR/run/out" > "$DIR/run/summary"
    end=$(date +%s.%N)
    echo "total all $(echo "$end - $start" | bc) 0" >> "$times"
    sed "s/^/$i /" "$times" >> "$all"
done
rows=$(zcat "$DIR"/feeds/transit-20261101.csv.gz | wc -l)
{
    echo "$(machine_line)"
    echo
    echo "One night for $P synthetic people: $((rows - 1)) transit rows and every other feed of the day ($(du -sh "$DIR/feeds" | cut -f1) of feed files), into a fresh SQLite ledger; median of $RUNS nights."
    echo
    python3 - "$all" <<'PY'
import sys, statistics, collections
runs = collections.defaultdict(lambda: collections.defaultdict(float))
rss = collections.defaultdict(int)
for line in open(sys.argv[1]):
    fields = line.split()
    if len(fields) != 5:
        continue  # /usr/bin/time's "Command exited with non-zero status 1" (tally-store files: not taken yet)
    run, stage, file, secs, kb = fields
    runs[(stage, file.split("-")[0] if file not in ("scores", "all") else file)][run] += float(secs)
    rss[stage] = max(rss[stage], int(kb))
print("| stage | on | median wall (s) | peak RSS (MB) |")
print("|---|---|---|---|")
for (stage, feed), per_run in sorted(runs.items(), key=lambda kv: (kv[0][0] == "total", -statistics.median(kv[1].values()))):
    med = statistics.median(per_run.values())
    if med < 0.05 and stage != "total": continue
    print(f"| {stage} | {feed} | {med:.2f} | {rss[stage] / 1024:.0f} |" if stage != "total" else f"| **whole night** (nightly.sh) | all files | **{med:.2f}** | |")
PY
    echo
    echo "Rows of under 0.05 s are left out. On \"scores\", tally-store dump, tally-link --relink and tally-score run at once in one pipe, so their walls overlap. Each file's tally-link loads the whole crosswalk (1.25M identifiers here) again, which is most of its time. Last night's summary lines:"
    echo
    echo '```'
    cat "$DIR/run/summary"
    echo '```'
    echo
    echo "Command: \`bash bench/nightly.sh\` (PEOPLE=$P RUNS=$RUNS)."
} | write_section nightly
rm -f "$all"
