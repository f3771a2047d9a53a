"""The dispatcher plays the SQS event source against the provisioned queues:
partial batch failures, failed invocations, the DLQ."""

import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .fixtures import ACCOUNT, HERE, queue_counts, receive_all


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
