#!/usr/bin/env bash
# usage: pipelines/nightly.sh INCOMING DB OUTDIR
#
# One night of tally, safe under cron: its exit status and its mail say truly how the night went.
#
# 1. Pre-flight, before anything moves: the binaries, the feed declarations, the rules (loaded
#    by tally-score), the secret (checked by tally-link: a regular file, mode 0600, long enough),
#    a writable ledger and enough free disk. Any fault: one message naming them all, exit 78.
# 2. Admission. The feeds are those declared in the schemas directory (NAME.feed.json). Files
#    still arriving by convention are left alone without a word: names ending .part or .tmp, and
#    names starting with a dot. Anything else in INCOMING that is not a regular file named
#    FEED-YYYYMMDD... of a declared feed (a symlink, a FIFO, a directory, Tax-20261122.csv) is
#    reported by name, left in place, and makes the night's status "attention".
# 3. Stability. A file is taken only once it has not changed for TALLY_SETTLE_SECONDS; one that
#    changed since is held back until it settles. Before a file moves to OUTDIR/done/ its size
#    and SHA-256 must still be those of the bytes read; a file that changed meanwhile stays in
#    INCOMING for the next night (what was read of it is in the ledger; the rest comes then).
# 4. A quality gate. Each feed declares the largest share of rejected rows it tolerates
#    (maxRejectedShare in NAME.feed.json; 2% when not given). A file with more rejected rows
#    than that share and more than one (so a day's file of ten court judgments may have one bad
#    one), or with every row rejected, is moved to OUTDIR/quarantine/ and not ingested. After review, release it by moving it to
#    OUTDIR/released/: the next night takes it from there past the gate (its rejects are still
#    kept in OUTDIR/rejects/).
# 5. Each admitted file (crosswalk files first, then the rest by name): validate (report in
#    OUTDIR/reports/), parse (rejects in OUTDIR/rejects/FILE.jsonl); then the records of all of
#    them are linked by one tally-link (which loads the crosswalks once, from the crosswalk's fold
#    OUTDIR/work/crosswalk.fold and the crosswalk files it does not hold yet: a night parses its
#    own crosswalk file, not every one since the first; its messages go to
#    OUTDIR/logs/RUN-ID/link.log, and should it fail each file is linked alone), and each file's
#    are ingested into the SQLite ledger DB; then the file goes to OUTDIR/done/. The ingests leave
#    their pages in the ledger's write-ahead log (DB-wal, as safe there from a killed run); one
#    tally-store checkpoint --follow, started with them, copies each one's into DB as it commits,
#    and the rest once they are done; the run waits for it before it ends (a failed one makes the
#    night "attention"). Then the scoring store beside the ledger (DB.scoring,
#    or TALLY_SCORING_STORE) takes the records stored since the last night (tally-store
#    update-scoring); every identifier it holds is linked with every crosswalk so far (tally-link
#    --store; an identifier no crosswalk file new since last night names keeps last night's key,
#    from OUTDIR/work/persons.previous), so a new crosswalk entry relinks old records too; and the whole history is scored
#    from the store into OUTDIR/scores-YYYY-MM-DD.jsonl (through a temporary file and a rename, so
#    a reader never sees half a file): the same bytes as the ledger's dump relinked and scored,
#    without parsing the history as JSON. Once the store's copy of its rows in person order
#    (which tally-score reads about twice as fast) has fallen behind, it is made again
#    (TALLY_ORDER_WHEN_BEHIND). The night is drawn as a page,
#    OUTDIR/report-YYYY-MM-DD.html (tally-report: scores by tier, reasons, feeds, disputes, trend).
# 6. Logs and status. Every line printed has a UTC timestamp and the run's id; the run starts and
#    ends with a line. The stages' messages go to OUTDIR/logs/RUN-ID/FILE.log, and a failure
#    prints that file's own log. Each run writes OUTDIR/runs/RUN-ID.json (every file with its
#    stage counts, status and seconds; the night's status and exit status; the tally version),
#    and OUTDIR/last-run.json points at it.
#
# Exit status: 0 when every file present was admitted and ingested and the scores were written;
# 1 when a file or the scoring failed (the file stays in INCOMING for the next night); 2 when
# nothing failed but files were held back (quarantined, unsettled, changed during the night, or
# not feed files): the night's status "attention"; 75 when another run holds the ledger's lock;
# 78 for a configuration fault found before anything moved; 64 for bad usage.
#
# Environment:
#   TALLY_BIN            where the tally binaries are (default: ../.build/release beside this
#                        script in a source tree, ../../../bin where scripts/install.sh put it
#                        in PREFIX/share/tally/pipelines, else PATH)
#   TALLY_SCHEMAS        the feed declarations (default: ../schemas/feeds beside this script,
#                        in the source tree and in an installed copy alike)
#   TALLY_SECRET_FILE    the person-key secret (default: tally.secret beside DB; mode 0600)
#   TALLY_SCORING_STORE  the scoring store's directory (default: DB.scoring; made on the first
#                        night, and again from the ledger with tally-store rebuild-scoring)
#   TALLY_RULES          the scoring rules (default: rules/default.yaml beside this script)
#   TALLY_AS_OF          the day to score for (default: today in China, YYYY-MM-DD)
#   TALLY_SETTLE_SECONDS how long a file must be unchanged before it is taken (default 120)
#   TALLY_ORDER_WHEN_BEHIND  after scoring, copy the store's rows in person order again (tally-store
#                        order-scoring) once that percentage of its rows is not in the copy: appended
#                        or rewritten since (default 5; "never" keeps no copy, which saves the
#                        store's size in disk and scores at about half the speed)
#   TALLY_MIN_FREE_MB    the free disk the ledger's and OUTDIR's file systems need (default 512)
#   TALLY_TIMES          if set, a file to which each stage run appends "stage file seconds KB"
#                        (wall time and peak RSS, from /usr/bin/time), for capacity planning
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
# In a source tree, its release build; installed (PREFIX/share/tally/pipelines), PREFIX/bin.
if [ -z "$BIN" ] && [ -x "$HERE/../.build/release/tally-parse" ]; then BIN=$HERE/../.build/release; fi
if [ -z "$BIN" ] && [ -x "$HERE/../../../bin/tally-parse" ]; then BIN=$(cd "$HERE/../../../bin" && pwd); fi
SCHEMAS=${TALLY_SCHEMAS:-$HERE/../schemas/feeds}
RULES=${TALLY_RULES:-$HERE/rules/default.yaml}
SECRET=${TALLY_SECRET_FILE:-$(dirname "$DB")/tally.secret}
STORE=${TALLY_SCORING_STORE:-$DB.scoring}
# China Standard Time as a POSIX rule (UTC+8, no daylight saving), so no tzdata is needed.
AS_OF=${TALLY_AS_OF:-$(TZ=CST-8 date +%F)}
SETTLE=${TALLY_SETTLE_SECONDS:-120}
ORDER_WHEN_BEHIND=${TALLY_ORDER_WHEN_BEHIND:-5}
MIN_FREE_MB=${TALLY_MIN_FREE_MB:-512}
RUN_ID=$(date -u +%Y%m%dT%H%M%SZ)-$$
STARTED=$(date -u +%FT%TZ)
STARTED_S=$(date +%s)

