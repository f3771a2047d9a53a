"""canary: canary secrets in the functions' variables, branch variables,
build logs and events; then every output is searched for them."""

import json
import os
import time
import uuid

from .stack import (APP, ENV, REGION, ROOT, TABLE, branch, build, bus_tap, check, ddb, dlq_messages, drain, quiet,
                    routes, set_rate, sha, setup_app, sqs, subscribe)


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
