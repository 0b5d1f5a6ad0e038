#!/usr/bin/env python3
"""Independent oracle for tally's JSON Lines output.

usage: validate_jsonl.py SCHEMA IN.jsonl [OUT.jsonl]

Parses every line of IN with Python's json module (strict: no NaN, no duplicate keys) and validates
it against SCHEMA with the jsonschema package (Draft 2020-12, with format checks). With OUT, writes
each object back re-encoded by Python with ensure_ascii=True and keys in a different order, so
that tally's decoder can be tested on an encoder it does not share code with. Exit 0 when every
line is valid; 1 with the first problems otherwise.
"""
import json
import sys

import jsonschema


def no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key in {keys}")
    return dict(pairs)


def reject_constant(name):
    raise ValueError(f"non-standard constant {name}")


def main():
    schema_path, in_path = sys.argv[1], sys.argv[2]
    out_path = sys.argv[3] if len(sys.argv) > 3 else None
    with open(schema_path) as f:
        schema = json.load(f)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    problems = []
    count = 0
    out = open(out_path, "w", encoding="utf-8") if out_path else None
    with open(in_path, "rb") as f:
        for number, raw in enumerate(f, 1):
            count += 1
            try:
                text = raw.decode("utf-8")
                obj = json.loads(text, object_pairs_hook=no_duplicates, parse_constant=reject_constant)
            except ValueError as e:
                problems.append(f"line {number}: not JSON: {e}")
                continue
            for error in validator.iter_errors(obj):
                problems.append(f"line {number}: {error.json_path}: {error.message}")
            if out:
                out.write(json.dumps(obj, ensure_ascii=True, sort_keys=True) + "\n")
    if out:
        out.close()
    print(f"validate_jsonl: {count} lines, {len(problems)} problems")
    for p in problems[:20]:
        print("  " + p)
    return 1 if problems or count == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
