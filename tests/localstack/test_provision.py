"""provision.py created the stack's resources from template.yaml."""

import json
import os

import yaml

import provision

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def template():
    with open(os.path.join(ROOT, "template.yaml")) as f:
        return yaml.load(f, Loader=provision.cfn_loader())


def test_the_table_has_the_template_keys_index_and_ttl(aws):
    ddb = aws("dynamodb")
    table = ddb.describe_table(TableName=os.environ["SENTINEL_TABLE"])["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in table["KeySchema"]} == {"PK": "HASH", "SK": "RANGE"}
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == ["by-environment-time"]
    ttl = ddb.describe_time_to_live(TableName=os.environ["SENTINEL_TABLE"])["TimeToLiveDescription"]
    assert ttl == {"AttributeName": "expires_at", "TimeToLiveStatus": "ENABLED"}


def test_the_rule_carries_the_template_pattern_with_the_parameters(aws):
    events = aws("events")
    rule = events.describe_rule(Name="deploy-sentinel-dev-AmplifyStatusRule", EventBusName="default")
    pattern = json.loads(rule["EventPattern"])
    assert pattern == {"source": ["aws.amplify"], "detail-type": ["Amplify Deployment Status Change"],
                       "detail": {"appId": ["dsentinel0001", "dsentinel0002"]}}
    targets = events.list_targets_by_rule(Rule="deploy-sentinel-dev-AmplifyStatusRule", EventBusName="default")
    assert targets["Targets"][0]["Arn"].endswith(":deploy-sentinel-dev-ingest")


def test_the_ingest_queue_redrives_to_the_dlq(aws):
    sqs = aws("sqs")
    attrs = sqs.get_queue_attributes(QueueUrl=os.environ["SENTINEL_QUEUE_INGEST_QUEUE"], AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(":deploy-sentinel-dev-dlq")
    assert int(redrive["maxReceiveCount"]) == 5


def test_a_branch_list_becomes_a_branch_filter():
    stack = provision.Stack(template(), dict(provision.LOCAL_PARAMS, WatchedBranches="main,release/1"), "us-east-1", None)
    rule = stack.resolve(stack.t["Resources"]["AmplifyStatusRule"]["Properties"]["EventPattern"])
    assert rule["detail"]["branchName"] == ["main", "release/1"]
    everything = provision.Stack(template(), dict(provision.LOCAL_PARAMS), "us-east-1", None)
    rule = everything.resolve(everything.t["Resources"]["AmplifyStatusRule"]["Properties"]["EventPattern"])
    assert "branchName" not in rule["detail"]
