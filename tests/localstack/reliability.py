#!/usr/bin/env python3
"""The reliability suite's runs against the local stack (scripts/reliability.sh
starts the stack with the functions behind tests/localstack/fault_proxy.py).

Phases (each prints its figures; any failed check exits non-zero):
  calls    AWS calls per Amplify event and per build, per function (no faults)
  latency  Amplify "FAILED" event -> alert in the subscriber's queue, with a
           10 MB build log, median of --runs (no faults)
  faults   builds, failures and a rollback with --rate of the functions' AWS
           calls failing (dropped, delayed, 500, throttled, answer lost):
           every job recorded or its event in the DLQ; no alert sent twice;
           one rollback
  burst    --events Amplify events into the ingest queue at once: none lost
           (the records are counted), with the time taken
  canary   canary secrets in the functions' variables, branch variables,
           build logs and events; then every output is searched: function
           and dispatcher logs, SNS messages, table items, domain events
  roles    what each function asked AWS in the phases before (the proxies
           see every call): its role in template.yaml grants each call (the
           table or index and the partition key's prefix too), the static
           scan of its code (least_privilege.py) predicted each, and what it
           put on the bus is a source and detail type the bus takes

    . .local/env && python tests/localstack/reliability.py calls latency faults burst canary roles
"""

import argparse
import hashlib
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid

import boto3
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
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


# --- calls -----------------------------------------------------------------

def phase_calls(args):
    print("\n== calls: AWS calls per event (no faults)")
    setup_app()
    set_rate(0)
    # Warm-up: `cargo lambda watch` starts each function instance (through
    # `cargo run`, seconds) on its first invocation; Lambda's start is the
    # cold start of docs/performance.md. Two builds per instance first.
    for i in range(4):
        branch(f"warm-{i}")
        build(f"warm-{i}", "SUCCEED" if i % 2 else "FAILED", sha(f"warm{i}"), step_ms=100)
    quiet(180)
    proxies("reset")
    log_mark = dispatcher_log_size()
    builds = args.builds
    for i in range(builds):
        name = f"calls-{i}"
        branch(name)
        build(name, "SUCCEED" if i % 4 else "FAILED", sha(f"calls{i}"), step_ms=100)
    check(quiet(180), "the stack went quiet")
    stats = proxies("stats")
    per_function = {}
    for proxy in stats.values():
        for key, n in proxy["calls"].items():
            app, service, op = key.split(" ", 2)
            per_function.setdefault(app, {}).setdefault(f"{service} {op}", 0)
            per_function[app][f"{service} {op}"] += n
    amplify_events = builds * 2
    print(f"  {builds} builds ({builds - (builds + 3) // 4} succeeded, {(builds + 3) // 4} failed), "
          f"{amplify_events} Amplify events")
    print("  | function | AWS calls | per build | calls |")
    print("  |---|---|---|---|")
    for app, ops in sorted(per_function.items()):
        total = sum(ops.values())
        detail = ", ".join(f"{op} {n}" for op, n in sorted(ops.items(), key=lambda kv: -kv[1]))
        print(f"  | {app} | {total} | {total / builds:.1f} | {detail} |")
    durations = invocation_durations(log_mark)
    peak = peak_rss_kib()
    print("  peak RSS of each function process so far: "
          + ", ".join(f"{fn} {kib / 1024:.1f} MiB" for fn, kib in sorted(peak.items())))
    cost_per_deploy(per_function, durations, builds)
    ingest = per_function.get("build-event-handler", {})
    per_event = sum(ingest.values()) / amplify_events
    print(f"  ingest: {per_event:.2f} AWS calls per Amplify event")
    check(0 < per_event <= 8, f"ingest makes a bounded number of calls per event ({per_event:.2f})")


def dispatcher_log_size():
    try:
        return os.path.getsize(os.path.join(ROOT, ".local", "dispatcher.log"))
    except OSError:
        return 0


def invocation_durations(since):
    """function -> [ms] of each invocation the dispatcher logged after `since`."""
    out = {}
    with open(os.path.join(ROOT, ".local", "dispatcher.log"), errors="replace") as f:
        f.seek(since)
        for line in f:
            m = re.search(r"^\S+ (\S+) <- \S+: .* in (\d+) ms$", line.strip())
            if m:
                out.setdefault(m.group(1), []).append(int(m.group(2)))
    return out


