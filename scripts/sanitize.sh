#!/usr/bin/env bash
# usage: scripts/sanitize.sh address|thread [extra swift test arguments]
# address: builds everything (binaries and tests) with AddressSanitizer, and the C code with
#   UndefinedBehaviorSanitizer too, in .build-asan and runs the whole test suite against those
#   binaries (TALLY_BIN), so every stage a test runs is checked too.
# thread: builds with ThreadSanitizer in .build-tsan and runs the suites that drive the threaded
#   parts: the two-thread row pipeline (in process, and in parse and validate), link, and score
#   (the store scored on two threads, and score lines written from several at once).
# Exits non-zero on any sanitizer report or test failure. docs/RELIABILITY.md has the last result.
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:?usage: scripts/sanitize.sh address|thread}
shift
case $kind in
    # Swift has no UndefinedBehaviorSanitizer on Linux (its own checks trap on overflow and
    # bounds in any debug build): UBSan instruments the C code (CTally and the C dependencies).
    # Left out under ASan: the Spark suite (its executors start the binaries without this
    # script's ASAN_OPTIONS, so LeakSanitizer's exit-time report fails the tasks) and the test
    # that bounds peak RSS (ASan's shadow memory and quarantine are most of it there).
    address) dir=.build-asan; flags=(--sanitize=address -Xcc -fsanitize=undefined -Xswiftc -Xclang-linker -Xswiftc -fsanitize=undefined)
             suites=(--skip "SparkTests|hugeRowsDoNotPileUpInThePool") ;;
    thread) dir=.build-tsan; flags=(--sanitize=thread)
            suites=(--filter "FeedRowsTests|aFileIsHashedInTheBackground|ParseStageTests|ValidateOracleTests|ParseFixtureTests|LinkStageTests|ScoreStageTests|ScoringStoreTests|theWrittenLinesAreTheScoresEncoded|NoticeTests") ;;
    *) echo "usage: scripts/sanitize.sh address|thread" >&2; exit 64 ;;
esac
start=$(date +%s)
swift build --build-tests --scratch-path "$dir" "${flags[@]}" 2>&1 | grep -v "Cannot export local symbol" | tail -n 1
# Swift's crash backtracer trips ASan; LeakSanitizer reports leaks inside the test runner itself.
export TALLY_BIN=$PWD/$dir/debug SWIFT_BACKTRACE=enable=no
# The oracles (frictionless, jsonschema) some suites run live in the project's .venv.
[ -d .venv/bin ] && export PATH=$PWD/.venv/bin:$PATH
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
status=0
swift test --skip-build --scratch-path "$dir" "${flags[@]}" "${suites[@]}" "$@" > "$dir/sanitize.log" 2>&1 || status=$?
grep -E "^(✔ Test run|✘)|SUMMARY|WARNING: ThreadSanitizer|runtime error|Executed" "$dir/sanitize.log" | tail -n 40 || true
echo "sanitize.sh: $kind: exit $status in $(( $(date +%s) - start )) s (log: $dir/sanitize.log)"
exit "$status"
