#!/usr/bin/env python3
"""Oracle for tally's Table Schema patterns: reads JSON {"patterns": [...], "inputs": [...]} on
stdin and prints, for each pattern, a line of 0/1: whether Python's re.fullmatch accepts each
input (Frictionless checks patterns the same way)."""
import json
import re
import sys

job = json.load(sys.stdin)
for pattern in job["patterns"]:
    compiled = re.compile(pattern)
    print("".join("1" if compiled.fullmatch(text) else "0" for text in job["inputs"]))
