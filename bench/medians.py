#!/usr/bin/env python3
"""Prints command, median, min and max seconds (tab-separated) from a hyperfine JSON export."""
import json
import sys

for result in json.load(open(sys.argv[1]))["results"]:
    times = result["times"]
    print("\t".join([result["command"], f"{result['median']:.3f}", f"{min(times):.3f}", f"{max(times):.3f}"]))
