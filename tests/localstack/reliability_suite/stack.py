"""The local stack as the phases reach it: its endpoints and table, the
AWS clients, the checks' record, the Amplify emulator's control API, the
fault proxies, the function queues, alerts, the bus, records and builds."""

import hashlib
import json
import os
import time

import boto3
import requests

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


ENV = os.environ
REGION = ENV.get("AWS_REGION", "us-east-1")
AMPLIFY = ENV["AWS_ENDPOINT_URL_AMPLIFY"]
PROXY = ENV.get("FAULT_PROXY_URL")  # the proxy in front of moto
PROXY_AMPLIFY = ENV.get("FAULT_PROXY_AMPLIFY_URL")
TABLE = ENV["SENTINEL_TABLE"]
APP = "dsentinel0002"
failures = []


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def ctl(path, body=None, method="POST"):
    r = requests.request(method, f"{AMPLIFY}/_emulator{path}", json=body, timeout=120)
    r.raise_for_status()
    return r.json() if r.content else {}


def proxies(path, body=None):
    out = {}
    for name, url in (("aws", PROXY), ("amplify", PROXY_AMPLIFY)):
        if url:
            out[name] = requests.post(f"{url}/_proxy/{path}", json=body or {}, timeout=10).json()
    return out


def set_rate(rate, seed=7):
    proxies("config", {"rate": rate, "seed": seed})


sqs = boto3.client("sqs", region_name=REGION)
ddb = boto3.client("dynamodb", region_name=REGION)
sns = boto3.client("sns", region_name=REGION)
events = boto3.client("events", region_name=REGION)


def routes():
    with open(os.path.join(ROOT, ".local", "routes.json")) as f:
        return json.load(f)


def quiet(timeout, settle=3):
    """Waits until every function queue is empty (nothing visible, in flight
    or delayed) for `settle` checks in a row, one second apart."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]
    deadline, calm = time.time() + timeout, 0
    while time.time() < deadline:
        busy = 0
        for r in routes():
            attrs = sqs.get_queue_attributes(QueueUrl=r["queueUrl"], AttributeNames=names)["Attributes"]
            busy += sum(int(attrs.get(n, 0)) for n in names)
        calm = calm + 1 if busy == 0 else 0
        if calm >= settle:
            return True
        time.sleep(1)
    return False


def subscribe(name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    arn = f"arn:aws:sqs:{REGION}:123456789012:{name}"
    sns.subscribe(TopicArn=ENV["SENTINEL_TOPIC_ALERT_TOPIC"], Protocol="sqs", Endpoint=arn)
    return url


def drain(url, wait=1, idle_rounds=2):
    """Every message in the queue now (received and deleted)."""
    out, idle = [], 0
    while idle < idle_rounds:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                                  AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
        if not got:
            idle += 1
            continue
        idle = 0
        out.extend(got)
        sqs.delete_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                        for i, m in enumerate(got)])
    return out


def bus_tap(name):
    """A queue receiving every domain event of the stack's bus."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.purge_queue(QueueUrl=url)
    bus = ENV["SENTINEL_EVENT_BUS"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": [{"prefix": ""}]}))
    events.put_targets(Rule=name, EventBusName=bus,
                       Targets=[{"Id": "tap", "Arn": f"arn:aws:sqs:{REGION}:123456789012:{name}"}])
    return url


def records(app, branch_prefix=""):
    """Deployment records of `app` (table items JOB#… under BRANCH#app#…)."""
    out, start = [], None
    while True:
        kw = {"TableName": TABLE}
        if start:
            kw["ExclusiveStartKey"] = start
        page = ddb.scan(**kw)
        for item in page["Items"]:
            pk, sk = item.get("PK", {}).get("S", ""), item.get("SK", {}).get("S", "")
            if pk.startswith(f"BRANCH#{app}#{branch_prefix}") and sk.startswith("JOB#"):
                out.append(item)
        start = page.get("LastEvaluatedKey")
        if not start:
            return out


def status_of(item):
    for name in ("status", "Status"):
        if name in item:
            return item[name].get("S")
    return None


def branch(name, **extra):
    ctl(f"/apps/{APP}/branches", {"branchName": name, "stage": "PRODUCTION", **extra})


def build(branch_name, outcome, commit, log=None, step_ms=200):
    body = {"commitId": commit, "commitMessage": f"change {commit[:7]}", "outcome": outcome, "mode": "auto",
            "emit": True, "stepDelayMs": step_ms}
    if log:
        body["log"] = log
    return ctl(f"/apps/{APP}/branches/{branch_name}/builds", body)["jobSummary"]["jobId"]


def sha(seed):
    return hashlib.sha1(seed.encode()).hexdigest()


def dlq_messages():
    return drain(ENV["SENTINEL_DLQ_URL"], wait=0, idle_rounds=1)


def setup_app():
    try:
        ctl("/apps", {"appId": APP, "name": "reliability", "platform": "WEB_COMPUTE"})
    except requests.HTTPError:
        pass  # already there
