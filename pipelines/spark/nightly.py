"""tally on Apache Spark: the same stage executables, partitioned by person.

usage: spark-submit pipelines/spark/nightly.py --feeds DIR --bin DIR --rules FILE --secret FILE
           --as-of YYYY-MM-DD --out FILE [--partitions N] [--state DIR]

Without --state it scores the feeds it is given, as below. With --state it keeps the history
between nights, partitioned, and a night moves only its increment: see `incremental_night`.

1. Every feed file is parsed, one task per file (a gzip file is not splittable), through
   RDD.pipe().
2. The crosswalk is joined by identifier with a shuffle, not shipped whole to every executor:
   crosswalk records and event records are both keyed by their subject identifier and
   hash-partitioned into N partitions, so each identifier's crosswalk entries (all of them, so a
   conflict is still seen) meet its records in one partition, which tally-link links with that
   slice of the crosswalk and the shipped secret. A record needs only its own identifier's
   entries, so this gives every record the key one machine gives it.
3. Corrections address record ids, not people, and are few: they are gathered on the driver and
   shipped as one file to every scoring task (tally-score --corrections), so each partition
   honours every correction that may touch its records.
4. The other records are keyed by their person key and hash-partitioned into N partitions, so all
   of one person's records meet in one partition; each partition is piped through tally-score.
5. The scores are gathered in person-key order into --out (one line per person), written to a
   temporary file and renamed.

The stage binaries must exist at --bin on every executor (a container image, a shared mount, or
spark-submit --archives unpacked to the same path); build them with
`swift build -c release --static-swift-stdlib` so executors need no Swift toolchain, only
libxml2, zlib1g, libsqlite3-0 and libicu72 (see SCALING.md). A stage that fails makes its task,
and so the job, fail with the stage's own message.
"""
import argparse
import contextlib
import glob
import hashlib
import json
import os
import resource
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import threading

from pyspark import SparkFiles
from pyspark.sql import SparkSession

def declared_feeds(schemas):
    """The feeds declared in the schemas directory (NAME.feed.json), as nightly.sh finds them."""
    return tuple(sorted(f[: -len(".feed.json")] for f in os.listdir(schemas) if f.endswith(".feed.json")))


class StageFailed(RuntimeError):
    pass


