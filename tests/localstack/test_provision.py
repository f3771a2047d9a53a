"""provision.py creates the stack's resources from template.yaml, and the
dispatcher plays the SQS event source against them.

These tests start their own moto on a free port (they reset it between
tests), so they never disturb a running local stack."""

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest
import requests
import yaml

import localservers
import provision

HERE = localservers.HERE
ROOT = localservers.ROOT
ACCOUNT = provision.ACCOUNT
WATCHED, UNWATCHED = "dsentinel0001", "dunwatched99"


def template():
    with open(os.path.join(ROOT, "template.yaml")) as f:
        return yaml.load(f, Loader=provision.cfn_loader())


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server, url = localservers.moto(str(tmp_path_factory.mktemp("moto")))
    yield url
    server.stop()


class Provisioned:
    def __init__(self, url, out):
        self.url, self.out = url, str(out)
        self.env = dict(os.environ, **localservers.DUMMY_AWS, AWS_ENDPOINT_URL=url)

    def run(self, *extra):
        done = subprocess.run([sys.executable, os.path.join(HERE, "provision.py"), "--template",
                               os.path.join(ROOT, "template.yaml"), "--out", self.out, *extra],
                              env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"provision.py failed:\n{done.stderr}"
        return self

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def routes(self):
        with open(os.path.join(self.out, "routes.json")) as f:
            return json.load(f)

    def stack_env(self):
        """The variables of stack.env, as a shell that sources it sees them."""
        out = subprocess.run(["bash", "-c", f'set -e; . "{self.out}/stack.env"; env -0'],
                             env={"PATH": os.environ["PATH"]}, check=True, capture_output=True, text=True)
        return dict(line.split("=", 1) for line in out.stdout.split("\0") if "=" in line)

    def queue_url(self, name):
        return self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


@pytest.fixture
def stack(moto, tmp_path):
    """A fresh moto with the template provisioned at its own timeouts."""
    requests.post(f"{moto}/moto-api/reset", timeout=10).raise_for_status()
    return Provisioned(moto, tmp_path).run()


def amplify_event(app_id, branch="main", job="4", status="SUCCEED"):
    return {
        "Source": "aws.amplify",
        "DetailType": "Amplify Deployment Status Change",
        "Resources": [f"arn:aws:amplify:us-east-1:{ACCOUNT}:apps/{app_id}/branches/{branch}/jobs/{int(job):010d}"],
        "Detail": json.dumps({"appId": app_id, "branchName": branch, "jobId": job, "jobStatus": status}),
    }


def receive_all(sqs, url, wait=1):
    out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                              AttributeNames=["All"]).get("Messages", [])
    return out


def queue_counts(sqs, url):
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


# ----- provisioning -----

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


def test_the_rule_filters_apps_and_every_function_gets_the_branch_scope():
    stack = provision.Stack(template(), dict(provision.LOCAL_PARAMS, WatchedBranches="main,release/*"), "us-east-1", None)
    rule = stack.resolve(stack.t["Resources"]["AmplifyStatusRule"]["Properties"]["EventPattern"])
    assert rule["detail"] == {"appId": ["dsentinel0001", "dsentinel0002", "dsentinelsmoke"]}
    # Only the two variables: the others name resources (resolving them would
    # create them).
    variables = stack.t["Globals"]["Function"]["Environment"]["Variables"]
    assert stack.resolve(variables["SENTINEL_BRANCHES"]) == "main,release/*"
    assert stack.resolve(variables["SENTINEL_APP_IDS"]) == "dsentinel0001,dsentinel0002,dsentinelsmoke"

def test_a_first_install_observes_and_the_local_stack_enforces():
    # The template's default acts on nothing (docs/rollout.md); every
    # function reads the one parameter.
    t = template()
    assert t["Parameters"]["Enforcement"]["Default"] == "observe"
    assert t["Parameters"]["Enforcement"]["AllowedValues"] == ["observe", "enforce"]
    chosen = {k: v for k, v in provision.LOCAL_PARAMS.items() if k != "Enforcement"}
    for params, want in [(chosen, "observe"), (provision.LOCAL_PARAMS, "enforce")]:
        stack = provision.Stack(t, params, "us-east-1", None)
        variables = stack.t["Globals"]["Function"]["Environment"]["Variables"]
        assert stack.resolve(variables["SENTINEL_ENFORCEMENT"]) == want
    # The alerter hears the would-haves.
    alert = t["Resources"]["AlertRule"]["Properties"]["EventPattern"]
    assert "Action Observed" in alert["detail-type"]


