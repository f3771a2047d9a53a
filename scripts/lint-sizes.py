#!/usr/bin/env python3
"""Fails on a source file over 600 lines (`make lint`), tables excepted.

A file that long holds more than one concern: split it by concern, a
folder with one file each (docs/architecture.md). A table (data, one entry
after another, read as a list) may stay long; it is named in TABLES with
why. Reads the files git tracks, by their ending; prints each file over the
limit with its count, and exits 1 if there is one.
Usage: scripts/lint-sizes.py [--limit N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

LIMIT = 600
SOURCE = (".rs", ".py", ".sh", ".js", ".cjs", ".mjs", ".ts")

# path -> why it may be longer: only tables, never code.
TABLES = {
    "shared/src/diagnose/catalogue.rs": "the failure catalogue: one Rule after another",
}


def tracked(root: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True)
    return [p for p in out.stdout.splitlines() if p.endswith(SOURCE)]


def too_long(root: Path, limit: int) -> list[tuple[str, int]]:
    found = []
    for rel in tracked(root):
        path = root / rel
        if rel in TABLES or not path.is_file():
            continue
        with path.open("rb") as f:
            lines = sum(1 for _ in f)
        if lines > limit:
            found.append((rel, lines))
    return sorted(found, key=lambda x: -x[1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=LIMIT)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    found = too_long(args.root, args.limit)
    for rel, lines in found:
        print(f"{rel}: {lines} lines (limit {args.limit}): split it by concern")
    stale = [t for t in TABLES if not (args.root / t).is_file()]
    for t in stale:
        print(f"scripts/lint-sizes.py: TABLES names {t}, which is gone")
    if found or stale:
        return 1
    print(f"no source file over {args.limit} lines (tables excepted: {len(TABLES)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
