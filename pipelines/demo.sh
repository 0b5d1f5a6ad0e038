#!/usr/bin/env bash
# usage: pipelines/demo.sh BINDIR OUTDIR
# The README's main job on synthetic data: 30 days of every feed for 10,000 people (1% of rows
# deliberately faulty), parsed into tally.record JSON Lines with every row accounted for. The
# later stages (link, store, score, explain) are not built yet; this runs what exists, as a user
# would run it. Well under two minutes after the build.
set -euo pipefail
BIN=${1:-.build/release}
OUT=${2:-out/demo}
rm -rf "$OUT"
mkdir -p "$OUT/records" "$OUT/rejects" "$OUT/stats"
echo "== tally-synth: 30 days of feeds for 10,000 synthetic people, 1% of rows deliberately faulty"
"$BIN/tally-synth" --people 10000 --days 30 --start 2026-10-30 --seed 2026 --dirty 0.01 --out "$OUT/incoming"
echo
echo "== tally-parse: every feed, every day (one summary line per file goes to $OUT/parse.log)"
for feed in court tax transit commerce crosswalk corrections; do
    "$BIN/tally-parse" --feed "$feed" --rejects "$OUT/rejects/$feed.jsonl" --stats "$OUT/stats/$feed.json" \
        "$OUT"/incoming/"$feed"-*.* > "$OUT/records/$feed.jsonl" 2>> "$OUT/parse.log"
done
python3 - "$OUT" <<'PY'
import json, sys, collections
out = sys.argv[1]
print(f"{'feed':12s} {'files':>5s} {'read':>9s} {'written':>9s} {'rejected':>9s} {'filtered':>9s}")
for feed in ["court", "tax", "transit", "commerce", "crosswalk", "corrections"]:
    s = json.load(open(f"{out}/stats/{feed}.json"))
    assert s["read"] == s["written"] + s["rejected"] + s["filtered"]
    print(f"{feed:12s} {len(s['files']):5d} {s['read']:9d} {s['written']:9d} {s['rejected']:9d} {s['filtered']:9d}")
truth = {(t["file"], t["line"], t["field"]) for t in map(json.loads, open(f"{out}/incoming/truth.jsonl"))}
rejects = [json.loads(l) for feed in ["court", "tax", "transit", "commerce", "crosswalk", "corrections"] for l in open(f"{out}/rejects/{feed}.jsonl")]
got = {(r["file"], r["line"], r["field"]) for r in rejects}
print(f"\nrejected rows: {len(got)}; deliberate faults in truth.jsonl: {len(truth)}; the same rows: {got == truth}")
kinds = collections.Counter(json.loads(l)["kind"] for feed in ["court", "tax", "transit", "commerce", "corrections"] for l in open(f"{out}/records/{feed}.jsonl"))
print("\nrecords by kind:")
for k, n in sorted(kinds.items()):
    print(f"  {k:32s} {n:7d}")
PY
echo
echo "== one court record (tally.record v1), pretty-printed"
head -1 "$OUT/records/court.jsonl" | python3 -m json.tool --no-ensure-ascii
echo
echo "== one rejected row, with the file, line and field at fault"
head -1 "$OUT/rejects/tax.jsonl" | python3 -m json.tool --no-ensure-ascii
echo
echo "Records are in $OUT/records/, rejects in $OUT/rejects/, counts in $OUT/stats/."
