#!/usr/bin/env bash
# usage: bench/ab.sh BEFORE_BINDIR AFTER_BINDIR [ROUNDS]
# Two builds of tally-link and tally-score, timed in alternation (before, after, after, before,
# ROUNDS times, default 5) on the same data, so that a noisy machine weighs on both alike: the
# way a change to the record reading path is measured. Data: RECORDS records over IDENTIFIERS
# crosswalk identifiers (tally-bench link-data) and over PEOPLE people (tally-bench score-data),
# made with AFTER's tally-bench. Prints medians; writes nothing else.
source "$(dirname "$0")/lib.sh"
BEFORE=$(cd "$1" && pwd); AFTER=$(cd "$2" && pwd); ROUNDS=${3:-5}
N=${RECORDS:-4000000}; IDS=${IDENTIFIERS:-2000000}; PEOPLE=${PEOPLE:-400000}
DIR=$DATA/ab
mkdir -p "$DIR"
make_once "$DIR" "$IDS $N" "$AFTER/tally-bench" link-data --identifiers "$IDS" --records "$N" --crosswalk "$DIR/crosswalk.jsonl" --out "$DIR/records.jsonl"
[ -s "$DIR/score.jsonl" ] || "$AFTER/tally-bench" score-data --people "$PEOPLE" --records "$N" --out "$DIR/score.jsonl" --corrections "$DIR/corrections.jsonl"
(umask 077; echo "benchmark secret, not for production" > "$DIR/secret")
times=$(mktemp)
trap 'rm -f "$times"' EXIT
for _ in $(seq "$ROUNDS"); do
    for who in before after after before; do
        bin=$BEFORE; [ "$who" = after ] && bin=$AFTER
        /usr/bin/time -f "link-load $who %e" -a -o "$times" "$bin/tally-link" --crosswalk "$DIR/crosswalk.jsonl" --secret-file "$DIR/secret" /dev/null 2>/dev/null
        /usr/bin/time -f "link-full $who %e" -a -o "$times" "$bin/tally-link" --crosswalk "$DIR/crosswalk.jsonl" --secret-file "$DIR/secret" "$DIR/records.jsonl" >/dev/null 2>/dev/null
        /usr/bin/time -f "score $who %e" -a -o "$times" "$bin/tally-score" --rules "$ROOT/pipelines/rules/default.yaml" --as-of 2026-11-28 --corrections "$DIR/corrections.jsonl" "$DIR/score.jsonl" >/dev/null 2>/dev/null
    done
done
python3 - "$times" "$N" <<'PY'
import sys, statistics, collections
d = collections.defaultdict(list)
for line in open(sys.argv[1]):
    what, who, secs = line.split()
    d[(what, who)].append(float(secs))
n = int(sys.argv[2])
med = {k: statistics.median(v) for k, v in d.items()}
for who in ("before", "after"):
    link = n / (med[("link-full", who)] - med[("link-load", who)]) / 1e6
    print(f"{who}: score {med[('score', who)]:.2f} s ({n / med[('score', who)] / 1e6:.2f}M/s); link load {med[('link-load', who)]:.2f} s, whole {med[('link-full', who)]:.2f} s, linking alone {link:.2f}M/s")
PY