def peak_rss_kib():
    """Function binary -> the largest VmHWM among its running processes."""
    names = set(memory_sizes())
    peak = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            name = os.path.basename(os.path.realpath(f"/proc/{pid}/exe"))
            with open(f"/proc/{pid}/status") as f:
                hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        except (OSError, StopIteration):
            continue
        if name in names:
            peak[name] = max(peak.get(name, 0), hwm)
    return peak


def memory_sizes():
    """Binary -> MemorySize (MB) from template.yaml."""
    import yaml
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from provision import cfn_loader
    with open(os.path.join(ROOT, "template.yaml")) as f:
        t = yaml.load(f, Loader=cfn_loader())
    default = t.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    out = {}
    for r in t["Resources"].values():
        if r.get("Type") == "AWS::Serverless::Function":
            binary = r.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            out[binary] = r["Properties"].get("MemorySize", default)
    return out


# us-east-1 on-demand prices (docs/cost.md lists them with their pages).
PRICE = {"gb_s": 0.0000133334, "invoke": 0.0000002, "event": 0.000001, "sqs": 0.0000004,
         "wru": 0.000000625, "rru": 0.000000125, "sns": 0.0000005}
WRITES = ("PutItem", "UpdateItem", "DeleteItem")
READS = ("GetItem", "Query", "Scan")


def cost_per_deploy(per_function, durations, builds):
    """The measured work of one build (calls, invocations and their billed
    GB-seconds) priced; prints the monthly cost at 100/1 000/10 000 a day."""
    memory = memory_sizes()
    gb_s = invocations = 0.0
    print("  | function | invocations per build | median ms | GB-s per build (memory) |")
    print("  |---|---|---|---|")
    for fn, ms in sorted(durations.items()):
        billed = sum(ms) / 1000 * memory.get(fn, 128) / 1024
        gb_s += billed
        invocations += len(ms)
        print(f"  | {fn} | {len(ms) / builds:.2f} | {statistics.median(ms):.0f} | "
              f"{billed / builds:.4f} ({memory.get(fn, 128)} MB) |")
    ops = {}
    for calls in per_function.values():
        for key, n in calls.items():
            op = key.split(" ", 1)[1]
            ops[op] = ops.get(op, 0) + n
    # A record is 2-4 KB: 3 write units per write; a strongly consistent read
    # of up to 4 KB is one read unit.
    wru = 3 * sum(n for op, n in ops.items() if op in WRITES)
    rru = sum(n for op, n in ops.items() if op in READS)
    events_published = sum(n for op, n in ops.items() if op == "PutEvents")
    sns_publishes = sum(n for op, n in ops.items() if op == "Publish")
    # Each SQS-delivered invocation: EventBridge's send, Lambda's receive and delete.
    sqs_requests = 3 * invocations + sum(n for op, n in ops.items() if op in ("SendMessage", "SendMessageBatch"))
    per_build = {
        "GB-s": gb_s / builds, "invocations": invocations / builds, "events": events_published / builds,
        "SQS requests": sqs_requests / builds, "WRU": wru / builds, "RRU": rru / builds, "SNS": sns_publishes / builds,
    }
    usd = (per_build["GB-s"] * PRICE["gb_s"] + per_build["invocations"] * PRICE["invoke"]
           + per_build["events"] * PRICE["event"] + per_build["SQS requests"] * PRICE["sqs"]
           + per_build["WRU"] * PRICE["wru"] + per_build["RRU"] * PRICE["rru"] + per_build["SNS"] * PRICE["sns"])
    print("  per build: " + ", ".join(f"{k} {v:.3f}" for k, v in per_build.items()) + f" -> ${usd:.7f}")
    for per_day in (100, 1_000, 10_000):
        print(f"  {per_day} builds a day: ${usd * per_day * 30:.2f} a month of per-build work "
              "(plus the fixed costs of docs/cost.md)")


# --- latency ---------------------------------------------------------------

