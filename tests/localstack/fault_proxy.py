#!/usr/bin/env python3
"""A fault-injecting HTTP proxy between the functions and the local AWS
endpoints (moto, the Amplify emulator), for the reliability suite.

For a share of the calls (--rate, 0.2 = 20 %) it does one of, at random
(seeded, so a run can be repeated):
  - drop:      closes the connection without forwarding (the call is lost);
  - delay:     holds the call 0.5-2.5 s, then forwards it;
  - error500:  answers 500 InternalFailure without forwarding;
  - throttle:  answers ThrottlingException (400) in the service's protocol;
  - lost:      forwards the call, then closes the connection without the
               answer (the call took effect; the caller cannot know). Not
               applied to SNS Publish: a standard topic is at-least-once and
               a publish whose answer is lost is sent again by design (a
               duplicate alert beats a lost one).
Every call is counted per caller (the SDK's app name, `app/NAME` in the user
agent: the function's name), service and operation, with its fate.
GET /_proxy/stats answers the counts as JSON; POST /_proxy/config
{"rate": R, "seed": S} changes the rate; POST /_proxy/reset zeroes counts.

Beside the counts, `seen` (never reset) holds what each caller asked, as IAM
sees it, for the reliability suite's check of the functions' roles: the
operation's name (a REST call's from botocore's model: GetJob, not
`GET /apps/{}/…`), and for DynamoDB the table or index and the partition
key's prefix (`table BRANCH#`), for PutEvents each entry's source and
detail type.

    fault_proxy.py --listen 4530 --upstream http://127.0.0.1:4510 --rate 0.2
"""

import argparse
import asyncio
import functools
import json
import random
import re
import sys
import urllib.parse
from collections import Counter

FATES = ["drop", "delay", "error500", "throttle", "lost"]


class Proxy:
    def __init__(self, upstream, rate, seed, table_key="PK"):
        u = urllib.parse.urlparse(upstream)
        self.host, self.port = u.hostname, u.port or 80
        self.rate = rate
        self.table_key = table_key
        self.random = random.Random(seed)
        self.calls = Counter()  # "caller service operation" -> n
        self.fates = Counter()  # "caller service operation fate" -> n
        self.seen = {}  # caller -> "service:Operation" -> set of details

    def stats(self):
        return {
            "rate": self.rate,
            "calls": dict(self.calls),
            "fates": dict(self.fates),
            "total": sum(self.calls.values()),
            "faults": sum(self.fates.values()),
            "table_key": self.table_key,
            "seen": {caller: {op: sorted(d) for op, d in ops.items()} for caller, ops in self.seen.items()},
        }

    def see(self, caller, service, operation, details):
        self.seen.setdefault(caller, {}).setdefault(f"{service}:{operation}", set()).update(details)

    def fate(self, service, operation):
        if self.rate <= 0 or self.random.random() >= self.rate:
            return None
        fate = self.random.choice(FATES)
        if fate == "lost" and service == "sns" and operation == "Publish":
            fate = "error500"
        return fate


