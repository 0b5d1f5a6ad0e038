#!/usr/bin/env bash
# tally-link: 10,000,000 records through a 5,000,000-identifier crosswalk (IDENTIFIERS, RECORDS to
# change them), made by `tally-bench link-data`. Times the crosswalk load alone (no records) and
# the whole run, RUNS times each, and reports medians and peak RSS. Goal: >= 1,000,000 records/s
# on one core. There is no peer tool that links identities; the rate stands on its own.
source "$(dirname "$0")/lib.sh"
build_release tally-bench
build_release tally-link
IDS=${IDENTIFIERS:-5000000}
N=${RECORDS:-10000000}
RUNS=${RUNS:-3}
DIR=$DATA/link
mkdir -p "$DIR"
make_once "$DIR" "$IDS $N" "$BIN/tally-bench" link-data --identifiers "$IDS" --records "$N" --crosswalk "$DIR/crosswalk.jsonl" --out "$DIR/records.jsonl"
(umask 077; echo "benchmark secret, not for production" > "$DIR/secret")
times=$(mktemp)
for i in $(seq "$RUNS"); do
    /usr/bin/time -f "load %e %M" -a -o "$times" "$BIN/tally-link" --crosswalk "$DIR/crosswalk.jsonl" --secret-file "$DIR/secret" /dev/null 2>/dev/null
    /usr/bin/time -f "full %e %M" -a -o "$times" "$BIN/tally-link" --crosswalk "$DIR/crosswalk.jsonl" --secret-file "$DIR/secret" "$DIR/records.jsonl" 2>/dev/null > /dev/null
done
{
    echo "$(machine_line)"
    echo
    echo "$N records ($(stat -c %s "$DIR/records.jsonl") bytes; 70% crosswalk identifiers, 15% resident numbers, 15% unclaimed cards) through a crosswalk of $IDS identifiers ($(stat -c %s "$DIR/crosswalk.jsonl") bytes of crosswalk.link records); median of $RUNS runs, one core, output to /dev/null."
    echo
    python3 - "$times" "$N" "$IDS" <<'PY'
import sys, statistics
load, full = [], []
for line in open(sys.argv[1]):
    kind, secs, kb = line.split()
    (load if kind == "load" else full).append((float(secs), int(kb)))
n, ids = int(sys.argv[2]), int(sys.argv[3])
l = statistics.median(s for s, _ in load); f = statistics.median(s for s, _ in full)
rss = max(k for _, k in full) / 1024
print("| what | median wall | rate | peak RSS |")
print("|---|---|---|---|")
print(f"| load the crosswalk alone | {l:.2f} s | {ids / l / 1e6:.2f}M identifiers/s | {max(k for _, k in load) / 1024:.0f} MB |")
print(f"| whole run (load + link) | {f:.2f} s | {n / f / 1e6:.2f}M records/s | {rss:.0f} MB |")
print(f"| linking alone (whole - load) | {f - l:.2f} s | {n / (f - l) / 1e6:.2f}M records/s | |")
print()
print("runs (s): load " + ", ".join(f"{s:.2f}" for s, _ in load) + "; whole " + ", ".join(f"{s:.2f}" for s, _ in full))
PY
    echo
    echo "Command: \`bash bench/link.sh\` (IDENTIFIERS=$IDS RECORDS=$N RUNS=$RUNS)."
} | write_section link
rm -f "$times"
