#!/usr/bin/env bash
# tally-validate side by side with its peers on the same files:
#  - transit CSV: `frictionless validate --schema transit.schema.json` on a 200,000-row head of the
#    2,000,000-row file (Frictionless would take minutes on the whole), and tally-validate on the
#    same head and on the whole. Goal: at least 50x faster than Frictionless.
#  - court XML, 300,000 judgments: `xmllint --stream --noout --schema`. Goal: no slower than 1.3x.
source "$(dirname "$0")/lib.sh"
require hyperfine frictionless xmllint
build_release tally-validate
ensure_bench_feeds
mkdir -p "$DATA/validate"
HEAD=$DATA/validate/transit-head.csv
# head closes the pipe early on purpose; zcat's SIGPIPE is expected, the line count is checked.
zcat "$TRANSIT" | head -200001 > "$HEAD" || true
[ "$(wc -l < "$HEAD")" -eq 200001 ] || { echo "bench: could not cut the 200,000-row head" >&2; exit 1; }
cp "$ROOT/schemas/feeds/transit.schema.json" "$DATA/validate/"
a=$(mktemp); b=$(mktemp); c=$(mktemp)
(cd "$DATA/validate" && hyperfine --runs "${FL_RUNS:-3}" --export-json "$a" \
    "frictionless validate --schema transit.schema.json transit-head.csv > /dev/null" \
    "$BIN/tally-validate --feed transit transit-head.csv > /dev/null" >&2)
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$b" "$BIN/tally-validate --feed transit $TRANSIT > /dev/null" >&2
hyperfine --warmup 1 --runs "${RUNS:-5}" --export-json "$c" \
    "$BIN/tally-validate --feed court $COURT > /dev/null" \
    "xmllint --stream --noout --schema $ROOT/schemas/feeds/court.xsd $COURT 2>/dev/null" >&2
{
    echo "$(machine_line)"
    echo
    echo "Files: the first 200,000 rows of \`transit-20261101.csv.gz\` (decompressed, $(stat -c %s "$HEAD") bytes), the whole file (2,000,000 rows, gzip), and \`court-20261101.xml\` (300,000 judgments), as in the tally-parse section."
    echo
    echo "| command | median s | min s | max s |"
    echo "|---|---|---|---|"
    for j in "$a" "$b" "$c"; do hyperfine_medians "$j"; done | awk -F'\t' '{gsub(/\|/, "\\|", $1); printf "| `%s` | %s | %s | %s |\n", $1, $2, $3, $4}' | sed "s#$ROOT/##g; s#$DATA/##g"
    python3 - "$a" "$c" <<'PY'
import json, sys
med = lambda f: [r["median"] for r in json.load(open(f))["results"]]
(fl, tv), (tc, xl) = med(sys.argv[1]), med(sys.argv[2])
print()
print(f"transit, same 200,000 rows: Frictionless / tally = **{fl / tv:.0f}x** (goal ≥ 50x). "
      "Both start a process; Frictionless's includes Python's start-up, about a second here.  ")
print(f"court: tally / xmllint = **{tc / xl:.2f}x**, run after run (goal ≤ 1.3x); bench/court.sh times them interleaved, which this machine's drifting load makes the fairer figure.")
PY
    echo
    echo "Command: \`bench/validate.sh\` (RUNS=${RUNS:-5}, FL_RUNS=${FL_RUNS:-3})."
} | write_section validate
rm -f "$a" "$b" "$c"
sed -n '/<!-- validate:begin -->/,/<!-- validate:end -->/p' "$ROOT/BENCHMARKS.md"
