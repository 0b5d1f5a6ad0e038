#!/usr/bin/env bash
# usage: pipelines/demo.sh BINDIR OUTDIR
# The README's main job on synthetic data: 30 days of every feed for 10,000 people, then the
# stages that exist so far, run as a user would run them. Takes well under two minutes after the
# build.
set -euo pipefail
BIN=${1:-.build/release}
OUT=${2:-out/demo}
rm -rf "$OUT"
mkdir -p "$OUT"
echo "== tally-synth: 30 days of feeds for 10,000 synthetic people (1% of rows deliberately faulty)"
"$BIN/tally-synth" --people 10000 --days 30 --start 2026-10-30 --seed 2026 --dirty 0.01 --out "$OUT/incoming"
echo
echo "== the feeds, read through tally's input layer (gzip found by content; SHA-256 of each file as delivered)"
printf '%-30s %10s  %s\n' file lines sha256
"$BIN/tally-bench" lines "$OUT"/incoming/*-20261128.* | awk -F'\t' '{n=split($3,p,"/"); printf "%-30s %10d  %s\n", p[n], $1, substr($2,1,16) "…"}'
echo
echo "== deliberate faults recorded in truth.jsonl, by feed and field"
python3 -c '
import json, collections, sys
c = collections.Counter()
for line in open(sys.argv[1]):
    t = json.loads(line); c[(t["file"].split("-")[0], t["field"])] += 1
for (feed, field), n in sorted(c.items()): print(f"  {feed:12s} {field:12s} {n:6d}")
' "$OUT/incoming/truth.jsonl"
