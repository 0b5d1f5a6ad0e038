#!/usr/bin/env python3
"""Times commands interleaved (A, B, A, B, ...) and reports each one's median and the median of
the per-round ratios to the first command. On a shared, noisy machine load drifts over minutes;
running all of A's runs and then all of B's lets that drift decide the ratio, interleaving does not.

usage: paired.py ROUNDS 'command A' 'command B' ...   (prints a Markdown table)
"""
import statistics
import subprocess
import sys
import time

rounds = int(sys.argv[1])
commands = sys.argv[2:]
times = {c: [] for c in commands}
for _ in range(rounds):
    for c in commands:
        start = time.perf_counter()
        subprocess.run(c, shell=True, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times[c].append(time.perf_counter() - start)
base = commands[0]
print("| command | median s | min s | max s | median ratio to the first, per round |")
print("|---|---|---|---|---|")
for c in commands:
    ratios = [t / b for t, b in zip(times[c], times[base])]
    name = c.replace("|", "\\|")
    print(f"| `{name}` | {statistics.median(times[c]):.3f} | {min(times[c]):.3f} | {max(times[c]):.3f} | {statistics.median(ratios):.2f} |")
