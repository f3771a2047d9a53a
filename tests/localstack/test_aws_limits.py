"""What only AWS enforces about the template's patterns and policies, checked
offline (issue #27, items 4, 6 and 7): moto accepts all of these as they
were, and the first real deploy would not.

- EventBridge refuses a rule whose `wildcard` filters grow past its
  complexity limit ("Rule is too complex"; the event-ruler engine behind it
  counts wildcards and what follows them). No pattern uses `wildcard`.
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-content-based-filtering.html
- The stack rule takes only this account's and region's stacks: a prefix on
  the concrete stack ARN, matched here with moto's own pattern matcher.
- SQS keeps one policy per queue: an AWS::SQS::QueuePolicy listing several
  queues gives each of them the whole document. Each queue has its own,
  naming only that queue, and lets in exactly the rules that target it.
  https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-sqs-queuepolicy.html
- A multivalued condition key (a set per request) is compared with
  ForAllValues/ForAnyValue. Which keys are multivalued comes from AWS's
  own IAM definition as the `parliament` package bundles it (types
  ArrayOf…), plus events:detail-type: PutEvents takes up to ten entries,
  each with its detail type, so the key is a set whatever the bundled type.
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
"""

import copy
import glob
import json
import os

import parliament
import pytest
from moto.events.models import EventPattern

import least_privilege as lp
from least_privilege import as_list
from test_cloudformation import statements_of as statements

ROOT = lp.ROOT
ACCOUNT, REGION = "123456789012", "us-east-1"
# Multivalued whatever the bundled definition says (see the docstring).
ALSO_MULTIVALUED = {"events:detail-type": "PutEvents takes up to ten entries, each with its own detail type"}


def resources():
    return lp.template()["Resources"]


def patterns(node, where=""):
    """Every event pattern under `node` (rules' and archives'), as objects."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "EventPattern":
                yield where, json.loads(value) if isinstance(value, str) else value
            else:
                yield from patterns(value, f"{where}.{key}" if where else key)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from patterns(value, f"{where}[{i}]")


def uses_wildcard(pattern):
    """Whether a pattern uses a `wildcard` filter, wherever it is (inside
    Fn::Sub text too: the key is looked for in every string)."""
    if isinstance(pattern, dict):
        return "wildcard" in pattern or any(uses_wildcard(v) for v in pattern.values())
    if isinstance(pattern, list):
        return any(uses_wildcard(v) for v in pattern)
    return isinstance(pattern, str) and '"wildcard"' in pattern


def test_no_event_pattern_uses_a_wildcard():
    found = list(patterns(resources()))
    assert len(found) >= 10, f"the walk found {len(found)} patterns only"
    offending = [where for where, p in found if uses_wildcard(p)]
    assert not offending, f"{offending}: EventBridge refuses wildcard patterns past its complexity limit"


def test_the_wildcard_check_can_say_no():
    assert uses_wildcard({"detail": {"stack-id": [{"wildcard": "arn:*:stack/a/*"}]}})
    assert uses_wildcard({"Fn::Sub": ['{"detail":{"stack-id":[{"wildcard":"x/*"}]}}', {}]})
    assert not uses_wildcard({"detail": {"stack-id": [{"prefix": "arn:aws:cloudformation:"}]}})


def stack_event(account, region=REGION, name="shop-api-prod"):
    arn = f"arn:aws:cloudformation:{region}:{account}:stack/{name}/0f1c2a30-9bd4-11ef-8d3a-0a1b2c3d4e5f"
    return {"version": "0", "id": "1", "detail-type": "CloudFormation Stack Status Change",
            "source": "aws.cloudformation", "account": account, "time": "2026-12-06T10:00:00Z",
            "region": region, "resources": [arn],
            "detail": {"stack-id": arn, "status-details": {"status": "UPDATE_COMPLETE", "status-reason": ""},
                       "client-request-token": "sam-1"}}


def test_the_stack_rule_takes_this_accounts_stacks_only():
    rule = resources()["StackStatusRule"]
    assert rule["Condition"] == "WatchesStacks"
    pattern = lp.resolver({"WatchedStacks": "shop-api-prod,billing-*"}).resolve(rule["Properties"]["EventPattern"])
    matcher = EventPattern.load(json.dumps(pattern))
    assert matcher.matches_event(stack_event(ACCOUNT))
    assert matcher.matches_event(stack_event(ACCOUNT, name="billing-v2"))
    # The build-event handler keeps WatchedStacks' names: the rule may let
    # another stack of the account through, never another account's.
    assert not matcher.matches_event(stack_event("210987654321"))
    assert not matcher.matches_event(stack_event(ACCOUNT, region="eu-west-1"))


def queue_policies():
    return {name: r for name, r in resources().items() if r["Type"] == "AWS::SQS::QueuePolicy"}


def queue_of(arn):
    """The queue's logical id in `{"Fn::GetAtt": [Queue, "Arn"]}`."""
    assert isinstance(arn, dict) and set(arn) == {"Fn::GetAtt"} and arn["Fn::GetAtt"][1] == "Arn", arn
    return arn["Fn::GetAtt"][0]