def big_log(size):
    lines, total, i = [], 0, 0
    while total < size:
        line = (f"2026-11-23T10:{i // 3600 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z [INFO]: "
                f"\x1b[32m✓\x1b[0m Compiled /app/page-{i}.tsx ({i % 900 + 100} modules) chunk {i:08x}\n")
        lines.append(line)
        total += len(line.encode())
        i += 1
    lines.append("2026-11-23T10:59:59.000Z [INFO]: FATAL ERROR: Reached heap limit Allocation failed - "
                 "JavaScript heap out of memory\n")
    lines.append("2026-11-23T10:59:59.100Z [ERROR]: !!! Build failed\n")
    lines.append("2026-11-23T10:59:59.100Z [ERROR]: !!! Error: Command failed with exit code 134\n")
    return "".join(lines)


def phase_latency(args):
    print(f"\n== latency: Amplify FAILED event -> alert, {args.log_mb} MB log, {args.runs} runs (no faults)")
    setup_app()
    set_rate(0)
    url = subscribe("reliability-latency")
    log = big_log(args.log_mb * 1_000_000)
    took = []
    for i in range(args.runs):
        name = f"latency-{uuid.uuid4().hex[:8]}"
        branch(name)
        job = ctl(f"/apps/{APP}/branches/{name}/builds",
                  {"commitId": sha(name), "mode": "manual", "emit": False, "log": log})["jobSummary"]["jobId"]
        ctl(f"/apps/{APP}/branches/{name}/jobs/{job}/advance", {"to": "RUNNING", "emit": True})
        quiet(60, settle=1)
        drain(url, wait=0, idle_rounds=1)
        t0 = time.time()
        ctl(f"/apps/{APP}/branches/{name}/jobs/{job}/advance", {"to": "FAILED", "emit": True})
        arrived = None
        while arrived is None and time.time() - t0 < 60:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                         AttributeNames=["All"]).get("Messages", []):
                note = json.loads(m["Body"])
                if name in note["Message"] and "node-heap-oom" in note.get("Subject", ""):
                    arrived = int(m["Attributes"]["SentTimestamp"]) / 1000
        check(arrived is not None, f"run {i + 1}: the alert for {name} arrived")
        if arrived:
            took.append((arrived - t0) * 1000)
    if took:
        took.sort()
        p90 = took[min(len(took) - 1, round(0.9 * (len(took) - 1)))]
        print(f"  event -> alert: median {statistics.median(took):.0f} ms, p90 {p90:.0f} ms, "
              f"min {took[0]:.0f} ms, max {took[-1]:.0f} ms ({len(took)} runs)")


# --- faults ----------------------------------------------------------------