def run_stage(argv, lines):
    """Pipes `lines` through `argv`; returns its output lines, or raises with its stderr."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err)
        # Feed stdin from a thread so a large partition cannot deadlock against stdout. The input
        # is itself lazy (an upstream stage's output): its failure must fail this task too, not
        # end the input early and let a partial partition through.
        upstream = []

        def feed():
            try:
                for line in lines:
                    proc.stdin.write(line.encode("utf-8") + b"\n")
            except BrokenPipeError:
                pass
            except BaseException as error:
                upstream.append(error)
            finally:
                try:
                    proc.stdin.close()
                except BrokenPipeError:
                    pass

        writer = threading.Thread(target=feed)
        writer.start()
        out = [line.decode("utf-8").rstrip("\n") for line in proc.stdout]
        writer.join()
        code = proc.wait()
        if upstream:
            raise upstream[0]
        err.seek(0)
        message = err.read().decode("utf-8", "replace").strip()
        if code != 0:
            raise StageFailed(f"{os.path.basename(argv[0])} exited with status {code}: {message}")
        return out


@contextlib.contextmanager
def private_secret(name):
    """The shipped secret `name` as a file of mode 0600 while the block runs: SparkFiles copies
    are world-readable, and tally-link refuses such a secret."""
    fd, copy = tempfile.mkstemp(prefix="tally-secret-")
    try:
        with os.fdopen(fd, "wb") as out, open(SparkFiles.get(name), "rb") as src:
            shutil.copyfileobj(src, out)
        os.chmod(copy, stat.S_IRUSR | stat.S_IWUSR)
        yield copy
    finally:
        os.unlink(copy)


def identifier_of(line):
    """The subject's scheme and id (a correction's subject is the record it corrects)."""
    subject = json.loads(line)["subject"]
    return subject.get("scheme", "") + ":" + subject.get("id", "")


def person_of(line):
    i = line.find('"person":"')
    return line[i + 10:i + 44] if i >= 0 else ""


# ---------------------------------------------------------------------------------------------
# --state: the history kept between nights, partitioned, so that a night moves its increment.
#
# The state directory holds three partitionings, each a directory a partition:
#
#   persons/pNNNN  the history, partitioned by person: a tally ledger (ledger.db) with its scoring
#                  store; the crosswalk lines of the identifiers it holds (crosswalk-DAY.jsonl,
#                  and their fold); each night's persons file; and skip.jsonl, the identifiers it
#                  holds rows of whose person is now in another partition (not scored here). A
#                  person key's partition is its place in the key space (its first 64 bits times
#                  N), so partition order is key order.
#   ids/qNNNN      the crosswalk, partitioned by identifier: every crosswalk line of the
#                  identifiers hashed here (crosswalk-DAY.jsonl, and their fold, for tally-link;
#                  index.sqlite, by identifier), and the person partition each identifier that
#                  has records lives in (its home, in index.sqlite).
#   recs/rNNNN     the record directory, partitioned by record id (directory.sqlite): the person
#                  partition each record lives in, and the corrections whose record has not come.
#
# A night (nights/DAY keeps what it has done):
#   1. The feeds are parsed, one task a file (tally-parse), each line sent to its identifier's
#      partition (a correction to its record's).
#   2. Identifier partitions: tonight's crosswalk lines join the slice; tonight's records are
#      linked with it (tally-link, through the slice's fold), and so is one probe record for each
#      identifier with a home that tonight's crosswalk names. An identifier whose person moved to
#      another partition moves there; one new to the records gets a home. Every crosswalk line
#      of an identifier that arrives somewhere goes there, and tonight's lines go to its home.
#   3. Record partitions: each record version goes where the directory says its record lives,
#      so that one ledger decides between its versions, as it would on one machine; a new
#      record goes to its person's partition. Each correction goes to its record's partition,
#      or waits for the record.
#   4. Person partitions ingest that (tally-store ingest), then hand on, with their corrections
#      (tally-store extract): the records of identifiers that moved away, and the records whose
#      version tonight won and names a person of another partition.
#   5. Person partitions ingest what was handed to them, bring their store up to date, link its
#      identifiers from the night before's persons file (tally-link --store --previous --fold:
#      only what tonight's crosswalk names is linked again), and score it, skipping the rows of
#      identifiers that moved on (tally-score --store --skip-identifiers).
#   6. Under the `committing` mark, tasks apply the night's changes to the homes, the directory
#      and the skip lists; the scores are concatenated in partition order (key order) into --out.
# Only the night's feeds, and the records and crosswalk lines of identifiers that moved, cross
# the network; each task hands each destination a few joined strings, not a line at a time
# (`grouped`), because Spark's Python shuffles cost per element. Nothing before the `committing` mark changes what the next run reads as the state
# before the night (ingests of the same lines are no-ops, and what is derived is written again
# with the same bytes), so a night killed before it is run again from the start; one killed
# after it finishes its commit when run again.

STATE_FORMAT = 2


def person_partition(key, n):
    """The key's place in the key space: partition order is key order."""
    return (int(key[2:18], 16) * n) >> 64


def bucket(text, n):
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big") % n


def subject_of(record):
    s = record["subject"]
    return s.get("scheme", "") + "\t" + s.get("id", "")


def identifier_json(ident):
    scheme, _, id_ = ident.partition("\t")
    return json.dumps({"scheme": scheme, "id": id_}, ensure_ascii=False, separators=(",", ":"))


def probe_line(ident):
    """A record tally-link links as any of the identifier's: its key, and nothing else."""
    scheme, _, id_ = ident.partition("\t")
    digest = hashlib.sha256(ident.encode("utf-8")).hexdigest()[:32]
    return json.dumps({"v": 1, "id": "probe:" + digest, "source": "probe", "kind": "probe.link",
                       "subject": {"scheme": scheme, "id": id_}, "at": "2000-01-01T00:00:00Z", "attrs": {},
                       "prov": {"file": "probe", "sha256": "0" * 64, "line": 1}}, ensure_ascii=False, separators=(",", ":"))


def is_probe(record):
    return record["source"] == "probe" and record["id"].startswith("probe:")


def write_atomically(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident()}"
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def write_lines(path, lines):
    write_atomically(path, "".join(line + "\n" for line in lines))


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def read_json(path, default):
    if not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def index_db(path, schema):
    """A partition's SQLite index (Python's sqlite3: the driver's own bookkeeping, not a ledger)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    db = sqlite3.connect(path, timeout=60)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(schema)
    return db


# The crosswalk index is keyed by identifier alone (a key over whole lines was a third of the
# identifier task's time, cProfile): a night run again adds its lines again, and every reader
# takes them DISTINCT.
IDS_SCHEMA = """
    CREATE TABLE IF NOT EXISTS crosswalk(ident TEXT NOT NULL, line TEXT NOT NULL);
    CREATE INDEX IF NOT EXISTS crosswalk_ident ON crosswalk(ident);
    CREATE TABLE IF NOT EXISTS homes(ident TEXT PRIMARY KEY, part INTEGER NOT NULL);
