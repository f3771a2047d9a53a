#!/usr/bin/env python3
"""The project's Amplify emulator (moto has no Amplify).

Serves Amplify's REST-JSON API as botocore's model
(botocore/data/amplify/2017-07-25/service-2.json) describes it — paths,
member names, required members, epoch-second timestamps, errors named by the
`x-amzn-errortype` header — for the operations the project calls, plus a
control API under /_emulator to create apps and play builds, job logs at
pre-signed-looking `logUrl`s, and a site per branch that reports its deployed
commit. Status changes are delivered to EventBridge's default bus (moto) in
Amplify's real event shape. See tests/localstack/README.md.

Binds 127.0.0.1 unless told otherwise. Standard library only, plus boto3 for
PutEvents.
"""

import argparse
import hashlib
import json
import os
import random
import re
import string
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

REGION = "us-east-1"
ACCOUNT = "123456789012"
APP_ID = re.compile(r"^d[a-z0-9]{1,19}$")
JOB_TYPES = {"RELEASE", "RETRY", "MANUAL", "WEB_HOOK"}
TERMINAL = {"SUCCEED", "FAILED", "CANCELLED"}
EVENT_STATUS = {"RUNNING": "STARTED", "SUCCEED": "SUCCEED", "FAILED": "FAILED"}


class ApiError(Exception):
    STATUS = {"BadRequestException": 400, "UnauthorizedException": 401, "NotFoundException": 404,
              "LimitExceededException": 429, "InternalFailureException": 500}

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, self.STATUS[kind]


def now():
    return time.time()


