#!/usr/bin/env python3
"""usage: section.py FILE NAME < text — replaces what stands between <!-- NAME:begin --> and
<!-- NAME:end --> in FILE with the text on standard input (appending the markers if missing)."""
import re
import sys

path, name = sys.argv[1], sys.argv[2]
body = sys.stdin.read().rstrip("\n")
text = open(path).read()
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
if begin not in text:
    text += f"\n{begin}\n{end}\n"
text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda m: f"{begin}\n{body}\n{end}", text, flags=re.S)
open(path, "w").write(text)
