#!/usr/bin/env python3
"""Writes a corpus of faulty feed files for the tally-validate oracle tests.

usage: make_faulty_feeds.py OUTDIR

CSV files (csv/FEED-NNN.csv): a few valid rows, then faults Frictionless can see, each kind alone
and then mixed, in feeds transit, commerce, crosswalk, corrections and tax (tax as UTF-8 with a
BOM). Every identifier is valid by checksum, so tally's own checks find nothing Frictionless
cannot: the two must agree on each file's verdict and on the count of each error code.
XML files (xml/court-NNN.xml): court documents each broken in one way the XSD can see; tally and
xmllint --schema must agree on the verdict. Deterministic: the same corpus every run.
"""
import os
import random
import sys

out = sys.argv[1]
os.makedirs(out + "/csv", exist_ok=True)
os.makedirs(out + "/xml", exist_ok=True)
rng = random.Random(2026)

FEEDS = {
    "transit": ("event_id,card_id,rid,line,station_in,station_out,tap_in,tap_out,fare_fen,paid_fen,flag",
                lambda i: f"E{i},80000000000{i:05d},11010519491231002X,3,0001,0002,2026-11-27T08:00:00,2026-11-27T08:31:00,500,200,fare-evasion"),
    "commerce": ("order_id,account_id,rid,placed_at,category,amount,payment,device",
                 lambda i: f'O{i},A01234{i:05d},,2026-11-27T13:45:10+08:00,"Home, Garden",12.50,late,"Pixel 7, ""Pro"""'),
    "crosswalk": ("scheme,id,person", lambda i: f"transit-card,80000000000{i:05d},11010519491231002X"),
    "corrections": ("source,natural_key,action,reason,decided_at",
                    lambda i: f"tax,TX{i},dispute,not mine,2026-11-27T10:00:00+08:00"),
    "tax": ("record_no,taxpayer_id,taxpayer_kind,taxpayer_name,tax_office,period,tax_type,due_date,paid_date,amount_due,amount_paid,status",
            lambda i: f"TX{i},11010519491231002X,person,张三,国家税务总局示例市税务局,2026-10,iit,2026-11-15,2026-11-10,1200.50,1200.50,paid"),
}

# Each fault turns a valid row (as a list of cells) into a faulty one: (feed, cell index, value).
CELL_FAULTS = {
    "transit": [(8, "12.5"), (8, "abc"), (9, "-5"), (6, "2026-02-30T08:00:00"), (7, "2026-11-27 08:00"), (10, "jump"),
                (1, "800000000000012"), (1, ""), (3, ""), (0, "")],
    "commerce": [(1, "B0123456789"), (3, "2026-11-27T13:45:10"), (5, "12.345"), (5, ""), (6, "sometimes")],
    "crosswalk": [(0, "library-card"), (2, "1101051949123100"), (2, "")],
    "corrections": [(2, "forgive"), (4, "yesterday"), (0, "library")],
    "tax": [(5, "2026-13"), (7, "2026-02-29"), (9, "12.345"), (12 - 1, "overdue"), (6, "vat-x"), (8, "2026-13-01")],
}

def rows_of(feed, n):
    header, make = FEEDS[feed]
    return header, [make(i).split(",") if '"' not in make(i) else None for i in range(n)]

def render(feed, header, lines, bom):
    text = "\n".join([header] + lines) + "\n"
    data = text.encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data

import csv, io
def cells(line):
    return next(csv.reader(io.StringIO(line)))
def join(cells_):
    s = io.StringIO()
    csv.writer(s, lineterminator="").writerow(cells_)
    return s.getvalue()

count = 0
def write(feed, header, lines):
    global count
    count += 1
    name = f"{out}/csv/{feed}-{count:03d}.csv"
    with open(name, "wb") as f:
        f.write(render(feed, header, lines, feed == "tax"))

