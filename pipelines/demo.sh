#!/usr/bin/env bash
# usage: pipelines/demo.sh BINDIR OUTDIR
# The README's main job on synthetic data: two years of monthly tax payments and instalments,
# then 30 days of every feed for 10,000 synthetic people (1% of rows deliberately faulty), arrive
# one day at a time (the history with the first); each night runs pipelines/nightly.sh
# into a SQLite ledger. Then the last night's scores are shown as a histogram by tier, with the
# explanation of one person in the lowest tier. Well under two minutes after the build.
set -euo pipefail
BIN=$(cd "${1:-.build/release}" && pwd)
OUT=${2:-out/demo}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$OUT"
mkdir -p "$OUT/incoming"
OUT=$(cd "$OUT" && pwd)
echo "== tally-synth: 30 days of feeds for 10,000 synthetic people, 1% of rows deliberately faulty,"
echo "   after two years of monthly tax payments and instalments (the history files, dated 2026-10-29)"
"$BIN/tally-synth" --people 10000 --days 30 --start 2026-10-30 --seed 2026 --dirty 0.01 --history-days 730 --out "$OUT/feeds"
(umask 077; head -c 32 /dev/urandom | base64 > "$OUT/tally.secret")
echo
echo "== 30 nights of pipelines/nightly.sh (each night's lines go to $OUT/nightly.log)"
start=$(date +%s)
attention=0
for day in $(seq 0 29); do
    date=$(date -u -d "2026-10-30 + $day days" +%F)
    compact=${date//-/}
    mv "$OUT"/feeds/*-"$compact".* "$OUT/incoming/"
    # The history arrives with the first night.
    [ "$day" -gt 0 ] || mv "$OUT"/feeds/*-20261029.* "$OUT/incoming/"
    # The synthetic files are whole when written: no settle time. A night whose status is
    # "attention" (exit 2: a file held back by the quality gate) goes on; any other failure stops.
    status=0
    TALLY_BIN=$BIN TALLY_SECRET_FILE=$OUT/tally.secret TALLY_AS_OF=$date TALLY_SETTLE_SECONDS=0 \
        bash "$HERE/nightly.sh" "$OUT/incoming" "$OUT/ledger.db" "$OUT/out" >> "$OUT/nightly.log" 2>> "$OUT/nightly.err" || status=$?
    case $status in
        0) printf '.' ;;
        2) printf '!'; attention=$((attention + 1)) ;;
        *) echo; echo "nightly.sh failed on $date (exit $status):"; cat "$OUT/nightly.err"; exit "$status" ;;
    esac
done
echo " done in $(( $(date +%s) - start )) s; last night:"
tail -n 9 "$OUT/nightly.log" | sed 's/^/  /'
if [ "$attention" -gt 0 ]; then
    echo "  $attention night(s) needed attention ('!'): held back in out/quarantine/: $(ls "$OUT/out/quarantine" | tr '\n' ' ')"
fi
echo
SCORES=$OUT/out/scores-2026-11-28.jsonl
echo "== the ledger: $("$BIN/tally-store" files "$OUT/ledger.db" | wc -l) feed files taken, $("$BIN/tally-store" dump "$OUT/ledger.db" | wc -l) records; rejected rows are in out/rejects/"
echo
echo "== scores as of 2026-11-28 by tier ($(wc -l < "$SCORES") people with records; everyone else has the base score)"
max=1
for tier in restricted watch standard good green-lane; do
    n=$(grep -c "\"tier\":\"$tier\"" "$SCORES" || true)
    [ "$n" -gt "$max" ] && max=$n
done
for tier in restricted watch standard good green-lane; do
    n=$(grep -c "\"tier\":\"$tier\"" "$SCORES" || true)
    width=$(( n == 0 ? 0 : (n * 60 + max - 1) / max ))
    total=$(wc -l < "$SCORES")
    printf '  %-11s %6d %5s%% %s\n' "$tier" "$n" "$(awk -v n="$n" -v t="$total" 'BEGIN { printf "%.1f", 100 * n / t }')" "$(printf '%*s' "$width" '' | tr ' ' '#')"
done
echo
person=$(grep -m1 '"tier":"restricted"' "$SCORES" | sed 's/.*"person":"\(p_[0-9a-f]*\)".*/\1/')
echo "== why $person is in the lowest tier: tally-explain, from the ledger"
"$BIN/tally-store" dump "$OUT/ledger.db" \
    | "$BIN/tally-link" --relink --crosswalk "$OUT"/out/crosswalk/*.jsonl --secret-file "$OUT/tally.secret" 2>/dev/null \
    | "$BIN/tally-explain" --person "$person" --rules "$HERE/rules/default.yaml" --as-of 2026-11-28
echo
# The same notice as a page to print or send (in Chinese, for the person), and the night's report
# that nightly.sh wrote: both self-contained HTML, to open in any browser.
"$BIN/tally-store" dump "$OUT/ledger.db" \
    | "$BIN/tally-link" --relink --crosswalk "$OUT"/out/crosswalk/*.jsonl --secret-file "$OUT/tally.secret" 2>/dev/null \
    | "$BIN/tally-explain" --person "$person" --rules "$HERE/rules/default.yaml" --as-of 2026-11-28 --html --lang zh > "$OUT/notice-$person.html"
echo "== pictures: $OUT/notice-$person.html (the notice above, as a page, in Chinese)"
echo "   and $OUT/out/report-2026-11-28.html (the last night: scores by tier, reasons, feeds, disputes, trend)"
