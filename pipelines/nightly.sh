#!/usr/bin/env bash
# usage: pipelines/nightly.sh INCOMING DB OUTDIR
#
# One night of tally, safe under cron. For each feed file in INCOMING that the ledger has not
# taken (crosswalk files first, then the rest by name): validate (report kept in
# OUTDIR/reports/), parse (rejects in OUTDIR/rejects/FILE.jsonl), link, ingest into the SQLite
# ledger DB; the file then moves to OUTDIR/done/. Then the whole ledger is dumped, linked again
# with every crosswalk seen so far (so a card registered today links its older records too) and
# scored into OUTDIR/scores-YYYY-MM-DD.jsonl, written to a temporary file and renamed, so a
# reader never sees half a file.
#
# Prints one summary line per file and one for the scores; nothing else (the stages' own lines
# go to OUTDIR/logs/). A stage that fails prints what failed and leaves its file in INCOMING for
# the next night; the run goes on with the other files and exits 1. A second run while one is
# going exits at once with status 75, saying so. 64 for bad usage.
#
# Environment:
#   TALLY_BIN          where the tally binaries are (default: ../.build/release beside this
#                      script, else PATH)
#   TALLY_SECRET_FILE  the person-key secret (default: tally.secret beside DB; mode 0600)
#   TALLY_RULES        the scoring rules (default: rules/default.yaml beside this script)
#   TALLY_AS_OF        the day to score for (default: today in China, YYYY-MM-DD)
#   TALLY_TIMES        if set, a file to which each stage run appends "stage file seconds KB"
#                      (wall time and peak RSS, from /usr/bin/time), for capacity planning
set -uo pipefail
# Everything written here holds identifiers (rejects, parsed crosswalks, work files) or person
# keys: private to the ledger's owner.
umask 077
if [ $# -ne 3 ]; then
    echo "usage: nightly.sh INCOMING DB OUTDIR" >&2
    exit 64
fi
IN=$1
DB=$2
OUT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${TALLY_BIN:-}
if [ -z "$BIN" ] && [ -x "$HERE/../.build/release/tally-parse" ]; then BIN=$HERE/../.build/release; fi
RULES=${TALLY_RULES:-$HERE/rules/default.yaml}
SECRET=${TALLY_SECRET_FILE:-$(dirname "$DB")/tally.secret}
# China Standard Time as a POSIX rule (UTC+8, no daylight saving), so no tzdata is needed.
AS_OF=${TALLY_AS_OF:-$(TZ=CST-8 date +%F)}

tool() {
    local name=$1; shift
    local exe=$name
    [ -n "$BIN" ] && exe=$BIN/$name
    if [ -n "${TALLY_TIMES:-}" ]; then
        /usr/bin/time -a -o "$TALLY_TIMES" -f "$name ${current:-all} %e %M" "$exe" "$@"
    else
        "$exe" "$@"
    fi
}

if [ ! -d "$IN" ]; then echo "nightly: $IN is not a directory" >&2; exit 66; fi
mkdir -p "$OUT/rejects" "$OUT/reports" "$OUT/crosswalk" "$OUT/done" "$OUT/logs" "$OUT/work" || exit 73

# One run at a time per ledger: the lock is held by descriptor 9 until this script exits.
exec 9>>"$DB.lock"
if ! flock -n 9; then
    echo "nightly: another run holds $DB.lock; this one exits without doing anything" >&2
    exit 75
fi

LOG=$OUT/logs/nightly-$AS_OF.log
failed=0
fail() { # fail FILE WHAT
    echo "nightly: $(basename "$1"): $2 failed; the file stays in $IN for the next night. Its messages:" >&2
    tail -n 5 "$LOG" | sed 's/^/    /' >&2
    failed=1
}

# The number after "KEY": in a one-line JSON stats file.
stat_of() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1"; }

crosswalks() { # every crosswalk seen so far, or /dev/null before the first
    local found=0
    for c in "$OUT"/crosswalk/*.jsonl; do [ -e "$c" ] && { echo "$c"; found=1; }; done
    [ $found -eq 1 ] || echo /dev/null
}

night_files() { # crosswalk files first, so today's registrations link today's records
    find "$IN" -maxdepth 1 -type f -name 'crosswalk-[0-9]*' | sort
    find "$IN" -maxdepth 1 -type f \( -name 'court-[0-9]*' -o -name 'tax-[0-9]*' -o -name 'transit-[0-9]*' \
        -o -name 'commerce-[0-9]*' -o -name 'corrections-[0-9]*' \) | sort
}

while IFS= read -r file; do
    name=$(basename "$file")
    current=$name
    feed=${name%%-*}
    work=$OUT/work/$name
    sha=$(sha256sum "$file" | cut -d' ' -f1)
    echo "== $name ($sha)" >> "$LOG"
    if [ "$feed" = crosswalk ] && [ -e "$OUT/crosswalk/$sha.jsonl" ] || { [ "$feed" != crosswalk ] && tool tally-store files "$DB" --sha256 "$sha" >/dev/null 2>&1; }; then
        mv "$file" "$OUT/done/" && echo "nightly: $name: already taken (same SHA-256), moved to done/"
        continue
    fi
    tool tally-validate --feed "$feed" --json "$file" > "$OUT/reports/$name.json" 2>> "$LOG"
    v=$?
    if [ $v -ne 0 ] && [ $v -ne 65 ]; then fail "$file" "validation"; continue; fi
    if ! tool tally-parse --feed "$feed" --rejects "$OUT/rejects/$name.jsonl" --stats "$work.parse.json" "$file" > "$work.records.jsonl" 2>> "$LOG"; then
        fail "$file" "parsing"; continue
    fi
    read_rows=$(stat_of "$work.parse.json" read); written=$(stat_of "$work.parse.json" written)
    rejected=$(stat_of "$work.parse.json" rejected); filtered=$(stat_of "$work.parse.json" filtered)
    if [ "$feed" = crosswalk ]; then
        mv "$work.records.jsonl" "$OUT/crosswalk/$sha.jsonl" && mv "$file" "$OUT/done/" && rm -f "$work".*
        echo "nightly: $name: read $read_rows, $written crosswalk links, $rejected rejected"
        continue
    fi
    mapfile -t cw < <(crosswalks)
    if ! tool tally-link --crosswalk "${cw[@]}" --secret-file "$SECRET" "$work.records.jsonl" > "$work.linked.jsonl" 2>> "$LOG"; then
        fail "$file" "linking"; continue
    fi
    if ! tool tally-store ingest --stats "$work.store.json" "$DB" "$work.linked.jsonl" 2>> "$LOG"; then
        fail "$file" "ingesting"; continue
    fi
    summary="read $read_rows, records $written, rejected $rejected, filtered $filtered; ledger: $(stat_of "$work.store.json" inserted) new, $(stat_of "$work.store.json" skipped) already there, $(stat_of "$work.store.json" amended) amended"
    mv "$file" "$OUT/done/" && rm -f "$work".*
    echo "nightly: $name: $summary"
done < <(night_files)

# Scores: the whole ledger, relinked with every crosswalk so far, corrections first.
current=scores
scores=$OUT/scores-$AS_OF.jsonl
tmp=$OUT/.scores-$AS_OF.jsonl.tmp
mapfile -t cw < <(crosswalks)
if [ ! -e "$DB" ]; then
    echo "nightly: the ledger $DB has taken nothing yet; no scores written"
    exit $failed
fi
if tool tally-store dump "$DB" 2>> "$LOG" \
    | tool tally-link --relink --crosswalk "${cw[@]}" --secret-file "$SECRET" 2>> "$LOG" \
    | tool tally-score --rules "$RULES" --as-of "$AS_OF" --stats "$OUT/logs/score-$AS_OF.json" > "$tmp" 2>> "$LOG"; then
    mv "$tmp" "$scores"
    echo "nightly: $(basename "$scores"): $(stat_of "$OUT/logs/score-$AS_OF.json" people) people scored as of $AS_OF"
else
    rm -f "$tmp"
    echo "nightly: scoring failed; no scores-$AS_OF.jsonl was written. Its messages:" >&2
    tail -n 5 "$LOG" | sed 's/^/    /' >&2
    failed=1
fi
exit $failed
