"""The template really deploys: template.yaml is expanded the way `sam
deploy` does it — each function's code put in S3 (what `sam package` does
with the built binaries) and the SAM transform applied with the SAM
translator (the library `sam` itself uses) — then created with CloudFormation
on moto, and the stack's resources are looked up.

What moto does not do is listed in MOTO_GAPS and checked, so that a moto
upgrade that closes a gap shows up here."""

import io
import os
import json
import time
import uuid
import zipfile

import pytest
import yaml

from provision import cfn_loader

REGION = "us-east-1"
# The translator resolves pseudo parameters from the session's region.
os.environ.setdefault("AWS_DEFAULT_REGION", REGION)

# Resource types moto's CloudFormation skips (with a "not supported by
# moto's CloudFormation implementation" warning): the stack is created
# without them. Checked below, so that a moto upgrade that closes a gap
# shows up here; their properties are checked statically instead.
MOTO_GAPS = {
    "AWS::SNS::Subscription": "the e-mail subscription of AlertEmail",
    "AWS::SQS::QueuePolicy": "the policy letting the rules deliver to the queues",
    "AWS::CloudWatch::Alarm": "the DLQ-depth and function-error alarms",
}

# What moto gets wrong that the test works around, stated so it can be
# removed when moto is fixed.
MOTO_WORKAROUNDS = {
    "AWS::KMS::Key Tags": "moto's KMS model reads tags as TagKey/TagValue (the KMS API's shape) "
                          "where CloudFormation gives Key/Value, and fails with KeyError; "
                          "the test hands moto the KMS shape",
    "!Ref of an AWS::Events::EventBus": "moto resolves it to its Python EventBus object instead of "
                                        "the bus's name (a rule's EventBusName fails, an "
                                        "environment variable breaks ListFunctions, an output "
                                        "prints the object); the test writes the bus's Name "
                                        "expression in place of each such Ref",
    "AWS::Events::Archive EventPattern": "moto's CloudFormation hands the pattern to json.loads "
                                         "(the API's string) where CloudFormation gives an object, "
                                         "and answers 500; the test drops it (an archive of every "
                                         "event), and test_provision.py checks the patterns",
    "DeleteStack": "moto leaves the DynamoDB table behind; the test removes it before creating "
                   "the stack again on a long-lived local stack",
}


def for_moto(expanded):
    resources = expanded["Resources"]
    buses = {name: res["Properties"]["Name"] for name, res in resources.items()
             if res["Type"] == "AWS::Events::EventBus"}

    def unref_buses(node):
        if isinstance(node, dict):
            if set(node) == {"Ref"} and node["Ref"] in buses:
                return buses[node["Ref"]]
            return {k: unref_buses(v) for k, v in node.items()}
        if isinstance(node, list):
            return [unref_buses(v) for v in node]
        return node

    expanded = unref_buses(expanded)
    for res in expanded["Resources"].values():
        if res["Type"] == "AWS::Events::Archive":
            res["Properties"].pop("EventPattern", None)
        if res["Type"] == "AWS::KMS::Key" and "Tags" in res.get("Properties", {}):
            res["Properties"]["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]}
                                         for t in res["Properties"]["Tags"]]
    return expanded


class NoManagedPolicies:
    """The translator asks for AWS managed policy ARNs only when a function
    names one by name; none does (every policy is an inline statement)."""

    def load(self):
        return {}


def expanded_template(bucket):
    from samtranslator.translator.transform import transform

    with open("template.yaml") as f:
        template = yaml.load(f, Loader=cfn_loader())
    functions = [name for name, res in template["Resources"].items()
                 if res["Type"] == "AWS::Serverless::Function"]
    for name in functions:
        # `sam package` replaces the local CodeUri with the uploaded zip.
        template["Resources"][name]["Properties"]["CodeUri"] = f"s3://{bucket}/{name}.zip"
    return transform(template, {}, NoManagedPolicies()), functions