def phase_faults(args):
    print(f"\n== faults: {args.rate:.0%} of the functions' AWS calls fail")
    setup_app()
    set_rate(0)
    dlq_messages()
    alerts_url = subscribe("reliability-faults")
    tap_url = bus_tap("reliability-faults-tap")
    ctl("/calls", method="DELETE")
    # A branch whose bad deploy must be rolled back, once.
    good, bad = sha("faults-good"), sha("faults-bad")
    branch("faults-rel", headCommit={"commitId": good})
    policy = os.path.join(ROOT, ".local", "reliability-rollback.yaml")
    with open(policy, "w") as f:
        f.write("rollback:\n  automatic: true\nhealth:\n  healthy_after: 1\n  unhealthy_after: 2\n"
                "  round_interval_ms: 200\n")
    sentinel(["policy", "push", policy, "--app", APP, "--branch", "faults-rel"])
    ctl(f"/apps/{APP}/branches/faults-rel/site", {"brokenCommits": [bad]})
    build("faults-rel", "SUCCEED", good)
    check(quiet(120), "the good deploy settled")
    proxies("reset")
    set_rate(args.rate, seed=args.seed)
    jobs = {}
    for i in range(args.branches):
        name = f"faults-{i}"
        branch(name)
        for outcome in ("SUCCEED", "FAILED"):
            jobs[(name, build(name, outcome, sha(f"{name}{outcome}")))] = outcome
    jobs[("faults-rel", build("faults-rel", "SUCCEED", bad))] = "SUCCEED"
    settled = quiet(args.timeout)
    stats = proxies("stats")
    set_rate(0)
    check(settled, f"the stack went quiet within {args.timeout} s")
    total = sum(p["total"] for p in stats.values())
    faults = sum(p["faults"] for p in stats.values())
    kinds = {}
    for p in stats.values():
        for key, n in p["fates"].items():
            kinds[key.rsplit(" ", 1)[1]] = kinds.get(key.rsplit(" ", 1)[1], 0) + n
    print(f"  {total} AWS calls through the proxies, {faults} faults injected: "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    check(faults > 0, "faults were injected")

    dead = dlq_messages()
    dead_jobs = set()
    for m in dead:
        try:
            d = json.loads(m["Body"]).get("detail", {})
            dead_jobs.add((d.get("branchName"), str(d.get("jobId"))))
        except (ValueError, AttributeError):
            pass
    recorded = {}
    for item in records(APP, "faults-"):
        recorded[(item["PK"]["S"].split("#", 2)[2], str(int(item["SK"]["S"][4:])))] = status_of(item)
    lost = [k for k in jobs if k not in recorded and k not in dead_jobs]
    check(not lost, f"every job recorded or its event in the DLQ ({len(jobs)} jobs, {len(dead)} in the DLQ)"
          + (f"; lost: {lost}" if lost else ""))
    wrong = [(k, recorded[k], want) for k, want in jobs.items() if k in recorded and recorded[k] != want
             and k not in dead_jobs]
    check(not wrong, "every recorded job has Amplify's final status" + (f"; differ: {wrong}" if wrong else ""))

    alerts = drain(alerts_url, wait=2)
    bodies = [json.loads(m["Body"])["Message"] for m in alerts]
    dupes = len(bodies) - len(set(bodies))
    check(dupes == 0, f"no alert sent twice ({len(alerts)} alerts, {dupes} duplicates)")
    failed_branches = {b for (b, _), o in jobs.items() if o == "FAILED"}
    alerted = {b for b in failed_branches if any(f"/{b}" in s or f" {b}" in s or b in s for s in bodies)}
    check(alerted == failed_branches or dead,
          f"every failed build alerted ({len(alerted)}/{len(failed_branches)})")

    starts = [c for c in ctl("/calls", method="GET")["calls"]
              if c["operation"] == "StartJob" and "faults-rel" in c["path"] and c.get("status", 200) < 300]
    check(len(starts) == 1, f"the bad deploy rolled back by exactly one StartJob ({len(starts)})")
    check(any("faults-rel" in b and "Rollback succeeded" in b for b in bodies),
          "the rollback completed (its job verified healthy) and was announced")
    tapped = drain(tap_url, wait=1)
    ids = [json.loads(m["Body"])["detail"].get("eventId") for m in tapped]
    print(f"  domain events on the bus: {len(ids)}, {len(ids) - len(set(ids))} delivered more than once "
          "(a PutEvents retried after a lost answer; consumers de-duplicate on eventId)")


def sentinel(argv):
    binary = os.path.join(ENV["CARGO_TARGET_DIR"], "release" if ENV.get("LAMBDA_RELEASE") else "debug", "sentinel")
    subprocess.run([binary, *argv], check=True, stdout=subprocess.DEVNULL)


# --- burst -----------------------------------------------------------------

def phase_burst(args):
    n = args.events
    jobs_per_branch = 100
    print(f"\n== burst: {n} Amplify events into the ingest queue, as fast as it drains (no faults)")
    setup_app()
    set_rate(0)
    ingest = next(r for r in routes() if r["function"] == "build-event-handler")
    # Only ingest is served while the burst runs.
    stop_dispatcher()
    start_dispatcher([ingest], "burst", pollers=int(ENV.get("LAMBDA_CONCURRENCY", "1")))
    run = uuid.uuid4().hex[:6]
    events_sent, bodies = 0, []
    jobs = n // 2
    for j in range(jobs):
        b, job = f"burst{run}-{j // jobs_per_branch}", j % jobs_per_branch + 1
        for status in ("STARTED", "SUCCEED"):
            bodies.append(json.dumps({
                "version": "0", "id": str(uuid.uuid4()), "detail-type": "Amplify Deployment Status Change",
                "source": "aws.amplify", "account": "123456789012", "time": "2026-11-23T10:00:00Z",
                "region": REGION, "resources": [],
                "detail": {"appId": APP, "branchName": b, "jobId": str(job), "jobStatus": status}}))
    t0 = time.time()
    # moto's SQS scans the whole queue on every receive and delete (and on
    # every check of a long poll): with 10 000 messages queued, each of its
    # calls took 360 ms instead of 8 and ingest crawled at one event a
    # second. So the events go in as fast as the queue drains, never more
    # than --backlog waiting; real SQS has no such limit.
    # For the same reason the stack's own rules are detached from their
    # targets while the burst runs: moto computes every attribute of a queue,
    # counting each message, on every send, and the other functions' queues
    # (not served during the burst) would fill with its domain events. In
    # AWS, delivery to targets happens after PutEvents has answered, so
    # ingest's own work is unchanged.
    detached = detach_bus_targets()
    for i in range(0, len(bodies), 10):
        if i % 200 == 0:
            while int(sqs.get_queue_attributes(QueueUrl=ingest["queueUrl"], AttributeNames=[
                    "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"]) > args.backlog:
                time.sleep(0.2)
        sqs.send_message_batch(QueueUrl=ingest["queueUrl"], Entries=[
            {"Id": str(k), "MessageBody": body} for k, body in enumerate(bodies[i:i + 10])])
        events_sent += len(bodies[i:i + 10])
    sent_s = time.time() - t0
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    settled, calm, deadline = False, 0, time.time() + args.timeout
    while time.time() < deadline:
        attrs = sqs.get_queue_attributes(QueueUrl=ingest["queueUrl"], AttributeNames=names)["Attributes"]
        calm = calm + 1 if all(int(attrs.get(n, 0)) == 0 for n in names) else 0
        if calm >= 3:
            settled = True
            break
        time.sleep(1)
    took = time.time() - t0 - 3
    stop_dispatcher()
    for rule, targets in detached.items():
        events.put_targets(Rule=rule, EventBusName=ENV["SENTINEL_EVENT_BUS"], Targets=targets)
    start_dispatcher(routes(), "dispatcher")
    check(settled, f"ingest drained the burst within {args.timeout} s")
    items = records(APP, f"burst{run}-")
    succeeded = sum(1 for i in items if status_of(i) == "SUCCEED")
    dead = [m for m in dlq_messages() if f"burst{run}-" in m["Body"]]
    print(f"  {events_sent} events sent in {sent_s:.1f} s; drained in {took:.1f} s "
          f"({events_sent / max(took, 0.001):.0f} events/s); {len(items)} jobs recorded, {succeeded} SUCCEED, "
          f"{len(dead)} in the DLQ")
    check(len(items) == jobs and succeeded == jobs, f"none lost: {len(items)}/{jobs} jobs recorded, all SUCCEED")


def detach_bus_targets():
    """Removes every target of the stack bus's rules; returns them by rule."""
    bus = ENV["SENTINEL_EVENT_BUS"]
    detached = {}
    for rule in events.list_rules(EventBusName=bus)["Rules"]:
        targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
        if targets:
            events.remove_targets(Rule=rule["Name"], EventBusName=bus, Ids=[t["Id"] for t in targets])
            detached[rule["Name"]] = targets
    return detached


def stop_dispatcher():
    pid_file = os.path.join(ROOT, ".local", "dispatcher.pid")
    try:
        with open(pid_file) as f:
            pid = int(f.read().strip())
        os.killpg(pid, 15)
    except (OSError, ValueError):
        return
    for _ in range(100):
        try:
            os.killpg(pid, 0)
            time.sleep(0.1)
        except OSError:
            return


def start_dispatcher(route_list, name, pollers=1):
    path = os.path.join(ROOT, ".local", f"{name}-routes.json")
    with open(path, "w") as f:
        json.dump(route_list, f)
    log = open(os.path.join(ROOT, ".local", "dispatcher.log"), "a")
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "localstack", "dispatcher.py"),
                             "--routes", path, "--pollers", str(pollers)],
                            stdout=log, stderr=log, start_new_session=True)
    with open(os.path.join(ROOT, ".local", "dispatcher.pid"), "w") as f:
        f.write(str(proc.pid))
    time.sleep(1)


