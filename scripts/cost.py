#!/usr/bin/env python3
"""What Deploy Sentinel costs an adopter, from the template and the code.

Reads `template.yaml` (alarms, dashboard, KMS keys, queues, schedules,
memory sizes, parameter defaults) and `docs/metrics-emitted.json` (every
custom metric the code emits per `EventMetrics` level; a Rust test keeps it
true), and prints the adopter's tables: the fixed cost per environment at
the default settings, what opting in to per-event metrics or to GitHub
costs (GitHub: per build only, it has no fixed part), and the cost per
build.

    .venv/bin/python scripts/cost.py            # print the tables
    .venv/bin/python scripts/cost.py --write    # put them into docs/cost.md
    .venv/bin/python scripts/cost.py --check    # exit 1 if docs/cost.md differs

`tests/localstack/test_cost.py` runs the check and holds the default fixed
cost per environment to at most $5 a month.
"""

# The tables are computed by the package costing/ beside this file (prices,
# the template, consistency, pricing, report); this file prints or writes them.

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # costing/, also when loaded by a test

from costing.consistency import check_consistency  # noqa: E402
from costing.prices import LEVELS  # noqa: E402,F401 (the tests read it here)
from costing.pricing import github, metric_months  # noqa: E402,F401 (the tests read them here)
from costing.report import report  # noqa: E402
from costing.template import MANIFEST, ROOT, alarms, github_events, load_template  # noqa: E402,F401


DOC = ROOT / "docs" / "cost.md"
BEGIN = "<!-- scripts/cost.py: begin (generated; edit the script, then --write) -->"
END = "<!-- scripts/cost.py: end -->"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="update docs/cost.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/cost.md is not up to date")
    args = parser.parse_args()
    template = load_template()
    manifest = json.loads(MANIFEST.read_text())
    problems = check_consistency(template, manifest)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    text, _ = report(template, manifest)
    if not (args.write or args.check):
        print(text, end="")
        return 0
    doc = DOC.read_text()
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < 0:
        print(f"{DOC}: no {BEGIN!r} … {END!r} section", file=sys.stderr)
        return 1
    updated = doc[: start + len(BEGIN)] + "\n" + text + doc[end:]
    if args.check:
        if updated != doc:
            print(f"{DOC} is out of date: run scripts/cost.py --write", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