def bootstrap_zip():
    """A stand-in for a function's zip: what CloudFormation needs is an
    object in S3 (moto never runs the code)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\nexit 0\n")
    return buf.getvalue()


def deploy(aws):
    """Packages, expands and creates the stack; returns it when CloudFormation
    is done (or after two minutes)."""
    s3, cfn = aws("s3"), aws("cloudformation")
    try:
        aws("dynamodb").delete_table(TableName="deploy-sentinel-staging")
    except aws("dynamodb").exceptions.ResourceNotFoundException:
        pass
    bucket = f"sam-artifacts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    expanded, functions = expanded_template(bucket)
    for name in functions:
        s3.put_object(Bucket=bucket, Key=f"{name}.zip", Body=bootstrap_zip())
    stack_name = f"deploy-sentinel-cfn-{uuid.uuid4().hex[:6]}"
    # `staging`: the names differ from the local stack's `dev` resources.
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(for_moto(expanded)),
        Parameters=[
            {"ParameterKey": "Environment", "ParameterValue": "staging"},
            {"ParameterKey": "AmplifyAppIds", "ParameterValue": "d1example00stg,d2example00stg"},
            {"ParameterKey": "AlertEmail", "ParameterValue": "team@example.com"},
        ],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    deadline = time.time() + 120
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS") or time.time() > deadline:
            break
        time.sleep(0.5)
    return stack, expanded, functions


@pytest.fixture(scope="module")
def deployed(aws):
    stack, expanded, functions = deploy(aws)
    yield stack, expanded, functions
    aws("cloudformation").delete_stack(StackName=stack["StackName"])


def outputs(stack):
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_the_stack_is_created_with_every_resource_moto_supports(deployed, aws):
    stack, expanded, _ = deployed
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    resources = aws("cloudformation").list_stack_resources(StackName=stack["StackName"])
    created = {r["LogicalResourceId"]: r for r in resources["StackResourceSummaries"]}
    failed = [name for name, r in created.items() if r["ResourceStatus"] != "CREATE_COMPLETE"]
    assert not failed, failed
    missing = {name: expanded["Resources"][name]["Type"] for name in set(expanded["Resources"]) - set(created)}
    assert set(missing.values()) == set(MOTO_GAPS), missing


def test_table_bus_topic_queues_functions_and_dashboard_exist(deployed, aws):
    stack, _, functions = deployed
    out = outputs(stack)
    table = aws("dynamodb").describe_table(TableName=out["TableName"])["Table"]
    assert {i["IndexName"] for i in table["GlobalSecondaryIndexes"]} == {"by-environment-time"}
    bus_name = out["EventBusName"]
    assert bus_name == "sentinel-staging"
    assert out["EventBusArn"].endswith("/sentinel-staging")
    aws("events").describe_event_bus(Name=bus_name)
    rules = aws("events").list_rules(EventBusName=bus_name)["Rules"]
    # An archive adds its own managed rule (Events-Archive-<name>), as on AWS.
    archived = [r for r in rules if r["Name"].startswith("Events-Archive-")]
    assert [r["Name"] for r in archived] == ["Events-Archive-deploy-sentinel-staging-domain-events"]
    rules = [r for r in rules if r not in archived]
    assert len(rules) == 5, [r["Name"] for r in rules]  # ingest's rule is on the default bus
    archive = aws("events").describe_archive(ArchiveName="deploy-sentinel-staging-amplify-events")
    assert archive["EventSourceArn"].endswith(":event-bus/default")
    assert out["AmplifyEventsArchiveArn"] == archive["ArchiveArn"]
    schedules = [r for r in aws("events").list_rules()["Rules"] if r.get("ScheduleExpression")]
    assert len([r for r in schedules if "staging" in r["Name"] or "Schedule" in r["Name"]]) >= 3
    topic = aws("sns").get_topic_attributes(TopicArn=out["AlertTopicArn"])["Attributes"]
    assert topic.get("KmsMasterKeyId"), topic
    queues = aws("sqs").list_queues(QueueNamePrefix="deploy-sentinel-staging-")["QueueUrls"]
    assert len(queues) == 8, queues  # seven functions' queues and the DLQ
    names = {f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]}
    assert len([n for n in names if n.startswith("deploy-sentinel-staging-")]) == len(functions) == 7
    mappings = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert len([m for m in mappings if "deploy-sentinel-staging-" in m["FunctionArn"]]) == 7
    dashboard = aws("cloudwatch").get_dashboard(DashboardName=out["DashboardName"])
    assert json.loads(dashboard["DashboardBody"])["widgets"]


def test_what_moto_skips_is_right_in_the_template(deployed):
    _, expanded, _ = deployed
    resources = expanded["Resources"]
    alarms = {n: r for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    assert len(alarms) == 8  # the DLQ and seven functions
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}], name
    [policy] = [r for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"]
    queues = {q["Ref"] for q in policy["Properties"]["Queues"]}
    assert queues == {n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    [subscription] = [r for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert subscription["Properties"]["Protocol"] == "email"


def test_each_function_has_its_own_least_privilege_role(deployed, aws):
    _, expanded, functions = deployed
    resources = expanded["Resources"]
    roles = {n: r for n, r in resources.items() if r["Type"] == "AWS::IAM::Role"}
    assert len(roles) == len(functions) == 7
    # Actions AWS grants on "*" only; ssm:DescribeParameters (names of
    # Amplify's secrets, never values) to the validator alone.
    allowed_star = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "amplify:ListApps",
                    "ssm:DescribeParameters"}
    for name, role in roles.items():
        props = role["Properties"]
        assert "ManagedPolicyArns" not in props, f"{name}: managed policies grant on '*'"
        for policy in props["Policies"]:
            for st in policy["PolicyDocument"]["Statement"]:
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                assert all(a != "*" and not a.endswith(":*") for a in actions), (name, st)
                if st["Resource"] == "*":
                    assert set(actions) <= allowed_star, (name, st["Sid"])
                if any(a.startswith("ssm:") for a in actions):
                    assert name == "ValidatorRole" and actions == ["ssm:DescribeParameters"], (name, st)
    # Each function runs with its own role, created on moto too.
    for fn in functions:
        role_ref = resources[fn]["Properties"]["Role"]
        assert role_ref == {"Fn::GetAtt": [fn.replace("Function", "Role"), "Arn"]}, fn
    names = {r["RoleName"] for r in aws("iam").list_roles()["Roles"]}
    assert len([n for n in names if "Role" in n]) >= 7