"""
RECS_SCHEMA = """
    CREATE TABLE IF NOT EXISTS records(id TEXT PRIMARY KEY, part INTEGER NOT NULL);
    CREATE TABLE IF NOT EXISTS pending(line TEXT PRIMARY KEY);
"""


def rows_in(db, query, keys):
    """The rows of `query`, whose `{}` stands for an SQL list of the keys, asked 500 keys at a time."""
    keys = sorted(keys)
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        yield from db.execute(query.format(",".join("?" * len(chunk))), chunk)


def lookup(db, table, key_column, keys):
    """{key: part} for the keys the table holds."""
    return dict(rows_in(db, f"SELECT {key_column}, part FROM {table} WHERE {key_column} IN ({{}})", keys))


def cpu_ms():
    """CPU milliseconds of this worker (Python) and of the stages it ran and waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime) * 1000, (children.ru_utime + children.ru_stime) * 1000


def lines_of(db, idents):
    """{identifier: its crosswalk lines, distinct, in order}."""
    found = {}
    for ident, line in rows_in(db, "SELECT DISTINCT ident, line FROM crosswalk WHERE ident IN ({}) ORDER BY ident, line", idents):
        found.setdefault(ident, []).append(line)
    return found


def count(spec, stage, index, started, **counts):
    """A task's counts, beside the night (written again, the same but for the CPU, when it runs
    again), with the CPU it spent since `started` (cpu_ms()) in Python and in stages."""
    own, children = cpu_ms()
    counts[f"{stage}_python_cpu_ms"] = round(own - started[0])
    counts[f"{stage}_stages_cpu_ms"] = round(children - started[1])
    write_atomically(spec.staged(f"counts/{stage}-{index:04d}.json"), json.dumps(counts, sort_keys=True))


def night_counts(spec):
    total = {}
    for path in glob.glob(spec.staged("counts/*.json")):
        for key, value in read_json(path, {}).items():
            total[key] = total.get(key, 0) + value
    return total


def version_order(record):
    prov = record.get("prov", {})
    return (prov.get("file", ""), prov.get("line", 0), record["id"])


def slices_through(directory, day):
    """The crosswalk slice files of nights up to `day`, in night order."""
    return sorted(p for p in glob.glob(os.path.join(directory, "crosswalk-*.jsonl"))
                  if os.path.basename(p)[len("crosswalk-"):-len(".jsonl")] <= day)


class StateSpec:
    """Where everything of one night is, for the tasks (pickled to them)."""

    def __init__(self, root, day, bindir, persons, identifiers, records):
        self.root, self.day, self.bin = root, day, bindir
        self.n, self.m, self.r = persons, identifiers, records
        self.night = os.path.join(root, "nights", day)

    def ids(self, q):
        return os.path.join(self.root, "ids", f"q{q:04d}")

    def recs(self, r):
        return os.path.join(self.root, "recs", f"r{r:04d}")

    def persons(self, p):
        return os.path.join(self.root, "persons", f"p{p:04d}")

    def staged(self, name):
        return os.path.join(self.night, name)

    def tool(self, name):
        return os.path.join(self.bin, name)


def grouped(outputs):
    """(kind, destination, text) triples as (kind, destination, blob) elements, few a
    destination: the texts joined by newlines. Spark's Python shuffles pay per element, so a task hands each
    destination one string, not a line at a time (BENCHMARKS.md, "Spark: a night kept in
    --state")."""
    groups = {}
    for kind, dest, text in outputs:
        groups.setdefault((kind, dest), []).append(text)
    out = []
    for (kind, dest), texts in sorted(groups.items()):
        # In pieces of at most about 4 MB: one huge element is a burden to every JVM it passes.
        piece, size = [], 0
        for text in texts:
            if piece and size + len(text) > BLOB_BYTES:
                out.append((kind, dest, "\n".join(piece)))
                piece, size = [], 0
            piece.append(text)
            size += len(text) + 1
        out.append((kind, dest, "\n".join(piece)))
    return out


BLOB_BYTES = 4 << 20


def unpacked(items):
    """(kind, text) for each text of the (destination, (kind, blob)) items a task is given."""
    for _, (kind, blob) in items:
        if blob:
            for text in blob.split("\n"):
                yield kind, text