for feed, (header, make) in FEEDS.items():
    valid = [make(i) for i in range(1, 6)]
    # Each cell fault alone.
    for index, value in CELL_FAULTS[feed]:
        row = cells(make(90))
        row[index] = value
        write(feed, header, valid + [join(row)])
    # Row-shape faults alone.
    write(feed, header, valid + [",".join(cells(make(91))[:2])])                     # missing cells
    write(feed, header, valid + [make(92) + ",x,y"])                                   # extra cells
    write(feed, header, valid[:2] + [""] + valid[2:])                                  # an empty line
    write(feed, header, valid + ["," * (len(header.split(",")) - 1)])                 # an all-empty row
    write(feed, header, valid + [valid[0]])                                            # a repeated key
    # Header faults: a renamed, a missing and an extra label (rows shaped to match the header).
    labels = header.split(",")
    write(feed, ",".join(labels[:1] + ["renamed"] + labels[2:]), valid)
    write(feed, ",".join(labels[:-1]), [join(cells(v)[:-1]) for v in valid])
    write(feed, header + ",bonus", [v + ",x" for v in valid])
    # Mixes: several faults of several kinds in one file.
    for k in range(3):
        lines = list(valid)
        for _ in range(rng.randint(3, 8)):
            i = rng.randrange(100, 999)
            row = cells(make(i))
            kind = rng.choice(["cell", "cell", "short", "long", "blank", "dup"])
            if kind == "cell":
                index, value = rng.choice(CELL_FAULTS[feed])
                row[index] = value
                lines.append(join(row))
            elif kind == "short":
                lines.append(join(row[: rng.randint(1, len(row) - 1)]))
            elif kind == "long":
                lines.append(join(row) + ",extra")
            elif kind == "blank":
                lines.append("")
            else:
                lines.append(rng.choice(valid))
        write(feed, header, lines)

court_ok = '''  <judgment case="(2026)浙0106执{n}号">
    <court code="330106">杭州市西湖区人民法院</court>
    <debtor kind="person"><name>张三</name><id scheme="cn-rid">11010519491231002X</id></debtor>
    <filed>2026-03-01</filed>
    <published>2026-11-27</published>
    <obligation>Repay &amp; pay costs.</obligation>
    <amount currency="CNY">12345.67</amount>
    <category>dishonest-debtor</category>
    <status>unperformed</status>
  </judgment>
'''
def court(body, root='<judgments xmlns="urn:tally:feed:court:1" generated="2026-11-27T23:00:00+08:00">', end="</judgments>"):
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + root + "\n" + body + end + "\n"
j = lambda n: court_ok.replace("{n}", str(n))
breaks = [
    lambda t: t.replace("<category>dishonest-debtor</category>", "<category>dishonest</category>"),
    lambda t: t.replace("<status>unperformed</status>", "<status>pending</status>"),
    lambda t: t.replace("<published>2026-11-27</published>", "<published>2026-02-30</published>"),
    lambda t: t.replace("<filed>2026-03-01</filed>", "<filed>March 1st</filed>"),
    lambda t: t.replace("12345.67", "12345.678"),
    lambda t: t.replace("12345.67", "-5.00"),
    lambda t: t.replace('currency="CNY"', 'currency="USD"'),
    lambda t: t.replace('    <category>dishonest-debtor</category>\n', ""),
    lambda t: t.replace("<status>unperformed</status>", "<status>unperformed</status><note>x</note>"),
    lambda t: t.replace('    <filed>2026-03-01</filed>\n    <published>2026-11-27</published>\n', '    <published>2026-11-27</published>\n    <filed>2026-03-01</filed>\n'),
    lambda t: t.replace('kind="person"', 'kind="robot"'),
    lambda t: t.replace('<judgment case="(2026)浙0106执', '<judgment number="'),
    lambda t: t.replace('code="330106"', 'code="3301"'),
    lambda t: t.replace("11010519491231002X", "1101051949123100"),
    lambda t: t.replace("<obligation>Repay &amp; pay costs.</obligation>", "<obligation></obligation>"),
    lambda t: t.replace('scheme="cn-rid"', 'scheme="passport"'),
    lambda t: t.replace("<name>张三</name>", ""),
    lambda t: t.replace("<amount", "<amount bonus=\"1\""),
]
n = 0
def write_xml(text):
    global n
    n += 1
    with open(f"{out}/xml/court-{n:03d}.xml", "w", encoding="utf-8") as f:
        f.write(text)
for b in breaks:
    write_xml(court(j(1) + b(j(2)) + j(3)))
write_xml(court(j(1) + j(2)).replace("</judgments>", ""))                                      # not well-formed
write_xml(court(j(1), root='<judgments xmlns="urn:example:other" generated="2026-11-27T23:00:00+08:00">'))  # another namespace
write_xml(court(j(1), root='<judgments xmlns="urn:tally:feed:court:1">'))                    # missing root attribute
write_xml(court(j(1), root='<judgments xmlns="urn:tally:feed:court:1" generated="yesterday">'))
write_xml(court(j(1) + breaks[0](j(2)) + breaks[2](j(3)) + breaks[4](j(4))))                 # a mix
write_xml(court(j(1) + j(2)))                                                                  # valid, for balance
write_xml(court(""))                                                                           # valid, empty
print(f"make_faulty_feeds: {count} CSV files, {n} XML files")
