#!/usr/bin/env python3
"""Writes what the local stack's GitHub emulator holds as "screens": the
markdown of the newest diagnosed failed check run and of the newest skipped
one, exactly as the alerter sent it, each under a header with the fields
GitHub shows beside it (name, conclusion, title, annotations). GitHub
renders the summary the same way on the commit's Checks tab.

    scripts/github-screens.py OUT_DIR     (GITHUB_API_URL from .local/env)

`make demo` runs it after its GitHub scenes (into .local/github-screens/);
docs/github/ holds a copy (docs/github.md, "Screens").
"""
import json
import os
import sys
import urllib.request


def state(url):
    with urllib.request.urlopen(f"{url}/_emulator/state", timeout=10) as r:
        return json.load(r)


def screen(run):
    out = run.get("output") or {}
    lines = [
        f"# {run['name']}",
        "",
        "| | |",
        "|---|---|",
        f"| repository | `{run['repo']}` |",
        f"| commit | `{run['head_sha'][:12]}` |",
        f"| status | {run['status']}, **{run.get('conclusion')}** |",
        f"| title | {out.get('title', '')} |",
        "",
        "<!-- Recorded by the local stack's GitHub emulator (scripts/github-screens.py). -->",
        "",
        out.get("summary") or "",
    ]
    notes = run.get("annotations") or []
    if notes:
        lines += ["", "---", "", f"**Annotations** ({len(notes)}):", ""]
        for a in notes:
            lines.append(f"- `{a['path']}` line {a['start_line']} ({a['annotation_level']}): {a['message']}")
    return "\n".join(lines).rstrip() + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    url = os.environ.get("GITHUB_API_URL")
    if not url:
        sys.exit("github-screens: GITHUB_API_URL is not set (source .local/env)")
    runs = state(url)["check_runs"]
    wanted = {
        "check-run-failed.md": lambda r: r.get("conclusion") == "failure"
        and "**Why:**" in ((r.get("output") or {}).get("summary") or ""),
        "check-run-skipped.md": lambda r: r.get("conclusion") == "skipped",
    }
    os.makedirs(sys.argv[1], exist_ok=True)
    missing = []
    for name, match in wanted.items():
        found = [r for r in runs if r.get("status") == "completed" and match(r)]
        if not found:
            missing.append(name)
            continue
        with open(os.path.join(sys.argv[1], name), "w") as f:
            f.write(screen(found[-1]))
        print(f"github-screens: {os.path.join(sys.argv[1], name)}")
    if missing:
        sys.exit(f"github-screens: no check run for {', '.join(missing)} in the emulator")


if __name__ == "__main__":
    main()
