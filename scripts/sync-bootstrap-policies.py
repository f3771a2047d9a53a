#!/usr/bin/env python3
"""Copies docs/iam/deployer.json and planner.json into the bootstrap
template, between its `# BEGIN docs/iam/<name>` and `# END docs/iam/<name>`
lines (JSON is YAML, so the policy goes in as it is). The JSON files stay
the one source: `make test` fails while the copy differs
(tests/localstack/test_deploy_pipeline.py); run this after changing them.

    scripts/sync-bootstrap-policies.py           rewrite the template
    scripts/sync-bootstrap-policies.py --check   exit 1 if it is out of date
"""

import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "bootstrap", "github-deploy-role.yaml")
BLOCK = re.compile(r"^( *)# BEGIN (docs/iam/[a-z-]+\.json)\n.*?^ *# END \2\n", re.M | re.S)


def synced(text):
    def fill(m):
        indent, name = m.group(1), m.group(2)
        with open(os.path.join(ROOT, name)) as f:
            policy = f.read().rstrip("\n").split("\n")
        body = "".join(f"{indent}{line}\n" for line in policy)
        return f"{indent}# BEGIN {name}\n{body}{indent}# END {name}\n"

    out, count = BLOCK.subn(fill, text)
    if count == 0:
        sys.exit(f"{TEMPLATE}: no '# BEGIN docs/iam/…' block")
    return out


def main():
    with open(TEMPLATE) as f:
        text = f.read()
    want = synced(text)
    if "--check" in sys.argv[1:]:
        if want != text:
            sys.exit(f"{os.path.relpath(TEMPLATE, ROOT)} differs from docs/iam: run scripts/sync-bootstrap-policies.py")
        return
    if want != text:
        with open(TEMPLATE, "w") as f:
            f.write(want)
        print(f"updated {os.path.relpath(TEMPLATE, ROOT)}")


if __name__ == "__main__":
    main()
