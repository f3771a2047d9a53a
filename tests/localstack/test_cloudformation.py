"""The template really deploys: template.yaml is expanded the way `sam
deploy` does it — each function's code put in S3 (what `sam package` does
with the built binaries) and the SAM transform applied with the SAM
translator (the library `sam` itself uses) — then created with CloudFormation
on moto, and the stack's resources are looked up.

What moto does not do is listed in MOTO_GAPS and checked, so that a moto
upgrade that closes a gap shows up here; what it gets wrong is worked around
(MOTO_WORKAROUNDS) or asserted as it does it (MOTO_DIFFERENCES).

A redeploy after `sam delete` is tested too: the table the deleted stack
kept, adopted by the new stack (AdoptTable=true)."""

import ast
import io
import os
import json
import time
import uuid
import zipfile

import botocore.exceptions
import botocore.parsers
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
    "AWS::CloudWatch::Alarm": "the DLQ-depth, records-retrying, alert-delivery and (opt-in) "
                              "table-throttle alarms (test_alarms.py checks them)",
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
                                         "event), and provision_tests/ checks the patterns",
    "DeleteStack": "moto keeps the DynamoDB table, as AWS does (DeletionPolicy: Retain); the "
                   "tests remove it before creating their stack on a long-lived local stack, where "
                   "an earlier run left it",
    "AWS::NoValue in a list": "AWS drops a list item that is AWS::NoValue (a role's statement under "
                              "Fn::If, when no stack is watched); moto keeps it as null; the test "
                              "drops the nulls",
    "IAM inline policies": "moto keeps the inline policy CloudFormation gives a role as Python's "
                           "repr of the document, not JSON (botocore hands it back as a string); "
                           "the test reads it with ast.literal_eval",
}