def parse_task(spec, m, r):
    """Step 1, one feed file: tally-parse, each line sent on by its identifier (a correction by
    the record it corrects)."""

    def task(paths):
        out = []
        for path in paths:
            feed = os.path.basename(path).split("-")[0]
            for line in run_tool([spec.tool("tally-parse"), "--feed", feed, path]):
                if feed == "crosswalk":
                    out.append(("ids", bucket(subject_of(json.loads(line)), m), "c" + line))
                elif '"kind":"correction.' in line:
                    out.append(("recs", bucket(json.loads(line).get("target", ""), r), "k" + line))
                else:
                    out.append(("ids", bucket(subject_of(json.loads(line)), m), "r" + line))
        return grouped(out)

    return task


def run_tool(argv):
    """Runs a stage; returns its stdout lines, or raises with its stderr."""
    with tempfile.TemporaryFile() as err, open(os.devnull, "rb") as stdin:
        proc = subprocess.run(argv, stdin=stdin, stdout=subprocess.PIPE, stderr=err)
        if proc.returncode != 0:
            err.seek(0)
            raise StageFailed(f"{os.path.basename(argv[0])} exited with status {proc.returncode}: "
                              f"{err.read().decode('utf-8', 'replace').strip()}")
        return [line for line in proc.stdout.decode("utf-8").split("\n") if line]


def identifier_task(spec, secret_name):
    """Step 2, one identifier partition: link tonight's records and probes; homes and moves."""

    def task(q, items):
        started = cpu_ms()
        cw_lines, records = set(), []
        for _, text in unpacked(items):
            if text[0] == "c":
                cw_lines.add(text[1:])
            else:
                records.append(text[1:])
        directory = spec.ids(q)
        db = index_db(os.path.join(directory, "index.sqlite"), IDS_SCHEMA)
        tonight = {}
        for line in sorted(cw_lines):
            tonight.setdefault(subject_of(json.loads(line)), []).append(line)
        if cw_lines:
            write_lines(os.path.join(directory, f"crosswalk-{spec.day}.jsonl"), sorted(cw_lines))
            with db:
                db.executemany("INSERT INTO crosswalk VALUES (?, ?)", [(x, l) for x, ls in tonight.items() for l in ls])
        homes = lookup(db, "homes", "ident", set(tonight))
        probes = [probe_line(x) for x in sorted(tonight) if x in homes]
        keys, linked_records = {}, []
        if records or probes:
            fd, path = tempfile.mkstemp(prefix="tally-ids-", suffix=".jsonl")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for line in records + probes:
                    f.write(line + "\n")
            slices = slices_through(directory, spec.day)
            fold = ["--fold", os.path.join(directory, "crosswalk.fold")] if slices else []
            try:
                with private_secret(secret_name) as secret:
                    linked = run_tool([spec.tool("tally-link"), "--crosswalk"] + (slices or ["/dev/null"]) + fold +
                                      ["--secret-file", secret, path])
            finally:
                os.unlink(path)
            for line in linked:
                record = json.loads(line)
                keys[subject_of(record)] = record["person"]
                if not is_probe(record):
                    linked_records.append((record, line))
        homes.update(lookup(db, "homes", "ident", set(keys) - set(homes)))
        arriving = lines_of(db, [x for x, key in keys.items() if homes.get(x) != person_partition(key, spec.n)])
        out, changed, moved = [], {}, 0
        for ident, key in sorted(keys.items()):
            to = person_partition(key, spec.n)
            was = homes.get(ident)
            if was == to:
                out.extend(("xw", to, line) for line in tonight.get(ident, []))
                continue
            changed[ident] = to
            out.extend(("xw", to, line) for line in arriving.get(ident, []))
            out.append(("skip", to, f"-1\t{ident}"))
            if was is not None:
                moved += 1
                out.append(("move", was, f"{to}\t{ident}"))
                out.append(("skip", was, f"1\t{ident}"))
        db.close()
        for record, line in linked_records:
            out.append(("rec", bucket(record["id"], spec.r), f"{person_partition(record['person'], spec.n)}\t{line}"))
        write_atomically(spec.staged(f"ids/q{q:04d}.homes.json"), json.dumps(changed, sort_keys=True, ensure_ascii=False))
        count(spec, "ids", q, started, crosswalk_lines=len(cw_lines), records=len(linked_records), probes=len(probes),
              identifiers_new=len(changed) - moved, identifiers_moved=moved)
        return grouped(out)

    return task


