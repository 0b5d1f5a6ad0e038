# Shared by the bench/*.sh scripts: release build, data directory, and writing a section of
# BENCHMARKS.md. Benchmarks run by hand (they take minutes), never in CI.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${TALLY_BENCH_DATA:-$ROOT/bench-data}
BIN=$ROOT/.build/release
mkdir -p "$DATA"

build_release() {
    (cd "$ROOT" && swift build -c release --product "$1" >/dev/null)
}

require() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "bench: needs $tool (apt-get install -y hyperfine miller jq libxml2-utils)" >&2; exit 69; }
    done
}

# Replaces the text between <!-- NAME:begin --> and <!-- NAME:end --> in BENCHMARKS.md with stdin.
write_section() {
    python3 "$ROOT/bench/section.py" "$ROOT/BENCHMARKS.md" "$1"
}

# Median of the "median" field of a hyperfine JSON export, per command, as "command<TAB>seconds".
hyperfine_medians() {
    python3 "$ROOT/bench/medians.py" "$1"
}

# plain_store STORE DIR: DIR made again as the scoring store STORE without its copy in person
# order (hard links to its files), so that tally-score reads its rows in ledger order.
plain_store() {
    rm -rf "$2" && mkdir "$2"
    for f in corrections.jsonl identifiers names rows state; do ln "$1/$f" "$2/$f"; done
}

machine_line() {
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB; $(swift --version 2>&1 | head -1); measured $(date -u +%Y-%m-%d)."
}

# make_once DIR KEY COMMAND...: runs COMMAND unless DIR already holds data made for KEY (the
# sizes asked for), then records KEY in DIR/.size. Benchmark data takes minutes to make; it is
# reused while the sizes match.
make_once() {
    local dir=$1 key=$2
    shift 2
    [ "$(cat "$dir/.size" 2>/dev/null)" = "$key" ] && return 0
    "$@"
    mkdir -p "$dir"
    echo "$key" > "$dir/.size"
}

# The shared benchmark files: a 2,000,000-row transit day (ROWS to change it) and a court day of
# 300,000 judgments. Made once with tally-synth, reused while their size matches.
# The wide metro export (bench/metro/; `tally-bench metro-data`): METRO_ROWS rows (default
# 2,000,000), gzip, in $METRO with its declaration in $METRO_SCHEMAS. Made once.
ensure_metro() {
    build_release tally-bench
    METRO_ROWS=${METRO_ROWS:-2000000}
    METRO=$DATA/metro/metro-20261101.csv.gz
    METRO_SCHEMAS=$ROOT/bench/metro
    mkdir -p "$DATA/metro"
    make_once "$DATA/metro" "$METRO_ROWS" "$BIN/tally-bench" metro-data --rows "$METRO_ROWS" --out "$METRO"
}

ensure_bench_feeds() {
    build_release tally-synth
    ROWS=${ROWS:-2000000}
    TRANSIT=$DATA/input/transit-20261101.csv.gz
    if [ ! -f "$TRANSIT" ] || [ "$(cat "$DATA/input/.rows" 2>/dev/null)" != "$ROWS" ]; then
        rm -rf "$DATA/input"
        "$BIN/tally-synth" --people "$ROWS" --days 1 --seed 1 --out "$DATA/input"
        echo "$ROWS" > "$DATA/input/.rows"
    fi
    COURT=$DATA/court/court-20261101.xml
    [ -f "$COURT" ] || "$BIN/tally-synth" --people 100000 --days 1 --court-rate 3 --seed 1 --out "$DATA/court"
}
