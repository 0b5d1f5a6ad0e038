#!/usr/bin/env python3
"""Oracle: validates each CSV file with Frictionless against the Table Schema of its feed (named
by the file's prefix) and prints one JSON line per file: {"file", "valid", "counts"}.

usage: table_oracle.py SCHEMAS_DIR FILE...

(Not named frictionless_*: Frictionless imports every such module on sys.path as a plugin.)
"""
import collections
import json
import os
import sys
import warnings

warnings.filterwarnings("ignore")
from frictionless import Resource, Schema, system  # noqa: E402

schemas_dir = sys.argv[1]
# Absolute paths are "not safe" to Frictionless unless the caller trusts them; these are ours.
with system.use_context(trusted=True):
    for path in sys.argv[2:]:
        feed = os.path.basename(path).split("-")[0]
        schema = Schema.from_descriptor(os.path.join(schemas_dir, f"{feed}.schema.json"))
        resource = Resource(path=os.path.abspath(path), schema=schema, format="csv",
                            encoding="utf-8-sig" if feed == "tax" else "utf-8")
        report = resource.validate()
        counts = collections.Counter(e.type for task in report.tasks for e in task.errors)
        print(json.dumps({"file": os.path.basename(path), "valid": report.valid, "counts": dict(counts)}))