# --- canary ----------------------------------------------------------------

def phase_canary(args):
    canaries = [c for c in ENV.get("SENTINEL_CANARIES", "").split(",") if c]
    print(f"\n== canary: {len(canaries)} canary secrets in variables, logs and events; every output searched")
    check(bool(canaries), "the canaries are set (SENTINEL_CANARIES, given to the functions by reliability.sh)")
    setup_app()
    set_rate(0)
    alerts_url = subscribe("reliability-canary")
    tap_url = bus_tap("reliability-canary-tap")
    name = "canary"
    token, stripe, db_pass, bearer = canaries[:4]
    branch(name, environmentVariables={"API_TOKEN": token, "NEXT_PUBLIC_STRIPE_SECRET": stripe,
                                       "DATABASE_URL": f"postgres://app:{db_pass}@db.internal:5432/shop"})
    log = (f"2026-11-23T10:00:00.000Z [INFO]: # Starting phase: build\n"
           f"2026-11-23T10:00:00.100Z [INFO]: export API_TOKEN={token}\n"
           f"2026-11-23T10:00:00.200Z [INFO]: curl -H 'Authorization: Bearer {bearer}' https://api.internal/\n"
           f"2026-11-23T10:00:00.300Z [INFO]: connecting to postgres://app:{db_pass}@db.internal:5432/shop\n"
           f"2026-11-23T10:00:00.400Z [INFO]: NEXT_PUBLIC_STRIPE_SECRET={stripe}\n"
           f"2026-11-23T10:00:01.000Z [INFO]: Error: connect ECONNREFUSED postgres://app:{db_pass}@db.internal:5432\n"
           f"2026-11-23T10:00:01.000Z [INFO]: FATAL ERROR: Reached heap limit Allocation failed - "
           f"JavaScript heap out of memory (token={token})\n"
           f"2026-11-23T10:00:01.100Z [ERROR]: !!! Build failed\n")
    build(name, "FAILED", sha("canary1"), log=log)
    build(name, "SUCCEED", sha("canary2"))
    # An event carrying a canary where a value does not belong: refused, and
    # the error must not repeat it.
    ingest = next(r for r in routes() if r["function"] == "build-event-handler")
    sqs.send_message(QueueUrl=ingest["queueUrl"], MessageBody=json.dumps({
        "version": "0", "id": str(uuid.uuid4()), "detail-type": "Amplify Deployment Status Change",
        "source": "aws.amplify", "account": "123456789012", "time": "2026-11-23T10:00:00Z", "region": REGION,
        "resources": [], "detail": {"appId": APP, "branchName": name, "jobId": token, "jobStatus": "FAILED"}}))
    check(quiet(args.timeout), "the stack went quiet")
    time.sleep(2)
    outputs = {}
    for log_name in ("lambda.log", "dispatcher.log"):
        with open(os.path.join(ROOT, ".local", log_name), errors="replace") as f:
            outputs[f".local/{log_name}"] = f.read()
    outputs["SNS messages"] = "\n".join(m["Body"] for m in drain(alerts_url, wait=2))
    outputs["domain events"] = "\n".join(m["Body"] for m in drain(tap_url, wait=1))
    items = [page["Items"] for page in ddb.get_paginator("scan").paginate(TableName=TABLE)]
    outputs["table items"] = json.dumps(items)
    dead = dlq_messages()
    # A dead-lettered event keeps its body (it is replayed as it came); its
    # error attributes are output and must be masked.
    outputs["DLQ error attributes"] = json.dumps([m.get("MessageAttributes", {}) for m in dead])
    check(len(outputs["SNS messages"]) > 0, "the failed build was alerted")
    for where, text in outputs.items():
        hits = [c for c in canaries if c in text]
        check(not hits, f"no canary in {where} ({len(text)} bytes searched)"
              + (f": {len(hits)} found" if hits else ""))