say() { printf '%s %s nightly: %s\n' "$(date -u +%FT%TZ)" "$RUN_ID" "$*"; }
shout() { say "$@" >&2; }

exe_of() { if [ -n "$BIN" ]; then echo "$BIN/$1"; else command -v "$1"; fi; }
tool() {
    local name=$1; shift
    local exe
    exe=$(exe_of "$name")
    if [ -n "${TALLY_TIMES:-}" ]; then
        /usr/bin/time -a -o "$TALLY_TIMES" -f "$name ${current:-all} %e %M" "$exe" "$@"
    else
        "$exe" "$@"
    fi
}

# A JSON string of $1: quotes, backslashes and control characters escaped.
json_string() {
    local s=$1 out="" c i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        case $c in
            '"') out+='\"' ;;
            '\') out+='\\' ;;
            *) if [[ $c < ' ' ]] || [ "$c" = $'\x7f' ]; then out+=$(printf '\\u%04x' "'$c"); else out+=$c; fi ;;
        esac
    done
    printf '"%s"' "$out"
}
# The number after "KEY": in a one-line JSON stats file (0 when absent).
stat_of() { local v; v=$(sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" "$1" 2>/dev/null); echo "${v:-0}"; }
parse_counts() { # parse_counts FILE: read_rows, written, rejected, filtered and counts from tally-parse --stats
    read_rows=$(stat_of "$1" read); written=$(stat_of "$1" written)
    rejected=$(stat_of "$1" rejected); filtered=$(stat_of "$1" filtered)
    counts=(read "$read_rows" written "$written" rejected "$rejected" filtered "$filtered")
}

FILES_JSON=()
failed=0
held=0
record_file() { # record_file NAME STATUS [KEY VALUE]... : one entry of the run summary
    local name=$1 status=$2; shift 2
    local entry="{\"file\":$(json_string "$name"),\"status\":\"$status\""
    while [ $# -ge 2 ]; do
        if [[ $2 =~ ^[0-9]+(\.[0-9]+)?$ ]]; then entry+=",\"$1\":$2"; else entry+=",\"$1\":$(json_string "$2")"; fi
        shift 2
    done
    FILES_JSON+=("$entry}")
}

SCORES_JSON=null
write_summary() { # write_summary EXIT STATUS
    local code=$1 status=$2
    local version
    version=$("$(exe_of tally-parse)" --version 2>/dev/null || echo unknown)
    mkdir -p "$OUT/runs" 2>/dev/null || return 0
    local tmp="$OUT/runs/.$RUN_ID.json.tmp"
    {
        printf '{"run":%s,"started":"%s","ended":"%s","seconds":%d,"as_of":"%s","tally_version":%s,"status":"%s","exit":%d,"files":[' \
            "$(json_string "$RUN_ID")" "$STARTED" "$(date -u +%FT%TZ)" $(( $(date +%s) - STARTED_S )) "$AS_OF" "$(json_string "$version")" "$status" "$code"
        local i
        for i in "${!FILES_JSON[@]}"; do [ "$i" -gt 0 ] && printf ','; printf '%s' "${FILES_JSON[$i]}"; done
        printf '],"scores":%s}\n' "$SCORES_JSON"
    } > "$tmp" && mv "$tmp" "$OUT/runs/$RUN_ID.json"
    ln -sfn "runs/$RUN_ID.json" "$OUT/.last-run.json.tmp" && mv -T "$OUT/.last-run.json.tmp" "$OUT/last-run.json"
}

# The night's ingests leave their pages in the ledger's write-ahead log (--no-checkpoint), where
# they are as safe from a killed run as in the ledger's file. One tally-store checkpoint --follow,
# started with the ingests, copies each ingest's pages into the ledger's file as it commits (on
# the core the ingests leave idle) and holds the ledger open, so that no ingest and no later
# reader has SQLite read the whole log again on opening; once its input is closed after the
# ingests, it copies the rest and empties the log. The run waits for it before it ends (finish);
# it holds the ledger's lock (descriptor 9) as the run does.
CHECKPOINT_PID=
CHECKPOINT_IN=
LOCKED=0
start_checkpoint() { # start_checkpoint [--follow]: the ledger's checkpoint, once, in the background
    [ -z "$CHECKPOINT_PID" ] && [ -e "$DB" ] || return 0
    local current=ledger
    if [ "${1:-}" = --follow ]; then
        exec {CHECKPOINT_IN}> >(tool tally-store checkpoint --follow "$DB" 2>> "$OUT/logs/$RUN_ID/checkpoint.log")
        CHECKPOINT_PID=$!
    elif [ -e "$DB-wal" ]; then
        tool tally-store checkpoint "$DB" 2>> "$OUT/logs/$RUN_ID/checkpoint.log" < /dev/null &
        CHECKPOINT_PID=$!
    fi
}
stop_following() { # the checkpoint's input closed: it copies the rest and ends
    if [ -n "$CHECKPOINT_IN" ]; then exec {CHECKPOINT_IN}>&-; CHECKPOINT_IN=; fi
}

finish() { # finish EXIT: the closing line, the summary, the exit
    local code=$1 status=ok
    [ "$LOCKED" -eq 1 ] && start_checkpoint
    stop_following
    # The ledger's checkpoint: a failed one loses nothing (the night's records stay in DB-wal,
    # read as ever, and the next night's checkpoint copies them), but DB alone is then not the
    # whole ledger, which needs a look.
    if [ -n "${CHECKPOINT_PID:-}" ] && ! wait "$CHECKPOINT_PID"; then
        shout "the ledger's checkpoint failed; the night's records are in $DB-wal, safe, until one succeeds (tally-store checkpoint $DB). Its messages:"
        tail -n 5 "$OUT/logs/$RUN_ID/checkpoint.log" | sed 's/^/    /' >&2
        [ "$code" -eq 0 ] && code=2
    fi
    CHECKPOINT_PID=
    [ "$code" -eq 2 ] && status=attention
    [ "$code" -ne 0 ] && [ "$code" -ne 2 ] && status=failed
    write_summary "$code" "$status"
    # The night as a page (after the summary, which it shows): a failure to write it leaves the
    # scores standing but makes the night's status "attention".
    if [ "$SCORES_JSON" != null ]; then
        if tool tally-report --schemas "$SCHEMAS" --rules "$RULES" --as-of "$AS_OF" --output "$OUT/report-$AS_OF.html" "$OUT" 2>> "$OUT/logs/$RUN_ID/report.log"; then
            say "report-$AS_OF.html written"
        else
            shout "the night's report failed; no report-$AS_OF.html. Its messages:"
            tail -n 20 "$OUT/logs/$RUN_ID/report.log" | sed 's/^/    /' >&2
            if [ "$code" -eq 0 ]; then code=2; status=attention; write_summary "$code" "$status"; fi
        fi
    fi
    say "end: status $status, exit $code ($OUT/runs/$RUN_ID.json)"
    exit "$code"
}

say "start: incoming $IN, ledger $DB, out $OUT, as of $AS_OF"

# 1. Pre-flight: every fault in one message, before anything moves.
faults=()
[ -d "$IN" ] || faults+=("$IN is not a directory")
for t in tally-validate tally-parse tally-link tally-store tally-score tally-report; do
    exe=$(exe_of "$t")
    if [ -z "$exe" ] || [ ! -x "$exe" ]; then faults+=("no executable $t (looked in ${BIN:-PATH})"); fi
done
FEEDS=()
if [ -d "$SCHEMAS" ]; then
    for f in "$SCHEMAS"/*.feed.json; do [ -f "$f" ] && FEEDS+=("$(basename "$f" .feed.json)"); done
fi
[ ${#FEEDS[@]} -gt 0 ] || faults+=("no feed declarations (NAME.feed.json) in $SCHEMAS")
if [ ${#faults[@]} -eq 0 ]; then
    if [ ! -r "$RULES" ]; then
        faults+=("the rules file $RULES cannot be read")
    elif ! msg=$(tool tally-score --schemas "$SCHEMAS" --rules "$RULES" --as-of "$AS_OF" /dev/null 2>&1 >/dev/null); then
        faults+=("the rules: ${msg//$'\n'/ }")
    fi
    if ! msg=$(tool tally-link --crosswalk /dev/null --secret-file "$SECRET" /dev/null 2>&1 >/dev/null); then
        faults+=("the secret: ${msg//$'\n'/ }")
    fi
fi
if [ "$ORDER_WHEN_BEHIND" != never ] && ! [[ "$ORDER_WHEN_BEHIND" =~ ^([0-9]{1,2}(\.[0-9]+)?|100)$ ]]; then
    faults+=("TALLY_ORDER_WHEN_BEHIND=$ORDER_WHEN_BEHIND is not a percentage (0 to 100) or never")
fi
dbdir=$(dirname "$DB")
if [ ! -d "$dbdir" ]; then
    faults+=("the ledger's directory $dbdir does not exist")
elif ! probe=$(mktemp "$dbdir/.tally-preflight.XXXXXX" 2>/dev/null); then
    faults+=("the ledger's directory $dbdir is not writable")
else
    rm -f "$probe"
    [ ! -e "$DB" ] || [ -w "$DB" ] || faults+=("the ledger $DB is not writable")
fi
mkdir -p "$OUT" 2>/dev/null || faults+=("cannot create $OUT")
for d in "$dbdir" "$OUT"; do
    [ -d "$d" ] || continue
    free=$(df -Pk "$d" 2>/dev/null | awk 'NR == 2 { print int($4 / 1024) }')
    if [ -n "$free" ] && [ "$free" -lt "$MIN_FREE_MB" ]; then faults+=("$d has $free MB free, less than TALLY_MIN_FREE_MB=$MIN_FREE_MB"); fi
done
if [ ${#faults[@]} -gt 0 ]; then
    joined=$(printf '%s; ' "${faults[@]}")
    shout "configuration: ${joined%; }; nothing was moved"
    finish 78
fi
mkdir -p "$OUT/rejects" "$OUT/reports" "$OUT/crosswalk" "$OUT/done" "$OUT/logs/$RUN_ID" "$OUT/work" "$OUT/quarantine" "$OUT/released" || finish 78

# One run at a time per ledger: the lock is held by descriptor 9 until this script exits.
exec 9>>"$DB.lock"
if ! flock -n 9; then
    shout "another run holds $DB.lock; this one exits without doing anything"
    exit 75
fi
LOCKED=1
# Persons files of a run killed before it could remove its own, and the fold's temporary files
# (this run holds the lock).
rm -f "$OUT"/work/persons-*.bin "$OUT"/work/crosswalk.fold.tmp-*
# The crosswalk folded into one file (tally-link --fold), brought up to date by each tally-link
# with the night's crosswalk files: derived from OUTDIR/crosswalk/ alone, and made again from it
# whenever it is missing, damaged or does not match (tally-link --fold FILE --fold-only
# --crosswalk OUTDIR/crosswalk/*.jsonl makes it at once, the same bytes).
FOLD=$OUT/work/crosswalk.fold

# 2. Admission: what in INCOMING (and released/) is a settled feed file; the rest is reported.
feed_alternatives=$(IFS='|'; echo "${FEEDS[*]}")
now=$(date +%s)
first=()
rest=()
admit() { # admit DIR: crosswalk files into first, the other feed files into rest
    local dir=$1 path name feed age
    while IFS= read -r -d '' path; do
        name=${path##*/}
        case $name in .*|*.part|*.tmp) continue ;; esac
        if [ -L "$path" ] || [ ! -f "$path" ]; then
            shout "$name: not a regular file (a link, a FIFO or a directory); left in place"
            record_file "$name" unknown reason "not a regular file"
            held=1
            continue
        fi
        if ! [[ $name =~ ^($feed_alternatives)-[0-9]{8} ]]; then
            shout "$name: not a file of a declared feed (FEED-YYYYMMDD..., feeds: ${FEEDS[*]}); left in place"
            record_file "$name" unknown reason "not a declared feed's file name"
            held=1
            continue
        fi
        feed=${BASH_REMATCH[1]}
        age=$(( now - $(stat -c %Y "$path") ))
        if [ "$age" -lt "$SETTLE" ]; then
            say "$name: changed ${age}s ago, less than the ${SETTLE}s it must settle; left for the next night"
            record_file "$name" unsettled feed "$feed" age_seconds "$age"
            held=1
            continue
        fi
        if [ "$feed" = crosswalk ]; then first+=("$path"); else rest+=("$path"); fi
    done < <(find "$dir" -mindepth 1 -maxdepth 1 -print0 | sort -z)
}
admit "$IN"
admit "$OUT/released"
admitted=("${first[@]}" "${rest[@]}")