def record_task(spec):
    """Step 3, one record partition: each version and correction to its record's partition."""

    def task(r, items):
        started = cpu_ms()
        versions, corrections = {}, set()
        for kind, text in unpacked(items):
            if kind == "rec":
                to, line = text.split("\t", 1)
                record = json.loads(line)
                versions.setdefault(record["id"], []).append((version_order(record), line, int(to), subject_of(record)))
            else:
                corrections.add(text[1:])
        db = index_db(os.path.join(spec.recs(r), "directory.sqlite"), RECS_SCHEMA)
        pending = [line for (line,) in db.execute("SELECT line FROM pending ORDER BY line")]
        waiting_for = {json.loads(line).get("target", "") for line in pending + sorted(corrections)}
        known = lookup(db, "records", "id", set(versions) | waiting_for)
        db.close()
        out, added, checks = [], {}, 0
        for rid in sorted(versions):
            vs = sorted(versions[rid])
            at = known.get(rid)
            if at is None:
                at = added[rid] = vs[0][2]
            for _, line, to, ident in vs:
                out.append(("line", at, line))
                if to != at:
                    checks += 1
                    out.append(("check", at, f"{rid}\t{to}\t{ident}"))
        waiting = []
        for line in pending + sorted(corrections - set(pending)):
            target = json.loads(line).get("target", "")
            at = added.get(target, known.get(target))
            if at is None:
                waiting.append(line)
            else:
                out.append(("line", at, line))
        write_atomically(spec.staged(f"recs/r{r:04d}.added.json"), json.dumps(added, sort_keys=True))
        write_lines(spec.staged(f"recs/r{r:04d}.pending.jsonl"), waiting)
        count(spec, "recs", r, started, records_new=len(added), versions_to_other_partitions=checks, corrections_waiting=len(waiting))
        return grouped(out)

    return task


def ingest(spec, p, lines, name):
    """Lines into the partition's ledger, records before corrections, in a stable order."""
    if not lines:
        return
    records, corrections = [], []
    for line in set(lines):
        record = json.loads(line)
        (corrections if record["kind"].startswith("correction.") else records).append((version_order(record), line))
    path = spec.staged(f"persons/p{p:04d}.{name}.jsonl")
    write_lines(path, [line for _, line in sorted(records)] + [line for _, line in sorted(corrections)])
    os.makedirs(spec.persons(p), exist_ok=True)
    run_tool([spec.tool("tally-store"), "ingest", os.path.join(spec.persons(p), "ledger.db"), path])


def hand_on_task(spec):
    """Step 4, one person partition: take tonight's lines, hand on what moved away."""

    def task(p, items):
        started = cpu_ms()
        lines, moves, checks = [], {}, {}
        for kind, text in unpacked(items):
            if kind == "line":
                lines.append(text)
            elif kind == "move":
                to, ident = text.split("\t", 1)
                moves[ident] = int(to)
            else:
                rid, to, ident = text.split("\t", 2)
                checks[rid] = (ident, int(to))
        ingest(spec, p, lines, "tonight")
        db = os.path.join(spec.persons(p), "ledger.db")
        out, handed = [], {}
        if (moves or checks) and os.path.exists(db):
            run_tool([spec.tool("tally-store"), "update-scoring", db])
            argv = [spec.tool("tally-store"), "extract", db]
            if moves:
                path = spec.staged(f"persons/p{p:04d}.moving.jsonl")
                write_lines(path, [identifier_json(x) for x in sorted(moves)])
                argv += ["--identifiers", path]
            if checks:
                path = spec.staged(f"persons/p{p:04d}.checks.txt")
                write_lines(path, sorted(checks))
                argv += ["--ids", path]
            for line in run_tool(argv):
                record = json.loads(line)
                if record["kind"].startswith("correction."):
                    to = handed.get(record.get("target"))
                else:
                    ident = subject_of(record)
                    to = moves.get(ident)
                    if to is None and record["id"] in checks and checks[record["id"]][0] == ident:
                        # Tonight's version won here, and names a person of another partition:
                        # its rows here are of an identifier not at home here.
                        to = checks[record["id"]][1]
                        out.append(("skip", p, f"1\t{ident}"))
                    if to is not None and to != p:
                        handed[record["id"]] = to
                        out.append(("moved", bucket(record["id"], spec.r), f"{to}\t{record['id']}"))
                if to is not None and to != p:
                    out.append(("line", to, line))
        count(spec, "handed", p, started, records_handed_on=len(handed),
              corrections_handed_on=sum(1 for t in out if t[0] == "line") - len(handed))
        return grouped(out)

    return task


