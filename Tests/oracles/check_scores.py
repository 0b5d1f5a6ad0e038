#!/usr/bin/env python3
"""Independent re-computation of tally-score, from the rules file and the linked records.

usage: check_scores.py RULES.yaml AS_OF LINKED.jsonl SCORES.jsonl [EXPLAIN.jsonl]

Reads the rules with PyYAML, applies them in Python (its own date arithmetic, decay via
math.exp2, integer micro-points, round half to even, caps, clamp, tiers and the lowest tier's
precondition by decision-grade kind, the corrections' state machine with its dispute deadline)
and compares every person's score, tier, reasons (codes and points), record count and disputed,
lapsed and retracted ids with tally-score's output. With EXPLAIN.jsonl
(tally-explain --all --json) it also checks that each explanation's parts add up to its total
and its score, and that they match tally-score's. Prints counts; exits 1 on any difference.
"""
import collections, datetime, hashlib, json, math, sys
from decimal import Decimal
import yaml

rules_path, as_of_text, linked_path, scores_path = sys.argv[1:5]
explain_path = sys.argv[5] if len(sys.argv) > 5 else None
raw = open(rules_path, "rb").read()
rules = yaml.safe_load(raw)
digest = "sha256:" + hashlib.sha256(raw).hexdigest()
as_of = datetime.date.fromisoformat(as_of_text)
CST = datetime.timezone(datetime.timedelta(hours=8))
as_of_end = datetime.datetime.combine(as_of + datetime.timedelta(days=1), datetime.time(), CST)
MICRO = 1_000_000

def parse_at(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)

def half_even(micro):
    q, r = divmod(micro, MICRO)
    if r * 2 > MICRO or (r * 2 == MICRO and q % 2):
        q += 1
    return q

records, corrections = [], []
for line in open(linked_path, encoding="utf-8"):
    r = json.loads(line)
    (corrections if r["kind"].startswith("correction.") else records).append(r)

# Corrections, per record, in time order (ties: the later file, then the later line); those
# decided after the as-of day do not apply. A dispute opens on a record that counts and keeps its
# first day; the source's uphold or reinstate make the record count, retract takes it out. A
# dispute the source leaves undecided past the deadline day stops the record counting.
deadline = int(rules.get("dispute_deadline_days", 30))
by_target = collections.defaultdict(list)
for c in corrections:
    when = parse_at(c["at"])
    if when >= as_of_end:
        continue
    by_target[c["target"]].append((when, c["prov"]["file"], c["prov"]["line"], c["kind"].split(".", 1)[1]))
standing = {}
for target, decisions in by_target.items():
    state, filed = "normal", None
    for when, _, _, action in sorted(set(decisions)):
        if action == "dispute":
            if state == "normal":
                state, filed = "disputed", when.astimezone(CST).date()
        elif action == "retract":
            state = "retracted"
        else:
            state = "normal"
    if state == "disputed" and as_of > filed + datetime.timedelta(days=deadline):
        state = "lapsed"
    standing[target] = state

kinds = rules["kinds"]
people = collections.defaultdict(lambda: {"records": 0, "sums": collections.Counter(), "lowest": False, "harm": collections.defaultdict(list),
                                          "disputed": [], "lapsed": [], "retracted": []})
decision_grade = set(rules["lowest_tier"]["decision_grade"])
for r in records:
    at = parse_at(r["at"])
    if at >= as_of_end:
        continue
    p = people[r["person"]]
    p["records"] += 1
    rule = kinds.get(r["kind"])
    st = standing.get(r["id"], "normal")
    if st == "retracted":
        p["retracted"].append(r["id"])
        continue
    if rule is None:
        continue
    if st in ("disputed", "lapsed"):
        p[st].append(r["id"])
    if st == "lapsed":
        continue
    expires_on = at.astimezone(CST).date() + datetime.timedelta(days=rule["expire_days"])
    if as_of >= expires_on:
        continue
    points = float(rule["points"])
    if "per_yuan" in rule and "amount_fen" in r:
        part = r["amount_fen"] / 100 * float(rule["per_yuan"])
        points += min(max(part, -float(rule["per_yuan_limit"])), float(rule["per_yuan_limit"]))
    age = (as_of_end - at).total_seconds() / 86400
    micro = round(points * math.exp2(-(age / float(rule["half_life_days"]))) * MICRO)
    p["sums"][r["kind"]] += micro
    if micro < 0:
        p["harm"][r["kind"]].append(r["id"])
        if st != "disputed" and r["kind"] in decision_grade:
            p["lowest"] = True

tiers = rules["tiers"]
expected = {}
for person, p in people.items():
    total = rules["score"]["base"] * MICRO
    harms = []
    for kind, s in p["sums"].items():
        cap = round(float(kinds[kind]["cap"]) * MICRO)
        capped = min(max(s, -cap), cap)
        total += capped
        if capped < 0:
            harms.append((capped, kind))
    score = min(max(half_even(total), rules["score"]["min"]), rules["score"]["max"])
    tier = next(i for i, t in enumerate(tiers) if t["from"] <= score <= t["to"])
    if tier == 0 and not p["lowest"]:
        tier = 1
    reasons = [(k, half_even(m)) for m, k in sorted(harms) if half_even(m) < 0][:4]
    expected[person] = (score, tiers[tier]["name"], reasons, p["records"], sorted(p["disputed"]), sorted(p["lapsed"]), sorted(p["retracted"]))

problems = []
got = {}
for line in open(scores_path, encoding="utf-8"):
    s = json.loads(line)
    got[s["person"]] = s
    if s["rules"] != digest or s["as_of"] != as_of_text:
        problems.append(f"{s['person']}: rules {s['rules']} / as_of {s['as_of']}")
    want = expected.get(s["person"])
    have = (s["score"], s["tier"], [(r["code"], r["points"]) for r in s["reasons"]], s["records"],
            s.get("disputed", []), s.get("lapsed", []), s.get("retracted", []))
    if want != have:
        problems.append(f"{s['person']}: tally-score {have}, oracle {want}")
if set(got) != set(expected):
    problems.append(f"people differ: {len(set(got) ^ set(expected))}")
tier_counts = collections.Counter(s["tier"] for s in got.values())

explained = 0
if explain_path:
    for line in open(explain_path, encoding="utf-8"):
        e = json.loads(line, parse_float=Decimal)
        explained += 1
        parts = sum((r["after_cap"] for r in e["records"] if r["standing"] in ("counted", "disputed")), Decimal(0))
        if Decimal(e["base"]) + parts != e["total"]:
            problems.append(f"{e['person']}: base + parts = {Decimal(e['base']) + parts}, total says {e['total']}")
        micro = int(e["total"] * MICRO)
        score = min(max(half_even(micro), rules["score"]["min"]), rules["score"]["max"])
        s = got.get(e["person"])
        if score != e["score"] or s is None or (s["score"], s["tier"]) != (e["score"], e["tier"]):
            problems.append(f"{e['person']}: explanation {e['score']} {e['tier']}, tally-score {s and (s['score'], s['tier'])}")
    if explained != len(got):
        problems.append(f"{explained} explanations for {len(got)} scores")

states = collections.Counter(standing.values())
print(json.dumps({"people": len(got), "tiers": tier_counts, "explained": explained, "corrections": len(corrections), "standing": states}))
if problems:
    print("\n".join(problems[:20]))
    sys.exit(1)
