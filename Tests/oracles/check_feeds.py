#!/usr/bin/env python3
"""Independent oracle for tally-synth output.

Re-validates every row of every feed file in DIR by the rules of docs/feeds.md, using only Python's
standard library (csv, gzip, xml.parsers.expat, decimal) plus xmllint for the court XSD, and
checks that the rows it finds faulty are exactly those listed in DIR/truth.jsonl: same file, line
and field. It shares no code with tally. Exit 0 when they agree, 1 with a list of differences.

usage: check_feeds.py DIR --xsd schemas/feeds/court.xsd
"""
import argparse
import csv
import datetime
import gzip
import io
import json
import os
import re
import subprocess
import sys
import xml.parsers.expat
from decimal import Decimal, InvalidOperation

RID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
RID_CHECK = "10X98765432"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
TODAY = datetime.date.today()


def rid_ok(s):
    if not re.fullmatch(r"[0-9]{17}[0-9Xx]", s):
        return False
    try:
        born = datetime.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    if born > TODAY:
        return False
    total = sum(int(c) * w for c, w in zip(s[:17], RID_WEIGHTS))
    return RID_CHECK[total % 11] == s[17].upper()


def uscc_ok(s):
    if len(s) != 18 or any(c not in USCC_ALPHABET for c in s) or not s[2:8].isdigit():
        return False
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(s[:17], USCC_WEIGHTS))
    return USCC_ALPHABET[(31 - total % 31) % 31] == s[17]


def date_ok(s):
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", s):
        return False
    try:
        datetime.date.fromisoformat(s)
        return True
    except ValueError:
        return False


def local_time_ok(s):
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}", s):
        return False
    try:
        datetime.datetime.fromisoformat(s)
        return True
    except ValueError:
        return False


def rfc3339_ok(s):
    m = re.fullmatch(r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})", s)
    return bool(m) and local_time_ok(m.group(1))


def yuan_ok(s):
    if not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", s):
        return False
    try:
        return Decimal(s) >= 0
    except InvalidOperation:
        return False


def period_ok(s):
    return bool(re.fullmatch(r"[0-9]{4}-(0[1-9]|1[0-2])", s))


def int_ok(s):
    return bool(re.fullmatch(r"[0-9]+", s))


CSV_RULES = {
    "tax": {
        "record_no": lambda v, r: bool(v),
        "taxpayer_id": lambda v, r: rid_ok(v) if r["taxpayer_kind"] == "person" else uscc_ok(v),
        "taxpayer_kind": lambda v, r: v in ("person", "organisation"),
        "taxpayer_name": lambda v, r: bool(v),
        "tax_office": lambda v, r: bool(v),
        "period": lambda v, r: period_ok(v),
        "tax_type": lambda v, r: v in ("iit", "vat", "cit", "property", "other"),
        "due_date": lambda v, r: date_ok(v),
        "paid_date": lambda v, r: v == "" or date_ok(v),
        "amount_due": lambda v, r: yuan_ok(v),
        "amount_paid": lambda v, r: yuan_ok(v),
        "status": lambda v, r: v in ("paid", "late", "arrears", "evasion"),
    },
    "transit": {
        "event_id": lambda v, r: bool(v),
        "card_id": lambda v, r: bool(re.fullmatch(r"[0-9]{16}", v)),
        "rid": lambda v, r: v == "" or rid_ok(v),
        "line": lambda v, r: bool(v),
        "station_in": lambda v, r: bool(v),
        "station_out": lambda v, r: bool(v),
        "tap_in": lambda v, r: local_time_ok(v),
        "tap_out": lambda v, r: v == "" or local_time_ok(v),
        "fare_fen": lambda v, r: int_ok(v),
        "paid_fen": lambda v, r: int_ok(v),
        "flag": lambda v, r: v in ("", "fare-evasion", "turnstile-jump", "no-tap-out"),
    },
    "commerce": {
        "order_id": lambda v, r: bool(v),
        "account_id": lambda v, r: bool(re.fullmatch(r"A[0-9]{10}", v)),
        "rid": lambda v, r: v == "" or rid_ok(v),
        "placed_at": lambda v, r: rfc3339_ok(v),
        "category": lambda v, r: True,
        "amount": lambda v, r: yuan_ok(v),
        "payment": lambda v, r: v in ("on-time", "late", "default", "chargeback"),
        "device": lambda v, r: True,
    },
    "crosswalk": {
        "scheme": lambda v, r: v in ("transit-card", "shop-account"),
        "id": lambda v, r: bool(re.fullmatch(r"[0-9]{16}" if r["scheme"] == "transit-card" else r"A[0-9]{10}", v)),
        "person": lambda v, r: rid_ok(v),
    },
    "corrections": {
        "source": lambda v, r: v in ("court", "tax", "transit", "commerce"),
        "natural_key": lambda v, r: bool(v),
        "action": lambda v, r: v in ("dispute", "uphold", "retract", "reinstate"),
        "reason": lambda v, r: True,
        "decided_at": lambda v, r: rfc3339_ok(v),
    },
}