def score_task(spec, secret_name, rules_name):
    """Step 5, one person partition: take what was handed on, link and score."""

    def task(p, items):
        started = cpu_ms()
        lines, crosswalk, deltas = [], set(), {}
        for kind, text in unpacked(items):
            if kind == "line":
                lines.append(text)
            elif kind == "xw":
                crosswalk.add(text)
            else:
                change, ident = text.split("\t", 1)
                change = int(change)
                # An identifier that arrives here is at home whatever else says to skip it.
                deltas[ident] = min(deltas.get(ident, change), change)
        directory = spec.persons(p)
        os.makedirs(directory, exist_ok=True)
        ingest(spec, p, lines, "handed")
        if crosswalk:
            write_lines(os.path.join(directory, f"crosswalk-{spec.day}.jsonl"), sorted(crosswalk))
        skip = set(read_lines(os.path.join(directory, "skip.jsonl")))
        for ident, change in deltas.items():
            (skip.add if change > 0 else skip.discard)(identifier_json(ident))
        skip_path = spec.staged(f"persons/p{p:04d}.skip.jsonl")
        write_lines(skip_path, sorted(skip))
        scores_path = spec.staged(f"persons/p{p:04d}.scores.jsonl")
        db = os.path.join(directory, "ledger.db")
        if not os.path.exists(db):
            write_lines(scores_path, [])
            return []
        store = db + ".scoring"
        run_tool([spec.tool("tally-store"), "update-scoring", db])
        slices = slices_through(directory, spec.day)
        persons = os.path.join(directory, f"persons-{spec.day}.bin")
        earlier = sorted(f for f in glob.glob(os.path.join(directory, "persons-*.bin")) if os.path.basename(f) < os.path.basename(persons))
        previous = ["--previous", earlier[-1]] if earlier else []
        fold = ["--fold", os.path.join(directory, "crosswalk.fold")] if slices else []
        with private_secret(secret_name) as secret:
            run_tool([spec.tool("tally-link"), "--store", store, "--output", persons] + previous + fold +
                     ["--crosswalk"] + (slices or ["/dev/null"]) + ["--secret-file", secret])
        scores = run_tool([spec.tool("tally-score"), "--store", store, "--persons", persons, "--skip-identifiers", skip_path,
                           "--rules", SparkFiles.get(rules_name), "--as-of", spec.day, "--threads", "1"])
        write_lines(scores_path, scores)
        for old in earlier[:-1]:
            os.unlink(old)
        count(spec, "scored", p, started, scores=len(scores), identifiers_skipped=len(skip))
        return []

    return task


def directory_task(spec):
    """The night's changes to the record directory: what step 3 added and step 4 moved."""

    def task(r, items):
        changes = read_json(spec.staged(f"recs/r{r:04d}.added.json"), {})
        for _, text in unpacked(items):
            to, rid = text.split("\t", 1)
            changes[rid] = int(to)
        write_atomically(spec.staged(f"recs/r{r:04d}.changes.json"), json.dumps(changes, sort_keys=True))
        return []

    return task


def commit_task(spec):
    """Under the `committing` mark: one partition of each kind brought to the night's end.
    Each change is a write of a final value, so doing it again changes nothing."""

    def apply(staged, path, schema, table):
        """The staged {key: partition} changes written into `table`, in one transaction."""
        changes = read_json(staged, None)
        if changes is None:
            return None
        db = index_db(path, schema)
        with db:
            db.executemany(f"INSERT OR REPLACE INTO {table} VALUES (?, ?)", sorted(changes.items()))
        return db

    def task(i, _):
        if i < spec.m:
            db = apply(spec.staged(f"ids/q{i:04d}.homes.json"), os.path.join(spec.ids(i), "index.sqlite"), IDS_SCHEMA, "homes")
            if db:
                db.close()
        if i < spec.r:
            db = apply(spec.staged(f"recs/r{i:04d}.changes.json"), os.path.join(spec.recs(i), "directory.sqlite"), RECS_SCHEMA, "records")
            if db:
                with db:
                    db.execute("DELETE FROM pending")
                    db.executemany("INSERT INTO pending VALUES (?)", [(l,) for l in read_lines(spec.staged(f"recs/r{i:04d}.pending.jsonl"))])
                db.close()
        if i < spec.n:
            staged = spec.staged(f"persons/p{i:04d}.skip.jsonl")
            if os.path.exists(staged):
                os.replace(staged, os.path.join(spec.persons(i), "skip.jsonl"))
        return []

    return task


def commit_night(sc, spec, out_path):
    for p in range(spec.n):
        if not os.path.exists(spec.staged(f"persons/p{p:04d}.scores.jsonl")):
            raise StageFailed(f"the night of {spec.day} lacks the scores of person partition {p}")
    width = max(spec.n, spec.m, spec.r)
    sc.parallelize(range(width), width).mapPartitionsWithIndex(commit_task(spec)).count()
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for p in range(spec.n):
            with open(spec.staged(f"persons/p{p:04d}.scores.jsonl"), encoding="utf-8") as f:
                shutil.copyfileobj(f, out)
    os.replace(tmp, out_path)
    write_atomically(spec.staged("done"), out_path + "\n")