# --- roles -----------------------------------------------------------------

def granted_table(grants, action, detail):
    """Whether a role's DynamoDB grants (least_privilege.Access) cover one
    seen request: `table BRANCH#`, `table` (a scan), `index/NAME`."""
    target, _, key = detail.partition(" ")
    for g in grants:
        if g.action != action or g.target != target:
            continue
        if g.prefix is None or (key and key.startswith(g.prefix)):
            return True
    return False


def phase_roles(args):
    print("\n== roles: every AWS call of the phases before, against the functions' roles")
    import least_privilege as lp
    if not (PROXY and PROXY_AMPLIFY):
        check(False, "the functions' calls went through the proxies (FAULT_PROXY_URL, FAULT_PROXY_AMPLIFY_URL)")
        return
    seen = {}
    stats = proxies("stats")
    key = stats["aws"].get("table_key")
    check(key == lp.table_key(), f"the proxy reads the table's partition key ({key}, template: {lp.table_key()})")
    for proxy in stats.values():
        for caller, ops in proxy.get("seen", {}).items():
            for op, details in ops.items():
                seen.setdefault(caller, {}).setdefault(op, set()).update(details)
    functions = lp.deployed_functions()
    sources, types = bus_takes(lp)
    for caller in sorted(seen):
        # Locally the app name is the binary's; deployed, the function's name ends with it.
        function = next((f for f in functions if caller == f or caller.endswith("-" + f)), None)
        if function is None:
            continue
        role = functions[function][1]
        granted, table = lp.role_actions(role), lp.role_table_accesses(role)
        # GitHub's credentials are read when the local stack turns GitHub on
        # (least_privilege.GITHUB_CREDENTIALS).
        predicted = lp.code_actions(function) | lp.github_actions(function)
        predicted_table = lp.code_table_accesses(function)
        denied, unpredicted, off_bus = [], [], []
        for op, details in sorted(seen[caller].items()):
            action = op  # the proxy names the service by SigV4's signing name: IAM's prefix for these
            if action not in granted:
                denied.append(action)
            if action not in predicted:
                unpredicted.append(action)
            if action.startswith("dynamodb:"):
                denied += [f"{action} {d}" for d in sorted(details) if not granted_table(table, action, d)]
                unpredicted += [f"{action} {d}" for d in sorted(details)
                                if not granted_table(predicted_table, action, d)]
            if action == "events:PutEvents":
                for d in sorted(details):
                    put_source, _, put_type = d.partition(" / ")
                    # A function publishes as the stack (`sentinel`), never
                    # as a reporter.
                    if put_source not in sources or put_source != "sentinel" or put_type not in types:
                        off_bus.append(d)
        print(f"  {function}: {len(seen[caller])} of the {len(predicted)} actions its code may call exercised: "
              + ", ".join(sorted(seen[caller])))
        check(not denied, f"{function}: its role grants every call it made"
              + (f"; denied: {denied}" if denied else ""))
        check(not unpredicted, f"{function}: the static scan predicted every call it made"
              + (f"; missed: {unpredicted}" if unpredicted else ""))
        check(not off_bus, f"{function}: the bus takes every event it put"
              + (f"; refused: {off_bus}" if off_bus else ""))
    missing = sorted(set(functions) - {f for f in functions for c in seen if c == f or c.endswith("-" + f)})
    print("  functions that made no AWS call through the proxies: " + (", ".join(missing) or "none"))