def iso(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def display_name(branch):
    return branch.replace("/", "-").replace(".", "-")


def success_log(commit):
    return "\n".join([
        "# Starting phase: preBuild", "# Executing command: npm ci",
        "added 812 packages, and audited 813 packages in 21s",
        "# Completed phase: preBuild", "# Starting phase: build",
        "# Executing command: npm run build", "> next build",
        "   ▲ Next.js 14.2.3", "   Creating an optimized production build ...",
        " ✓ Compiled successfully", " ✓ Generating static pages (12/12)",
        "# Completed phase: build", f"## Build completed for commit {commit[:7]}",
    ])


def failure_log(commit):
    return "\n".join([
        "# Starting phase: preBuild", "# Executing command: npm ci",
        "# Completed phase: preBuild", "# Starting phase: build",
        "# Executing command: npm run build", "> next build",
        "   Creating an optimized production build ...",
        "<--- Last few GCs --->",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "!!! Build failed", "!!! Error: Command failed with exit code 134",
        f"## Build failed for commit {commit[:7]}",
    ])


class State:
    def __init__(self, port, events_endpoint):
        self.lock = threading.RLock()
        self.port = port
        self.events_endpoint = events_endpoint
        self._events_client = None
        self.reset()

    def reset(self):
        with self.lock:
            self.apps, self.branches, self.jobs, self.sites, self.calls = {}, {}, {}, {}, []

    # ----- lookups -----
    def app(self, app_id):
        if not APP_ID.match(app_id or ""):
            raise ApiError("BadRequestException", f"Invalid appId: {app_id!r}")
        if app_id not in self.apps:
            raise ApiError("NotFoundException", f"App {app_id} not found.")
        return self.apps[app_id]

    def branch(self, app_id, name):
        self.app(app_id)
        if not name or len(name) > 255:
            raise ApiError("BadRequestException", "Invalid branchName")
        key = (app_id, name)
        if key not in self.branches:
            raise ApiError("NotFoundException", f"Branch {name} not found for app {app_id}.")
        return self.branches[key]

    def job(self, app_id, branch, job_id):
        self.branch(app_id, branch)
        if not re.fullmatch(r"[0-9]{1,255}", job_id or ""):
            raise ApiError("BadRequestException", f"Invalid jobId: {job_id!r}")
        for job in self.jobs[(app_id, branch)]:
            if job["number"] == int(job_id):
                return job
        raise ApiError("NotFoundException", f"Job {job_id} not found for branch {branch}.")

    # ----- creation -----
    def create_app(self, body, app_id=None):
        name = body.get("name")
        if not name:
            raise ApiError("BadRequestException", "name is required")
        app_id = app_id or "d" + "".join(random.choices(string.ascii_lowercase + string.digits, k=13))
        if not APP_ID.match(app_id):
            raise ApiError("BadRequestException", f"Invalid appId: {app_id!r}")
        t = now()
        app = {
            "appId": app_id, "appArn": f"arn:aws:amplify:{REGION}:{ACCOUNT}:apps/{app_id}",
            "name": name, "description": body.get("description", ""),
            "repository": body.get("repository", f"https://github.com/example/{name}"),
            "platform": body.get("platform", "WEB_COMPUTE"), "createTime": t, "updateTime": t,
            "environmentVariables": body.get("environmentVariables", {}),
            "defaultDomain": f"{app_id}.amplifyapp.com",
            "enableBranchAutoBuild": body.get("enableBranchAutoBuild", True),
            "enableBasicAuth": False, "customRules": [], "autoBranchCreationPatterns": [],
            "tags": body.get("tags", {}),
        }
        if body.get("buildSpec"):
            app["buildSpec"] = body["buildSpec"]
        with self.lock:
            self.apps[app_id] = app
        return app

    def create_branch(self, app_id, body):
        with self.lock:
            self.app(app_id)
            name = body.get("branchName")
            if not name or len(name) > 255:
                raise ApiError("BadRequestException", "branchName is required (1-255 characters)")
            if (app_id, name) in self.branches:
                raise ApiError("BadRequestException", f"Branch {name} already exists.")
            t = now()
            head = body.get("headCommit") or {}
            branch = {
                "branchArn": f"arn:aws:amplify:{REGION}:{ACCOUNT}:apps/{app_id}/branches/{name}",
                "branchName": name, "description": body.get("description", ""),
                "stage": body.get("stage", "PRODUCTION"), "displayName": display_name(name),
                "enableNotification": False, "createTime": t, "updateTime": t,
                "environmentVariables": body.get("environmentVariables", {}),
                "enableAutoBuild": body.get("enableAutoBuild", True), "customDomains": [],
                "framework": body.get("framework", "Next.js - SSR"), "activeJobId": "",
                "totalNumberOfJobs": "0", "enableBasicAuth": False, "ttl": "5",
                "enablePullRequestPreview": False, "tags": {},
                "_head": {"commitId": head.get("commitId", "0" * 40),
                          "commitMessage": head.get("commitMessage", "initial commit")},
                "_behaviour": {"outcome": "SUCCEED", "stepDelayMs": 1000, "emit": True},
            }
            if body.get("buildSpec"):
                branch["buildSpec"] = body["buildSpec"]
            self.branches[(app_id, name)] = branch
            self.jobs[(app_id, name)] = []
            return branch

    def new_job(self, app_id, branch_name, job_type, commit_id, commit_message, took=0.0):
        with self.lock:
            branch = self.branch(app_id, branch_name)
            jobs = self.jobs[(app_id, branch_name)]
            number = (jobs[-1]["number"] + 1) if jobs else 1
            # `took` back-dates the start so a played build reports a
            # realistic duration without the test waiting for it.
            t = now() - took
            job = {"number": number, "appId": app_id, "branch": branch_name, "jobType": job_type,
                   "commitId": commit_id, "commitMessage": commit_message, "commitTime": t - 60,
                   "status": "PENDING", "startTime": t, "endTime": None, "log": None,
                   "statusReason": None, "events": []}
            jobs.append(job)
            branch["totalNumberOfJobs"] = str(len(jobs))
            branch["activeJobId"] = str(number)
            return job

    # ----- playing builds -----
    def advance(self, job, to, emit, log=None):
        with self.lock:
            if job["status"] in TERMINAL:
                raise ApiError("BadRequestException", f"Job {job['number']} already ended ({job['status']}).")
            if to not in {"RUNNING", "SUCCEED", "FAILED", "CANCELLED"}:
                raise ApiError("BadRequestException", f"Cannot advance to {to!r}")
            job["status"] = to
            if to in TERMINAL:
                job["endTime"] = max(now(), job["startTime"] + 0.001)
                if to != "CANCELLED":
                    job["log"] = log or job.get("log") or (
                        success_log(job["commitId"]) if to == "SUCCEED" else failure_log(job["commitId"]))
                if to == "FAILED":
                    job["statusReason"] = "Build failed: Command failed with exit code 134"
            event = self.amplify_event(job, EVENT_STATUS[to]) if to in EVENT_STATUS else None
            if event:
                job["events"].append(event)
        delivered = self.deliver(event) if event and emit else None
        return event, delivered

    def play(self, job, outcome, delay, emit, log):
        def run():
            time.sleep(delay)
            if job["status"] != "PENDING":
                return
            self.advance(job, "RUNNING", emit)
            time.sleep(delay)
            if job["status"] == "RUNNING":
                try:
                    self.advance(job, outcome, emit, log)
                except ApiError:
                    pass  # stopped meanwhile
        threading.Thread(target=run, daemon=True).start()

    def amplify_event(self, job, status):
        return {
            "version": "0", "id": str(uuid.uuid4()),
            "detail-type": "Amplify Deployment Status Change", "source": "aws.amplify",
            "account": ACCOUNT, "time": iso(now()), "region": REGION,
            "resources": [f"arn:aws:amplify:{REGION}:{ACCOUNT}:apps/{job['appId']}/branches/"
                          f"{job['branch']}/jobs/{job['number']:010d}"],
            "detail": {"appId": job["appId"], "branchName": job["branch"],
                       "jobId": str(job["number"]), "jobStatus": status},
        }

    def deliver(self, event):
        """PutEvents to the default bus; returns a short report."""
        if not self.events_endpoint:
            return {"delivered": False, "reason": "no EventBridge endpoint configured"}
        if self._events_client is None:
            import boto3
            self._events_client = boto3.client("events", region_name=REGION, endpoint_url=self.events_endpoint)
        out = self._events_client.put_events(Entries=[{
            "Source": event["source"], "DetailType": event["detail-type"],
            "Detail": json.dumps(event["detail"]), "Resources": event["resources"], "EventBusName": "default"}])
        if out.get("FailedEntryCount"):
            return {"delivered": False, "reason": json.dumps(out["Entries"])}
        return {"delivered": True, "eventId": out["Entries"][0].get("EventId")}

    # ----- wire shapes -----
    def signature(self, path):
        return hashlib.sha256(("emulator-secret" + path).encode()).hexdigest()

    def log_url(self, job):
        path = f"/_logs/{job['appId']}/{quote(job['branch'])}/{job['number']}/BUILD.txt"
        return f"http://127.0.0.1:{self.port}{path}?X-Amz-Expires=900&X-Amz-Signature={self.signature(path)}"

    def summary(self, job):
        out = {
            "jobArn": f"arn:aws:amplify:{REGION}:{ACCOUNT}:apps/{job['appId']}/branches/{job['branch']}/jobs/{job['number']:010d}",
            "jobId": str(job["number"]), "commitId": job["commitId"], "commitMessage": job["commitMessage"],
            "commitTime": job["commitTime"], "startTime": job["startTime"], "status": job["status"],
            "jobType": job["jobType"],
        }
        if job["endTime"] is not None:
            out["endTime"] = job["endTime"]
        return out

    def steps(self, job):
        if job["status"] in {"PENDING", "CANCELLED"} and not job["log"]:
            return []
        build_status = "RUNNING" if job["status"] == "RUNNING" else job["status"]
        end = job["endTime"] or now()
        build = {"stepName": "BUILD", "startTime": job["startTime"], "status": build_status, "endTime": end}
        if job["log"]:
            build["logUrl"] = self.log_url(job)
        if job["statusReason"]:
            build["statusReason"] = job["statusReason"]
        steps = [build]
        if job["status"] == "SUCCEED":
            steps.append({"stepName": "DEPLOY", "startTime": end, "status": "SUCCEED", "endTime": end,
                          "artifactsUrl": f"http://127.0.0.1:{self.port}/_artifacts/{job['number']}"})
        return steps

    @staticmethod
    def public(record):
        return {k: v for k, v in record.items() if not k.startswith("_")}

    def served_commit(self, app_id, branch):
        for job in reversed(self.jobs.get((app_id, branch), [])):
            if job["status"] == "SUCCEED":
                return job["commitId"]
        return None


def quote(branch):
    return branch.replace("%", "%25").replace("/", "%2F")


def page(items, query):
    try:
        max_results = int(query.get("maxResults", ["50"])[0])
        start = int(query.get("nextToken", ["0"])[0] or 0)
    except ValueError:
        raise ApiError("BadRequestException", "maxResults and nextToken must be numbers")
    if not 1 <= max_results <= 100:
        raise ApiError("BadRequestException", "maxResults must be between 1 and 100")
    chunk = items[start:start + max_results]
    token = str(start + max_results) if start + max_results < len(items) else None
    return chunk, token


class Handler(BaseHTTPRequestHandler):
    server_version = "AmplifyEmulator/1.0"
    state: State = None

    def log_message(self, fmt, *args):  # quiet: tests read the call log instead
        pass

    def do_GET(self):
        self.dispatch("GET")

    def do_POST(self):
        self.dispatch("POST")

    def do_DELETE(self):
        self.dispatch("DELETE")

    def body(self):
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise ApiError("BadRequestException", "request body is not JSON")

    def send(self, status, payload, content_type="application/json", headers=None):
        data = payload if isinstance(payload, bytes) else (
            payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.send_header("x-amzn-requestid", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def dispatch(self, method):
        url = urlsplit(self.path)
        # Split before decoding: a branch name may hold an encoded '/'.
        parts = [unquote(p) for p in url.path.split("/")[1:]]
        query = parse_qs(url.query)
        try:
            host = (self.headers.get("host") or "").split(":")[0]
            site = self.site_by_host(host)
            if site:
                return self.serve_site(*site, url.path)
            if parts and parts[0] == "_emulator":
                return self.control(method, parts[1:], query)
            if parts and parts[0] == "_logs":
                return self.serve_log(url.path, parts[1:], query)
            if parts and parts[0] == "_sites" and len(parts) >= 3:
                app_id, shown = parts[1], parts[2]
                branch = next((b for (a, b) in self.state.branches if a == app_id and display_name(b) == shown), None)
                if branch is None:
                    return self.send(404, "no such site", "text/plain")
                return self.serve_site(app_id, branch, "/" + "/".join(parts[3:]))
            return self.api(method, parts, query)
        except ApiError as e:
            self.send(e.status, {"message": e.message}, headers={"x-amzn-errortype": e.kind})

    # ----- Amplify API -----
    def api(self, method, p, query):
        s = self.state
        route = (method, len(p), p[0] if p else None)
        op = None
        if not p or p[0] != "apps":
            raise ApiError("BadRequestException", f"Unknown operation {method} {self.path}")
        with s.lock:
            if route[:3] == ("POST", 1, "apps"):
                op, out = "CreateApp", {"app": s.public(s.create_app(self.body()))}
            elif route[:3] == ("GET", 1, "apps"):
                op = "ListApps"
                apps, token = page([s.public(a) for a in s.apps.values()], query)
                out = {"apps": apps, **({"nextToken": token} if token else {})}
            elif route[:3] == ("GET", 2, "apps"):
                op, out = "GetApp", {"app": s.public(s.app(p[1]))}
            elif route[:3] == ("DELETE", 2, "apps"):
                op, app = "DeleteApp", s.public(s.app(p[1]))
                del s.apps[p[1]]
                for key in [k for k in s.branches if k[0] == p[1]]:
                    del s.branches[key]
                out = {"app": app}
            elif method == "POST" and len(p) == 3 and p[2] == "branches":
                op, out = "CreateBranch", {"branch": s.public(s.create_branch(p[1], self.body()))}
            elif method == "GET" and len(p) == 3 and p[2] == "branches":
                op = "ListBranches"
                s.app(p[1])
                branches, token = page([s.public(b) for (a, _), b in s.branches.items() if a == p[1]], query)
                out = {"branches": branches, **({"nextToken": token} if token else {})}
            elif len(p) == 4 and p[2] == "branches":
                branch = s.branch(p[1], p[3])
                if method == "GET":
                    op, out = "GetBranch", {"branch": s.public(branch)}
                elif method == "POST":
                    op, out = "UpdateBranch", {"branch": s.public(self.update_branch(branch, self.body()))}
                elif method == "DELETE":
                    op = "DeleteBranch"
                    del s.branches[(p[1], p[3])]
                    out = {"branch": s.public(branch)}
            elif len(p) == 5 and p[2] == "branches" and p[4] == "jobs":
                if method == "GET":
                    op = "ListJobs"
                    s.branch(p[1], p[3])
                    jobs = [s.summary(j) for j in reversed(s.jobs[(p[1], p[3])])]
                    chunk, token = page(jobs, query)
                    out = {"jobSummaries": chunk, **({"nextToken": token} if token else {})}
                elif method == "POST":
                    op, out = "StartJob", {"jobSummary": s.summary(self.start_job(p[1], p[3], self.body()))}
            elif len(p) == 6 and p[2] == "branches" and p[4] == "jobs" and method == "GET":
                job = s.job(p[1], p[3], p[5])
                op, out = "GetJob", {"job": {"summary": s.summary(job), "steps": s.steps(job)}}
            elif len(p) == 7 and p[2] == "branches" and p[4] == "jobs" and p[6] == "stop" and method == "DELETE":
                op = "StopJob"
                job = s.job(p[1], p[3], p[5])
                if job["status"] in TERMINAL:
                    raise ApiError("BadRequestException", f"Job {p[5]} is not running.")
                s.advance(job, "CANCELLED", emit=False)
                out = {"jobSummary": s.summary(job)}
            if op is None:
                raise ApiError("BadRequestException", f"Unknown operation {method} {self.path}")
            s.calls.append({"operation": op, "path": self.path, "time": now()})
        self.send(200, out)

    def update_branch(self, branch, body):
        for key in ["description", "framework", "stage", "enableNotification", "enableAutoBuild",
                    "environmentVariables", "buildSpec", "enableBasicAuth", "enablePullRequestPreview",
                    "displayName", "ttl"]:
            if key in body:
                branch[key] = body[key]
        branch["updateTime"] = now()
        return branch

    def start_job(self, app_id, branch_name, body):
        s = self.state
        branch = s.branch(app_id, branch_name)
        job_type = body.get("jobType")
        if job_type not in JOB_TYPES:
            raise ApiError("BadRequestException", f"Invalid jobType: {job_type!r}")
        if job_type == "RETRY":
            if not body.get("jobId"):
                raise ApiError("BadRequestException", "jobId is required for RETRY")
            old = s.job(app_id, branch_name, body["jobId"])
            commit, message = old["commitId"], old["commitMessage"]
        else:
            commit = body.get("commitId") or branch["_head"]["commitId"]
            message = body.get("commitMessage") or branch["_head"]["commitMessage"]
        job = s.new_job(app_id, branch_name, job_type, commit, message)
        b = branch["_behaviour"]
        s.play(job, b["outcome"], b["stepDelayMs"] / 1000, b["emit"], b.get("log"))
        return job

    # ----- control API -----
    def control(self, method, p, query):
        s = self.state
        if p == ["health"]:
            return self.send(200, {"ok": True})
        if p == ["reset"] and method == "POST":
            s.reset()
            return self.send(200, {"ok": True})
        if p == ["calls"]:
            if method == "DELETE":
                s.calls.clear()
            return self.send(200, {"calls": list(s.calls)})
        if p == ["apps"] and method == "POST":
            body = self.body()
            return self.send(200, {"app": s.public(s.create_app(body, body.get("appId")))})
        if len(p) == 3 and p[0] == "apps" and p[2] == "branches" and method == "POST":
            return self.send(200, {"branch": s.public(s.create_branch(p[1], self.body()))})
        if len(p) == 5 and p[0] == "apps" and p[2] == "branches" and method == "POST":
            branch = s.branch(p[1], p[3])
            body = self.body()
            if p[4] == "push":
                branch["_head"] = {"commitId": body["commitId"], "commitMessage": body.get("commitMessage", "")}
                job = None
                if branch["enableAutoBuild"]:
                    job = s.new_job(p[1], p[3], "WEB_HOOK", body["commitId"], body.get("commitMessage", ""))
                    b = branch["_behaviour"]
                    s.play(job, b["outcome"], b["stepDelayMs"] / 1000, b["emit"], b.get("log"))
                return self.send(200, {"jobSummary": s.summary(job) if job else None})
            if p[4] == "behaviour":
                branch["_behaviour"].update({k: body[k] for k in ["outcome", "stepDelayMs", "emit", "log"] if k in body})
                return self.send(200, {"behaviour": branch["_behaviour"]})
            if p[4] == "site":
                s.sites[(p[1], p[3])] = body
                return self.send(200, {"site": body})
            if p[4] == "builds":
                return self.build(p[1], p[3], branch, body)
        if len(p) == 7 and p[0] == "apps" and p[4] == "jobs":
            job = s.job(p[1], p[3], p[5])
            if p[6] == "advance" and method == "POST":
                body = self.body()
                event, delivered = s.advance(job, body.get("to", ""), body.get("emit", False), body.get("log"))
                return self.send(200, {"jobSummary": s.summary(job), "events": [event] if event else [],
                                       "delivery": delivered})
            if p[6] == "events":
                return self.send(200, {"events": job["events"]})
        raise ApiError("BadRequestException", f"Unknown control call {method} /_emulator/{'/'.join(p)}")

    def build(self, app_id, branch_name, branch, body):
        s = self.state
        outcome = body.get("outcome", "SUCCEED")
        if outcome not in {"SUCCEED", "FAILED"}:
            raise ApiError("BadRequestException", "outcome must be SUCCEED or FAILED")
        job_type = body.get("jobType", "RELEASE")
        if job_type not in JOB_TYPES:
            raise ApiError("BadRequestException", f"Invalid jobType: {job_type!r}")
        commit = body.get("commitId") or branch["_head"]["commitId"]
        message = body.get("commitMessage") or branch["_head"]["commitMessage"]
        job = s.new_job(app_id, branch_name, job_type, commit, message, float(body.get("durationSeconds", 0)))
        if body.get("mode", "auto") == "auto":
            s.play(job, outcome, body.get("stepDelayMs", 200) / 1000, body.get("emit", True), body.get("log"))
        elif body.get("log"):
            job["log"] = body["log"]
        return self.send(200, {"jobSummary": s.summary(job), "events": []})

    # ----- logs and sites -----
    def serve_log(self, path, p, query):
        s = self.state
        if query.get("X-Amz-Signature", [""])[0] != s.signature(path):
            return self.send(403, "<Error><Code>AccessDenied</Code><Message>Request has expired or the "
                                  "signature does not match</Message></Error>", "application/xml")
        if len(p) != 4:
            return self.send(404, "no such log", "text/plain")
        try:
            job = s.job(p[0], p[1], p[2])
        except ApiError:
            return self.send(404, "no such log", "text/plain")
        lines = (job["log"] or "").splitlines()
        t0 = job["startTime"]
        text = "\n".join(
            f"{datetime.fromtimestamp(t0 + i * 0.5, timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z [INFO]: {line}"
            for i, line in enumerate(lines)) + "\n"
        self.send(200, text, "text/plain; charset=utf-8")

    def site_by_host(self, host):
        for (app_id, branch), _ in list(self.state.branches.items()):
            app = self.state.apps.get(app_id)
            if app and host == f"{display_name(branch)}.{app['defaultDomain']}":
                return app_id, branch
        return None

    def serve_site(self, app_id, branch, path):
        s = self.state
        override = s.sites.get((app_id, branch), {})
        commit = override.get("commitId") or s.served_commit(app_id, branch)
        if override.get("latencyMs"):
            time.sleep(override["latencyMs"] / 1000)
        if commit is None:
            return self.send(404, "no deployment", "text/plain")
        headers = {"x-deployed-commit": commit, "cache-control": "no-store"}
        status = int(override.get("status", 200))
        if override.get("body") is not None:
            return self.send(status, override["body"], "text/html; charset=utf-8", headers)
        if path.rstrip("/") == "/api/health":
            return self.send(status, {"status": "ok" if status < 400 else "error", "commit": commit},
                             headers=headers)
        html = (f'<!doctype html><html><head><meta name="x-deployed-commit" content="{commit}">'
                f"<title>{app_id} {branch}</title></head><body><h1>{branch}</h1></body></html>")
        self.send(status, html, "text/html; charset=utf-8", headers)


def main():
    ap = argparse.ArgumentParser(description="Amplify emulator")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=int(os.environ.get("AMPLIFY_EMULATOR_PORT", "4520")))
    args = ap.parse_args()
    events_endpoint = os.environ.get("AWS_ENDPOINT_URL_EVENTBRIDGE") or os.environ.get("AWS_ENDPOINT_URL")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    Handler.state = State(server.server_address[1], events_endpoint)
    print(f"amplify emulator on http://{args.host}:{server.server_address[1]} "
          f"(events to {events_endpoint or 'nowhere'})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