def incremental_night(args, sc, crosswalk_files, event_files, bindir):
    state = os.path.abspath(args.state)
    os.makedirs(state, exist_ok=True)
    config_path = os.path.join(state, "tally-state.json")
    wanted = {"format": STATE_FORMAT, "person_partitions": args.partitions,
              "identifier_partitions": args.identifier_partitions or args.partitions,
              "record_partitions": args.record_partitions or args.partitions}
    config = read_json(config_path, None)
    if config is None:
        write_atomically(config_path, json.dumps(wanted, sort_keys=True) + "\n")
        config = wanted
    elif config.get("format") != STATE_FORMAT:
        sys.exit(f"tally-spark: {state}: a state of format {config.get('format')}, not {STATE_FORMAT}")
    else:
        for key, flag in (("person_partitions", "--partitions"), ("identifier_partitions", "--identifier-partitions"), ("record_partitions", "--record-partitions")):
            given = wanted[key] if key == "person_partitions" else getattr(args, key)
            if given is not None and given != config[key]:
                sys.exit(f"tally-spark: {state} keeps {config[key]} {key.split('_')[0]} partitions, not {flag} {given}")
    spec = StateSpec(state, args.as_of, bindir, config["person_partitions"], config["identifier_partitions"], config["record_partitions"])
    nights_dir = os.path.join(state, "nights")
    for night in sorted(os.listdir(nights_dir)) if os.path.isdir(nights_dir) else []:
        done = os.path.exists(os.path.join(nights_dir, night, "done"))
        if night > args.as_of and done:
            sys.exit(f"tally-spark: {state} already holds the night of {night}, after {args.as_of}")
        if night != args.as_of and not done:
            sys.exit(f"tally-spark: the night of {night} was not finished: run it again, with the same feeds, before {args.as_of}")
    if os.path.exists(spec.staged("done")):
        sys.exit(f"tally-spark: the night of {args.as_of} is done (its scores went to {read_lines(spec.staged('done'))[0]})")
    # A night's feeds are fixed when it starts: run again, it takes the same files.
    files = sorted(crosswalk_files + event_files)
    digests = {}
    for path in files:
        with open(path, "rb") as f:
            digests[os.path.basename(path)] = hashlib.file_digest(f, "sha256").hexdigest()
    started = read_json(spec.staged("feeds.json"), None)
    if started is not None and started != digests:
        sys.exit(f"tally-spark: the night of {args.as_of} was started with other feeds ({', '.join(sorted(started))}): run it again with those")
    if started is None:
        write_atomically(spec.staged("feeds.json"), json.dumps(digests, sort_keys=True, indent=1) + "\n")
    if os.path.exists(spec.staged("committing")):
        commit_night(sc, spec, os.path.abspath(args.out))
        print(f"tally-spark: the night of {args.as_of} finished committing; scores in {args.out}", file=sys.stderr)
        return
    for sub in ("ids", "recs", "persons", "counts"):
        os.makedirs(spec.staged(sub), exist_ok=True)

    sc.addFile(os.path.abspath(args.secret))
    sc.addFile(os.path.abspath(args.rules))
    secret_name, rules_name = os.path.basename(args.secret), os.path.basename(args.rules)
    m, r, n = spec.m, spec.r, spec.n

    def identity(k):
        return k

    def to(kinds):
        """The (kind, destination, blob) elements of these kinds, keyed by destination."""
        return lambda rdd: rdd.filter(lambda t: t[0] in kinds).map(lambda t: (t[1], (t[0], t[2])))

    parsed_blobs = sc.parallelize(files, max(1, len(files))).mapPartitions(parse_task(spec, m, r)).cache()
    routed = (to(("ids",))(parsed_blobs).partitionBy(m, identity)
              .mapPartitionsWithIndex(identifier_task(spec, secret_name)).cache())
    placed = (to(("rec",))(routed).union(to(("recs",))(parsed_blobs)).partitionBy(r, identity)
              .mapPartitionsWithIndex(record_task(spec)))
    handed = (to(("line", "check"))(placed).union(to(("move",))(routed)).partitionBy(n, identity)
              .mapPartitionsWithIndex(hand_on_task(spec)).cache())
    to(("moved",))(handed).partitionBy(r, identity).mapPartitionsWithIndex(directory_task(spec)).count()
    (to(("line", "skip"))(handed).union(to(("xw", "skip"))(routed)).partitionBy(n, identity)
     .mapPartitionsWithIndex(score_task(spec, secret_name, rules_name)).count())
    write_atomically(spec.staged("committing"), "")
    commit_night(sc, spec, os.path.abspath(args.out))
    counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(night_counts(spec).items()))
    print(f"tally-spark: the night of {args.as_of}: {len(event_files)} feed files and {len(crosswalk_files)} crosswalk files "
          f"into {state} ({n} person, {m} identifier and {r} record partitions): {counts}; scores in {args.out}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--as-of", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--state", help="keep the history here between nights (a directory every executor sees at the same path), "
                    "partitioned by person; each night adds only the feeds given")
    ap.add_argument("--identifier-partitions", type=int, default=None, help="with a new --state: partitions of the crosswalk (default: --partitions)")
    ap.add_argument("--record-partitions", type=int, default=None, help="with a new --state: partitions of the record directory (default: --partitions)")
    ap.add_argument("--schemas", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "schemas", "feeds"),
                    help="the feed declarations (default: schemas/feeds in the source tree)")
    args = ap.parse_args()
    bindir = os.path.abspath(args.bin)

    spark = SparkSession.builder.appName("tally-nightly").getOrCreate()
    sc = spark.sparkContext
    feeds = declared_feeds(args.schemas)
    if not feeds:
        sys.exit(f"tally-spark: no feed declarations (NAME.feed.json) in {args.schemas}")
    names = sorted(f for f in os.listdir(args.feeds) if f.split("-")[0] in feeds and f[len(f.split("-")[0]) + 1:][:1].isdigit())
    paths = [os.path.abspath(os.path.join(args.feeds, f)) for f in names]
    crosswalk_files = [p for p in paths if os.path.basename(p).startswith("crosswalk-")]
    event_files = [p for p in paths if not os.path.basename(p).startswith("crosswalk-")]

    # One task per file: each partition holds one path, and the parse helper reads paths from
    # standard input, running tally-parse on each with the feed named by the file.
    parse = os.path.join(os.path.dirname(os.path.abspath(__file__)), "parse-files.sh")

    def parsed(files):
        if not files:
            return sc.emptyRDD()
        return sc.parallelize(files, len(files)).pipe(f"/bin/sh {parse} {bindir}", checkCode=True)

    if args.state:
        incremental_night(args, sc, crosswalk_files, event_files, bindir)
        spark.stop()
        return

    work = tempfile.mkdtemp(prefix="tally-spark-")
    sc.addFile(os.path.abspath(args.secret))
    sc.addFile(os.path.abspath(args.rules))
    secret_name = os.path.basename(args.secret)
    rules_name = os.path.basename(args.rules)

    def link(tagged):
        """One identifier partition: its slice of the crosswalk (tag 0) and its records (tag 1)."""
        fd, slice_path = tempfile.mkstemp(prefix="tally-crosswalk-", suffix=".jsonl")
        records = []
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for tag, line in tagged:
                if tag == 0:
                    out.write(line + "\n")
                else:
                    records.append(line)
        try:
            with private_secret(secret_name) as secret:
                return run_stage([f"{bindir}/tally-link", "--crosswalk", slice_path, "--secret-file", secret], records)
        finally:
            os.unlink(slice_path)

    crosswalk = parsed(crosswalk_files).map(lambda l: (identifier_of(l), (0, l)))
    events = parsed(event_files).map(lambda l: (identifier_of(l), (1, l)))
    linked = (crosswalk.union(events)
              .partitionBy(args.partitions)
              .values()
              .mapPartitions(link)
              .cache())
    corrections_file = os.path.join(work, "corrections.jsonl")
    with open(corrections_file, "w", encoding="utf-8") as out:
        for line in linked.filter(lambda l: '"kind":"correction.' in l).collect():
            out.write(line + "\n")
    sc.addFile(corrections_file)

    def score(lines):
        return run_stage([f"{bindir}/tally-score", "--rules", SparkFiles.get(rules_name), "--as-of", args.as_of,
                          "--corrections", SparkFiles.get("corrections.jsonl")], lines)

    scores = (linked.filter(lambda l: '"kind":"correction.' not in l)
              .map(lambda l: (person_of(l), l))
              .partitionBy(args.partitions)
              .values()
              .mapPartitions(score)
              .sortBy(person_of))
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        for line in scores.toLocalIterator():
            out.write(line + "\n")
    os.replace(tmp, args.out)
    print(f"tally-spark: {len(event_files)} feed files and {len(crosswalk_files)} crosswalk files in "
          f"{args.partitions} person partitions; scores in {args.out}", file=sys.stderr)
    spark.stop()
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