def bus_takes(lp):
    """The sources and detail types the bus's policy lets in (the functions'
    `sentinel`, and `sentinel.report.*` for reports, as IAM patterns)."""
    bus = next(r for r in lp.template()["Resources"].values() if r["Type"] == "AWS::Events::EventBus")
    policy = lp.resolver().resolve(bus["Properties"]["Policy"])
    statements = {st["Sid"]: st for st in policy["Statement"]}
    sources = statements["OnlyTheStacksSource"]["Condition"]["ForAnyValue:StringNotLike"]["events:source"]
    types = statements["OnlyTheStacksEventTypes"]["Condition"]["ForAnyValue:StringNotEquals"]["events:detail-type"]
    return {sources} if isinstance(sources, str) else set(sources), set(types)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phases", nargs="+", choices=["calls", "latency", "faults", "burst", "canary", "roles"])
    ap.add_argument("--builds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--log-mb", type=int, default=10)
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--branches", type=int, default=8)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--backlog", type=int, default=200, help="most burst events queued at once (moto's SQS)")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    for phase in args.phases:
        globals()[f"phase_{phase}"](args)
    print()
    if failures:
        print(f"reliability: {len(failures)} check(s) failed:")
        for f in failures:
            print("  - " + f)
        return 1
    print("reliability: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
