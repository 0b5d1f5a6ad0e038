#!/usr/bin/env bash
# Transit, 2,000,000 rows gzip: Miller, zcat | wc -l and tally-parse interleaved round by round
# (bench/paired.py), for ratios that the machine's drifting load cannot decide.
# Goals: tally-parse at least 5x faster than Miller, within 2x of zcat.
source "$(dirname "$0")/lib.sh"
require mlr
build_release tally-parse
ensure_bench_feeds
{
    echo "$(machine_line)"
    echo
    echo "File: \`transit-20261101.csv.gz\`, $ROWS rows. ${ROUNDS:-5} rounds, each running the three commands in turn."
    echo
    python3 "$ROOT/bench/paired.py" "${ROUNDS:-5}" \
        "$BIN/tally-parse --feed transit $TRANSIT > /dev/null" \
        "mlr --gzin --icsv --ojsonl cat $TRANSIT > /dev/null" \
        "zcat $TRANSIT | wc -l" | sed "s#$ROOT/##g; s#$DATA/##g"
    echo
    echo "(Ratios are to tally-parse: Miller's is how many times slower it is; zcat's below 1 means zcat is faster.)"
    echo
    echo "Command: \`bench/transit.sh\` (ROUNDS=${ROUNDS:-5})."
} | write_section transit
sed -n '/<!-- transit:begin -->/,/<!-- transit:end -->/p' "$ROOT/BENCHMARKS.md"