def test_routes_name_each_sqs_event_source_and_its_binary(stack):
    routes = {r["function"]: r for r in stack.routes()}
    ingest = routes["build-event-handler"]
    assert ingest["queueUrl"] == stack.queue_url("deploy-sentinel-dev-ingest")
    assert ingest["queueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:deploy-sentinel-dev-ingest"
    assert ingest["batchSize"] == 10 and ingest["reportBatchItemFailures"] is True
    functions = [r for r in template()["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    sqs_sources = sum(1 for f in functions for e in f["Properties"].get("Events", {}).values() if e["Type"] == "SQS")
    assert len(stack.routes()) == sqs_sources


def test_the_env_file_resolves_the_function_variables_to_local_resources(stack):
    env = stack.stack_env()
    assert env["SENTINEL_ENVIRONMENT"] == "dev"
    assert env["SENTINEL_TABLE"] == "deploy-sentinel-dev"
    assert env["SENTINEL_EVENT_BUS"] == "sentinel-dev"
    assert env["SENTINEL_DLQ_URL"] == stack.queue_url("deploy-sentinel-dev-dlq")
    assert env["SENTINEL_QUEUE_INGEST_QUEUE"] == stack.queue_url("deploy-sentinel-dev-ingest")
    assert env["SENTINEL_RETENTION_DAYS"] == "90" and env["SENTINEL_AUTO_ROLLBACK"] == "auto"
    # GitHub is the local emulator, over http, and only it is exempt from https.
    assert env["GITHUB_API_URL"] == env["SENTINEL_GITHUB_ORIGINS"] == provision.GITHUB_API_URL
    assert provision.GITHUB_API_URL.startswith("http://127.0.0.1:")


def test_the_local_app_is_passed_only_to_a_template_that_declares_githubs_parameters():
    t = template()
    github = {"GitHubAppId", "GitHubPrivateKeyParameter", "GitHubTokenParameter"}
    local = dict(provision.LOCAL_PARAMS, **provision.LOCAL_GITHUB_PARAMS)  # what --github-app passes
    without = dict(t, Parameters={k: v for k, v in t["Parameters"].items() if k not in github})
    stack = provision.Stack(without, local, "us-east-1", None)
    assert not github & set(stack.params)
    stack = provision.Stack(t, local, "us-east-1", None)
    assert stack.params["GitHubAppId"] == "4242"
    assert stack.params["GitHubPrivateKeyParameter"] == "/deploy-sentinel/dev/github-app-key"
    assert stack.params["GitHubTokenParameter"] == ""  # the App, not the token fallback
    # Without the flag, the template's default: off.
    stack = provision.Stack(t, provision.LOCAL_PARAMS, "us-east-1", None)
    assert (stack.params["GitHubAppId"], stack.params["GitHubPrivateKeyParameter"]) == ("", "")


def test_local_up_provisions_github_on_as_the_local_app(stack):
    """`provision.py --github-app` (local-up's call): the functions get the
    App's id and key parameter, as the template resolves them, and the
    emulator's origin."""
    assert not {"GITHUB_APP_ID", "GITHUB_KEY_PARAMETER"} & set(stack.stack_env())
    env = stack.run("--github-app").stack_env()
    assert (env["GITHUB_APP_ID"], env["GITHUB_KEY_PARAMETER"]) == ("4242", "/deploy-sentinel/dev/github-app-key")
    assert env["GITHUB_API_URL"] == provision.GITHUB_API_URL


def test_provisioning_twice_changes_nothing_but_what_was_asked(stack):
    before = (stack.routes(), stack.stack_env())
    stack.run()
    assert (stack.routes(), stack.stack_env()) == before
    stack.run("--visibility-timeout", "2")
    attrs = stack.client("sqs").get_queue_attributes(QueueUrl=stack.queue_url("deploy-sentinel-dev-ingest"),
                                                     AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "2"
    # The template's queues, and the local inbox subscribed to the alert topic.
    assert len(stack.client("sqs").list_queues()["QueueUrls"]) == 1 + len(
        [r for r in template()["Resources"].values() if r["Type"] == "AWS::SQS::Queue"])
    topic = stack.stack_env()["SENTINEL_TOPIC_ALERT_TOPIC"]
    subscriptions = stack.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"].rsplit(":", 1)[1] for s in subscriptions] == ["deploy-sentinel-dev-local-inbox"]


# ----- dispatcher -----

class StubFunction:
    """A Runtime-API-like endpoint: records each invocation, fails the records
    whose body contains "fail-me", or the whole invocation when told to."""

    def __init__(self):
        self.calls, self.mode = [], "partial"
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.calls.append((self.path, payload))
                if stub.mode == "error":
                    status, body = 500, {"errorType": "Retryable.Store", "errorMessage": "table unavailable"}
                else:
                    failed = [r["messageId"] for r in payload["Records"] if "fail-me" in r["body"]]
                    status, body = 200, {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def records(self):
        return [r for _, payload in self.calls for r in payload["Records"]]


@pytest.fixture
def function():
    stub = StubFunction()
    yield stub
    stub.server.shutdown()


def dispatch_once(stack, endpoint, seconds=60):
    log = os.path.join(stack.out, "dispatcher.log")
    subprocess.run([sys.executable, os.path.join(HERE, "dispatcher.py"), "--routes",
                    os.path.join(stack.out, "routes.json"), "--endpoint", endpoint, "--once",
                    "--idle-seconds", "1", "--max-seconds", str(seconds), "--log", log],
                   env=stack.env, check=True, timeout=seconds + 30)
    with open(log) as f:
        return f.read()


def send(stack, queue, *bodies):
    sqs = stack.client("sqs")
    url = stack.queue_url(queue)
    return url, [sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"] for b in bodies]


def test_the_dispatcher_deletes_only_the_records_the_function_did_not_fail(stack, function):
    stack.run("--visibility-timeout", "1")  # retries within a second, as local-up does
    url, (good, bad) = send(stack, "deploy-sentinel-dev-ingest", '{"n": "ok"}', '{"n": "fail-me"}')
    log = dispatch_once(stack, function.url)

    path, payload = function.calls[0]
    assert path == "/2015-03-31/functions/build-event-handler/invocations"
    assert {r["messageId"] for r in payload["Records"]} == {good, bad}
    record = next(r for r in payload["Records"] if r["messageId"] == good)
    assert record["eventSource"] == "aws:sqs" and record["awsRegion"] == "us-east-1"
    assert record["eventSourceARN"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:deploy-sentinel-dev-ingest"
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and record["receiptHandle"]
    assert record["messageAttributes"] == {}
    assert "build-event-handler <- Ingest: 2 records, 1 done, 1 to retry" in log

    # The good record was deleted after one invocation; the failed one came
    # back until moto's redrive moved it to the DLQ after maxReceiveCount (5).
    ids = [r["messageId"] for r in function.records()]
    assert ids.count(good) == 1
    tries = [r["attributes"]["ApproximateReceiveCount"] for r in function.records() if r["messageId"] == bad]
    assert tries == ["1", "2", "3", "4", "5"]
    sqs = stack.client("sqs")
    assert queue_counts(sqs, url) == (0, 0)
    assert [m["MessageId"] for m in receive_all(sqs, stack.queue_url("deploy-sentinel-dev-dlq"))] == [bad]


def test_a_failed_invocation_deletes_none_of_its_records(stack, function):
    stack.run("--visibility-timeout", "1")
    function.mode = "error"
    url, sent = send(stack, "deploy-sentinel-dev-ingest", '{"n": 1}', '{"n": 2}')
    log = dispatch_once(stack, function.url)
    assert "error Retryable.Store: table unavailable" in log
    ids = [r["messageId"] for r in function.records()]
    assert all(ids.count(i) == 5 for i in sent)
    sqs = stack.client("sqs")
    dead = receive_all(sqs, stack.queue_url("deploy-sentinel-dev-dlq"))
    assert sorted(m["MessageId"] for m in dead) == sorted(sent)


# ----- GitHub (issue #29 items 1 and 3): off by default, one parameter when on -----

import re  # noqa: E402

import iam_documents  # noqa: E402

GITHUB_KEY = "/deploy-sentinel/dev/github-app-key"
GITHUB = {
    "off": {},
    "app": {"GitHubAppId": "4242", "GitHubPrivateKeyParameter": GITHUB_KEY},
    # A name without the leading /: the ARN has one / all the same.
    "token": {"GitHubTokenParameter": "deploy-sentinel/dev/github-token"},
    # Both: the App's key is read, the token never.
    "both": {"GitHubAppId": "4242", "GitHubPrivateKeyParameter": GITHUB_KEY,
             "GitHubTokenParameter": "/deploy-sentinel/dev/github-token"},
}
GITHUB_ARN = {
    "app": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/deploy-sentinel/dev/github-app-key",
    "token": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/deploy-sentinel/dev/github-token",
    "both": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/deploy-sentinel/dev/github-app-key",
}
GITHUB_FUNCTIONS = {"AlerterFunction", "ValidatorFunction"}
GITHUB_EVENTS = {"Build Started", "Build Cancelled", "Build Skipped"}
GITHUB_VARIABLES = {"GITHUB_APP_ID", "GITHUB_KEY_PARAMETER", "GITHUB_TOKEN_PARAMETER", "SENTINEL_ALERTER_QUEUE_URL"}


def resolved(github):
    """The template resolved offline (creating nothing) under the local
    parameters and GitHub's: (resolver, every policy document)."""
    acct = iam_documents.Account(params=dict(provision.LOCAL_PARAMS, **GITHUB[github]))
    tmpl = iam_documents.template(iam_documents.TEMPLATE)
    return iam_documents.Resolver(tmpl, acct), iam_documents.documents_of(iam_documents.TEMPLATE, acct)


def function_variables(r, logical):
    """A function's environment as Lambda gets it: the Globals' and its own."""
    own = r.tmpl["Resources"][logical]["Properties"].get("Environment", {}).get("Variables", {})
    return dict(r.value(r.tmpl["Globals"]["Function"]["Environment"]["Variables"]), **r.value(own))


def grants(documents, action):
    """(document, statement) of each identity policy's Allow naming the
    action (the key, queue and bus policies name AWS's services)."""
    return [(d, st) for d in documents if d.kind in ("inline", "managed") for st in d.policy["Statement"]
            if st["Effect"] == "Allow" and action in iam_documents.as_list(st.get("Action", []))]


def alert_rule_types(r):
    return set(r.value(r.tmpl["Resources"]["AlertRule"]["Properties"]["EventPattern"])["detail-type"])


def test_github_is_off_by_default_no_variable_no_permission_no_event_more():
    for name, spec in template()["Parameters"].items():
        if name.startswith("GitHub"):
            assert spec["Default"] == "", name
    r, documents = resolved("off")
    for cond in ("GitHubOn", "GitHubUsesApp", "GitHubUsesToken"):
        assert r.condition(cond) is False, cond
    assert grants(documents, "ssm:GetParameter") == []
    alert_key = r.resource("AlertTopicKey")[1]["Arn"]
    for d, st in grants(documents, "kms:Decrypt"):
        assert st["Resource"] == alert_key, f"{d} {st['Sid']}: kms:Decrypt beyond the alert topic's key"
    for d, st in grants(documents, "sqs:SendMessage"):
        assert st["Resource"] != r.resource("AlerterQueue")[1]["Arn"], (
            f"{d} {st['Sid']}: the alerter sends to its own queue with GitHub off")
    for logical, res in r.tmpl["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            assert not GITHUB_VARIABLES & set(function_variables(r, logical)), logical
    assert not GITHUB_EVENTS & alert_rule_types(r), "with GitHub off the alerter takes no build start, cancel or skip"


@pytest.mark.parametrize("github", ["app", "token", "both"])
def test_github_on_the_alerter_and_validator_read_one_parameter_through_ssm_only(github):
    r, documents = resolved(github)
    assert r.condition("GitHubOn") is True
    arn = GITHUB_ARN[github]
    reads = grants(documents, "ssm:GetParameter")
    assert sorted(d.holder for d, _ in reads) == ["AlerterRole", "ValidatorRole"], reads
    for d, st in reads:
        assert st["Resource"] == arn and st["Action"] == "ssm:GetParameter", (d, st)
        assert "//" not in st["Resource"].split(":", 5)[5]
    decrypts = [(d, st) for d, st in grants(documents, "kms:Decrypt") if st.get("Sid") != "EncryptAlerts"]
    assert sorted(d.holder for d, _ in decrypts) == ["AlerterRole", "ValidatorRole"], decrypts
    for d, st in decrypts:
        assert st["Condition"] == {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com",
                                                    "kms:EncryptionContext:PARAMETER_ARN": arn}}, (d, st)
    # The account's aws/ssm key (or the team's own), not the alert topic's.
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0000aaaa-00aa-00aa-00aa-000000aaaaaa"
    assert key != r.resource("AlertTopicKey")[1]["Arn"]
    other = arn.rsplit("/", 1)[0] + "/someone-elses-secret"
    via_ssm = {"kms:ViaService": "ssm.us-east-1.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": arn}
    queue = r.resource("AlerterQueue")[1]["Arn"]
    for d in documents:
        if d.holder in ("AlerterRole", "ValidatorRole") and d.kind == "inline":
            p = d.policy
            assert iam_documents.allows(p, "ssm:GetParameter", arn)
            assert not iam_documents.allows(p, "ssm:GetParameter", other)
            assert not iam_documents.allows(p, "ssm:GetParameters", arn)
            assert iam_documents.allows(p, "kms:Decrypt", key, via_ssm)
            assert not iam_documents.allows(p, "kms:Decrypt", key, dict(via_ssm, **{
                "kms:EncryptionContext:PARAMETER_ARN": other})), "another parameter's value"
            assert not iam_documents.allows(p, "kms:Decrypt", key, {
                "kms:EncryptionContext:PARAMETER_ARN": arn}), "a decrypt not made by SSM"
            assert iam_documents.allows(p, "sqs:SendMessage", queue) == (d.holder == "AlerterRole"), d
    for logical, res in r.tmpl["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        variables = function_variables(r, logical)
        # Local only (the emulator's URL and its http exemption): never the template's.
        assert not {"GITHUB_API_URL", "SENTINEL_GITHUB_ORIGINS"} & set(variables), logical
        given = GITHUB_VARIABLES & set(variables)
        if logical not in GITHUB_FUNCTIONS:
            assert not given, logical
            continue
        if github == "token":
            assert variables["GITHUB_TOKEN_PARAMETER"] == GITHUB["token"]["GitHubTokenParameter"], logical
            assert "GITHUB_APP_ID" not in variables and "GITHUB_KEY_PARAMETER" not in variables
        else:
            assert (variables["GITHUB_APP_ID"], variables["GITHUB_KEY_PARAMETER"]) == ("4242", GITHUB_KEY)
            assert "GITHUB_TOKEN_PARAMETER" not in variables, "the App wins: the token is never read"
        queue_url = variables.get("SENTINEL_ALERTER_QUEUE_URL")
        assert queue_url == (r.resource("AlerterQueue")[0] if logical == "AlerterFunction" else None), logical
    assert GITHUB_EVENTS <= alert_rule_types(r)


@pytest.mark.parametrize("name, arn_tail", [("/x/y", "parameter/x/y"), ("x/y", "parameter/x/y"),
                                            ("key", "parameter/key"), ("/key", "parameter/key")])
def test_the_parameters_arn_has_one_slash_with_or_without_the_names_leading_one(name, arn_tail):
    r, documents = resolved("off")
    acct = iam_documents.Account(params=dict(provision.LOCAL_PARAMS, GitHubTokenParameter=name))
    (read,) = [st for d in iam_documents.documents_of(iam_documents.TEMPLATE, acct) if d.holder == "AlerterRole"
               for st in d.policy["Statement"] if st.get("Sid") == "GitHubCredentials"]
    assert read["Resource"] == f"arn:aws:ssm:us-east-1:{ACCOUNT}:{arn_tail}"


def rules_refuse(params):
    """The template's Rules under these parameters: the descriptions of the
    assertions that fail (CloudFormation refuses the stack on any)."""
    t = template()
    r = iam_documents.Resolver(t, iam_documents.Account(params=dict(provision.LOCAL_PARAMS, **params)))
    out = []
    for rule in t.get("Rules", {}).values():
        if "RuleCondition" in rule and not r.value(rule["RuleCondition"]):
            continue
        out += [a["AssertDescription"] for a in rule["Assertions"] if not r.value(a["Assert"])]
    return out


def test_an_app_id_without_its_key_parameter_is_refused_and_the_reverse():
    for github in GITHUB.values():
        assert rules_refuse(github) == [], github
    (app_only,) = rules_refuse({"GitHubAppId": "4242"})
    assert "GitHubPrivateKeyParameter" in app_only
    (key_only,) = rules_refuse({"GitHubPrivateKeyParameter": GITHUB_KEY, "GitHubTokenParameter": "t"})
    assert "GitHubAppId" in key_only


def test_the_github_parameters_take_an_app_id_and_ssm_names_only():
    spec = template()["Parameters"]

    def takes(name, value):
        return re.fullmatch(spec[name]["AllowedPattern"], value) is not None

    assert all(takes("GitHubAppId", v) for v in ["", "4242", "123456789"])
    assert not any(takes("GitHubAppId", v) for v in ["abc", "42 ", "-1", "0x10", "0042"])
    for name in ("GitHubPrivateKeyParameter", "GitHubTokenParameter"):
        assert all(takes(name, v) for v in ["", "/deploy-sentinel/prod/github-app-key", "key", "a/b", "a.b_c-d"]), name
        # Not an ARN, no doubled or trailing slash, no space, none of SSM's reserved prefixes.
        assert not any(takes(name, v) for v in [
            GITHUB_ARN["app"], "/a//b", "a/", "a b", "/aws/service/x", "ssm-key", "AWSkey"]), name


def test_with_github_on_the_alerter_takes_build_starts_cancels_and_skips_on_the_bus(stack):
    """Through moto's EventBridge matcher: the local provisioner resolves the
    rule's !If both ways; what it delivers is what the rule says."""
    sqs, events = stack.client("sqs"), stack.client("events")
    alerter = stack.queue_url("deploy-sentinel-dev-alerter")

    def started():
        out = events.put_events(Entries=[{
            "Source": "sentinel", "DetailType": "Build Started", "EventBusName": "sentinel-dev",
            "Detail": json.dumps({"appId": WATCHED, "branchName": "main", "jobId": "9"})}])
        assert out["FailedEntryCount"] == 0
        return receive_all(sqs, alerter)

    assert started() == [], "GitHub off: a build start is not delivered to the alerter"
    env = stack.stack_env()
    assert not GITHUB_VARIABLES & set(env), "GitHub off: no GitHub variable"
    stack.run(*[a for k, v in GITHUB["app"].items() for a in ("--param", f"{k}={v}")])
    (message,) = started()
    assert json.loads(message["Body"])["detail-type"] == "Build Started"
    env = stack.stack_env()
    assert (env["GITHUB_APP_ID"], env["GITHUB_KEY_PARAMETER"]) == ("4242", GITHUB_KEY)
    assert env["SENTINEL_ALERTER_QUEUE_URL"] == alerter
    rule = events.describe_rule(Name="deploy-sentinel-dev-AlertRule", EventBusName="sentinel-dev")
    assert GITHUB_EVENTS <= set(json.loads(rule["EventPattern"])["detail-type"])
