"""docs/iam/*.json are IAM policies a team can paste: the grammar IAM
accepts, actions that exist (botocore's service models, offline), the
deployer's covering every resource type the template creates, the operator's
read-only statements reading only."""

import fnmatch
import gzip
import json
import os
import re

import botocore
import pytest

import localservers
from test_cloudformation import expanded_template

ROOT = localservers.ROOT
IAM = os.path.join(ROOT, "docs", "iam")
MODELS = os.path.join(os.path.dirname(botocore.__file__), "data")

# Actions IAM knows that are no API operation, so botocore cannot vouch for
# them (the Service Authorization Reference lists each).
PERMISSION_ONLY = {
    "iam:PassRole": "lets CloudFormation hand a role to Lambda",
    "s3:ListBucket": "ListObjects/ListObjectsV2",
    "s3:GetObjectVersion": "GetObject with a versionId",
    "s3:PutEncryptionConfiguration": "PutBucketEncryption",
    "s3:PutBucketPublicAccessBlock": "PutPublicAccessBlock on a bucket",
}

# What CloudFormation calls to create, change and delete each resource type
# the expanded template holds (at least these; deployer.json may allow more).
# A type the template gains fails the test until it is added here and to
# deployer.json.
NEEDS = {
    "AWS::DynamoDB::Table": ["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable",
                             "dynamodb:UpdateTimeToLive", "dynamodb:UpdateContinuousBackups",
                             "dynamodb:TagResource"],
    # PutPermission/RemovePermission: the bus's Policy (who may publish).
    "AWS::Events::EventBus": ["events:CreateEventBus", "events:DescribeEventBus", "events:DeleteEventBus",
                              "events:PutPermission", "events:RemovePermission"],
    "AWS::Events::Rule": ["events:PutRule", "events:DescribeRule", "events:PutTargets",
                          "events:RemoveTargets", "events:DeleteRule"],
    "AWS::Events::Archive": ["events:CreateArchive", "events:DescribeArchive", "events:UpdateArchive",
                             "events:DeleteArchive"],
    "AWS::KMS::Key": ["kms:CreateKey", "kms:PutKeyPolicy", "kms:EnableKeyRotation", "kms:DescribeKey",
                      "kms:TagResource", "kms:ScheduleKeyDeletion"],
    "AWS::KMS::Alias": ["kms:CreateAlias", "kms:UpdateAlias", "kms:DeleteAlias", "kms:ListAliases"],
    "AWS::SNS::Topic": ["sns:CreateTopic", "sns:SetTopicAttributes", "sns:GetTopicAttributes",
                        "sns:TagResource", "sns:DeleteTopic"],
    "AWS::SNS::Subscription": ["sns:Subscribe", "sns:GetSubscriptionAttributes", "sns:Unsubscribe"],
    "AWS::SQS::Queue": ["sqs:CreateQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes",
                        "sqs:TagQueue", "sqs:DeleteQueue"],
    "AWS::SQS::QueuePolicy": ["sqs:SetQueueAttributes"],
    "AWS::Lambda::Function": ["lambda:CreateFunction", "lambda:GetFunction", "lambda:UpdateFunctionCode",
                              "lambda:UpdateFunctionConfiguration", "lambda:TagResource",
                              "lambda:DeleteFunction", "iam:PassRole", "s3:GetObject"],
    "AWS::Lambda::EventSourceMapping": ["lambda:CreateEventSourceMapping", "lambda:GetEventSourceMapping",
                                        "lambda:UpdateEventSourceMapping", "lambda:DeleteEventSourceMapping"],
    "AWS::IAM::ManagedPolicy": ["iam:CreatePolicy", "iam:GetPolicy", "iam:CreatePolicyVersion",
                                "iam:DeletePolicyVersion", "iam:ListPolicyVersions", "iam:DeletePolicy"],
    "AWS::IAM::Role": ["iam:CreateRole", "iam:GetRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                       "iam:TagRole", "iam:DeleteRole"],
    "AWS::Logs::LogGroup": ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:DescribeLogGroups",
                            "logs:DeleteLogGroup"],
    "AWS::CloudWatch::Alarm": ["cloudwatch:PutMetricAlarm", "cloudwatch:DescribeAlarms", "cloudwatch:DeleteAlarms"],
    "AWS::CloudWatch::Dashboard": ["cloudwatch:PutDashboard", "cloudwatch:GetDashboard",
                                   "cloudwatch:DeleteDashboards"],
}

# `sam deploy --config-env X` itself (resolve_s3: SAM's managed stack and bucket).
SAM_DEPLOY = ["cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
              "cloudformation:ExecuteChangeSet", "cloudformation:DescribeStacks",
              "cloudformation:DescribeStackEvents", "cloudformation:GetTemplateSummary",
              "s3:CreateBucket", "s3:PutObject", "s3:GetObject"]

