#!/usr/bin/env python3
"""usage: spark-events.py EVENTLOG [--stages] — one Spark application's event log summed: shuffle
bytes written and read, records written to the shuffle (for Python, pickled batches), tasks, and
the tasks' executor run time (the JVM's view: for a Python task, the time until its worker
answered), as one JSON object. With --stages, a line for each stage instead: its id, name (the
call that made it), tasks, wall seconds from submission to completion, and summed executor run
seconds."""
import json
import sys

total = {"shuffle_bytes_written": 0, "shuffle_records_written": 0, "shuffle_bytes_read": 0, "tasks": 0, "executor_run_ms": 0}
stages = {}
with open(sys.argv[1], encoding="utf-8") as log:
    for line in log:
        event = json.loads(line)
        kind = event.get("Event")
        if kind == "SparkListenerStageCompleted":
            info = event["Stage Info"]
            s = stages.setdefault(info["Stage ID"], {"run_ms": 0, "tasks": 0})
            s["name"] = info.get("Stage Name", "")
            s["wall_s"] = (info.get("Completion Time", 0) - info.get("Submission Time", 0)) / 1000
        if kind != "SparkListenerTaskEnd":
            continue
        metrics = event.get("Task Metrics") or {}
        write = metrics.get("Shuffle Write Metrics") or {}
        read = metrics.get("Shuffle Read Metrics") or {}
        total["tasks"] += 1
        total["shuffle_bytes_written"] += write.get("Shuffle Bytes Written", 0)
        total["shuffle_records_written"] += write.get("Shuffle Records Written", 0)
        total["shuffle_bytes_read"] += read.get("Remote Bytes Read", 0) + read.get("Local Bytes Read", 0)
        total["executor_run_ms"] += metrics.get("Executor Run Time", 0)
        s = stages.setdefault(event["Stage ID"], {"run_ms": 0, "tasks": 0})
        s["run_ms"] += metrics.get("Executor Run Time", 0)
        s["tasks"] += 1
if "--stages" in sys.argv[2:]:
    for sid in sorted(stages):
        s = stages[sid]
        print(f"stage {sid}: {s.get('name', '?')}: {s['tasks']} tasks, {s.get('wall_s', 0):.1f} s, executors {s['run_ms'] / 1000:.1f} s")
else:
    print(json.dumps(total))
