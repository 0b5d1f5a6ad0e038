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

machine_line() {
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB; $(swift --version 2>&1 | head -1); measured $(date -u +%Y-%m-%d)."
}