# What moto does otherwise than AWS, asserted as moto does it (and as AWS
# does it), so that a moto upgrade that changes it shows up here.
MOTO_DIFFERENCES = {
    "CreateStack onto a kept table": "AWS accepts CreateStack, fails DeploymentsTable (the name "
                                     "exists) and rolls the stack back (ROLLBACK_COMPLETE); moto "
                                     "answers the CreateStack call itself with DynamoDB's "
                                     "ResourceInUseException (a JSON body botocore cannot parse "
                                     "as CloudFormation's XML) and leaves the stack "
                                     "CREATE_IN_PROGRESS",
    "AWS::Events::EventBus Policy": "AWS puts the bus's policy (PutPermission); moto's CloudFormation "
                                    "creates the bus without it (provision.py puts it, and "
                                    "provision_tests/ checks it there)",
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


def package(aws):
    """What `sam package` does: each function's zip in S3; the expanded
    template as moto takes it, and the functions' logical ids."""
    s3 = aws("s3")
    bucket = f"sam-artifacts-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    expanded, functions = expanded_template(bucket)
    for name in functions:
        s3.put_object(Bucket=bucket, Key=f"{name}.zip", Body=bootstrap_zip())
    return expanded, functions


def create_stack(aws, stack_name, expanded, parameters):
    """Creates the stack; returns it when CloudFormation is done (or after
    two minutes)."""
    cfn = aws("cloudformation")
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(for_moto(expanded)),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    return wait(cfn, stack_name)


def wait(cfn, stack_name):
    deadline = time.time() + 120
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        if not stack["StackStatus"].endswith("IN_PROGRESS") or time.time() > deadline:
            return stack
        time.sleep(0.5)


def drop_table(ddb, name):
    """What docs/deployment.md says to delete a kept table for good: deletion
    protection off (prod has it on), then DeleteTable."""
    try:
        ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
        ddb.delete_table(TableName=name)
    except ddb.exceptions.ResourceNotFoundException:
        pass


def deploy(aws):
    """Packages, expands and creates the stack; returns it when CloudFormation
    is done (or after two minutes)."""
    drop_table(aws("dynamodb"), "deploy-sentinel-staging")
    expanded, functions = package(aws)
    stack_name = f"deploy-sentinel-cfn-{uuid.uuid4().hex[:6]}"
    # `staging`: the names differ from the local stack's `dev` resources.
    stack = create_stack(aws, stack_name, expanded, {
        "Environment": "staging",
        "AmplifyAppIds": "d1example00stg,d2example00stg",
        "AlertEmail": "team@example.com",
        "WatchedStacks": "shop-api-staging,billing-*",
    })
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
    # Ingest's Amplify rule is on the default bus; its ReportRule (reports
    # of deploys, `sentinel report`) on the stack's; Build Succeeded has two
    # (Amplify's and reported services', each to its own queue).
    assert len(rules) == 7, [r["Name"] for r in rules]
    assert len([r for r in rules if "ReportRule" in r["Name"]]) == 1, [r["Name"] for r in rules]
    archive = aws("events").describe_archive(ArchiveName="deploy-sentinel-staging-amplify-events")
    assert archive["EventSourceArn"].endswith(":event-bus/default")
    assert out["AmplifyEventsArchiveArn"] == archive["ArchiveArn"]
    schedules = [r for r in aws("events").list_rules()["Rules"] if r.get("ScheduleExpression")]
    assert len([r for r in schedules if "staging" in r["Name"] or "Schedule" in r["Name"]]) >= 3
    topic = aws("sns").get_topic_attributes(TopicArn=out["AlertTopicArn"])["Attributes"]
    assert topic.get("KmsMasterKeyId"), topic
    queues = aws("sqs").list_queues(QueueNamePrefix="deploy-sentinel-staging-")["QueueUrls"]
    # Seven functions' queues (the health checker's two), and the DLQ.
    assert len(queues) == 9, queues
    names = {f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]}
    assert len([n for n in names if n.startswith("deploy-sentinel-staging-")]) == len(functions) == 7
    mappings = aws("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert len([m for m in mappings if "deploy-sentinel-staging-" in m["FunctionArn"]]) == 8
    dashboard = aws("cloudwatch").get_dashboard(DashboardName=out["DashboardName"])
    assert json.loads(dashboard["DashboardBody"])["widgets"]


def test_what_moto_skips_is_right_in_the_template(deployed):
    _, expanded, _ = deployed
    resources = expanded["Resources"]
    alarms = {n: r for n, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    # The DLQ's depth, the queues' ages, the alert topic's deliveries, the
    # table's throttles (opt-in): test_alarms.py checks what each reads.
    assert set(alarms) == {"DeadLetterAlarm", "RecordsRetryingAlarm", "AlertDeliveriesFailingAlarm",
                           "TableThrottledAlarm"}
    for name, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": "AlertTopic"}], name
    # One policy per queue (test_aws_limits.py checks what each names).
    covered = sorted(q["Ref"] for r in resources.values() if r["Type"] == "AWS::SQS::QueuePolicy"
                     for q in r["Properties"]["Queues"])
    assert covered == sorted(n for n, r in resources.items() if r["Type"] == "AWS::SQS::Queue")
    [subscription] = [r for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    assert subscription["Properties"]["Protocol"] == "email"


def test_the_schedules_targets_retry_then_dead_letter_as_created(deployed, aws):
    """The three schedule rules' targets as CloudFormation created them (on
    the default bus): each retries for one period of its default schedule,
    then dead-letters to the stack's DLQ."""
    stack, _, _ = deployed
    resources = aws("cloudformation").list_stack_resources(StackName=stack["StackName"])["StackResourceSummaries"]
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
    dlq = aws("sqs").get_queue_attributes(QueueUrl=outputs(stack)["DeadLetterQueueUrl"],
                                          AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ages = {"LiveHealthScheduleRule": 300, "MetricsScheduleRule": 3600, "CleanupScheduleRule": 86400}
    for logical, age in ages.items():
        rule = aws("events").describe_rule(Name=physical[logical])
        assert rule.get("ScheduleExpression"), logical
        (target,) = aws("events").list_targets_by_rule(Rule=physical[logical])["Targets"]
        assert target["Arn"].startswith("arn:aws:sqs:") and target["Arn"] != dlq, logical
        assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": age}, logical
        assert target["DeadLetterConfig"] == {"Arn": dlq}, logical


def test_the_bus_is_created_with_its_policy(deployed, aws):
    stack, expanded, _ = deployed
    policy = expanded["Resources"]["SentinelBus"]["Properties"]["Policy"]
    sids = [st["Sid"] for st in policy["Statement"]]
    assert sids == ["OnlyTheStacksPublishers", "OnlyTheStacksSource", "ReportsOnly",
                    "OnlyTheStacksEventTypes"], sids
    bus = aws("events").describe_event_bus(Name=outputs(stack)["EventBusName"])
    if "Policy" not in bus:
        pass  # MOTO_DIFFERENCES["AWS::Events::EventBus Policy"]
    else:  # as AWS does it
        assert [st["Sid"] for st in json.loads(bus["Policy"])["Statement"]] == sids


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
            for st in statements_of(policy["PolicyDocument"]):
                actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
                assert all(a != "*" and not a.endswith(":*") for a in actions), (name, st)
                if st["Effect"] == "Deny":
                    # Only those that keep Amplify to the watched apps and
                    # CloudFormation to the watched stacks
                    # (test_least_privilege.py checks what they name).
                    assert "NotResource" in st, (name, st)
                    assert all(a.startswith("amplify:") for a in actions) or all(
                        a.startswith("cloudformation:Describe") for a in actions), (name, st)
                    continue
                if st["Resource"] == "*":
                    # The bake reads the app's metrics (GetMetricData takes no
                    # resource): the health checker alone. The team's alarms
                    # are read by ARN (DescribeAlarms takes the alarm).
                    bake = {"cloudwatch:GetMetricData"}
                    star = allowed_star | (bake if name == "HealthCheckerRole" else set())
                    assert set(actions) <= star, (name, st["Sid"])
                if any(a.startswith("ssm:") for a in actions):
                    # Besides, GitHub's one credentials parameter, read by
                    # the alerter and the validator when GitHub is on
                    # (provision_tests/test_github.py resolves which parameter).
                    github = (name in ("AlerterRole", "ValidatorRole") and st["Sid"] == "GitHubCredentials"
                              and actions == ["ssm:GetParameter"])
                    assert github or (name == "ValidatorRole" and actions == ["ssm:DescribeParameters"]), (name, st)
            # GitHub's statements exist only when it is on.
            for st in policy["PolicyDocument"]["Statement"]:
                conditioned = isinstance(st, dict) and set(st) == {"Fn::If"}
                sid = (st["Fn::If"][1] if conditioned else st).get("Sid", "")
                if sid.startswith("GitHub"):
                    assert conditioned and st["Fn::If"][0] == "GitHubOn" and st["Fn::If"][2] == {
                        "Ref": "AWS::NoValue"}, (name, sid)
    # Each function runs with its own role, created on moto too.
    for fn in functions:
        role_ref = resources[fn]["Properties"]["Role"]
        assert role_ref == {"Fn::GetAtt": [fn.replace("Function", "Role"), "Arn"]}, fn
    names = {r["RoleName"] for r in aws("iam").list_roles()["Roles"]}
    assert len([n for n in names if "Role" in n]) >= 7


def role_policy(iam, role):
    doc = iam.get_role_policy(RoleName=role, PolicyName="least-privilege")["PolicyDocument"]
    if isinstance(doc, str):  # MOTO_WORKAROUNDS["IAM inline policies"]
        doc = ast.literal_eval(doc)
    # MOTO_WORKAROUNDS["AWS::NoValue in a list"]
    doc["Statement"] = [st for st in doc["Statement"] if st is not None]
    return doc


def statements_of(document):
    """A policy document's statements as the template has them, a statement
    under `Fn::If` (only with a condition, e.g. WatchedStacks) taken as the
    statement it gives when the condition holds."""
    out = []
    for st in document["Statement"]:
        if isinstance(st, dict) and set(st) == {"Fn::If"}:
            st = st["Fn::If"][1]
        out.append(st)
    return out


def test_a_redeploy_after_sam_delete_adopts_the_kept_table(aws):
    """`sam delete` keeps the table (DeletionPolicy: Retain; deletion
    protection in prod) with its records. Deployed again with the defaults,
    the stack collides with the table's fixed name; with AdoptTable=true it
    uses the kept table: its records are there, and every function names it
    and may use it."""
    ddb, cfn, iam, lam = aws("dynamodb"), aws("cloudformation"), aws("iam"), aws("lambda")
    # prod: the module's stack (still up) is staging, the local stack dev;
    # prod's table has deletion protection, as the real one.
    table = "deploy-sentinel-prod"
    params = {"Environment": "prod", "AmplifyAppIds": "d1example0prod"}
    record = {"PK": {"S": "POLICY#d1example0prod#main"}, "SK": {"S": "POLICY"}, "kept": {"S": "yes"}}
    run = uuid.uuid4().hex[:6]
    stacks = []
    drop_table(ddb, table)
    expanded, functions = package(aws)
    try:
        stacks.append(f"deploy-sentinel-first-{run}")
        first = create_stack(aws, stacks[-1], expanded, params)
        assert first["StackStatus"] == "CREATE_COMPLETE", first.get("StackStatusReason")
        ddb.put_item(TableName=table, Item=record)
        cfn.delete_stack(StackName=first["StackName"])
        assert wait(cfn, first["StackId"])["StackStatus"] == "DELETE_COMPLETE"
        # What `sam delete` keeps: the table, protected, with its records;
        # the functions are gone.
        kept = ddb.describe_table(TableName=table)["Table"]
        assert kept["DeletionProtectionEnabled"] is True
        names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
        assert not [n for n in names if n.startswith("deploy-sentinel-prod-")], names

        # Deployed again with the defaults: the table's name is taken.
        stacks.append(f"deploy-sentinel-again-{run}")
        try:
            again = create_stack(aws, stacks[-1], expanded, params)
        except (botocore.exceptions.ClientError, botocore.parsers.ResponseParserError) as e:
            # MOTO_DIFFERENCES["CreateStack onto a kept table"]
            assert "ResourceInUseException" in str(e) and f"Table already exists: {table}" in str(e), e
        else:  # as AWS does it
            assert again["StackStatus"] == "ROLLBACK_COMPLETE", again["StackStatus"]
            events = cfn.describe_stack_events(StackName=again["StackId"])["StackEvents"]
            assert [e for e in events if e["LogicalResourceId"] == "DeploymentsTable"
                    and e["ResourceStatus"] == "CREATE_FAILED"
                    and "already exists" in e.get("ResourceStatusReason", "")], events

        # Deployed again adopting the kept table.
        stacks.append(f"deploy-sentinel-adopts-{run}")
        adopts = create_stack(aws, stacks[-1], expanded, dict(params, AdoptTable="true"))
        assert adopts["StackStatus"] == "CREATE_COMPLETE", adopts.get("StackStatusReason")
        resources = cfn.list_stack_resources(StackName=adopts["StackId"])["StackResourceSummaries"]
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources}
        assert "DeploymentsTable" not in physical  # not the stack's: never changed nor deleted by it
        assert outputs(adopts)["TableName"] == table
        assert ddb.get_item(TableName=table, Key={k: record[k] for k in ["PK", "SK"]})["Item"] == record
        assert ddb.describe_table(TableName=table)["Table"]["TableArn"] == kept["TableArn"]
        assert len(functions) == 7
        for fn in functions:
            config = lam.get_function_configuration(FunctionName=physical[fn])
            assert config["Environment"]["Variables"]["SENTINEL_TABLE"] == table, fn
            # The function's role grants the kept table (and its index).
            statements = role_policy(iam, physical[fn.replace("Function", "Role")])["Statement"]
            granted = [st for st in statements
                       if any(a.startswith("dynamodb:") for a in (st["Action"] if isinstance(st["Action"], list)
                                                                  else [st["Action"]]))]
            assert granted, fn
            arns = {a for st in granted for a in (st["Resource"] if isinstance(st["Resource"], list)
                                                  else [st["Resource"]])}
            indexes = {kept["TableArn"] + "/index/" + i["IndexName"] for i in kept["GlobalSecondaryIndexes"]}
            assert arns <= {kept["TableArn"]} | indexes, (fn, arns)
            assert kept["TableArn"] in arns, (fn, arns)
    finally:
        for name in stacks:
            try:
                cfn.delete_stack(StackName=name)
            except botocore.exceptions.ClientError:
                pass
        drop_table(ddb, table)