def queue_policy_faults(res):
    """What is wrong with the queue policies of a template's resources: a
    policy applied to several queues, a statement naming another queue, a
    queue with no policy or two. (Which rules each queue lets in:
    test_alarms.py.)"""
    queues = {name for name, r in res.items() if r["Type"] == "AWS::SQS::Queue"}
    faults, covered = [], []
    for name, policy in res.items():
        if policy["Type"] != "AWS::SQS::QueuePolicy":
            continue
        listed = [q["Ref"] for q in policy["Properties"]["Queues"]]
        if len(listed) != 1:
            faults.append(f"{name} applies one document to {len(listed)} queues")
        covered += listed
        for st in statements(policy["Properties"]["PolicyDocument"]):
            named = {queue_of(r) for r in as_list(st["Resource"])}
            if named != set(listed[:1]):
                faults.append(f"{name} {st['Sid']} names {sorted(named)}")
    if len(covered) != len(set(covered)):
        faults.append(f"a queue has two policies: {sorted(covered)}")
    if queues - set(covered):
        faults.append(f"queues without a policy: {sorted(queues - set(covered))}")
    return faults


def test_each_queue_has_its_own_policy_naming_only_itself():
    assert queue_policy_faults(resources()) == []


def test_the_queue_check_can_say_no():
    """The shape before #27 (one document, statements naming two queues,
    applied to every queue) fails the check."""
    res = copy.deepcopy(resources())
    merged = [res.pop(name) for name in list(res) if res[name]["Type"] == "AWS::SQS::QueuePolicy"]
    one = merged[0]
    one["Properties"]["Queues"] = [{"Ref": q} for q in sorted(
        n for n, r in res.items() if r["Type"] == "AWS::SQS::Queue")]
    for st in statements(one["Properties"]["PolicyDocument"]):
        st["Resource"] = [st["Resource"], {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]}]
    res["IngestQueuePolicy"] = one
    faults = queue_policy_faults(res)
    assert any("applies one document to 9 queues" in f for f in faults), faults
    assert any("names ['DeadLetterQueue', 'IngestQueue']" in f for f in faults), faults


def multivalued_keys():
    with open(os.path.join(os.path.dirname(parliament.__file__), "iam_definition.json")) as f:
        definition = json.load(f)
    keys = {c["condition"].lower() for service in definition for c in service["conditions"]
            if c["type"].startswith("ArrayOf")}
    return keys | set(ALSO_MULTIVALUED)


