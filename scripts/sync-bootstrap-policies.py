#!/usr/bin/env python3
"""Copies docs/iam/deployer-*.json (the deploy role's managed policies, one
per concern) and planner.json into the bootstrap template, between its
`# BEGIN docs/iam/<name>` and `# END docs/iam/<name>` lines (JSON is YAML, so
the policy goes in as it is). The JSON files stay the one source: `make
test` fails while a copy differs, or while a deployer file has no block (a
new concern needs its AWS::IAM::ManagedPolicy and a place in DeployRole's
ManagedPolicyArns) or a block names a file that is gone
(tests/localstack/test_deploy_roles.py); run this after changing them.

    scripts/sync-bootstrap-policies.py           rewrite the template
    scripts/sync-bootstrap-policies.py --check   exit 1 if it is out of date
"""

import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEMPLATE = os.path.join(ROOT, "bootstrap", "github-deploy-role.yaml")
IAM = os.path.join(ROOT, "docs", "iam")
BLOCK = re.compile(r"^( *)# BEGIN (docs/iam/[a-z-]+\.json)\n.*?^ *# END \2\n", re.M | re.S)


def wanted():
    """The docs/iam files the bootstrap must hold: every deployer-*.json,
    planner.json and smoke.json (operator.json is for people, not the
    pipeline)."""
    names = [os.path.basename(p) for p in glob.glob(os.path.join(IAM, "deployer-*.json"))]
    names += ["planner.json", "smoke.json"]
    return sorted(f"docs/iam/{n}" for n in names)


def blocks(text):
    return [m.group(2) for m in BLOCK.finditer(text)]


def problems(text):
    """Blocks missing, repeated or naming no file."""
    have, want = blocks(text), wanted()
    out = [f"no '# BEGIN {n}' block" for n in want if n not in have]
    out += [f"'# BEGIN {n}' names no policy the pipeline holds" for n in sorted(set(have) - set(want))]
    out += [f"'# BEGIN {n}' is there {have.count(n)} times" for n in sorted(set(have)) if have.count(n) > 1]
    return out


def synced(text):
    def fill(m):
        indent, name = m.group(1), m.group(2)
        with open(os.path.join(ROOT, name)) as f:
            policy = f.read().rstrip("\n").split("\n")
        body = "".join(f"{indent}{line}\n" for line in policy)
        return f"{indent}# BEGIN {name}\n{body}{indent}# END {name}\n"

    wrong = problems(text)
    if wrong:
        sys.exit(f"{os.path.relpath(TEMPLATE, ROOT)}: " + "; ".join(wrong))
    return BLOCK.sub(fill, text)


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
