#!/usr/bin/env python3
"""Cold start of each function's release binary, beside a Node.js 20 handler.

Each run spawns one process behind a stub Lambda Runtime API on 127.0.0.1
and takes, on one clock:
  - init: from just before the exec to the process's first
    `GET /2018-06-01/runtime/invocation/next` (what Lambda bills as INIT and
    what a user waits for before the first event is even handed over);
  - first: from the exec to the answer (`POST .../response` or `.../error`)
    of a first invocation with an event the function acts on, so work a
    function deferred out of its init (its HTTPS client) is counted too.
    Every AWS endpoint points at the stub, which answers the first AWS call
    at once with a non-retryable error, and the function answers with it.
  - peak RSS (the process's own VmHWM) at init and after the first answer.
Runs are interleaved (A B C ... A B C ...), so a noisy neighbour slows every
command alike. The Node.js handler (bench/coldstart/handler.mjs) creates, at
module load, the AWS SDK v3 clients the Rust function builds, and runs the
same Runtime API loop with Node's own fetch.

    python3 scripts/bench-coldstart.py [--runs 20] [--no-build]   # also part of `make bench`
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.expanduser("~"), ".cache/deploy-sentinel/target"))
NODE_DIR = os.path.join(ROOT, "bench", "coldstart")

# Function -> the SDK clients its binary builds (the Node.js handler builds
# the same ones).
FUNCTIONS = {
    "build-event-handler": "dynamodb,amplify,eventbridge,sqs",
    "validator": "dynamodb,amplify,eventbridge,sqs",
    "health-checker": "dynamodb,amplify,eventbridge,sqs",
    "alerter": "dynamodb,amplify,eventbridge,sqs,sns",
    "rollback": "dynamodb,amplify,eventbridge,sqs",
    "metrics-collector": "dynamodb,amplify,eventbridge,sqs",
    "cleanup": "dynamodb,amplify,eventbridge,sqs",
}


def _build(detail_type, status):
    return {"version": "0", "id": "bench-1", "source": "sentinel", "detail-type": detail_type,
            "account": "123456789012", "time": "2026-11-23T10:00:00Z", "region": "us-east-1", "resources": [],
            "detail": {"eventId": "d1bench/main/0000000002/" + status, "environment": "dev", "appId": "d1bench",
                       "branchName": "main", "jobId": "2", "status": status,
                       "commitId": "2222222222222222222222222222222222222222", "commitMessage": "bench",
                       "commitTime": None, "jobType": "RELEASE", "startTime": "2026-11-23T09:58:00Z",
                       "endTime": None, "durationSeconds": None, "isRollback": False, "rollbackOf": None}}


SCHEDULED = {"version": "0", "id": "bench-1", "source": "aws.events", "detail-type": "Scheduled Event",
             "account": "123456789012", "time": "2026-11-23T10:00:00Z", "region": "us-east-1", "resources": [],
             "detail": {}}
UNHEALTHY = {"version": "0", "id": "bench-1", "source": "sentinel", "detail-type": "Deployment Unhealthy",
             "account": "123456789012", "time": "2026-11-23T10:00:00Z", "region": "us-east-1", "resources": [],
             "detail": {"eventId": "d1bench/main/0000000002/health", "environment": "dev", "appId": "d1bench",
                        "branchName": "main", "jobId": "2", "commitId": "2222222222222222222222222222222222222222",
                        "verdict": "unhealthy", "reason": "bench", "url": "http://127.0.0.1/", "endpoints": [],
                        "isRollback": False, "rollbackOf": None, "scheduled": False, "rollbackAllowed": True}}
# The first event each function gets: one it acts on, so that its first
# answer includes its first AWS call (the stub answers it with an error).
EVENTS = {
    "build-event-handler": {"version": "0", "id": "bench-1", "detail-type": "Amplify Deployment Status Change",
                            "source": "aws.amplify", "account": "123456789012", "time": "2026-11-23T10:00:00Z",
                            "region": "us-east-1", "resources": [],
                            "detail": {"appId": "d1bench", "branchName": "main", "jobId": "2",
                                       "jobStatus": "SUCCEED"}},
    "validator": _build("Build Started", "STARTED"),
    "health-checker": _build("Build Succeeded", "SUCCEED"),
    "alerter": _build("Build Failed", "FAILED"),
    "rollback": UNHEALTHY,
    "metrics-collector": SCHEDULED,
    "cleanup": SCHEDULED,
}


class StubRuntime:
    """A Lambda Runtime API for one process at a time, plus a stand-in for
    every AWS endpoint (400, non-retryable). Records when `next` and the
    answer arrive."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.reset()
        threading.Thread(target=self.serve, daemon=True).start()

    def reset(self, event=b"{}"):
        self.event = event
        self.next_at = None
        self.answer_at = None
        self.answered = threading.Event()
        self.at_next = threading.Event()
        self.invocations = 0

    def serve(self):
        while True:
            conn, _ = self.sock.accept()
            threading.Thread(target=self.connection, args=(conn,), daemon=True).start()

    def connection(self, conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                head, buf = buf.split(b"\r\n\r\n", 1)
                now = time.perf_counter()
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value.strip())
                while len(buf) < length:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                buf = buf[length:]
                conn.sendall(self.answer(method, path, now))
        except OSError:
            return
        finally:
            conn.close()

    def answer(self, method, path, now):
        if path.endswith("/runtime/invocation/next"):
            if self.invocations > 0:
                # The first invocation is answered: hold the process here
                # until it is killed, as Lambda freezes it.
                self.at_next.set()
                time.sleep(3600)
            if self.next_at is None:
                self.next_at = now
            self.invocations += 1
            self.at_next.set()
            headers = {
                "Lambda-Runtime-Aws-Request-Id": "bench-%d" % self.invocations,
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30000),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:bench",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000",
                "Content-Type": "application/json",
            }
            return response(200, self.event, headers)
        if "/runtime/invocation/" in path or "/runtime/init/error" in path:
            self.answer_at = now
            self.answered.set()
            return response(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        body = b'{"__type":"ValidationException","message":"bench stub: no AWS here"}'
        return response(400, body, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": "ValidationException"})


def response(status, body, headers):
    reason = {200: "OK", 202: "Accepted", 400: "Bad Request"}[status]
    lines = ["HTTP/1.1 %d %s" % (status, reason), "Content-Length: %d" % len(body)]
    lines += ["%s: %s" % kv for kv in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def vm_hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def env_for(stub, clients):
    endpoint = "http://127.0.0.1:%d" % stub.port
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % stub.port,
        "AWS_LAMBDA_FUNCTION_NAME": "bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_LAMBDA_LOG_GROUP_NAME": "bench",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "AKIDBENCH",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_SESSION_TOKEN": "bench",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_MAX_ATTEMPTS": "1",
        "SENTINEL_TABLE": "deploy-sentinel-bench",
        "SENTINEL_EVENT_BUS": "sentinel-bench",
        "SENTINEL_ENVIRONMENT": "dev",
        "SENTINEL_ALERT_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:bench",
        "SENTINEL_DLQ_URL": endpoint + "/123456789012/bench-dlq",
        "SENTINEL_APP_IDS": "d1bench",
        "RUST_LOG": "warn",
        "BENCH_CLIENTS": clients,
    }
    return env


def run_once(stub, argv, env, event):
    stub.reset(json.dumps(event).encode())
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        if not stub.at_next.wait(30):
            raise RuntimeError("%s: no `next` within 30 s: %s" % (argv[0], proc.stderr.read1(4000).decode(errors="replace")))
        rss_init = vm_hwm_kib(proc.pid)
        stub.at_next.clear()
        if not stub.answered.wait(30):
            raise RuntimeError("%s: no answer within 30 s" % argv[0])
        stub.at_next.wait(5)
        rss_first = vm_hwm_kib(proc.pid)
        return (stub.next_at - start) * 1000, (stub.answer_at - start) * 1000, rss_init, rss_first
    finally:
        proc.kill()
        proc.wait()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--no-build", action="store_true", help="use the release binaries already built")
    ap.add_argument("--json", help="also write the raw figures to this file")
    args = ap.parse_args()

    if not args.no_build:
        packages = [a for f in FUNCTIONS for a in ("-p", f)]
        subprocess.run(["cargo", "build", "--release", "--quiet", *packages], cwd=ROOT, check=True)
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@aws-sdk", "client-dynamodb")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"], cwd=NODE_DIR, check=True)
    node = shutil.which("node")
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout.strip()

    stub = StubRuntime()
    commands = {}
    for name, clients in FUNCTIONS.items():
        commands[name] = ([os.path.join(TARGET, "release", name)], clients, EVENTS[name])
    for clients in sorted(set(FUNCTIONS.values())):
        commands["node " + clients.replace(",", "+")] = (
            [node, os.path.join(NODE_DIR, "handler.mjs")], clients, EVENTS["build-event-handler"])

    results = {name: [] for name in commands}
    for name, (argv, clients, event) in commands.items():  # one warm-up each (page cache)
        run_once(stub, argv, env_for(stub, clients), event)
    for _ in range(args.runs):
        for name, (argv, clients, event) in commands.items():
            results[name].append(run_once(stub, argv, env_for(stub, clients), event))

    def size(name):
        path = commands[name][0][0]
        return os.path.getsize(path) / 1e6 if not name.startswith("node") else None

    print("Cold start, %d runs each, interleaved; node %s; %s" % (args.runs, node_version, os.uname().machine))
    print()
    print("| process | init median | init p90 | first answer median | first answer p90 | RSS at init | RSS after first | binary |")
    print("|---|---|---|---|---|---|---|---|")
    summary = {}
    for name, rows in results.items():
        init = [r[0] for r in rows]
        first = [r[1] for r in rows]
        rss_init = max(r[2] or 0 for r in rows) / 1024
        rss_first = max(r[3] or 0 for r in rows) / 1024
        summary[name] = {"init_median_ms": statistics.median(init), "init_p90_ms": pct(init, 90),
                         "first_median_ms": statistics.median(first), "first_p90_ms": pct(first, 90),
                         "rss_init_mib": rss_init, "rss_first_mib": rss_first}
        binary = "%.1f MB" % size(name) if size(name) else "(node_modules %s)" % du(os.path.join(NODE_DIR, "node_modules"))
        print("| %s | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %.1f MiB | %.1f MiB | %s |" % (
            name, summary[name]["init_median_ms"], summary[name]["init_p90_ms"], summary[name]["first_median_ms"],
            summary[name]["first_p90_ms"], rss_init, rss_first, binary))
    print()
    for name, clients in FUNCTIONS.items():
        node_name = "node " + clients.replace(",", "+")
        print("%-20s init %.0fx faster, first answer %.0fx faster than %s" % (
            name, summary[node_name]["init_median_ms"] / summary[name]["init_median_ms"],
            summary[node_name]["first_median_ms"] / summary[name]["first_median_ms"], node_name))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": args.runs, "summary": summary, "raw": results}, f, indent=1)


def du(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, f))
            except OSError:
                pass
    return "%.1f MB" % (total / 1e6)


if __name__ == "__main__":
    sys.exit(main())