READ_VERBS = ("Describe", "Get", "List", "Query", "Scan", "BatchGet")
# Reads that touch: `sentinel dlq show` receives each message (hidden for a
# moment) and gives it back at once; it deletes and sends nothing.
READS_THAT_HIDE_A_MOMENT = {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"}


def load(name):
    with open(os.path.join(IAM, name)) as f:
        return json.load(f)


def as_list(value):
    return value if isinstance(value, list) else [value]


def allowed(policy):
    return [a for s in policy["Statement"] if s["Effect"] == "Allow" for a in as_list(s["Action"])]


_operations = {}


def operations(prefix):
    """The operations of every botocore model whose directory, signingName or
    endpointPrefix is this IAM prefix (their newest API version)."""
    if not _operations:
        for service in os.listdir(MODELS):
            if not os.path.isdir(os.path.join(MODELS, service)):
                continue
            versions = sorted(v for v in os.listdir(os.path.join(MODELS, service))
                              if os.path.isdir(os.path.join(MODELS, service, v)))
            if not versions:
                continue
            base = os.path.join(MODELS, service, versions[-1], "service-2.json")
            if os.path.exists(base + ".gz"):
                with gzip.open(base + ".gz", "rt") as f:
                    model = json.load(f)
            elif os.path.exists(base):
                with open(base) as f:
                    model = json.load(f)
            else:
                continue
            meta = model["metadata"]
            for name in {service, meta.get("signingName"), meta.get("endpointPrefix")} - {None}:
                _operations.setdefault(name, set()).update(model["operations"])
    return _operations.get(prefix, set())


def action_exists(action):
    prefix, _, op = action.partition(":")
    if action in PERMISSION_ONLY:
        return True
    ops = operations(prefix)
    return bool(ops) and any(fnmatch.fnmatchcase(o, op) for o in ops)


def grants(policy, action):
    return any(fnmatch.fnmatchcase(action, pattern) for pattern in allowed(policy))


@pytest.mark.parametrize("name", ["deployer.json", "operator.json", "planner.json"])
def test_each_file_is_an_iam_policy(name):
    policy = load(name)
    assert set(policy) == {"Version", "Statement"}, name
    assert policy["Version"] == "2012-10-17"
    assert isinstance(policy["Statement"], list) and policy["Statement"]
    sids = [s.get("Sid") for s in policy["Statement"]]
    assert len(sids) == len(set(sids)), f"{name}: a Sid is repeated"
    for s in policy["Statement"]:
        where = f"{name} {s.get('Sid')}"
        assert set(s) <= {"Sid", "Effect", "Action", "Resource", "Condition"}, where
        assert re.fullmatch(r"[A-Za-z0-9]+", s["Sid"]), f"{where}: IAM takes only letters and digits in a Sid"
        assert s["Effect"] in ("Allow", "Deny"), where
        actions, resources = as_list(s["Action"]), as_list(s["Resource"])
        assert actions and resources, where
        assert len(actions) == len(set(actions)), f"{where}: an action is repeated"
        services = {a.split(":")[0] for a in actions}
        for a in actions:
            assert re.fullmatch(r"[a-z0-9-]+:[A-Za-z0-9*]+", a), f"{where}: {a!r} is not service:Action"
        for r in resources:
            m = re.fullmatch(r"arn:aws:([a-z0-9-]+):[a-z0-9-*]*:(\d{12}|\*|aws)?:.+", r)
            assert r == "*" or (m and m.group(1) in services), f"{where}: {r!r} is no ARN of {services}"
    # A managed policy holds at most 6 144 characters, whitespace aside.
    assert len(re.sub(r"\s", "", json.dumps(policy))) <= 6144, f"{name} is too long for a managed policy"


@pytest.mark.parametrize("name", ["deployer.json", "operator.json", "planner.json"])
def test_every_action_exists(name):
    missing = [a for a in allowed(load(name)) if not action_exists(a)]
    assert not missing, f"{name}: no such action in botocore's models: {missing}"


def test_the_existence_check_can_say_no():
    assert action_exists("dynamodb:PutItem") and action_exists("events:PutEvents")
    assert action_exists("cloudwatch:PutMetricAlarm") and action_exists("logs:Create*")
    assert not action_exists("dynamodb:PutItems")
    assert not action_exists("eventbridge:PutEvents")  # the IAM prefix is events


def test_the_deployer_covers_every_resource_type_of_the_template(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    expanded, _ = expanded_template("aws-sam-cli-managed-default-samclisourcebucket-x")
    types = {r["Type"] for r in expanded["Resources"].values()}
    unknown = sorted(types - set(NEEDS))
    assert not unknown, f"the template now creates {unknown}: add what they need to NEEDS and docs/iam/deployer.json"
    deployer = load("deployer.json")
    lacking = {t: [a for a in NEEDS[t] if not grants(deployer, a)] for t in sorted(types)}
    lacking = {t: a for t, a in lacking.items() if a}
    assert not lacking, f"docs/iam/deployer.json lacks {lacking}"
    assert [a for a in SAM_DEPLOY if not grants(deployer, a)] == []


def test_the_operators_read_only_statements_only_read():
    statements = load("operator.json")["Statement"]
    kinds = {s["Sid"].startswith(("ReadOnly", "Acting")) for s in statements}
    assert kinds == {True}, "every operator Sid starts with ReadOnly or Acting"
    for s in statements:
        if not s["Sid"].startswith("ReadOnly"):
            continue
        for a in as_list(s["Action"]):
            verb = a.split(":")[1]
            assert verb.startswith(READ_VERBS) or a in READS_THAT_HIDE_A_MOMENT, f"{s['Sid']}: {a} acts"
    acting = {a for s in statements if s["Sid"].startswith("Acting") for a in as_list(s["Action"])}
    assert {"amplify:StartJob", "dynamodb:DeleteItem", "events:PutEvents", "sqs:SendMessage"} <= acting
