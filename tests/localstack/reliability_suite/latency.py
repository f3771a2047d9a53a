"""latency: Amplify "FAILED" event -> alert in the subscriber's queue, with
a large build log (no faults)."""

import json
import statistics
import time
import uuid

from .stack import APP, branch, check, ctl, drain, quiet, set_rate, setup_app, sha, sqs, subscribe


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
