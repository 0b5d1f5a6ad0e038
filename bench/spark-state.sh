#!/usr/bin/env bash
# pipelines/spark/nightly.py --state in Spark's local mode: does a night's shuffle grow with the
# night or with the history? PEOPLE (default 20,000) people's feeds for DAYS + 1 days (default
# DAYS 10) from tally-synth; nights 1 to DAYS are kept in a state directory, one by one, each
# night's shuffle summed from Spark's event log (bench/spark-events.py); then the last night is
# run RUNS times (default 3), each from a copy of the state, and beside it the driver without
# --state over every day's feeds at once (what a night cost before: the whole history parsed,
# linked and shuffled). Both must give the same scores, byte for byte.
# Local mode on this machine's 2 cores measures bytes moved, not a cluster's speed: the times
# are mostly Spark's own (a JVM, a Python worker a task) at this size.
# SECTION (default spark-state) names the section of BENCHMARKS.md the results go to.
source "$(dirname "$0")/lib.sh"
for p in tally-synth tally-parse tally-link tally-store tally-score; do build_release "$p"; done
P=${PEOPLE:-20000}
DAYS=${DAYS:-10}
RUNS=${RUNS:-3}
PARTS=${PARTS:-4}
DIR=$DATA/spark-state
RULES=$ROOT/pipelines/rules/default.yaml
export PATH=$ROOT/.venv/bin:$PATH
command -v spark-submit >/dev/null || { echo "bench: needs spark-submit (bash scripts/setup.sh puts PySpark in .venv)" >&2; exit 69; }
rm -rf "$DIR" && mkdir -p "$DIR/events"
(umask 077; echo "spark state benchmark secret, synthetic only" > "$DIR/tally.secret")
"$BIN/tally-synth" --people "$P" --days $((DAYS + 1)) --seed 11 --out "$DIR/feeds" 2>/dev/null
day_of() { date -u -d "2026-11-01 + $(($1 - 1)) days" +%Y-%m-%d; }
cpu_now() { awk '/^cpu /{print ($2 + $3 + $4 + $6 + $7 + $8) / 100}' /proc/stat; } # user, nice, system, iowait excluded: seconds of all cores
submit() { # submit EVENTDIR ARGS...: one spark-submit with its event log in EVENTDIR; prints "wall cpu" seconds
    local events=$1; shift
    mkdir -p "$events"
    # CPU: what every core of the machine spent while it ran (from /proc/stat: the JVM, the
    # Python workers and the stages they start, which are not all children spark-submit waits
    # for, so its own rusage misses them; and whatever else ran, on a machine left idle).
    local c0=$(cpu_now) t0=$(date +%s.%N)
    spark-submit --master 'local[2]' --conf spark.ui.enabled=false --conf spark.eventLog.enabled=true --conf spark.eventLog.rolling.enabled=false --conf spark.eventLog.compress=false \
        --conf "spark.eventLog.dir=file://$events" "$ROOT/pipelines/spark/nightly.py" "$@" > "$events.log" 2>&1 \
        || { tail -20 "$events.log" >&2; exit 1; }
    local c1=$(cpu_now) t1=$(date +%s.%N)
    echo "$t1 $t0 $c1 $c0" | awk '{printf "%.1f %.1f\n", $1 - $2, $3 - $4}'
}
shuffled() { python3 "$ROOT/bench/spark-events.py" "$(ls "$1"/* | head -1)"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
common=(--bin "$BIN" --rules "$RULES" --secret "$DIR/tally.secret" --partitions "$PARTS")
mkdir -p "$DIR/all"
rows=""
for d in $(seq 1 $((DAYS + 1))); do
    day=$(day_of $d) && stamp=${day//-/}
    mkdir -p "$DIR/night-$d"
    for f in "$DIR"/feeds/*-"$stamp".*; do cp "$f" "$DIR/night-$d/"; cp "$f" "$DIR/all/"; done
    bytes=$(cat "$DIR"/night-$d/* | wc -c)
    if [ $d -le $DAYS ]; then
        read -r wall cpu < <(submit "$DIR/events/night-$d" --state "$DIR/state" --feeds "$DIR/night-$d" --as-of "$day" --out "$DIR/scores-$d.jsonl" "${common[@]}")
        j=$(shuffled "$DIR/events/night-$d")
        records=$(grep -o ', records [0-9]*' "$DIR/events/night-$d.log" | grep -o '[0-9]*')
        ledger=$(du -cb "$DIR"/state/persons/*/ledger.db* 2>/dev/null | tail -1 | cut -f1)
        rows+="| $d | $bytes | $records | $ledger | $(field "$j" shuffle_records_written) | $(field "$j" shuffle_bytes_written) | $wall | $cpu |"$'\n'
        echo "night $d: $wall s ($cpu CPU), shuffle $(field "$j" shuffle_bytes_written) B" >&2
    fi
done
last=$((DAYS + 1)) && day=$(day_of $last)
cp -a "$DIR/state" "$DIR/state-before"
state_times=() stateless_times=() state_cpu=() stateless_cpu=()
for run in $(seq 1 "$RUNS"); do
    rm -rf "$DIR/state" && cp -a "$DIR/state-before" "$DIR/state"
    read -r wall cpu < <(submit "$DIR/events/state-$run" --state "$DIR/state" --feeds "$DIR/night-$last" --as-of "$day" --out "$DIR/scores-state.jsonl" "${common[@]}")
    state_times+=("$wall") state_cpu+=("$cpu")
    read -r wall cpu < <(submit "$DIR/events/all-$run" --feeds "$DIR/all" --as-of "$day" --out "$DIR/scores-all.jsonl" "${common[@]}")
    stateless_times+=("$wall") stateless_cpu+=("$cpu")
done
cmp "$DIR/scores-state.jsonl" "$DIR/scores-all.jsonl" || { echo "bench: the kept state's scores differ from the whole history's" >&2; exit 1; }
js=$(shuffled "$DIR/events/state-1") ja=$(shuffled "$DIR/events/all-1")
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
counts=$(grep -o 'partitions): .*; scores' "$DIR/events/state-1.log" | sed 's/partitions): //; s/; scores//')
{
    echo "Command: \`PEOPLE=$P DAYS=$DAYS RUNS=$RUNS PARTS=$PARTS bash bench/spark-state.sh\` (spark-submit --master 'local[2]')."
    machine_line
    echo
    echo "Each night kept in the state, one day of feeds each: the shuffle stays the night's size while the history grows."
    echo
    echo "| night | feed bytes | records | ledgers' bytes after | Python batches shuffled | shuffle bytes written | seconds | CPU seconds |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s' "$rows"
    echo
    echo "Night $last, $RUNS runs each (the state copied back before each): the kept state against every day's feeds at once. Scores: the same bytes ($(wc -l < "$DIR/scores-state.jsonl") people)."
    echo
    echo "| driver | Python batches shuffled | shuffle bytes written | tasks | median seconds (runs) | median CPU seconds (runs) |"
    echo "|---|---|---|---|---|---|"
    echo "| \`--state\` (night $last alone) | $(field "$js" shuffle_records_written) | $(field "$js" shuffle_bytes_written) | $(field "$js" tasks) | $(median "${state_times[@]}") (${state_times[*]}) | $(median "${state_cpu[@]}") (${state_cpu[*]}) |"
    echo "| without it (days 1–$last) | $(field "$ja" shuffle_records_written) | $(field "$ja" shuffle_bytes_written) | $(field "$ja" tasks) | $(median "${stateless_times[@]}") (${stateless_times[*]}) | $(median "${stateless_cpu[@]}") (${stateless_cpu[*]}) |"
    echo
    echo "The night's counts (--state): $counts."
} | tee /dev/stderr | write_section "${SECTION:-spark-state}"
