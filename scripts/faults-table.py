#!/usr/bin/env python3
"""Prints the fault suite's figures (JSON lines written by `make faults`) as one table."""
import json
import sys


def cell(value, unit=""):
    return "-" if value is None else f"{value}{unit}"


def main(path):
    try:
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        rows = []
    if not rows:
        print(f"no fault figures in {path}: did the scenarios run?", file=sys.stderr)
        return 1
    print("| scenario | runs | lost | duplicated | rows lost | notifications lost | recovery time |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['scenario']} | {r['runs']} | {r['lost']} | {r['duplicated']} | "
            f"{cell(r['rows_lost'])} | {cell(r['notifications_lost'])} | {r['recovery_seconds']} s |"
        )
    scales = sorted({r.get("scale") for r in rows})
    print(f"\nscale: {', '.join(str(s) for s in scales)} of the full size")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "target/faults.jsonl"))
