#!/usr/bin/env bash
# Court XML, 300,000 judgments with the XSD: xmllint, tally-parse and tally-validate interleaved
# round by round (bench/paired.py), so that the machine's drifting load cannot decide the ratio.
# Goals: tally-parse and tally-validate each no slower than 1.3x xmllint.
source "$(dirname "$0")/lib.sh"
require xmllint
build_release tally-parse
build_release tally-validate
ensure_bench_feeds
XSD=$ROOT/schemas/feeds/court.xsd
{
    echo "$(machine_line)"
    echo
    echo "File: \`court-20261101.xml\`, $(grep -c '<judgment ' "$COURT") judgments, $(stat -c %s "$COURT") bytes (\`tally-synth --people 100000 --days 1 --court-rate 3 --seed 1\`). ${ROUNDS:-7} rounds, each running the three commands in turn."
    echo
    python3 "$ROOT/bench/paired.py" "${ROUNDS:-7}" \
        "xmllint --stream --noout --schema $XSD $COURT" \
        "$BIN/tally-parse --feed court $COURT > /dev/null" \
        "$BIN/tally-validate --feed court $COURT > /dev/null" | sed "s#$ROOT/##g; s#$DATA/##g"
    echo
    echo "Command: \`bench/court.sh\` (ROUNDS=${ROUNDS:-7})."
} | write_section court
sed -n '/<!-- court:begin -->/,/<!-- court:end -->/p' "$ROOT/BENCHMARKS.md"
