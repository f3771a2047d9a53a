"""CloudFormation's DescribeStacks and DescribeStackEvents in the Amplify
emulator, through boto3 (botocore's own query-protocol parser: the wire
format is checked by the client that reads it) and through raw HTTP, and
scripted operations reaching a queue through moto's EventBridge.

Starts its own emulator and moto on free ports (the fixtures of
amplify_emulator_tests/fixtures.py), so it never disturbs a running local stack."""

import json
import time

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from amplify_emulator_tests.fixtures import Ctl, emu_url, fresh, moto, moto_endpoint  # noqa: F401 (fixtures)

DENIED = ("User: arn:aws:sts::123456789012:assumed-role/sam-deploy/ci is not authorized to perform: "
          "iam:PutRolePolicy on resource: role shop-ApiRole (HandlerErrorCode: AccessDenied)")


@pytest.fixture(scope="module")
def cfn(emu_url):  # noqa: F811
    return boto3.client("cloudformation", endpoint_url=emu_url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


@pytest.fixture
def ctl(emu_url):  # noqa: F811
    return Ctl(emu_url)


def failing_update(ctl, name, emit=False, token="sam-2"):
    return ctl(f"/stacks/{name}/operations", {"clientRequestToken": token, "emit": emit, "stepMs": 200, "steps": [
        {"status": "UPDATE_IN_PROGRESS", "reason": "User Initiated"},
        {"logicalId": "ApiRole", "type": "AWS::IAM::Role", "status": "UPDATE_IN_PROGRESS"},
        {"logicalId": "ApiRole", "type": "AWS::IAM::Role", "status": "UPDATE_FAILED", "reason": DENIED},
        {"logicalId": "Worker", "type": "AWS::Lambda::Function", "status": "UPDATE_FAILED",
         "reason": "Resource update cancelled"},
        {"status": "UPDATE_ROLLBACK_IN_PROGRESS", "reason": "The following resource(s) failed to update: [ApiRole]."},
        {"status": "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"},
        {"status": "UPDATE_ROLLBACK_COMPLETE"},
    ]})


def test_describe_stacks_answers_the_models_shape(cfn, ctl):
    made = ctl("/stacks", {"stackName": "shop-api-prod", "tags": {"Environment": "production"}})["stack"]
    stack = cfn.describe_stacks(StackName="shop-api-prod")["Stacks"][0]
    assert stack["StackId"] == made["StackId"]
    assert stack["StackId"].startswith("arn:aws:cloudformation:us-east-1:123456789012:stack/shop-api-prod/")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["Tags"] == [{"Key": "Environment", "Value": "production"}]
    assert stack["CreationTime"].tzinfo is not None
    # By id too (a deleted stack is found only so).
    assert cfn.describe_stacks(StackName=made["StackId"])["Stacks"][0]["StackName"] == "shop-api-prod"


def test_a_missing_stack_is_cloudformations_validation_error(cfn):
    with pytest.raises(ClientError) as e:
        cfn.describe_stack_events(StackName="nope")
    err = e.value.response
    assert err["Error"]["Code"] == "ValidationError"
    assert err["Error"]["Message"] == "Stack with id nope does not exist"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_an_operations_events_are_listed_newest_first_with_their_token(cfn, ctl):
    ctl("/stacks", {"stackName": "shop-api-prod"})
    out = failing_update(ctl, "shop-api-prod")
    assert out["deliveries"] == [], "emit false: nothing on the bus"
    assert [e["detail"]["status-details"]["status"] for e in out["events"]] == [
        "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE"]
    events = cfn.describe_stack_events(StackName="shop-api-prod")["StackEvents"]
    assert [e["ResourceStatus"] for e in events] == [
        "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_FAILED", "UPDATE_FAILED",
        "UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS"]
    assert all(e["ClientRequestToken"] == "sam-2" for e in events)
    denied = events[4]
    assert denied["LogicalResourceId"] == "ApiRole" and denied["ResourceType"] == "AWS::IAM::Role"
    assert denied["ResourceStatusReason"] == DENIED
    assert events[0]["ResourceType"] == "AWS::CloudFormation::Stack"
    assert events[0]["PhysicalResourceId"] == events[0]["StackId"]
    assert events[0]["Timestamp"] > events[-1]["Timestamp"]
    assert cfn.describe_stacks(StackName="shop-api-prod")["Stacks"][0]["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"


def test_events_are_paged_by_next_token(cfn, ctl):
    ctl("/stacks", {"stackName": "big"})
    steps = [{"logicalId": f"R{i}", "type": "AWS::SNS::Topic", "status": "CREATE_COMPLETE"} for i in range(230)]
    ctl("/stacks/big/operations", {"emit": False, "stepMs": 1, "steps": steps})
    pages = list(cfn.get_paginator("describe_stack_events").paginate(StackName="big"))
    assert [len(p["StackEvents"]) for p in pages] == [100, 100, 30]
    ids = [e["LogicalResourceId"] for p in pages for e in p["StackEvents"]]
    assert ids[0] == "R229" and ids[-1] == "R0" and len(set(ids)) == 230


def test_the_wire_format_is_the_query_protocols(emu_url, ctl):  # noqa: F811
    ctl("/stacks", {"stackName": "wire"})
    resp = requests.post(emu_url, data={"Action": "DescribeStacks", "Version": "2010-05-15", "StackName": "wire"},
                         timeout=5)
    assert resp.status_code == 200 and resp.headers["content-type"] == "text/xml"
    assert resp.text.startswith('<DescribeStacksResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">'
                                "<DescribeStacksResult><Stacks><member>")
    missing = requests.post(emu_url, data={"Action": "DescribeStackEvents", "Version": "2010-05-15"}, timeout=5)
    assert missing.status_code == 400
    assert "<Code>ValidationError</Code>" in missing.text and "'StackName'" in missing.text
    unknown = requests.post(emu_url, data={"Action": "DeleteStack", "Version": "2010-05-15", "StackName": "wire"},
                            timeout=5)
    assert unknown.status_code == 400 and "is not emulated" in unknown.text


def test_a_stack_the_emulator_does_not_script_is_motos(cfn, moto):  # noqa: F811
    """moto's own stacks (the local stack registers deploy-sentinel-local
    there) answer through the same endpoint."""
    moto("cloudformation").create_stack(StackName="in-moto", TemplateBody=json.dumps(
        {"Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}))
    assert cfn.describe_stacks(StackName="in-moto")["Stacks"][0]["StackName"] == "in-moto"


def test_a_scripted_status_must_be_cloudformations(ctl):
    ctl("/stacks", {"stackName": "strict"})
    out = ctl("/stacks/strict/operations", {"steps": [{"status": "DONE"}]}, status=400)
    assert "not a stack or resource status" in out["message"]
    assert "not a stack name" in ctl("/stacks", {"stackName": "1bad"}, status=400)["message"]
    ctl("/stacks/nope/operations", {"steps": [{"status": "UPDATE_IN_PROGRESS"}]}, status=400)


def test_stack_status_changes_reach_a_queue_through_moto_eventbridge(moto, ctl):  # noqa: F811
    sqs, events = moto("sqs"), moto("events")
    url = sqs.create_queue(QueueName="stack-events")["QueueUrl"]
    events.put_rule(Name="stacks", EventPattern=json.dumps(
        {"source": ["aws.cloudformation"], "detail-type": ["CloudFormation Stack Status Change"]}))
    events.put_targets(Rule="stacks", Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:stack-events"}])
    stack = ctl("/stacks", {"stackName": "emit-prod"})["stack"]
    out = failing_update(ctl, "emit-prod", emit=True)
    assert [d["delivered"] for d in out["deliveries"]] == [True, True, True, True], out["deliveries"]
    seen, deadline = [], time.time() + 15
    while len(seen) < 4 and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    seen.sort(key=lambda e: out["events"].index(next(x for x in out["events"] if x["detail"] == e["detail"])))
    assert [e["detail"]["status-details"]["status"] for e in seen] == [
        "UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE"]
    first = seen[0]
    assert first["source"] == "aws.cloudformation" and first["detail-type"] == "CloudFormation Stack Status Change"
    assert first["resources"] == [stack["StackId"]]
    assert first["detail"] == {"stack-id": stack["StackId"], "client-request-token": "sam-2",
                               "status-details": {"status": "UPDATE_IN_PROGRESS", "status-reason": "User Initiated"}}
