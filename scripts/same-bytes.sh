#!/usr/bin/env bash
# usage: scripts/same-bytes.sh BINDIR OUTDIR
# Runs every stage on fixed synthetic data (a fixed seed and a fixed secret) and on the parse
# fixtures, and prints one SHA-256 line per output (records, rejects, stats, validate reports,
# linked, redacted and relinked lines, the ledger's dump, the scoring store and its scores, explanations as text, JSON and
# pages, the night's report). Run it with the binaries before and after a change that must not
# change behaviour, and diff the two listings:
#   scripts/same-bytes.sh /tmp/before/bin /tmp/sb-before > before.txt
#   scripts/same-bytes.sh .build/release /tmp/sb-after > after.txt && diff before.txt after.txt
set -euo pipefail
BIN=$(cd "${1:?BINDIR}" && pwd)
OUT=${2:?OUTDIR}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SCHEMAS=$HERE/schemas/feeds
RULES=$HERE/pipelines/rules/default.yaml
FIX=$HERE/Tests/Fixtures/parse
rm -rf "$OUT"; mkdir -p "$OUT"/{feeds,parsed,rejects,stats,reports,fixtures}
OUT=$(cd "$OUT" && pwd)
export TALLY_SCHEMAS=$SCHEMAS TALLY_RULES=$RULES
AS_OF=2026-11-28
printf '%s' 'same-bytes: a fixed secret, for comparing runs only.' > "$OUT/secret"; chmod 600 "$OUT/secret"

"$BIN/tally-synth" --people 3000 --days 30 --start 2026-10-30 --seed 7 --dirty 0.02 --history-days 400 --out "$OUT/feeds" 2>/dev/null
feed_of() { basename "$1" | sed 's/-[0-9]\{8\}.*//'; }
for f in "$OUT"/feeds/*; do
    name=$(basename "$f"); feed=$(feed_of "$f")
    "$BIN/tally-validate" --feed "$feed" --json --max-errors 50 "$f" > "$OUT/reports/$name.json" 2>/dev/null || true
    "$BIN/tally-parse" --feed "$feed" --rejects "$OUT/rejects/$name.jsonl" --stats "$OUT/stats/$name.json" "$f" \
        > "$OUT/parsed/$name.jsonl" 2>/dev/null || true
done
# The fixtures: every reject path, valid or not, parsed and validated.
for f in "$FIX"/*-2026*; do
    name=$(basename "$f"); feed=$(feed_of "$f")
    [ -e "$SCHEMAS/$feed.feed.json" ] || continue
    "$BIN/tally-validate" --feed "$feed" --json --max-errors 50 "$f" > "$OUT/fixtures/$name.validate.json" 2>/dev/null || true
    "$BIN/tally-parse" --feed "$feed" --rejects "$OUT/fixtures/$name.rejects.jsonl" --stats "$OUT/fixtures/$name.stats.json" "$f" \
        > "$OUT/fixtures/$name.jsonl" 2>/dev/null || true
done

cat "$OUT"/parsed/crosswalk-*.jsonl > "$OUT/crosswalk.jsonl"
ls "$OUT"/parsed/*.jsonl | grep -v crosswalk | xargs cat > "$OUT/records.jsonl"
link() { "$BIN/tally-link" --crosswalk "$OUT/crosswalk.jsonl" --secret-file "$OUT/secret" --keep-going "$@" 2>/dev/null; }
link --stats "$OUT/stats/link.json" "$OUT/records.jsonl" > "$OUT/linked.jsonl"
link --redact "$OUT/records.jsonl" > "$OUT/redacted.jsonl"
link --relink "$OUT/linked.jsonl" > "$OUT/relinked.jsonl"

"$BIN/tally-store" ingest --stats "$OUT/stats/store.json" "$OUT/ledger.db" "$OUT/linked.jsonl" 2>/dev/null
"$BIN/tally-store" dump "$OUT/ledger.db" > "$OUT/dump.jsonl" 2>/dev/null
"$BIN/tally-score" --corrections-first --as-of "$AS_OF" --stats "$OUT/stats/score.json" "$OUT/dump.jsonl" > "$OUT/scores.jsonl" 2>/dev/null
"$BIN/tally-score" --as-of 2027-06-01 "$OUT/linked.jsonl" > "$OUT/scores-later.jsonl" 2>/dev/null
"$BIN/tally-store" update-scoring --store "$OUT/store" "$OUT/ledger.db" 2>/dev/null
"$BIN/tally-link" --store "$OUT/store" --output "$OUT/persons.bin" --crosswalk "$OUT/crosswalk.jsonl" --secret-file "$OUT/secret" 2>/dev/null
"$BIN/tally-score" --store "$OUT/store" --persons "$OUT/persons.bin" --as-of "$AS_OF" > "$OUT/scores-from-store.jsonl" 2>/dev/null
rm -f "$OUT/store/lock"
"$BIN/tally-explain" --all --json --as-of "$AS_OF" "$OUT/dump.jsonl" > "$OUT/explain.jsonl" 2>/dev/null
"$BIN/tally-explain" --all --as-of "$AS_OF" "$OUT/dump.jsonl" > "$OUT/explain.txt" 2>/dev/null
person=$(grep -m1 '"tier":"restricted"' "$OUT/scores.jsonl" | sed 's/.*"person":"\(p_[0-9a-f]*\)".*/\1/')
"$BIN/tally-explain" --person "$person" --as-of "$AS_OF" --html --lang zh "$OUT/dump.jsonl" > "$OUT/notice.html" 2>/dev/null
mkdir -p "$OUT/night"; cp "$OUT/scores.jsonl" "$OUT/night/scores-$AS_OF.jsonl"
"$BIN/tally-report" --as-of "$AS_OF" --output "$OUT/report.html" "$OUT/night" 2>/dev/null || true

# The output directory and the build's version are named in some outputs; neither is behaviour.
cd "$OUT"
find . -type f ! -name ledger.db ! -name secret ! -path './feeds/*' -print0 \
    | xargs -0 sed -i "s#$OUT#OUT#g; s/\"tally_version\":\"[^\"]*\"/\"tally_version\":\"\"/g; s/tally [0-9.]* (commit [0-9a-f]*[+a-z]*)/tally VERSION/g"
find . -type f ! -name ledger.db ! -name secret ! -path './feeds/*' | LC_ALL=C sort | xargs sha256sum
