#!/usr/bin/env python3
"""Lints every IAM policy the project ships with parliament (PyPI, offline:
it bundles the IAM definition of AWS's actions, resource ARN formats and
condition keys; docs/iam/README.md, "Linting"): docs/iam/*.json, and
template.yaml's and bootstrap/github-deploy-role.yaml's identity and
resource policies (the function roles' inline policies, ReporterPolicy, the
bus, queue and key policies, the deploy roles' policies) with their
intrinsic functions resolved for an account (aws, us-east-1, 123456789012)
under each parameter set of tests/localstack/iam_documents.py (the
defaults, every optional part on, an adopted table, GitHub on by an App
and by a token; both bootstrap
variants), so each !If is taken both ways where it matters. Trust policies
are not linted: parliament reads every statement as needing a Resource;
tests/localstack/test_deploy_roles.py checks them.

Prints each finding with its document and statement; exits 1 on a finding
that docs/iam/lint-exceptions.yaml does not justify, or on an exception that
no longer matches a finding.

    scripts/lint-iam.py
"""

import fnmatch
import json
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "localstack"))

import iam_documents  # noqa: E402
from parliament import analyze_policy_string  # noqa: E402

EXCEPTIONS = os.path.join(ROOT, "docs", "iam", "lint-exceptions.yaml")
# Findings about the policy as a whole rather than one statement.
POLICY_LEVEL = {"MALFORMED_JSON", "DUPLICATE_SID", "NO_VERSION", "INVALID_VERSION", "OLD_VERSION", "EXCEPTION"}


class Finding:
    def __init__(self, document, variant, statement, issue, detail):
        self.document, self.variant, self.statement, self.issue, self.detail = (
            document, variant, statement, issue, detail)

    def key(self):
        return (self.document, self.statement, self.issue, self.detail)

    def __str__(self):
        where = f"{self.document} [{self.variant}]" if self.variant else self.document
        return f"{where} {self.statement}: {self.issue} {self.detail}"


def findings_of(policy, document, variant=""):
    """parliament's findings on a policy: one analysis per statement (so
    each finding names its statement) and one of the whole for what only
    the whole shows (a repeated Sid, the Version)."""
    out = []
    for i, statement in enumerate(policy.get("Statement", [])):
        sid = statement.get("Sid", f"#{i}")
        single = {"Version": policy.get("Version"), "Statement": [statement]}
        for f in analyze_policy_string(json.dumps(single)).findings:
            if f.issue not in POLICY_LEVEL:
                out.append(Finding(document, variant, sid, f.issue, json.dumps(f.detail, default=str, sort_keys=True)))
    for f in analyze_policy_string(json.dumps(policy)).findings:
        if f.issue in POLICY_LEVEL:
            out.append(Finding(document, variant, "-", f.issue, json.dumps(f.detail, default=str, sort_keys=True)))
    return out


def load_exceptions(path=EXCEPTIONS):
    with open(path) as f:
        entries = yaml.safe_load(f) or []
    for e in entries:
        if set(e) != {"document", "statement", "issue", "reason"} or len(str(e["reason"]).split()) < 4:
            sys.exit(f"{os.path.relpath(path, ROOT)}: each exception names document, statement, issue and a reason: {e}")
    return entries


def justified(finding, exceptions):
    return [e for e in exceptions if fnmatch.fnmatchcase(finding.document, e["document"])
            and e["statement"] == finding.statement and e["issue"] == finding.issue]


def lint(documents, exceptions):
    """(unjustified findings, justified findings, stale exceptions)."""
    seen, unjustified, ok = set(), [], []
    used = set()
    for variant, d in documents:
        if d.kind == "trust":
            continue
        for f in findings_of(d.policy, d.where, variant):
            if f.key() in seen:
                continue
            seen.add(f.key())
            matches = justified(f, exceptions)
            used.update(id(e) for e in matches)
            (ok if matches else unjustified).append(f)
    stale = [e for e in exceptions if id(e) not in used]
    return unjustified, ok, stale


def main():
    exceptions = load_exceptions()
    unjustified, ok, stale = lint(iam_documents.every_document(), exceptions)
    for f in ok:
        print(f"justified: {f}")
    for f in unjustified:
        print(f"FINDING: {f}")
    for e in stale:
        print(f"STALE EXCEPTION (matches no finding): {e['document']} {e['statement']} {e['issue']}")
    if unjustified or stale:
        print(f"lint-iam: {len(unjustified)} finding(s) not justified in {os.path.relpath(EXCEPTIONS, ROOT)}, "
              f"{len(stale)} stale exception(s)")
        return 1
    print(f"lint-iam: no unjustified finding ({len(ok)} justified)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
