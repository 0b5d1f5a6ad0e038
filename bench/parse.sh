#!/usr/bin/env bash
# tally-parse side by side with its peers, on the same synthetic files:
#  - two CSV shapes, gzip: transit (2,000,000 narrow rows, no quotes) and the wide metro export
#    (2,000,000 rows of 12 columns, quoted Chinese names, offsets, four patterns; bench/metro/):
#    `tally-parse` (every row validated, flagged rows written) against
#    `mlr --gzin --icsv --ojsonl cat` and `zcat | wc -l`.
#    Goals, whatever the shape: at least 8x faster than Miller; no slower than zcat.
#  - court: 300,000 judgments with XSD validation: against `xmllint --stream --noout --schema`.
#    Goal: no slower than 1.3x xmllint.
#  - peak RSS of tally-parse on every feed. Goal: under 64 MB whatever the size.
source "$(dirname "$0")/lib.sh"
require hyperfine mlr xmllint
build_release tally-parse
ensure_bench_feeds
ensure_metro
XSD=$ROOT/schemas/feeds/court.xsd
t=$(mktemp); c=$(mktemp)
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$t" \
    "$BIN/tally-parse --feed transit $TRANSIT > /dev/null 2>&1" \
    "zcat $TRANSIT | wc -l" >&2
w=$(mktemp)
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$w" \
    "$BIN/tally-parse --schemas $METRO_SCHEMAS --feed metro $METRO > /dev/null 2>&1" \
    "zcat $METRO | wc -l" >&2
m=$(mktemp)
hyperfine --runs "${MLR_RUNS:-3}" --export-json "$m" "mlr --gzin --icsv --ojsonl cat $TRANSIT > /dev/null" \
    "mlr --gzin --icsv --ojsonl cat $METRO > /dev/null" >&2
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$c" \
    "$BIN/tally-parse --feed court $COURT > /dev/null 2>&1" \
    "xmllint --stream --noout --schema $XSD $COURT 2>/dev/null" >&2
rss() { /usr/bin/time -f "%M" "$@" 2>&1 >/dev/null | tail -1; }
{
    echo "$(machine_line)"
    echo
    echo "Files: \`transit-20261101.csv.gz\` ($ROWS rows, $(stat -c %s "$TRANSIT") bytes; \`tally-synth --people $ROWS --days 1 --seed 1\`), \`metro-20261101.csv.gz\` ($METRO_ROWS rows, $(stat -c %s "$METRO") bytes; \`tally-bench metro-data --rows $METRO_ROWS\`, declared in bench/metro/) and \`court-20261101.xml\` ($(grep -c '<judgment ' "$COURT") judgments, $(stat -c %s "$COURT") bytes; \`tally-synth --people 100000 --days 1 --court-rate 3 --seed 1\`)."
    echo
    echo "| command | median s | min s | max s |"
    echo "|---|---|---|---|"
    for j in "$t" "$w" "$m" "$c"; do hyperfine_medians "$j"; done | awk -F'\t' '{gsub(/\|/, "\\|", $1); printf "| `%s` | %s | %s | %s |\n", $1, $2, $3, $4}' | sed "s#$ROOT/##g; s#$DATA/##g"
    python3 - "$t" "$w" "$m" "$c" <<'PY'
import json, sys
med = lambda f: [r["median"] for r in json.load(open(f))["results"]]
(tally_t, zcat), (tally_w, zcat_w), (mlr, mlr_w), (tally_c, xmllint) = (med(a) for a in sys.argv[1:5])
print()
print(f"transit: Miller / tally = **{mlr / tally_t:.1f}x** (goal ≥ 8x); tally / zcat = **{tally_t / zcat:.2f}x** (goal ≤ 1x).  ")
print(f"metro (wide): Miller / tally = **{mlr_w / tally_w:.1f}x** (goal ≥ 8x); tally / zcat = **{tally_w / zcat_w:.2f}x** (goal ≤ 1x).  ")
print(f"court: tally / xmllint = **{tally_c / xmllint:.2f}x** (goal ≤ 1.3x).")
PY
    echo
    echo "Peak RSS of \`tally-parse\` (\`/usr/bin/time -f %M\`), goal under 64 MB:"
    echo
    echo "| feed | file | peak RSS MB |"
    echo "|---|---|---|"
    echo "| transit | $ROWS rows | $(( $(rss "$BIN/tally-parse" --feed transit "$TRANSIT") / 1024 )) |"
    echo "| court | 300,000 judgments | $(( $(rss "$BIN/tally-parse" --feed court "$COURT") / 1024 )) |"
    for feed in tax commerce crosswalk corrections; do
        f=$(ls "$DATA"/input/$feed-* | head -1)
        echo "| $feed | $(basename "$f"), $(stat -c %s "$f") bytes | $(( $(rss "$BIN/tally-parse" --feed $feed "$f") / 1024 )) |"
    done
    echo
    echo "Command: \`bench/parse.sh\` (RUNS=${RUNS:-5}, MLR_RUNS=${MLR_RUNS:-3})."
} | write_section parse
rm -f "$t" "$w" "$m" "$c"
sed -n '/<!-- parse:begin -->/,/<!-- parse:end -->/p' "$ROOT/BENCHMARKS.md"
