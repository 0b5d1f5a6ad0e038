#!/usr/bin/env python3
"""Independent check of tally-link output against tally-synth's people.csv.

usage: check_links.py PEOPLE.csv SECRET_FILE CROSSWALK_DIR LINKED.jsonl [--conflict SCHEME:ID ...]

Recomputes every person key with Python's hmac from the secret, reads the crosswalk CSV files
with the csv module, and checks each linked record:
- a cn-rid subject is "direct", keyed by its own number;
- an identifier in the crosswalk (and not in conflict) is "crosswalk", keyed by the resident
  number people.csv says owns it;
- anything else (organisations, anonymous cards) is "unlinked", keyed by its own SCHEME:ID;
- no key is shared by two people (people.csv owners), and no unlinked key equals a person's.
Prints the counts by link; exits 1 with the first problems found.
"""
import csv, glob, hashlib, hmac, json, os, sys

people_csv, secret_file, crosswalk_dir, linked = sys.argv[1:5]
conflicts = set(sys.argv[sys.argv.index("--conflict") + 1:]) if "--conflict" in sys.argv else set()
secret = open(secret_file, "rb").read().rstrip(b"\r\n")

def key(canonical):
    return "p_" + hmac.new(secret, canonical.encode(), hashlib.sha256).hexdigest()[:32]

owner = {}  # (scheme, id) -> owner (a resident number, or the organisation's own code)
with open(people_csv, newline="", encoding="utf-8") as f:
    for row in csv.DictReader(f):
        owner[(row["scheme"], row["id"])] = row["person"]

crosswalk = {}
for path in sorted(glob.glob(os.path.join(crosswalk_dir, "crosswalk-*.csv"))):
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            crosswalk.setdefault((row["scheme"], row["id"]), set()).add(row["person"])

problems = []
counts = {"direct": 0, "crosswalk": 0, "unlinked": 0, "corrections": 0}
key_owners = {}
person_keys = set()
for n, line in enumerate(open(linked, encoding="utf-8"), 1):
    r = json.loads(line)
    if r["kind"].startswith("correction."):
        counts["corrections"] += 1
        if "person" in r or "link" in r:
            problems.append(f"line {n}: a correction was given a person")
        continue
    s = r["subject"]
    ident = (s["scheme"], s["id"])
    # Anonymous cards belong to nobody in people.csv: each is its own owner, and must stay so.
    who = owner.get(ident, f"anonymous {ident[0]}:{ident[1]}")
    if who.startswith("anonymous") and ident in crosswalk:
        problems.append(f"line {n}: the crosswalk names {ident}, which people.csv does not have")
    if s["scheme"] == "cn-rid":
        want_link, want_key = "direct", key("cn-rid:" + s["id"])
    elif ident in crosswalk and f"{ident[0]}:{ident[1]}" not in conflicts:
        persons = crosswalk[ident]
        if len(persons) != 1:
            problems.append(f"line {n}: {ident} is in conflict in the crosswalk but was not named as such")
            continue
        (rid,) = persons
        if rid != who:
            problems.append(f"line {n}: the crosswalk gives {ident} to {rid}, people.csv to {who}")
        want_link, want_key = "crosswalk", key("cn-rid:" + rid)
    else:
        want_link, want_key = "unlinked", key(f"{ident[0]}:{ident[1]}")
    counts[want_link] += 1
    if r.get("link") != want_link or r.get("person") != want_key:
        problems.append(f"line {n}: {ident} got link {r.get('link')} person {r.get('person')}, expected {want_link} {want_key}")
    key_owners.setdefault(r.get("person"), set()).add(who)
    if want_link != "unlinked":
        person_keys.add(r.get("person"))
    elif r.get("person") in person_keys:
        problems.append(f"line {n}: unlinked {ident} shares a key with a person")

for k, owners in key_owners.items():
    if len(owners) > 1:
        problems.append(f"key {k} is shared by {sorted(owners)}")
print(json.dumps(counts))
if problems:
    print("\n".join(problems[:20]))
    sys.exit(1)
