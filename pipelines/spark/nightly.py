"""tally on Apache Spark: the same stage executables, partitioned by person.

usage: spark-submit pipelines/spark/nightly.py --feeds DIR --bin DIR --rules FILE --secret FILE
           --as-of YYYY-MM-DD --out FILE [--partitions N]

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
import json
import os
import shutil
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


def private_copy(path):
    """SparkFiles copies are world-readable; tally-link refuses such a secret, so copy it 0600."""
    fd, copy = tempfile.mkstemp(prefix="tally-secret-")
    with os.fdopen(fd, "wb") as out, open(path, "rb") as src:
        shutil.copyfileobj(src, out)
    os.chmod(copy, stat.S_IRUSR | stat.S_IWUSR)
    return copy


def identifier_of(line):
    """The subject's scheme and id (a correction's subject is the record it corrects)."""
    subject = json.loads(line)["subject"]
    return subject.get("scheme", "") + ":" + subject.get("id", "")


def person_of(line):
    i = line.find('"person":"')
    return line[i + 10:i + 44] if i >= 0 else ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rules", required=True)
    ap.add_argument("--secret", required=True)
    ap.add_argument("--as-of", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--partitions", type=int, default=8)
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
        secret = private_copy(SparkFiles.get(secret_name))
        try:
            return run_stage([f"{bindir}/tally-link", "--crosswalk", slice_path, "--secret-file", secret], records)
        finally:
            os.unlink(secret)
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