async def read_request(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = b""
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            body += chunk[:-2]
            if size == 0:
                break
        head = re.sub(rb"(?im)^transfer-encoding:[^\r\n]*\r\n", b"", head)
        head = head[:-2] + b"content-length: %d\r\n\r\n" % len(body)
    return method, target, headers, head, body


def identify(method, target, headers, body):
    """(service, operation) from SigV4's credential scope and the protocol."""
    m = re.search(r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", headers.get("authorization", ""))
    service = m.group(1) if m else "unsigned"
    amz_target = headers.get("x-amz-target")
    if amz_target:
        return service, amz_target.split(".")[-1]
    if body.startswith(b"Action=") or b"&Action=" in body:
        action = urllib.parse.parse_qs(body.decode("latin-1")).get("Action", ["?"])[0]
        return service, action
    path = urllib.parse.urlparse(target).path
    shape = re.sub(r"/[^/]+", lambda p: "/" + ("{}" if re.search(r"\d", p.group(0)) or len(p.group(0)) > 12 else p.group(0)[1:]), path)
    return service, f"{method} {shape}"


@functools.lru_cache(maxsize=None)
def rest_routes(service):
    """A REST service's operations by method and path (botocore's model)."""
    try:
        from botocore.loaders import Loader
        model = Loader().load_service_model(service, "service-2")
    except Exception:  # noqa: BLE001 - no model: the shape stands
        return []
    routes = []
    for name, op in model["operations"].items():
        uri = op["http"]["requestUri"].split("?")[0]
        pattern = re.sub(r"\{\w+\+\}", ".+", re.sub(r"\{\w+\}", "[^/]+", uri))
        routes.append((op["http"]["method"], re.compile(f"^{pattern}$"), name, len(re.sub(r"\{[^}]+\}", "", uri))))
    # The most literal route first (`/jobs/{jobId}/stop` before `/jobs/{jobId}`).
    return sorted(routes, key=lambda r: -r[3])


def iam_view(service, operation, method, target, body, table_key):
    """(operation, details): the call as IAM names it. A REST operation's
    name from its route; DynamoDB's table or index and partition-key
    prefix; PutEvents' sources and detail types."""
    if " " in operation:
        path = urllib.parse.urlparse(target).path
        for verb, regex, name, _ in rest_routes(service):
            if verb == method and regex.match(path):
                operation = name
                break
    details = set()
    try:
        payload = json.loads(body) if body[:1] == b"{" else {}
    except ValueError:
        payload = {}
    if service == "dynamodb" and payload:
        where = f"index/{payload['IndexName']}" if payload.get("IndexName") else "table"
        key = (payload.get("Key") or payload.get("Item") or {}).get(table_key, {}).get("S")
        condition = payload.get("KeyConditionExpression", "")
        m = re.search(r"(?:^|\(|\s)%s\s*=\s*(:\w+)" % re.escape(table_key), condition)
        if m and not payload.get("IndexName"):
            key = payload.get("ExpressionAttributeValues", {}).get(m.group(1), {}).get("S")
        prefix = re.match(r"[A-Za-z0-9_]*#", key) if key else None
        details.add(f"{where} {prefix.group(0)}" if prefix else (f"{where} {key}" if key else where))
    if service == "events" and operation == "PutEvents":
        for entry in payload.get("Entries", []):
            details.add(f"{entry.get('Source')} / {entry.get('DetailType')}")
    return operation, details


def throttle_response(service):
    if service == "sns":
        body = (b'<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>Sender</Type>'
                b"<Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>")
        ctype = b"text/xml"
    else:
        body = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
        ctype = b"application/x-amz-json-1.0"
    return (b"HTTP/1.1 400 Bad Request\r\nx-amzn-ErrorType: ThrottlingException\r\nx-amzn-RequestId: fault-proxy\r\n"
            b"Content-Type: " + ctype + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def error500_response():
    body = b'{"__type":"InternalFailure","message":"fault proxy: injected 500"}'
    return (b"HTTP/1.1 500 Internal Server Error\r\nx-amzn-ErrorType: InternalFailure\r\nx-amzn-RequestId: fault-proxy\r\n"
            b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def json_response(obj):
    body = json.dumps(obj).encode()
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body


async def forward(proxy, head, body):
    """One request to the upstream, on its own connection; the whole answer."""
    reader, writer = await asyncio.open_connection(proxy.host, proxy.port)
    try:
        head = re.sub(rb"(?im)^connection:[^\r\n]*\r\n", b"", head)
        writer.write(head[:-2] + b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        return await reader.read()
    finally:
        writer.close()


async def handle(proxy, reader, writer):
    try:
        while True:
            try:
                method, target, headers, head, body = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
                return
            if target.startswith("/_proxy/"):
                if target == "/_proxy/config" and body:
                    cfg = json.loads(body)
                    proxy.rate = float(cfg.get("rate", proxy.rate))
                    if "seed" in cfg:
                        proxy.random.seed(cfg["seed"])
                if target == "/_proxy/reset":
                    proxy.calls.clear()
                    proxy.fates.clear()
                writer.write(json_response(proxy.stats()))
                await writer.drain()
                continue
            service, operation = identify(method, target, headers, body)
            caller = re.search(r"(?:^|\s)app/(\S+)", headers.get("x-amz-user-agent", "") + " " + headers.get("user-agent", ""))
            name = f"{caller.group(1) if caller else 'unknown'} {service} {operation}"
            proxy.calls[name] += 1
            iam_operation, details = iam_view(service, operation, method, target, body, proxy.table_key)
            proxy.see(caller.group(1) if caller else "unknown", service, iam_operation, details)
            fate = proxy.fate(service, operation)
            if fate:
                proxy.fates[f"{name} {fate}"] += 1
            if fate == "drop":
                return
            if fate == "error500":
                writer.write(error500_response())
                await writer.drain()
                continue
            if fate == "throttle":
                writer.write(throttle_response(service))
                await writer.drain()
                continue
            if fate == "delay":
                await asyncio.sleep(0.5 + proxy.random.random() * 2)
            answer = await forward(proxy, head, body)
            if fate == "lost":
                return
            # The upstream closed its connection after the answer; keep the
            # caller's open (its framing is the answer's Content-Length).
            answer = re.sub(rb"(?im)^connection: close\r\n", b"", answer, count=1)
            writer.write(answer)
            await writer.drain()
            if b"\r\ncontent-length:" not in answer.split(b"\r\n\r\n", 1)[0].lower():
                return  # framed by the close: close too
    except (ConnectionError, OSError):
        return
    finally:
        writer.close()


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--listen", type=int, required=True)
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--table-key", default="PK", help="the table's partition key (what dynamodb:LeadingKeys sees)")
    args = ap.parse_args()
    proxy = Proxy(args.upstream, args.rate, args.seed, args.table_key)
    server = await asyncio.start_server(lambda r, w: handle(proxy, r, w), "127.0.0.1", args.listen, limit=1 << 24)
    print(f"fault proxy :{args.listen} -> {args.upstream}, rate {args.rate}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
