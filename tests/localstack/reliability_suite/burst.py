"""burst: Amplify events into the ingest queue at once, as fast as it
drains: none lost; the dispatcher serves only ingest meanwhile."""

import json
import os
import subprocess
import sys
import time
import uuid

from .stack import APP, ENV, REGION, ROOT, check, dlq_messages, events, records, routes, set_rate, setup_app, sqs, \
    status_of


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