def conditions(node, where=""):
    """(where, operator, key) of every IAM Condition block under `node`."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "Condition" and isinstance(v, dict):
                for operator, block in v.items():
                    for key in (block if isinstance(block, dict) else {}):
                        yield where, operator, key
            else:
                yield from conditions(v, f"{where}.{k}" if where else k)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from conditions(v, f"{where}[{i}]")


def iam_documents():
    yield "template.yaml", resources()
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "iam", "*.json"))):
        with open(path) as f:
            yield os.path.relpath(path, ROOT), json.load(f)


def single_valued_uses(keys):
    bad = []
    for name, doc in iam_documents():
        for where, operator, key in conditions(doc):
            if key.lower() in keys and not operator.startswith(("ForAllValues:", "ForAnyValue:")) \
                    and operator != "Null":
                bad.append(f"{name} {where}: {operator} {key}")
    return bad


def test_multivalued_condition_keys_use_the_set_operators():
    keys = multivalued_keys()
    # The definition knows the keys the stack's policies use.
    assert {"events:source", "dynamodb:leadingkeys", "aws:tagkeys"} <= keys
    assert not single_valued_uses(keys), single_valued_uses(keys)


def test_the_set_operator_check_can_say_no():
    doc = {"Statement": [{"Condition": {"StringEquals": {"events:source": "x"}}},
                         {"Condition": {"ForAllValues:StringEquals": {"events:source": "x"}}}]}
    found = [(o, k) for _, o, k in conditions(doc) if k in multivalued_keys()
             and not o.startswith(("ForAllValues:", "ForAnyValue:"))]
    assert found == [("StringEquals", "events:source")]


@pytest.mark.parametrize("allow", ["ForAllValues:StringEquals"])
def test_the_reporters_publish_grant_requires_the_keys(allow):
    """ForAllValues is true for a request without the key: the grant pairs
    it with Null false, so a request must carry a source and detail type."""
    doc = resources()["ReporterPolicy"]["Properties"]["PolicyDocument"]
    (publish,) = [st for st in doc["Statement"] if st["Sid"] == "PublishReports"]
    assert set(publish["Condition"][allow]) == {"events:source", "events:detail-type"}
    assert publish["Condition"]["Null"] == {"events:source": "false", "events:detail-type": "false"}


def build_succeeded(app_id):
    return {"version": "0", "id": "1", "detail-type": "Build Succeeded", "source": "sentinel",
            "account": ACCOUNT, "time": "2026-12-06T10:00:00Z", "region": REGION, "resources": [],
            "detail": {"appId": app_id, "branchName": "main", "jobId": "1"}}


def test_reported_services_build_succeeded_goes_to_its_own_queue_and_amplifys_does_not():
    """#28 item 3: a reported service's "Build Succeeded" (app id `svc:…`)
    is matched by ReportedBuildSucceededRule only, to its own queue;
    Amplify's and a stack's (`cfn:…`) by BuildSucceededRule only."""
    res = resources()
    amplify_rule = EventPattern.load(json.dumps(res["BuildSucceededRule"]["Properties"]["EventPattern"]))
    reported_rule = EventPattern.load(json.dumps(res["ReportedBuildSucceededRule"]["Properties"]["EventPattern"]))
    for app_id in ["d1a2b3c4e5f6g7", "cfn:shop-api-prod"]:
        assert amplify_rule.matches_event(build_succeeded(app_id)), app_id
        assert not reported_rule.matches_event(build_succeeded(app_id)), app_id
    assert reported_rule.matches_event(build_succeeded("svc:shop-api"))
    assert not amplify_rule.matches_event(build_succeeded("svc:shop-api"))
    targets = {name: [queue_of(t["Arn"]) for t in res[name]["Properties"]["Targets"]]
               for name in ("BuildSucceededRule", "ReportedBuildSucceededRule")}
    assert targets == {"BuildSucceededRule": ["HealthCheckQueue"],
                       "ReportedBuildSucceededRule": ["ReportedHealthCheckQueue"]}
    # The same function consumes both, the reported share capped.
    events = res["HealthCheckerFunction"]["Properties"]["Events"]
    by_queue = {queue_of(e["Properties"]["Queue"]): e["Properties"] for e in events.values()}
    assert by_queue["ReportedHealthCheckQueue"]["ScalingConfig"]["MaximumConcurrency"] == 2
    assert by_queue["HealthCheckQueue"]["ScalingConfig"]["MaximumConcurrency"] == 5
