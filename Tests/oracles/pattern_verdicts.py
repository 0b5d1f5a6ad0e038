#!/usr/bin/env python3
"""Oracle for tally's pattern engine: reads JSON [{"p": pattern, "s": [strings]}, ...] on stdin
and prints one line per case: "E <message>" when Python's re refuses the pattern, "T" when
matching took longer than two seconds, else a string of 0/1 saying whether re.fullmatch accepts
each string (Frictionless's meaning of a Table Schema pattern).

re backtracks, and nested quantifiers can make it take exponentially long without ever checking
for signals, so each case runs in a worker process that is killed when it is too slow: such a
case has no verdict."""
import json
import re
import select
import subprocess
import sys
import warnings

LIMIT_SECONDS = 2.0


def verdict(case):
    try:
        compiled = re.compile(case["p"])
    except (re.error, OverflowError, RecursionError) as error:
        return "E " + str(error).replace("\n", " ")
    return "".join("1" if compiled.fullmatch(text) else "0" for text in case["s"])


def worker():
    warnings.simplefilter("ignore")  # FutureWarning on "possible nested set" and the like
    for line in sys.stdin:
        print(verdict(json.loads(line)), flush=True)


def start():
    return subprocess.Popen([sys.executable, __file__, "--worker"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)


def main():
    child = start()
    for case in json.load(sys.stdin):
        child.stdin.write(json.dumps(case) + "\n")
        child.stdin.flush()
        ready, _, _ = select.select([child.stdout], [], [], LIMIT_SECONDS)
        if ready:
            print(child.stdout.readline().rstrip("\n"))
        else:
            child.kill()
            child.wait()
            print("T")
            child = start()
    child.stdin.close()
    child.wait()


if __name__ == "__main__":
    worker() if sys.argv[1:] == ["--worker"] else main()