crosswalks() { # every crosswalk seen so far, or /dev/null before the first
    local found=0
    for c in "$OUT"/crosswalk/*.jsonl; do [ -e "$c" ] && { echo "$c"; found=1; }; done
    [ $found -eq 1 ] || echo /dev/null
}

fail() { # fail NAME WHAT LOG
    shout "$1: $2 failed; the file stays for the next night. Its messages:"
    tail -n 20 "$3" | sed 's/^/    /' >&2
    failed=1
}

# 3-5. Each admitted file: validated, parsed, gated and checked for changes here. The event
# files' records are then linked all at once (tally-link loads every crosswalk so far once a
# night, not once a file: 3.5 s a file at a tenth of the city) and ingested one file at a time.
linkable=()
declare -A SHA_OF SIZE_OF BEGAN_OF QUEUED
for file in "${admitted[@]}"; do
    name=$(basename "$file")
    current=$name
    [[ $name =~ ^($feed_alternatives)-[0-9]{8} ]]
    feed=${BASH_REMATCH[1]}
    released=0
    [ "$(dirname "$file")" = "$OUT/released" ] && released=1
    log=$OUT/logs/$RUN_ID/$name.log
    work=$OUT/work/$name
    began=$(date +%s)
    size=$(stat -c %s "$file")
    sha=$(sha256sum "$file" | cut -d' ' -f1)
    echo "== $name ($sha, $size bytes)" >> "$log"
    if { [ "$feed" = crosswalk ] && [ -e "$OUT/crosswalk/$sha.jsonl" ]; } || [ -n "${QUEUED[$sha]:-}" ] \
        || { [ "$feed" != crosswalk ] && tool tally-store files "$DB" --sha256 "$sha" >/dev/null 2>&1; }; then
        mv "$file" "$OUT/done/" && say "$name: already taken (same SHA-256), moved to done/"
        record_file "$name" already-taken feed "$feed" sha256 "$sha"
        continue
    fi
    tool tally-validate --schemas "$SCHEMAS" --feed "$feed" --json "$file" > "$OUT/reports/$name.json" 2>> "$log"
    v=$?
    if [ $v -ne 0 ] && [ $v -ne 65 ]; then fail "$name" validation "$log"; record_file "$name" failed feed "$feed" stage validation; continue; fi
    if ! tool tally-parse --schemas "$SCHEMAS" --feed "$feed" --rejects "$OUT/rejects/$name.jsonl" --stats "$work.parse.json" "$file" > "$work.records.jsonl" 2>> "$log"; then
        fail "$name" parsing "$log"; record_file "$name" failed feed "$feed" stage parsing; rm -f "$work".*; continue
    fi
    parse_counts "$work.parse.json"
    ppm=$(stat_of "$work.parse.json" max_rejected_ppm)
    # 4. The quality gate (a released file has been reviewed and passes it).
    if [ "$released" -eq 0 ] && [ "$read_rows" -gt 0 ] && { [ "$rejected" -eq "$read_rows" ] || { [ "$rejected" -gt 1 ] && [ $(( rejected * 1000000 )) -gt $(( ppm * read_rows )) ]; }; }; then
        mv "$file" "$OUT/quarantine/" && rm -f "$work".*
        shout "$name: $rejected of $read_rows rows rejected, more than the $feed feed tolerates ($ppm per million); quarantined in $OUT/quarantine/, not ingested (review OUTDIR/rejects/$name.jsonl; release by moving it to $OUT/released/)"
        record_file "$name" quarantined feed "$feed" sha256 "$sha" "${counts[@]}" seconds $(( $(date +%s) - began ))
        held=1
        continue
    fi
    # The bytes parse read must be the bytes hashed before it, or nothing of the file is taken:
    # tally-parse hashed what it read (its --stats), which is exact where hashing the file again
    # afterwards was not, and saves reading it a third time.
    if [ "$(sed -n 's/.*"sha256":"\([0-9a-f]\{64\}\)".*/\1/p' "$work.parse.json")" != "$sha" ]; then
        shout "$name: changed while it was read; left in INCOMING for the next night"
        record_file "$name" changed feed "$feed" sha256 "$sha"
        rm -f "$work".*
        held=1
        continue
    fi
    if [ "$feed" = crosswalk ]; then
        mv "$work.records.jsonl" "$OUT/crosswalk/$sha.jsonl" && mv "$file" "$OUT/done/" && rm -f "$work".*
        say "$name: read $read_rows, $written crosswalk links, $rejected rejected"
        record_file "$name" ingested feed "$feed" sha256 "$sha" "${counts[@]}" seconds $(( $(date +%s) - began ))
        continue
    fi
    linkable+=("$file")
    SHA_OF[$name]=$sha; SIZE_OF[$name]=$size; BEGAN_OF[$name]=$began; QUEUED[$sha]=1
done

# One tally-link for every file's records, each into a file of its own. Should it fail, each
# file is linked alone, so that the failure stays with its file.
together=0
if [ ${#linkable[@]} -gt 0 ]; then
    current=all
    mapfile -t cw < <(crosswalks)
    inputs=()
    for file in "${linkable[@]}"; do inputs+=("$OUT/work/$(basename "$file").records.jsonl"); done
    rm -rf "$OUT/work/linked" && mkdir -p "$OUT/work/linked"
    if tool tally-link --crosswalk "${cw[@]}" --fold "$FOLD" --secret-file "$SECRET" --output-dir "$OUT/work/linked" "${inputs[@]}" 2>> "$OUT/logs/$RUN_ID/link.log"; then
        together=1
    else
        say "linking the night's files together failed (OUTDIR/logs/$RUN_ID/link.log); linking them one by one"
    fi
fi

[ ${#linkable[@]} -gt 0 ] && start_checkpoint --follow
for file in "${linkable[@]}"; do
    name=$(basename "$file")
    current=$name
    [[ $name =~ ^($feed_alternatives)-[0-9]{8} ]]
    feed=${BASH_REMATCH[1]}
    log=$OUT/logs/$RUN_ID/$name.log
    work=$OUT/work/$name
    sha=${SHA_OF[$name]}; size=${SIZE_OF[$name]}; began=${BEGAN_OF[$name]}
    parse_counts "$work.parse.json"
    if [ $together -eq 1 ]; then
        mv "$OUT/work/linked/$name.records.jsonl" "$work.linked.jsonl"
    elif ! tool tally-link --crosswalk "${cw[@]}" --fold "$FOLD" --secret-file "$SECRET" "$work.records.jsonl" > "$work.linked.jsonl" 2>> "$log"; then
        fail "$name" linking "$log"; record_file "$name" failed feed "$feed" stage linking "${counts[@]}"; rm -f "$work".*; continue
    fi
    if ! tool tally-store ingest --no-checkpoint --stats "$work.store.json" "$DB" "$work.linked.jsonl" 2>> "$log"; then
        fail "$name" ingesting "$log"; record_file "$name" failed feed "$feed" stage ingesting "${counts[@]}"; rm -f "$work".*; continue
    fi
    store=(inserted "$(stat_of "$work.store.json" inserted)" skipped "$(stat_of "$work.store.json" skipped)"
           amended "$(stat_of "$work.store.json" amended)" stale "$(stat_of "$work.store.json" stale)")
    summary="read $read_rows, records $written, rejected $rejected, filtered $filtered; ledger: ${store[1]} new, ${store[3]} already there, ${store[5]} amended, ${store[7]} stale"
    # What was ingested is exactly the bytes read; if the file changed since, the rest of it
    # comes next night (the records already in are then skipped).
    if [ "$(stat -c %s "$file")" != "$size" ] || [ "$(sha256sum "$file" | cut -d' ' -f1)" != "$sha" ]; then
        shout "$name: $summary; but the file changed during the night: left in INCOMING for the next night"
        record_file "$name" changed feed "$feed" sha256 "$sha" "${counts[@]}" "${store[@]}" seconds $(( $(date +%s) - began ))
        rm -f "$work".*
        held=1
        continue
    fi
    mv "$file" "$OUT/done/" && rm -f "$work".*
    say "$name: $summary"
    record_file "$name" ingested feed "$feed" sha256 "$sha" "${counts[@]}" "${store[@]}" seconds $(( $(date +%s) - began ))
done
rm -rf "$OUT/work/linked"
stop_following

# Scores: the scoring store brought up to the ledger, its identifiers linked with every
# crosswalk so far, its corrections and rows scored.
current=scores
scores=$OUT/scores-$AS_OF.jsonl
tmp=$OUT/.scores-$AS_OF.jsonl.tmp
persons=$OUT/work/persons-$RUN_ID.bin
# Last night's persons file: the identifiers tonight's new crosswalk files do not name keep their
# keys from it (tally-link --previous); the file written is the same bytes as linking them all.
previous=$OUT/work/persons.previous
previous_arg=()
[ -e "$previous" ] && previous_arg=(--previous "$previous")
log=$OUT/logs/$RUN_ID/scores.log
mapfile -t cw < <(crosswalks)
if [ ! -e "$DB" ]; then
    say "the ledger $DB has taken nothing yet; no scores written"
else
    if tool tally-store update-scoring --store "$STORE" "$DB" 2>> "$log" \
        && tool tally-link --store "$STORE" --output "$persons" "${previous_arg[@]}" --fold "$FOLD" --crosswalk "${cw[@]}" --secret-file "$SECRET" 2>> "$log" \
        && tool tally-score --store "$STORE" --persons "$persons" --schemas "$SCHEMAS" --rules "$RULES" --as-of "$AS_OF" --stats "$OUT/logs/score-$AS_OF.json" > "$tmp" 2>> "$log"; then
        mv "$tmp" "$scores"
        people=$(stat_of "$OUT/logs/score-$AS_OF.json" people)
        say "$(basename "$scores"): $people people scored as of $AS_OF"
        SCORES_JSON="{\"file\":$(json_string "$(basename "$scores")"),\"people\":$people}"
        # The store's rows copied in person order again once the copy has fallen behind (a
        # cache the next nights score twice as fast; the scores are the same bytes without it).
        if [ "$ORDER_WHEN_BEHIND" != never ] \
            && ! tool tally-store order-scoring --store "$STORE" "$DB" --persons "$persons" --when-behind "$ORDER_WHEN_BEHIND" 2>> "$log"; then
            say "warning: the scoring store's ordered copy was not made (the scores are written; the next night tries again): $(tail -n 1 "$log")"
        fi
        mv "$persons" "$previous"
    else
        rm -f "$tmp" "$persons"
        shout "scoring failed; no scores-$AS_OF.jsonl was written. Its messages:"
        tail -n 20 "$log" | sed 's/^/    /' >&2
        failed=1
    fi
fi
if [ $failed -ne 0 ]; then finish 1; fi
if [ $held -ne 0 ]; then finish 2; fi
finish 0
