#!/usr/bin/env bash
# usage: scripts/fuzz.sh TARGET SECONDS
# Builds tally-fuzz with libFuzzer and AddressSanitizer (its own build folder, .build-fuzz; linked
# with lld, since gold fails on it) and
# fuzzes TARGET (csv, record, xml, gzip, rules, pattern, fold) for SECONDS, starting from the committed
# seeds in Tests/Fuzz/corpus/TARGET. New inputs go to out/fuzz/corpus-TARGET (kept between runs);
# a crash is written to out/fuzz/TARGET-crash-… and the script exits non-zero. The last line
# gives executions, coverage and the corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
swift build --scratch-path .build-fuzz --product tally-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld 2>&1 | grep -v "Cannot export local symbol" | tail -n 1
mkdir -p "out/fuzz/corpus-$target"
# Swift's crash backtracer trips ASan; XCTest-style leak reports are not ours to chase here.
export SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
status=0
.build-fuzz/debug/tally-fuzz "$target" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=20 \
    -print_final_stats=1 -artifact_prefix="out/fuzz/$target-" \
    "out/fuzz/corpus-$target" "Tests/Fuzz/corpus/$target" > "out/fuzz/$target.log" 2>&1 || status=$?
grep -E "^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|cov:" "out/fuzz/$target.log" | tail -n 3
if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: $target: libFuzzer exited $status; see out/fuzz/$target.log"
    grep -E "ERROR|SUMMARY|Fatal error" "out/fuzz/$target.log" | head -n 5
    exit 1
fi
echo "fuzz.sh: $target: ${seconds}s, no crash ($(ls "out/fuzz/corpus-$target" | wc -l) inputs in the working corpus)"
