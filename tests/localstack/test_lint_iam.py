"""scripts/lint-iam.py: parliament's check over every IAM document the
project ships (`make lint-template` runs it) finds what is wrong, and the
repository's documents have no finding that docs/iam/lint-exceptions.yaml
does not justify."""

import importlib.util
import os

import iam_documents
import localservers

ROOT = localservers.ROOT


def lint_module():
    spec = importlib.util.spec_from_file_location("lint_iam", os.path.join(ROOT, "scripts", "lint-iam.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def issues(findings):
    return {(f.statement, f.issue) for f in findings}


def test_the_linter_complains_about_a_bad_policy():
    lint = lint_module()
    bad = {"Version": "2012-10-17", "Statement": [
        # No such action (the IAM prefix is right, the action is not).
        {"Sid": "Typo", "Effect": "Allow", "Action": "s3:GetObjects", "Resource": "arn:aws:s3:::b/*"},
        # PutPermission takes no resource: a bus ARN grants nothing (the defect the linter found).
        {"Sid": "BusPolicy", "Effect": "Allow", "Action": "events:PutPermission",
         "Resource": "arn:aws:events:*:*:event-bus/sentinel-*"},
        # An ARN-typed key compared as a string.
        {"Sid": "Triggers", "Effect": "Allow", "Action": "lambda:DeleteEventSourceMapping",
         "Resource": "arn:aws:lambda:*:*:event-source-mapping:*",
         "Condition": {"StringLike": {"lambda:FunctionArn": "arn:aws:lambda:*:*:function:x-*"}}},
        # A condition key the action does not take.
        {"Sid": "Keys", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:*:q",
         "Condition": {"StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}}},
        {"Sid": "Typo", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:*:*:q"},
    ]}
    found = issues(lint.findings_of(bad, "bad.json"))
    assert ("Typo", "UNKNOWN_ACTION") in found, found
    assert ("BusPolicy", "RESOURCE_MISMATCH") in found, found
    assert ("Triggers", "MISMATCHED_TYPE_BUT_USABLE") in found, found
    assert ("Keys", "UNKNOWN_CONDITION_FOR_ACTION") in found, found
    assert ("-", "DUPLICATE_SID") in found, found
    # A finding not in the exceptions fails; an exception matching nothing is stale.
    unjustified, ok, stale = lint.lint([("", iam_documents.Document("bad.json", "managed", bad))],
                                       [{"document": "bad.json", "statement": "Typo", "issue": "UNKNOWN_ACTION",
                                         "reason": "a test of the exceptions"},
                                        {"document": "gone.json", "statement": "X", "issue": "RESOURCE_STAR",
                                         "reason": "a test of stale entries"}])
    assert ("Typo", "UNKNOWN_ACTION") in issues(ok) and ("Typo", "UNKNOWN_ACTION") not in issues(unjustified)
    assert ("BusPolicy", "RESOURCE_MISMATCH") in issues(unjustified)
    assert [e["document"] for e in stale] == ["gone.json"]


def test_a_good_policy_has_no_finding():
    lint = lint_module()
    good = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Read", "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:Query"],
         "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/deploy-sentinel-dev"}]}
    assert lint.findings_of(good, "good.json") == []


def test_every_document_of_the_repository_passes():
    lint = lint_module()
    documents = iam_documents.every_document()
    linted = {d.where for _, d in documents if d.kind != "trust"}
    # The deployer's, operator's and planner's files, the function roles, the
    # reporter policy, the bus's, queues' and key's policies, the deploy roles'.
    for expected in ["docs/iam/operator.json", "docs/iam/deployer-data.json",
                     "template.yaml HealthCheckerRole least-privilege", "template.yaml ReporterPolicy",
                     "template.yaml SentinelBus Policy", "template.yaml AlertTopicKey KeyPolicy",
                     "bootstrap/github-deploy-role.yaml DeployerComputePolicy",
                     "bootstrap/github-deploy-role.yaml PlannerPolicy"]:
        assert expected in linted, expected
    assert any("QueuePolicy" in w for w in linted), linted
    unjustified, _, stale = lint.lint(documents, lint.load_exceptions())
    assert [str(f) for f in unjustified] == [], "run scripts/lint-iam.py"
    assert stale == [], "docs/iam/lint-exceptions.yaml has entries that match no finding"