def read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)  # reads every member, as zcat does
    return raw


def check_csv(feed, name, data, found):
    if feed == "tax":
        text = data[3:].decode("utf-8") if data.startswith(b"\xef\xbb\xbf") else data.decode("gb18030")
    else:
        text = data.decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    rules = CSV_RULES[feed]
    assert header == list(rules), f"{name}: header {header}"
    rows = 0
    last_line = reader.line_num
    for record in reader:
        start = last_line + 1
        last_line = reader.line_num
        rows += 1
        if len(record) != len(header):
            found.add((name, start, "(row)"))
            continue
        row = dict(zip(header, record))
        for field, rule in rules.items():
            if not rule(row[field], row):
                found.add((name, start, field))
    return rows


def check_court(name, data, found, xsd):
    head = data[:200].decode("ascii", "replace")
    if 'encoding="GB18030"' in head:
        data = data.decode("gb18030").replace('encoding="GB18030"', 'encoding="UTF-8"', 1).encode("utf-8")
    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    ns = "urn:tally:feed:court:1 "
    state = {"stack": [], "text": "", "judgment": None, "rows": 0}

    def start(tag, attrs):
        state["stack"].append(tag)
        state["text"] = ""
        if tag == ns + "judgment":
            state["judgment"] = {"line": parser.CurrentLineNumber, "case": attrs.get("case", "")}
            state["rows"] += 1
        elif tag == ns + "debtor":
            state["judgment"]["kind"] = attrs.get("kind")
        elif tag == ns + "id":
            state["judgment"]["scheme"] = attrs.get("scheme")

    def chars(text):
        state["text"] += text

    def end(tag):
        state["stack"].pop()
        j = state["judgment"]
        local = tag[len(ns):]
        if j is not None and local != "judgment":
            j[local] = state["text"]
        if local == "judgment":
            line = j["line"]
            if j["scheme"] == "cn-rid" and not rid_ok(j["id"]) or j["scheme"] == "cn-uscc" and not uscc_ok(j["id"]):
                found.add((name, line, "debtor/id"))
            if "amount" in j and not yuan_ok(j["amount"]):
                found.add((name, line, "amount"))
            for field in ("filed", "published"):
                if not date_ok(j[field]):
                    found.add((name, line, field))
            if j["category"] not in ("dishonest-debtor", "consumption-restriction"):
                found.add((name, line, "category"))
            if j["status"] not in ("unperformed", "partially-performed", "performed", "revoked"):
                found.add((name, line, "status"))
            state["judgment"] = None

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    parser.Parse(data, True)
    # xmllint's verdict on the same bytes: schema-invalid exactly when we found an XSD-level fault.
    verdict = subprocess.run(["xmllint", "--noout", "--schema", xsd, "-"], input=data, capture_output=True)
    xsd_lines = {int(m) for m in re.findall(rb"^-:(\d+):", verdict.stderr, re.M)}
    return state["rows"], verdict.returncode, xsd_lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--xsd", required=True)
    args = ap.parse_args()
    truth = set()
    with open(os.path.join(args.dir, "truth.jsonl")) as f:
        for line in f:
            t = json.loads(line)
            truth.add((t["file"], t["line"], t["field"]))
    found = set()
    problems = []
    counts = {}
    for name in sorted(os.listdir(args.dir)):
        m = re.fullmatch(r"(court|tax|transit|commerce|crosswalk|corrections)-[0-9]{8}\.(csv|xml)(\.gz)?", name)
        if not m:
            continue
        path = os.path.join(args.dir, name)
        if name.endswith(".gz"):
            z = subprocess.run(["zcat", path], capture_output=True)
            if z.returncode != 0:
                problems.append(f"{name}: zcat failed: {z.stderr.decode()}")
        data = read_bytes(path)
        feed = m.group(1)
        if feed == "court":
            wf = subprocess.run(["xmllint", "--noout", "-"], input=data, capture_output=True)
            if wf.returncode != 0:
                problems.append(f"{name}: not well-formed for xmllint: {wf.stderr.decode()[:200]}")
            before = {f for f in found if f[0] == name}
            rows, xsd_status, xsd_lines = check_court(name, data, found, args.xsd)
            xsd_faults = {f for f in found if f[0] == name and f[2] != "debtor/id"} - before
            if (xsd_status == 0) != (not xsd_faults):
                problems.append(f"{name}: xmllint --schema exit {xsd_status}, oracle XSD-level faults {sorted(xsd_faults)}")
        else:
            rows = check_csv(feed, name, data, found)
        counts[feed] = counts.get(feed, 0) + rows
    for f in sorted(found - truth):
        problems.append(f"faulty but not in truth.jsonl: {f}")
    for f in sorted(truth - found):
        problems.append(f"in truth.jsonl but valid: {f}")
    print(f"check_feeds: {sum(counts.values())} rows in {len(counts)} feeds {counts}, {len(found)} faulty, {len(truth)} in truth")
    for p in problems[:50]:
        print("  " + p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
