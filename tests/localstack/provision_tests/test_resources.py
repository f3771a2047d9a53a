"""The stack's resources as provision.py creates them from template.yaml: the
table, the buses and their policy, the topic, the queues and their redrive,
the rules and their targets, the archives."""

import json
import time

from .fixtures import ACCOUNT, UNWATCHED, WATCHED, amplify_event, receive_all, template


def test_the_table_has_the_template_keys_index_billing_and_ttl(stack):
    ddb = stack.client("dynamodb")
    table = ddb.describe_table(TableName="deploy-sentinel-dev")["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"PK": "HASH", "SK": "RANGE"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by-environment-time"
    assert {k["AttributeName"]: k["KeyType"] for k in index["KeySchema"]} == {"GSI1PK": "HASH", "GSI1SK": "RANGE"}
    assert index["Projection"]["ProjectionType"] == "ALL"
    ttl = ddb.describe_time_to_live(TableName="deploy-sentinel-dev")["TimeToLiveDescription"]
    assert ttl == {"AttributeName": "expires_at", "TimeToLiveStatus": "ENABLED"}
    backups = ddb.describe_continuous_backups(TableName="deploy-sentinel-dev")["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_the_bus_and_the_topic_exist(stack):
    buses = [b["Name"] for b in stack.client("events").list_event_buses()["EventBuses"]]
    assert "sentinel-dev" in buses
    topics = [t["TopicArn"] for t in stack.client("sns").list_topics()["Topics"]]
    assert f"arn:aws:sns:us-east-1:{ACCOUNT}:deploy-sentinel-alerts-dev" in topics


def test_the_bus_carries_the_templates_policy_naming_the_functions_roles(stack):
    """moto keeps the bus's policy (it enforces none): the template's four
    Deny statements, each role named by the ARN IAM gives it, and an
    operator added by OperatorArns on a re-run."""
    events = stack.client("events")
    bus = events.describe_event_bus(Name="sentinel-dev")
    policy = json.loads(bus["Policy"])
    statements = {st["Sid"]: st for st in policy["Statement"]}
    assert set(statements) == {"OnlyTheStacksPublishers", "OnlyTheStacksSource", "ReportsOnly",
                               "OnlyTheStacksEventTypes"}
    for sid, st in statements.items():
        assert (st["Effect"], st["Principal"], st["Action"]) == ("Deny", "*", "events:PutEvents"), sid
        assert st["Resource"] == bus["Arn"], sid
    roles = [r["Properties"]["Role"]["Fn::GetAtt"][0] for r in template()["Resources"].values()
             if r["Type"] == "AWS::Serverless::Function"]
    publishers = statements["OnlyTheStacksPublishers"]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert sorted(publishers) == sorted(f"arn:aws:iam::{ACCOUNT}:role/deploy-sentinel-dev-{r}" for r in roles)
    assert statements["OnlyTheStacksSource"]["Condition"] == {
        "ArnNotEqualsIfExists": {"aws:SourceArn": f"arn:aws:events:us-east-1:{ACCOUNT}:archive/deploy-sentinel-dev-domain-events"},
        "ForAnyValue:StringNotLike": {"events:source": ["sentinel", "sentinel.report.*"]}}
    types = statements["OnlyTheStacksEventTypes"]["Condition"]["ForAnyValue:StringNotEquals"]["events:detail-type"]
    assert {"Build Started", "Deployment Unhealthy", "Alert Test", "Cleanup Completed",
            "Deployment Reported"} <= set(types)

    operator = f"arn:aws:iam::{ACCOUNT}:role/sentinel-operator"
    stack.run("--param", f"OperatorArns={operator}")
    again = json.loads(events.describe_event_bus(Name="sentinel-dev")["Policy"])
    publishers = {st["Sid"]: st for st in again["Statement"]}["OnlyTheStacksPublishers"]
    assert operator in publishers["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert len(again["Statement"]) == 4, "a re-run replaces the policy, never adds to it"


def test_every_function_queue_redrives_to_the_dlq(stack):
    sqs = stack.client("sqs")
    dlq_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:deploy-sentinel-dev-dlq"
    queues = [r for r in template()["Resources"].values()
              if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]]
    assert len(queues) >= 1
    for route in stack.routes():
        attrs = sqs.get_queue_attributes(QueueUrl=route["queueUrl"], AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attrs["RedrivePolicy"])
        assert redrive["deadLetterTargetArn"] == dlq_arn, route
        assert int(redrive["maxReceiveCount"]) == 5
        # The template's own value, unless --visibility-timeout.
        name = route["queueArn"].rsplit(":", 1)[1]
        (declared,) = [q["Properties"]["VisibilityTimeout"] for q in queues
                       if q["Properties"]["QueueName"]["Fn::Sub"].replace("${Environment}", "dev") == name]
        assert attrs["VisibilityTimeout"] == str(declared)


def test_the_amplify_rule_carries_the_template_pattern_and_its_target(stack):
    events = stack.client("events")
    rule = events.describe_rule(Name="deploy-sentinel-dev-AmplifyStatusRule", EventBusName="default")
    assert json.loads(rule["EventPattern"]) == {
        "source": ["aws.amplify"], "detail-type": ["Amplify Deployment Status Change"],
        "detail": {"appId": ["dsentinel0001", "dsentinel0002", "dsentinelsmoke"]}}
    (target,) = events.list_targets_by_rule(Rule="deploy-sentinel-dev-AmplifyStatusRule",
                                            EventBusName="default")["Targets"]
    assert target["Arn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:deploy-sentinel-dev-ingest"
    assert target["DeadLetterConfig"]["Arn"].endswith(":deploy-sentinel-dev-dlq")


def test_every_rule_of_the_template_exists_on_its_bus(stack):
    events = stack.client("events")
    for logical, res in template()["Resources"].items():
        if res["Type"] != "AWS::Events::Rule":
            continue
        # The template names either the default bus or its own (a !Ref).
        bus = res["Properties"].get("EventBusName", "default")
        bus = bus if isinstance(bus, str) else "sentinel-dev"
        name = f"deploy-sentinel-dev-{logical}"
        assert events.describe_rule(Name=name, EventBusName=bus)["State"] == "ENABLED", logical
        targets = events.list_targets_by_rule(Rule=name, EventBusName=bus)["Targets"]
        # Schedules are not fired locally, and moto would match every event
        # against a rule without a pattern: they get no targets here (their
        # targets as CloudFormation creates them: test_cloudformation.py).
        expected = 0 if "ScheduleExpression" in res["Properties"] else len(res["Properties"]["Targets"])
        assert len(targets) == expected, logical
        # Each target retries as the template says, then dead-letters to the DLQ.
        declared = {t["Id"]: t for t in res["Properties"]["Targets"]}
        for target in targets:
            assert target["RetryPolicy"] == declared[target["Id"]]["RetryPolicy"], logical
            assert target["DeadLetterConfig"] == {"Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:deploy-sentinel-dev-dlq"}


def test_a_watched_apps_event_reaches_the_ingest_queue_and_an_unwatched_one_does_not(stack):
    sqs, events = stack.client("sqs"), stack.client("events")
    url = stack.queue_url("deploy-sentinel-dev-ingest")
    out = events.put_events(Entries=[amplify_event(UNWATCHED, job="7"), amplify_event(WATCHED, job="4")])
    assert out["FailedEntryCount"] == 0
    messages = receive_all(sqs, url)
    assert [json.loads(m["Body"])["detail"]["appId"] for m in messages] == [WATCHED]
    body = json.loads(messages[0]["Body"])
    assert body["source"] == "aws.amplify" and body["detail"]["jobId"] == "4"
    assert receive_all(sqs, url, wait=0) == []


def test_missed_amplify_events_are_replayed_from_the_archive_to_ingest_only(stack):
    """The stack archives the watched apps' Amplify events; StartReplay sends
    them again through AmplifyStatusRule. moto replays every archived event
    to every rule of the bus (ignoring FilterArns and the time window); AWS
    honours both, which is what docs/runbooks.md asks of it."""
    sqs, events = stack.client("sqs"), stack.client("events")
    url = stack.queue_url("deploy-sentinel-dev-ingest")
    out = events.put_events(Entries=[amplify_event(UNWATCHED, job="7"), amplify_event(WATCHED, job="5")])
    assert out["FailedEntryCount"] == 0
    first = receive_all(sqs, url)
    assert [json.loads(m["Body"])["detail"]["jobId"] for m in first] == ["5"]
    for m in first:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    archive = events.describe_archive(ArchiveName="deploy-sentinel-dev-amplify-events")
    assert archive["EventSourceArn"].endswith(":event-bus/default")
    assert archive["RetentionDays"] == 14
    rule_arn = events.describe_rule(Name="deploy-sentinel-dev-AmplifyStatusRule")["Arn"]
    now = time.time()
    replay = events.start_replay(
        ReplayName="missed", EventSourceArn=archive["ArchiveArn"],
        EventStartTime=now - 3600, EventEndTime=now,
        Destination={"Arn": archive["EventSourceArn"], "FilterArns": [rule_arn]})
    assert replay["State"] in ("STARTING", "RUNNING", "COMPLETED")
    again = receive_all(sqs, url)
    bodies = [json.loads(m["Body"]) for m in again]
    # Only the watched app's event was archived; it comes back marked as a replay.
    assert [(b["detail"]["appId"], b["detail"]["jobId"]) for b in bodies] == [(WATCHED, "5")]
    assert bodies[0]["replay-name"] == "missed"


def test_the_domain_events_are_archived_on_the_stacks_bus(stack):
    events = stack.client("events")
    archive = events.describe_archive(ArchiveName="deploy-sentinel-dev-domain-events")
    assert archive["EventSourceArn"].endswith(":event-bus/sentinel-dev")
    # The stack's own events and the reports of deploys (sentinel report,
    # source sentinel.report.<service>).
    assert json.loads(archive["EventPattern"]) == {"source": ["sentinel", {"prefix": "sentinel.report."}]}
