#!/usr/bin/env python3
"""Plays Lambda's SQS event source mapping, which moto does not have.

For each route written by provision.py (queue -> function), it long-polls the
queue, invokes the function through the Lambda Runtime API emulator of
`cargo lambda watch` with a real SQS event, and deletes the records the
function did not report in `batchItemFailures` (none when the invocation
itself failed). Failed records become visible again after the queue's
visibility timeout; moto's redrive policy moves them to the DLQ after
maxReceiveCount receives, as SQS does.

Bounded: stops after --max-seconds, on SIGTERM, or with --once when every
queue has been empty for --idle-seconds: nothing visible and nothing in
flight, so records that failed are retried until they succeed or are
dead-lettered (use a short --visibility-timeout in provision.py for that).
One line per invocation goes to stdout, or is appended to --log FILE.
"""

import argparse
import hashlib
import json
import os
import signal
import sys
import threading
import time

import boto3
import requests

stop = threading.Event()
log_file = sys.stdout
log_lock = threading.Lock()


def log(line):
    with log_lock:
        print(f"{time.strftime('%H:%M:%S')} {line}", file=log_file, flush=True)


def lambda_attributes(message):
    out = {}
    for name, attr in message.get("MessageAttributes", {}).items():
        out[name] = {"stringValue": attr.get("StringValue"), "binaryValue": None,
                     "stringListValues": [], "binaryListValues": [], "dataType": attr["DataType"]}
    return out


def sqs_event(route, messages, region):
    records = []
    for m in messages:
        records.append({
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": lambda_attributes(m),
            "md5OfBody": m.get("MD5OfBody") or hashlib.md5(m["Body"].encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": route["queueArn"],
            "awsRegion": region,
        })
    return {"Records": records}


def invoke(endpoint, function, payload, report_failures=True):
    """Returns the ids the function failed, or None when the whole invocation failed."""
    url = f"{endpoint}/2015-03-31/functions/{function}/invocations"
    try:
        resp = requests.post(url, json=payload, timeout=300)
    except requests.RequestException as e:
        log(f"{function}: invocation failed: {e}")
        return None
    try:
        body = resp.json()
    except ValueError:
        body = {"errorType": "Dispatcher.NotJson", "errorMessage": resp.text[:200]}
    if not isinstance(body, dict):
        body = {"response": body}  # a function may answer null or a list
    if resp.status_code >= 300 or "errorType" in body:
        log(f"{function}: error {body.get('errorType')}: {str(body.get('errorMessage'))[:300]}")
        return None
    if not report_failures:
        return set()  # without ReportBatchItemFailures Lambda ignores the response
    failures = body.get("batchItemFailures") or []
    ids = {f.get("itemIdentifier") if isinstance(f, dict) else None for f in failures}
    sent = {r["messageId"] for r in payload["Records"]}
    if not ids <= sent:
        # As Lambda does: a missing, empty or unknown itemIdentifier fails the whole batch.
        log(f"{function}: batchItemFailures names no record of the batch: {sorted(map(str, ids - sent))}")
        return None
    return ids


def poll(route, endpoint, region, sqs):
    """One receive/invoke/delete round; returns how many messages it saw."""
    out = sqs.receive_message(QueueUrl=route["queueUrl"], MaxNumberOfMessages=min(route["batchSize"], 10),
                              WaitTimeSeconds=1, AttributeNames=["All"], MessageAttributeNames=["All"])
    messages = out.get("Messages", [])
    if not messages:
        return 0
    started = time.monotonic()
    failed = invoke(endpoint, route["function"], sqs_event(route, messages, region),
                    route.get("reportBatchItemFailures", True))
    took_ms = (time.monotonic() - started) * 1000
    if failed is None:
        failed = {m["MessageId"] for m in messages}
    done = [m for m in messages if m["MessageId"] not in failed]
    if done:
        sqs.delete_message_batch(QueueUrl=route["queueUrl"], Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)])
    log(f"{route['function']} <- {route['event']}: {len(messages)} records, {len(done)} done, {len(failed)} to retry"
        f" in {took_ms:.0f} ms")
    return len(messages)


def queue_is_empty(sqs, route):
    """No message visible, in flight (a failed record waiting to come back) or delayed."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
             "ApproximateNumberOfMessagesDelayed"]
    attrs = sqs.get_queue_attributes(QueueUrl=route["queueUrl"], AttributeNames=names)["Attributes"]
    return all(int(attrs.get(n, 0)) == 0 for n in names)


def run_route(route, endpoint, region, deadline, once, idle_seconds):
    sqs = boto3.client("sqs", region_name=region)
    last_seen = time.time()
    while not stop.is_set() and time.time() < deadline:
        try:
            if poll(route, endpoint, region, sqs):
                last_seen = time.time()
            elif once and time.time() - last_seen >= idle_seconds and queue_is_empty(sqs, route):
                return
        except Exception as e:  # keep dispatching: a moto hiccup must not end the stack
            log(f"{route['function']}: {type(e).__name__}: {e}")
            time.sleep(1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes", default=".local/routes.json")
    ap.add_argument("--endpoint", default=os.environ.get("SENTINEL_LAMBDA_ENDPOINT", "http://127.0.0.1:9010"))
    ap.add_argument("--max-seconds", type=float, default=3600)
    ap.add_argument("--once", action="store_true",
                    help="exit once every queue has been empty (nothing visible or in flight) for --idle-seconds")
    ap.add_argument("--idle-seconds", type=float, default=3)
    ap.add_argument("--log", help="append the log to this file instead of stdout")
    ap.add_argument("--pollers", type=int, default=1,
                    help="concurrent pollers per queue, as Lambda scales its SQS pollers (use with "
                         "LAMBDA_CONCURRENCY in local-up.sh)")
    args = ap.parse_args()

    global log_file
    if args.log:
        log_file = open(args.log, "a", buffering=1)

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with open(args.routes) as f:
        routes = json.load(f)
    region = os.environ.get("AWS_REGION", "us-east-1")
    deadline = time.time() + args.max_seconds
    log(f"dispatching {len(routes)} routes to {args.endpoint}")
    threads = [threading.Thread(target=run_route, args=(r, args.endpoint, region, deadline, args.once, args.idle_seconds),
                                daemon=True) for r in routes for _ in range(max(1, args.pollers))]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive() and not stop.is_set():
            t.join(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
