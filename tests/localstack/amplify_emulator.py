#!/usr/bin/env python3
"""The project's Amplify emulator (moto has no Amplify).

Serves Amplify's REST-JSON API exactly as botocore's model
(botocore/data/amplify/2017-07-25/service-2.json) describes it. The model is
loaded at start and drives the routes (method + requestUri), the validation of
every request (required members, types, lengths, patterns, enums → 400
BadRequestException) and a check of every answer (required members present:
the Rust SDK refuses answers without them). Beside the API it serves a control
API under /_emulator (create apps with fixed ids, play builds, inject faults),
job logs at pre-signed-looking `logUrl`s and a site per branch that reports
its deployed commit. Status changes are put on EventBridge's default bus
(moto) in Amplify's real event shape. See tests/localstack/README.md.

Binds only the host it is given (127.0.0.1 by default). Standard library,
plus boto3/botocore: the model's data and PutEvents.
"""

import argparse
import base64
import functools
import hashlib
import hmac
import io
import json
import mimetypes
import os
import random
import re
import secrets
import string
import threading
import time
import uuid
import zipfile
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from botocore.loaders import Loader

from cloudformation_emulator import QueryError, Stacks, is_query

REGION, ACCOUNT = "us-east-1", "123456789012"
SERVED = ["CreateApp", "GetApp", "ListApps", "UpdateApp", "DeleteApp", "CreateBranch", "GetBranch",
          "ListBranches", "UpdateBranch", "DeleteBranch", "StartJob", "StopJob", "GetJob", "ListJobs",
          "CreateDomainAssociation", "GetDomainAssociation", "ListDomainAssociations",
          "CreateDeployment", "StartDeployment"]
TERMINAL = {"SUCCEED", "FAILED", "CANCELLED"}
# The local GitHub's owner (tests/localstack/github_emulator.py installs its
# App on every repository of it).
LOCAL_GITHUB_OWNER = "sentinel-local"
# Amplify emits only these three statuses; CANCELLED emits nothing.
EVENT_STATUS = {"RUNNING": "STARTED", "SUCCEED": "SUCCEED", "FAILED": "FAILED"}
# CREATED is a manual deployment's job between CreateDeployment and
# StartDeployment (the model's JobStatus has it); only StartDeployment or
# StopJob moves it.
ALLOWED_MOVES = {"CREATED": {"PENDING", "CANCELLING", "CANCELLED"},
                 "PENDING": {"PROVISIONING", "RUNNING", "SUCCEED", "FAILED", "CANCELLING", "CANCELLED"},
                 "PROVISIONING": {"RUNNING", "SUCCEED", "FAILED", "CANCELLING", "CANCELLED"},
                 "RUNNING": {"SUCCEED", "FAILED", "CANCELLING", "CANCELLED"},
                 "CANCELLING": {"CANCELLED"}}
# cancelDelayMs 0: StopJob answers CANCELLING and the job is CANCELLED right
# after, so callers that check at once see the end; raise it to watch CANCELLING.
DEFAULT_CONFIG = {"logUrlExpiresSeconds": 900, "cancelDelayMs": 0, "maxBranchesPerApp": 50}
DEFAULT_BEHAVIOUR = {"outcome": "SUCCEED", "stepDelayMs": 1000, "emit": True, "mode": "auto", "log": None,
                     "retryCommitId": None}


class ApiError(Exception):
    STATUS = {"BadRequestException": 400, "UnauthorizedException": 401, "NotFoundException": 404,
              "UnknownOperationException": 404, "LimitExceededException": 429,
              "InternalFailureException": 500, "DependentServiceFailureException": 503}

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, self.STATUS[kind]


def bad(message):
    return ApiError("BadRequestException", message)


def now():
    return round(time.time(), 3)  # Amplify answers epoch seconds with milliseconds


def iso(t, millis=False):
    text = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if millis else text[:-7]) + "Z"


def display_name(branch):
    return branch.replace("/", "-").replace(".", "-")


def arn(app_id, branch=None, job=None):
    out = f"arn:aws:amplify:{REGION}:{ACCOUNT}:apps/{app_id}"
    out += f"/branches/{branch}" if branch is not None else ""
    return out + (f"/jobs/{job:010d}" if job is not None else "")


# ----- the wire contract, from botocore's model -----

@functools.lru_cache(maxsize=None)
def java_regex(pattern):
    """The model's patterns are Java regexes; Python lacks \\p{..} classes
    (only TagValue uses them): letters/digits → \\w, separators → \\s."""
    return re.compile(pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\w").replace(r"\p{Z}", r"\s"))


class Model:
    def __init__(self):
        raw = Loader().load_service_model("amplify", "service-2")
        self.shapes, self.ops = raw["shapes"], raw["operations"]
        self.routes = [self._route(name) for name in self.ops]

    def _route(self, name):
        http = self.ops[name]["http"]
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", http["requestUri"])
        return http["method"], re.compile(f"^{pattern}$"), name

    def match(self, method, path):
        """(operation, uri labels) for a raw path; labels are decoded after the
        split, so an encoded '/' in a branch name stays inside its label."""
        for verb, regex, name in self.routes:
            m = regex.match(path)
            if m and verb == method:
                return name, {k: unquote(v) for k, v in m.groupdict().items()}
        raise ApiError("UnknownOperationException", f"No operation matches {method} {path}")

    def request(self, op, labels, query, body):
        """The operation's input, gathered from uri, querystring and body, and
        validated as Amplify does (all violations reported together)."""
        shape = self.shapes[self.ops[op]["input"]["shape"]]
        params = {}
        for name, member in shape["members"].items():
            where = member.get("location")
            if where == "uri":
                params[name] = labels.get(member.get("locationName", name))
            elif where == "querystring":
                value = query.get(member.get("locationName", name), [None])[0]
                if value is not None and self.shapes[member["shape"]]["type"] == "integer":
                    value = int(value) if re.fullmatch(r"-?\d+", value) else value
                if value is not None:
                    params[name] = value
            elif name in body:
                params[name] = body[name]
        params = {k: v for k, v in params.items() if v is not None}  # JSON null means absent
        errors = []
        self.check(self.ops[op]["input"]["shape"], params, "", errors)
        if errors:
            raise bad(f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: " + "; ".join(errors))
        return params

    def answer(self, op, out):
        """Checks our own answer against the output shape: a bug here would
        otherwise surface as an obscure deserialisation error in the SDK."""
        errors = []
        self.check(self.ops[op]["output"]["shape"], out, "", errors)
        if errors:
            raise ApiError("InternalFailureException", f"emulator bug, invalid {op} answer: " + "; ".join(errors))
        return out

    def check(self, shape_name, value, where, errors):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        fail = lambda rule: errors.append(f"Value {json.dumps(value)[:80]} at '{where}' failed to satisfy "
                                          f"constraint: Member must {rule}")
        if kind == "structure":
            if not isinstance(value, dict):
                return fail("be an object")
            for name in shape.get("required", []):
                if value.get(name) is None:
                    errors.append(f"Value null at '{where + name}' failed to satisfy constraint: Member must not be null")
            for name, member in shape["members"].items():
                if value.get(name) is not None:
                    self.check(member["shape"], value[name], where + name if not where else f"{where}.{name}", errors)
        elif kind == "string":
            if not isinstance(value, str):
                return fail("be a string")
            if len(value) < shape.get("min", 0) or len(value) > shape.get("max", 1 << 30):
                fail(f"have length between {shape.get('min', 0)} and {shape.get('max', 'unbounded')}")
            if "pattern" in shape and not java_regex(shape["pattern"]).fullmatch(value):
                fail(f"satisfy regular expression pattern: {shape['pattern']}")
            if "enum" in shape and value not in shape["enum"]:
                fail(f"satisfy enum value set: [{', '.join(shape['enum'])}]")
        elif kind in ("integer", "long"):
            if not isinstance(value, int) or isinstance(value, bool):
                return fail("be an integer")
            if not shape.get("min", value) <= value <= shape.get("max", value):
                fail(f"be between {shape.get('min')} and {shape.get('max')}")
        elif kind == "boolean" and not isinstance(value, bool):
            fail("be a boolean")
        elif kind == "timestamp" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            fail("be epoch seconds")
        elif kind == "map":
            if not isinstance(value, dict):
                return fail("be an object")
            if len(value) > shape.get("max", 1 << 30):
                fail(f"have at most {shape['max']} entries")
            for k, v in value.items():
                self.check(shape["key"]["shape"], k, f"{where}.key", errors)
                self.check(shape["value"]["shape"], v, f"{where}.{k}", errors)
        elif kind == "list":
            if not isinstance(value, list):
                return fail("be a list")
            for i, item in enumerate(value):
                self.check(shape["member"]["shape"], item, f"{where}.{i + 1}", errors)


# ----- build logs in Amplify's format -----

def success_log(commit, repo):
    return [
        "# Build environment configured with Standard build compute type: 8GiB Memory, 4vCPUs, 128GB Disk Space",
        f"# Cloning repository: {repo}", f"# Switching to commit: {commit}",
        "# Retrieving cache...", "# Retrieved cache", "## Starting Backend Build",
        "## No backend environment association found, continuing...", "## Completed Backend Build",
        "## Starting Frontend Build", "# Starting phase: preBuild",
        "# Executing command: npm ci --cache .npm --prefer-offline",
        "added 812 packages, and audited 813 packages in 21s", "# Completed phase: preBuild",
        "# Starting phase: build", "# Executing command: npm run build", "> next build",
        "  ▲ Next.js 14.2.3", "   Creating an optimized production build ...", " ✓ Compiled successfully",
        "   Linting and checking validity of types ...", " ✓ Collecting page data",
        " ✓ Generating static pages (12/12)", " ✓ Finalizing page optimization",
        "# Completed phase: build", "## Completed Frontend Build", "## Build completed successfully",
        "# Starting caching...", "# Uploading cache artifact...", "# Caching completed",
    ]


def failure_log(commit, repo):
    return success_log(commit, repo)[:18] + [
        "<--- Last few GCs --->",
        "[1234:0x5a1c0b0]    98532 ms: Mark-Compact 4041.3 (4130.5) -> 4029.6 (4132.3) MB",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "!!! Build failed", "!!! Error: Command failed with exit code 134",
        "# Starting environment caching...", "# Environment caching completed", "Terminating logging...",
    ]


def deploy_log():
    return ["Starting SSR Build...", "SSR Build Complete.", "Starting Deployment",
            "Updating Edge config", "Deployment complete"]


def manual_deploy_log(files):
    """A manual deployment's only step: no build, the uploaded files are
    published as they are."""
    return ["Starting Deployment", f"Extracting {len(files)} file(s) from the uploaded artifact",
            "Updating Edge config", "Deployment complete"]


def manual_failure_log(reason):
    return ["Starting Deployment", "!!! Deployment failed", f"!!! Error: {reason}", "Terminating logging..."]


def unzip_site(data):
    """The files of a manual deployment's zip, by site path ('/index.html'),
    or an error saying why the upload cannot be deployed."""
    if data is None:
        return None, "No artifact was uploaded to the deployment's zipUploadUrl before StartDeployment"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            files = {"/" + info.filename.lstrip("./").lstrip("/"): z.read(info)
                     for info in z.infolist() if not info.is_dir()}
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        return None, f"The uploaded artifact is not a valid zip archive ({e})"
    if not files:
        return None, "The uploaded zip archive holds no files"
    return files, None


def log_level(line):
    if line.startswith("!!! Build failed"):
        return "WARNING"
    return "ERROR" if line.startswith("!!! ") else "INFO"


def render_log(lines, start, end):
    """Lines that already carry Amplify's timestamp prefix are kept; the others
    get one, spread over the step's run."""
    step = (max(end, start) - start) / max(len(lines), 1)
    out = []
    for i, line in enumerate(lines):
        if re.match(r"^\d{4}-\d\d-\d\dT", line):
            out.append(line)
        else:
            out.append(f"{iso(start + i * step, millis=True)} [{log_level(line)}]: {line}")
    return "\n".join(out) + "\n"


# ----- state -----

class Job:
    def __init__(self, number, app_id, branch, job_type, commit, reason=""):
        self.number, self.app_id, self.branch, self.job_type = number, app_id, branch, job_type
        self.commit_id, self.commit_message, self.commit_time = commit["commitId"], commit["commitMessage"], commit["commitTime"]
        self.reason, self.status, self.start_time, self.end_time = reason, "PENDING", now(), None
        self.running_since, self.log, self.status_reason = None, None, None
        self.events, self.deliveries = [], []
        # Manual deployments (CreateDeployment/StartDeployment): what was
        # uploaded (the zip, or the fileMap's files by name) and, once
        # started, the files the site serves.
        self.upload, self.file_map, self.uploaded_files, self.site_files = None, None, {}, None


class Traffic:
    """What the branch sites served, per app and minute, as Amplify Hosting
    reports it to CloudWatch (`AWS/AmplifyHosting`, dimension `App` only):
    Requests, 4xxErrors and 5xxErrors (Latency is counted, not published:
    see publish_traffic). A thread publishes
    each minute once it has ended (and `POST /_emulator/metrics/flush`
    publishes what is counted so far); only what was not published yet is
    sent, so a minute flushed early and again later is not counted twice."""

    def __init__(self):
        self.lock = threading.Lock()
        self.minutes = {}    # (appId, minute epoch) -> counts
        self.published = {}  # (appId, minute epoch) -> counts already sent
        self.hits = {}       # (appId, branch, path) -> requests served, for failing shares

    def record(self, app_id, status, seconds):
        minute = int(time.time()) // 60 * 60
        with self.lock:
            c = self.minutes.setdefault((app_id, minute), {"requests": 0, "4xx": 0, "5xx": 0, "latency": 0.0})
            c["requests"] += 1
            c["4xx"] += 400 <= status < 500
            c["5xx"] += status >= 500
            c["latency"] += seconds

    def fails(self, app_id, branch, path, share):
        """Whether this request is one of the `share` that fail: every
        request where the running count of failures steps up (20 %: every
        fifth), so a test knows exactly how many failed."""
        with self.lock:
            n = self.hits.get((app_id, branch, path), 0)
            self.hits[(app_id, branch, path)] = n + 1
        return int((n + 1) * share) > int(n * share)

    def pending(self, everything=False):
        """The unpublished part of each ended minute (or of every minute)."""
        now_minute = int(time.time()) // 60 * 60
        out = []
        with self.lock:
            for key, c in self.minutes.items():
                if not everything and key[1] >= now_minute:
                    continue
                done = self.published.get(key, {"requests": 0, "4xx": 0, "5xx": 0, "latency": 0.0})
                delta = {k: c[k] - done[k] for k in c}
                if delta["requests"] > 0:
                    out.append((key, delta))
                    self.published[key] = dict(c)
        return out

    def summary(self):
        with self.lock:
            # `m` is already epoch seconds, which is what iso() takes.
            return [{"appId": a, "minute": iso(m), **c}
                    for (a, m), c in sorted(self.minutes.items())]


def publish_traffic(store, everything=False):
    """PutMetricData of the pending minutes to CloudWatch (moto's, at the
    events endpoint: one server serves every service)."""
    pending = store.traffic.pending(everything)
    if not pending or not store.config.get("eventsEndpoint"):
        return 0
    import boto3
    cw = boto3.client("cloudwatch", region_name=REGION, endpoint_url=store.config["eventsEndpoint"],
                      aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                      aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"))
    for (app_id, minute), d in pending:
        at = datetime.fromtimestamp(minute, timezone.utc)
        dims = [{"Name": "App", "Value": app_id}]
        data = [{"MetricName": name, "Dimensions": dims, "Timestamp": at, "Value": float(value), "Unit": unit}
                for name, value, unit in (("Requests", d["requests"], "Count"), ("4xxErrors", d["4xx"], "Count"),
                                          ("5xxErrors", d["5xx"], "Count"))]
        # No `Latency`: moto computes no percentiles, and its GetMetricData
        # fails (500) when a p90 is asked over data. Locally the bake judges
        # error rates; `GET /_emulator/metrics` still shows the latency.
        cw.put_metric_data(Namespace="AWS/AmplifyHosting", MetricData=data)
    return len(pending)


def publish_every_minute(store):
    while True:
        time.sleep(10)
        try:
            publish_traffic(store)
        except Exception as e:  # moto not up yet, or gone: the next round tries again
            print(f"amplify emulator: metrics not published: {e!r}", flush=True)


class Store:
    def __init__(self, model, host, port, events_endpoint):
        self.model, self.host, self.port = model, host, port
        self.lock = threading.RLock()
        self.startup_endpoint = events_endpoint
        self.secret = secrets.token_bytes(32)  # signs log URLs; new every start
        self._events_client = None
        self.stacks = Stacks(self.deliver)
        self.reset()

    def reset(self):
        with self.lock:
            self.apps, self.branches, self.jobs, self.sites, self.calls, self.faults = {}, {}, {}, {}, [], []
            self.domains = {}  # (appId, domainName) -> DomainAssociation
            self.traffic = Traffic()
            self.config = dict(DEFAULT_CONFIG, eventsEndpoint=self.startup_endpoint)
            self._events_client = None
            self.stacks.reset()

    # ----- lookups (the model already checked the ids' syntax) -----
    def app(self, app_id):
        if app_id not in self.apps:
            raise ApiError("NotFoundException", f"App {app_id} not found.")
        return self.apps[app_id]

    def branch(self, app_id, name):
        self.app(app_id)
        if (app_id, name) not in self.branches:
            raise ApiError("NotFoundException", f"Branch {name} not found for app {app_id}.")
        return self.branches[(app_id, name)]

    def job(self, app_id, branch, job_id):
        self.branch(app_id, branch)
        if not re.fullmatch(r"[0-9]{1,255}", str(job_id)):
            raise bad(f"Invalid jobId: {job_id!r}")
        number = int(job_id)  # "4" and "0000000004" name the same job
        for job in self.jobs[(app_id, branch)]:
            if job.number == number:
                return job
        raise ApiError("NotFoundException", f"Job {job_id} not found for branch {branch} of app {app_id}.")

    # ----- apps and branches -----
    def create_app(self, p, app_id=None, invent_repository=True):
        """The control API's apps are connected to a repository of the local
        GitHub (`https://github.com/sentinel-local/<appId>`, where the GitHub
        emulator's App is installed) unless the call gives one, or
        `repository: ""` for none; CreateApp without one makes a manually
        deployed app, as Amplify does (`repository` is then "")."""
        app_id = app_id or "d" + "".join(random.choices(string.ascii_lowercase + string.digits, k=13))
        if app_id in self.apps:
            raise bad(f"App {app_id} already exists.")
        t = now()
        app = {"appId": app_id, "appArn": arn(app_id), "name": p["name"], "description": p.get("description", ""),
               "repository": p.get("repository", f"https://github.com/{LOCAL_GITHUB_OWNER}/{app_id}"
                                   if invent_repository else ""),
               "platform": p.get("platform", "WEB"), "createTime": t, "updateTime": t,
               "environmentVariables": p.get("environmentVariables", {}), "defaultDomain": f"{app_id}.amplifyapp.com",
               "enableBranchAutoBuild": p.get("enableBranchAutoBuild", False),
               "enableBranchAutoDeletion": p.get("enableBranchAutoDeletion", False),
               "enableBasicAuth": p.get("enableBasicAuth", False), "customRules": p.get("customRules", []),
               "enableAutoBranchCreation": p.get("enableAutoBranchCreation", False),
               "autoBranchCreationPatterns": p.get("autoBranchCreationPatterns", []),
               "tags": p.get("tags", {}), "repositoryCloneMethod": "TOKEN",
               "jobConfig": p.get("jobConfig", {"buildComputeType": "STANDARD_8GB"}),
               "cacheConfig": p.get("cacheConfig", {"type": "AMPLIFY_MANAGED_NO_COOKIES"})}
        for key in ("buildSpec", "customHeaders", "iamServiceRoleArn", "computeRoleArn", "autoBranchCreationConfig",
                    "basicAuthCredentials"):
            if key in p:
                app[key] = p[key]
        self.apps[app_id] = app
        return app

    def update_app(self, app, p):
        for key, value in p.items():
            if key != "appId" and key not in ("oauthToken", "accessToken"):
                app[key] = value
        app["updateTime"] = now()
        return app

    def delete_app(self, app_id):
        self.app(app_id)
        for key in [k for k in self.branches if k[0] == app_id]:
            self.drop_branch(key)
        for key in [k for k in self.domains if k[0] == app_id]:
            self.domains.pop(key)
        return self.apps.pop(app_id)

    def create_branch(self, app_id, p, head=None, quota=True):
        app = self.app(app_id)
        name = p["branchName"]
        if (app_id, name) in self.branches:
            raise bad(f"Branch {name} already exists for app {app_id}.")
        if quota and sum(1 for a, _ in self.branches if a == app_id) >= self.config["maxBranchesPerApp"]:
            raise ApiError("LimitExceededException", f"App {app_id} has reached its limit of "
                                                      f"{self.config['maxBranchesPerApp']} branches.")
        t = now()
        head = head or {}
        branch = {"branchArn": arn(app_id, name), "branchName": name, "description": p.get("description", ""),
                  "stage": p.get("stage", "PRODUCTION"),
                  "displayName": p.get("displayName") or display_name(name),
                  "enableNotification": p.get("enableNotification", False), "createTime": t, "updateTime": t,
                  "environmentVariables": p.get("environmentVariables", {}),
                  "enableAutoBuild": p.get("enableAutoBuild", True), "customDomains": [],
                  "framework": p.get("framework", "Next.js - SSR" if app["platform"] == "WEB_COMPUTE" else ""),
                  "activeJobId": "", "totalNumberOfJobs": "0", "enableBasicAuth": p.get("enableBasicAuth", False),
                  "enableSkewProtection": p.get("enableSkewProtection", False),
                  "enablePerformanceMode": p.get("enablePerformanceMode", False), "ttl": p.get("ttl", "5"),
                  "enablePullRequestPreview": p.get("enablePullRequestPreview", False), "tags": p.get("tags", {}),
                  # Without a given head, a stable made-up SHA: every job reports a real-looking commit.
                  "_head": {"commitId": head.get("commitId") or hashlib.sha1(f"{app_id}/{name}".encode()).hexdigest(),
                            "commitMessage": head.get("commitMessage", "Initial commit"),
                            "commitTime": head.get("commitTime", t)},
                  "_behaviour": dict(DEFAULT_BEHAVIOUR), "_deployed": None}
        for key in ("buildSpec", "pullRequestEnvironmentName", "backendEnvironmentArn", "backend", "computeRoleArn",
                    "basicAuthCredentials"):
            if key in p:
                branch[key] = p[key]
        self.branches[(app_id, name)] = branch
        self.jobs[(app_id, name)] = []
        return branch

    def update_branch(self, branch, p):
        # Amplify replaces what is given (environmentVariables as a whole map)
        # and keeps the rest; GetBranch returns basicAuthCredentials as given.
        for key, value in p.items():
            if key not in ("appId", "branchName"):
                branch[key] = value
        if p.get("displayName") == "":
            branch["displayName"] = display_name(branch["branchName"])
        branch["updateTime"] = now()
        return branch

    def drop_branch(self, key):
        self.sites.pop(key, None)
        self.jobs.pop(key, None)
        return self.branches.pop(key)

    # ----- custom domains -----
    def domain(self, app_id, name):
        self.app(app_id)
        if (app_id, name) not in self.domains:
            raise ApiError("NotFoundException", f"Domain {name} not found for app {app_id}.")
        return self.domains[(app_id, name)]

    def create_domain(self, app_id, p):
        """As Amplify answers CreateDomainAssociation: the domain is being
        set up (CREATING, sub-domains unverified) until DNS and the
        certificate are in place; the control API's `domains/{name}` plays
        that part."""
        self.app(app_id)
        name = p["domainName"]
        if (app_id, name) in self.domains:
            raise bad(f"Domain {name} is already associated with app {app_id}.")
        for setting in p["subDomainSettings"]:
            self.branch(app_id, setting["branchName"])
        cdn = "d" + hashlib.sha1(f"{app_id}/{name}".encode()).hexdigest()[:13] + ".cloudfront.net"
        domain = {"domainAssociationArn": f"{arn(app_id)}/domains/{name}", "domainName": name,
                  "enableAutoSubDomain": p.get("enableAutoSubDomain", False),
                  "autoSubDomainCreationPatterns": p.get("autoSubDomainCreationPatterns", []),
                  "domainStatus": "CREATING", "statusReason": "",
                  "certificateVerificationDNSRecord": f"_{hashlib.md5(name.encode()).hexdigest()}.{name}. CNAME "
                                                      f"_{hashlib.md5(app_id.encode()).hexdigest()}.acm-validations.aws.",
                  "subDomains": [{"subDomainSetting": {"prefix": s["prefix"], "branchName": s["branchName"]},
                                  "verified": False, "dnsRecord": f"{s['prefix']} CNAME {cdn}"}
                                 for s in p["subDomainSettings"]],
                  "certificate": {"type": p.get("certificateSettings", {}).get("type", "AMPLIFY_MANAGED")}}
        if "autoSubDomainIAMRole" in p:
            domain["autoSubDomainIAMRole"] = p["autoSubDomainIAMRole"]
        self.domains[(app_id, name)] = domain
        return domain

    def branch_by_host(self, host):
        """(appId, branchName) served at `host`: a branch's Amplify host, or a
        verified sub-domain of an AVAILABLE custom domain (as Amplify serves
        only those)."""
        host = host.lower().rstrip(".")
        for (app_id, name), branch in self.branches.items():
            if host == f"{branch['displayName']}.{self.apps[app_id]['defaultDomain']}".lower():
                return app_id, name
        for (app_id, _), domain in self.domains.items():
            if domain["domainStatus"] != "AVAILABLE":
                continue
            apex = domain["domainName"].lower().rstrip(".")
            for sub in domain["subDomains"]:
                prefix = sub["subDomainSetting"]["prefix"].lower()
                name = sub["subDomainSetting"]["branchName"]
                if sub["verified"] and host == (f"{prefix}.{apex}" if prefix else apex) \
                        and (app_id, name) in self.branches:
                    return app_id, name
        return None

    # ----- jobs -----
    def new_job(self, app_id, branch_name, job_type, commit, reason=""):
        branch = self.branch(app_id, branch_name)
        jobs = self.jobs[(app_id, branch_name)]
        job = Job((jobs[-1].number + 1) if jobs else 1, app_id, branch_name, job_type, commit, reason)
        job.commit_time = min(job.commit_time, job.start_time)
        jobs.append(job)
        branch["totalNumberOfJobs"] = str(len(jobs))
        branch["activeJobId"] = str(job.number)
        return job

    def start_job(self, app_id, branch_name, p):
        branch = self.branch(app_id, branch_name)
        job_type = p["jobType"]
        if job_type == "RETRY":
            if not p.get("jobId"):
                raise bad("jobId is required when jobType is RETRY.")
            try:
                old = self.job(app_id, branch_name, p["jobId"])
            except ApiError as e:  # Amplify's exact answer is unverified; see the README
                raise bad(f"Cannot retry job {p['jobId']}: {e.message}")
            commit = {"commitId": old.commit_id, "commitMessage": old.commit_message, "commitTime": old.commit_time}
            wrong = branch["_behaviour"].get("retryCommitId")
            if wrong:  # Amplify has been seen to redeploy another commit than the retried job's
                commit = {"commitId": wrong, "commitMessage": "(not the retried commit)", "commitTime": old.commit_time}
        elif job_type == "RELEASE":
            commit = dict(branch["_head"])  # RELEASE always builds the branch head
        else:  # WEB_HOOK and MANUAL carry their own commit, else the head's
            commit = {"commitId": p.get("commitId") or branch["_head"]["commitId"],
                      "commitMessage": p.get("commitMessage", branch["_head"]["commitMessage"]),
                      "commitTime": p.get("commitTime", branch["_head"]["commitTime"])}
        job = self.new_job(app_id, branch_name, job_type, commit, p.get("jobReason", ""))
        self.play_behaviour(branch, job)
        return job

    # ----- manual deployments (apps without a repository) -----
    def manual_app(self, app_id, op):
        """CreateDeployment and StartDeployment are for apps not connected to
        a repository. Amplify's exact answer for one that is has not been
        seen; BadRequest was chosen (as for RETRY of a missing job)."""
        app = self.app(app_id)
        if app.get("repository"):
            raise bad(f"{op} is for manually deployed apps: app {app_id} is connected to the repository "
                      f"{app['repository']}. Use StartJob instead.")
        return app

    def create_deployment(self, app_id, branch_name, p):
        """A MANUAL job in CREATED, and where to upload its content: one
        pre-signed-looking PUT URL for a zip, or one per file of `fileMap`."""
        self.manual_app(app_id, "CreateDeployment")
        branch = self.branch(app_id, branch_name)
        job = self.new_job(app_id, branch_name, "MANUAL",
                           {"commitId": "HEAD", "commitMessage": "", "commitTime": now()})
        job.status = "CREATED"
        branch["activeJobId"] = str(job.number)
        if p.get("fileMap"):
            job.file_map = dict(p["fileMap"])
            urls = {name: self.upload_url(job, "files/" + quote(name, safe="")) for name in job.file_map}
            return {"jobId": str(job.number), "fileUploadUrls": urls, "zipUploadUrl": ""}
        return {"jobId": str(job.number), "fileUploadUrls": {}, "zipUploadUrl": self.upload_url(job, "deployment.zip")}

    def start_deployment(self, app_id, branch_name, p):
        """Plays the deployment with the branch's behaviour (step delay, emit,
        auto or manual), its outcome decided by the upload: SUCCEED publishes
        the files on the branch's site, FAILED (not a zip, nothing uploaded)
        says why in the DEPLOY step's statusReason and log."""
        self.manual_app(app_id, "StartDeployment")
        branch = self.branch(app_id, branch_name)
        if not p.get("jobId"):
            if p.get("sourceUrl"):
                raise bad("StartDeployment with sourceUrl is not emulated (the emulator fetches nothing); "
                          "use CreateDeployment and upload to its zipUploadUrl.")
            raise bad("jobId is required: the job ID CreateDeployment returned.")
        job = self.job(app_id, branch_name, p["jobId"])
        if job.job_type != "MANUAL" or job.status != "CREATED":
            raise bad(f"Job {job.number} cannot be started: it is a {job.job_type} job in {job.status}, "
                      "not a deployment created by CreateDeployment.")
        if job.file_map is not None:
            missing = sorted(set(job.file_map) - set(job.uploaded_files))
            files, error = ({"/" + n.lstrip("/"): job.uploaded_files[n] for n in job.file_map}, None) if not missing \
                else (None, f"Files of the fileMap were not uploaded: {', '.join(missing)}")
        else:
            files, error = unzip_site(job.upload)
        job.status, job.start_time = "PENDING", now()
        job.commit_time = min(job.commit_time, job.start_time)
        job.log = manual_failure_log(error) if error else manual_deploy_log(files)
        job.site_files = files
        b = branch["_behaviour"]
        if b["mode"] == "auto":
            self.play(job, "FAILED" if error else "SUCCEED", b["stepDelayMs"] / 1000, b["emit"], None)
        return job

    def upload_url(self, job, artifact):
        path = f"/_uploads/{job.app_id}/{quote(job.branch, safe='')}/{job.number}/{artifact}"
        date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        expires = 8 * 3600  # StartDeployment must follow CreateDeployment within 8 hours
        return (f"http://{self.host}:{self.port}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                f"&X-Amz-Credential=ASIAEMULATOR%2F{date[:8]}%2F{REGION}%2Fs3%2Faws4_request&X-Amz-Date={date}"
                f"&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={self.signature(path, date, expires)}")

    def receive_upload(self, path, data):
        """Keeps a PUT to an upload URL on its job; S3 would take a second PUT
        too (the last one wins), so does this, until the job is started."""
        parts = [unquote(x) for x in path.split("/")[2:]]
        if len(parts) < 4:
            raise ApiError("NotFoundException", "No such upload.")
        job = self.job(parts[0], parts[1], parts[2])
        if job.status != "CREATED":
            raise bad(f"Job {job.number} has been started: its content can no longer change.")
        if parts[3] == "deployment.zip" and job.file_map is None:
            job.upload = data
        elif parts[3] == "files" and job.file_map is not None and "/".join(parts[4:]) in job.file_map:
            job.uploaded_files["/".join(parts[4:])] = data
        else:
            raise ApiError("NotFoundException", "No such upload.")

    def stop_job(self, job):
        if job.status in TERMINAL or job.status == "CANCELLING":
            raise bad(f"Job {job.number} cannot be stopped: it is {job.status}.")
        self.advance(job, "CANCELLING", emit=False)
        delay = self.config["cancelDelayMs"] / 1000
        timer = threading.Timer(delay, self.advance, (job, "CANCELLED", False), {"expect": "CANCELLING"})
        timer.daemon = True
        timer.start()

    def play_behaviour(self, branch, job):
        b = branch["_behaviour"]
        if b["mode"] == "auto":
            self.play(job, b["outcome"], b["stepDelayMs"] / 1000, b["emit"], b["log"])

    def play(self, job, outcome, delay, emit, log):
        """PENDING → RUNNING → outcome on a timer; a job moved meanwhile (stopped,
        advanced by hand) is left alone."""
        def run():
            time.sleep(delay)
            if self.advance(job, "RUNNING", emit, expect="PENDING"):
                time.sleep(delay)
                self.advance(job, outcome, emit, log, expect="RUNNING")
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def advance(self, job, to, emit, log=None, expect=None, reason=None):
        """Moves a job; returns (event or None, delivery report or None), or
        None when `expect` no longer holds."""
        with self.lock:
            if expect is not None and job.status != expect:
                return None
            if to not in ALLOWED_MOVES.get(job.status, ()):
                raise bad(f"Job {job.number} cannot go from {job.status} to {to}.")
            self.apply(job, to, log, reason)
            event = self.amplify_event(job, EVENT_STATUS[to]) if to in EVENT_STATUS else None
            if event:
                job.events.append(event)
        delivery = self.deliver(event) if event and emit else None
        if delivery:
            job.deliveries.append(delivery)
        return event, delivery

    def apply(self, job, to, log, reason):
        job.status = to
        if log is not None:
            job.log = log.splitlines() if isinstance(log, str) else list(log)
        if to == "RUNNING":
            job.running_since = now()
        if to not in TERMINAL:
            return
        job.end_time = max(now(), job.start_time + 0.001)
        if job.log is None and to != "CANCELLED":  # the app may be gone: a build outlives a DeleteApp
            repo = self.apps.get(job.app_id, {}).get("repository", "")
            job.log = (success_log if to == "SUCCEED" else failure_log)(job.commit_id, repo)
        if to == "FAILED":
            errors = [line[4:] for line in job.log or [] if line.startswith("!!! Error")]
            job.status_reason = reason or (errors[0] if errors else "Build failed")
        if to == "SUCCEED":
            self.deployed(job)

    def deployed(self, job):
        """The branch's site now serves this commit; a PRODUCTION branch is the
        app's productionBranch, as Amplify reports it."""
        branch = self.branches.get((job.app_id, job.branch))
        if branch is None:
            return
        branch["_deployed"] = {"commitId": job.commit_id, "jobId": str(job.number), "files": job.site_files}
        if branch["stage"] == "PRODUCTION":
            self.apps[job.app_id]["productionBranch"] = {
                "lastDeployTime": job.end_time, "status": "SUCCEED", "branchName": job.branch,
                "thumbnailUrl": f"http://{self.host}:{self.port}/_sites/{job.app_id}/{branch['displayName']}/thumbnail.png"}

    # ----- events -----
    def amplify_event(self, job, status):
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Amplify Deployment Status Change",
                "source": "aws.amplify", "account": ACCOUNT, "time": iso(time.time()), "region": REGION,
                "resources": [arn(job.app_id, job.branch, job.number)],
                "detail": {"appId": job.app_id, "branchName": job.branch, "jobId": str(job.number),
                           "jobStatus": status}}

    def events_client(self):
        with self.lock:
            if self._events_client is None:
                import boto3
                self._events_client = boto3.client(
                    "events", region_name=REGION, endpoint_url=self.config["eventsEndpoint"],
                    aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                    aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"))
            return self._events_client

    def deliver(self, event):
        """PutEvents on the default bus, as Amplify does; EventBridge assigns the
        delivered event its own id. Never raises: the report says what happened."""
        if not self.config["eventsEndpoint"]:
            return {"delivered": False, "reason": "no EventBridge endpoint configured "
                                                  "(AWS_ENDPOINT_URL_EVENTBRIDGE / AWS_ENDPOINT_URL)"}
        entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
                 "Resources": event["resources"], "EventBusName": "default",
                 "Time": datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)}
        try:
            out = self.events_client().put_events(Entries=[entry])
        except Exception as e:  # an unreachable moto must not kill the build thread
            return {"delivered": False, "event": event["id"], "reason": f"PutEvents failed: {e}"}
        if out.get("FailedEntryCount"):
            return {"delivered": False, "event": event["id"], "reason": json.dumps(out["Entries"])}
        return {"delivered": True, "event": event["id"], "eventBridgeId": out["Entries"][0].get("EventId")}

    # ----- wire shapes -----
    def signature(self, path, date, expires):
        return hmac.new(self.secret, f"{path}\n{date}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def log_url(self, job, step):
        path = f"/_logs/{job.app_id}/{quote(job.branch, safe='')}/{job.number}/{step}.txt"
        date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        expires = self.config["logUrlExpiresSeconds"]
        return (f"http://{self.host}:{self.port}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                f"&X-Amz-Credential=ASIAEMULATOR%2F{date[:8]}%2F{REGION}%2Fs3%2Faws4_request&X-Amz-Date={date}"
                f"&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={self.signature(path, date, expires)}")

    @staticmethod
    def summary(job):
        out = {"jobArn": arn(job.app_id, job.branch, job.number), "jobId": str(job.number),
               "commitId": job.commit_id, "commitMessage": job.commit_message, "commitTime": job.commit_time,
               "startTime": job.start_time, "status": job.status, "jobType": job.job_type}
        if job.end_time is not None:
            out["endTime"] = job.end_time
        return out

    def steps(self, job):
        """BUILD once the job ran, DEPLOY after a successful build; Step.endTime
        is required by the model, so a running step reports 'now'."""
        if job.running_since is None and job.status not in ("SUCCEED", "FAILED"):
            return []
        start = job.running_since or job.start_time
        end = job.end_time or now()
        status = "RUNNING" if job.status == "PROVISIONING" else job.status
        if job.job_type == "MANUAL":  # nothing is built: one DEPLOY step
            deploy = {"stepName": "DEPLOY", "startTime": start, "status": status, "endTime": end,
                      "logUrl": self.log_url(job, "DEPLOY")}
            if job.status_reason:
                deploy["statusReason"] = job.status_reason
            return [deploy]
        build = {"stepName": "BUILD", "startTime": start, "status": status, "endTime": end,
                 "logUrl": self.log_url(job, "BUILD")}
        if job.status_reason:
            build["statusReason"] = job.status_reason
        if job.status != "SUCCEED":
            return [build]
        deploy = {"stepName": "DEPLOY", "startTime": end, "status": "SUCCEED", "endTime": end,
                  "logUrl": self.log_url(job, "DEPLOY"),
                  "artifactsUrl": f"http://{self.host}:{self.port}/_artifacts/{job.app_id}/{job.number}.zip"}
        return [build, deploy]

    def log_text(self, job, step):
        start = job.running_since or job.start_time
        end = job.end_time or now()
        if job.job_type == "MANUAL":
            if step != "DEPLOY" or job.log is None:
                return None
            lines = job.log if job.status in TERMINAL else job.log[: len(job.log) // 2]
            return render_log(lines, start, end)
        if step == "DEPLOY":
            return render_log(deploy_log(), end, end + 1) if job.status == "SUCCEED" else None
        lines = job.log if job.log is not None else success_log(job.commit_id, self.apps[job.app_id]["repository"])
        if job.status not in TERMINAL:
            lines = lines[: len(lines) // 2]  # a running build has logged about half so far
        elif job.status == "CANCELLED":
            lines = lines[: len(lines) // 2] + ["# Job cancelled by request", "Terminating logging..."]
        return render_log(lines, start, end)

    @staticmethod
    def public(record):
        return {k: v for k, v in record.items() if not k.startswith("_")}


def page(items, key, token, max_results, default):
    """Opaque tokens naming the last item returned, so a page boundary stays put
    when items are added meanwhile (new jobs come first)."""
    size = max_results or default
    start = 0
    if token:
        try:
            last = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
            start = [key(i) for i in items].index(last) + 1
        except (ValueError, KeyError, TypeError):
            raise bad("Invalid nextToken.")
    chunk = items[start:start + size]
    more = start + size < len(items)
    return chunk, (base64.urlsafe_b64encode(json.dumps({"after": key(chunk[-1])}).encode()).decode() if more else None)


# ----- the Amplify API -----

class Api:
    """One method per operation: params are the model-validated input."""

    def __init__(self, store):
        self.s = store

    def CreateApp(self, p):
        return {"app": self.s.public(self.s.create_app(p, invent_repository=False))}

    def GetApp(self, p):
        return {"app": self.s.public(self.s.app(p["appId"]))}

    def UpdateApp(self, p):
        return {"app": self.s.public(self.s.update_app(self.s.app(p["appId"]), p))}

    def ListApps(self, p):
        apps, token = page(list(self.s.apps.values()), lambda a: a["appId"], p.get("nextToken"), p.get("maxResults"), 100)
        return {"apps": [self.s.public(a) for a in apps], **({"nextToken": token} if token else {})}

    def DeleteApp(self, p):
        return {"app": self.s.public(self.s.delete_app(p["appId"]))}

    def CreateBranch(self, p):
        return {"branch": self.s.public(self.s.create_branch(p["appId"], p))}

    def GetBranch(self, p):
        return {"branch": self.s.public(self.s.branch(p["appId"], p["branchName"]))}

    def ListBranches(self, p):
        self.s.app(p["appId"])
        mine = [b for (a, _), b in self.s.branches.items() if a == p["appId"]]
        chunk, token = page(mine, lambda b: b["branchName"], p.get("nextToken"), p.get("maxResults"), 50)
        return {"branches": [self.s.public(b) for b in chunk], **({"nextToken": token} if token else {})}

    def UpdateBranch(self, p):
        return {"branch": self.s.public(self.s.update_branch(self.s.branch(p["appId"], p["branchName"]), p))}

    def DeleteBranch(self, p):
        branch = self.s.branch(p["appId"], p["branchName"])
        self.s.drop_branch((p["appId"], p["branchName"]))
        return {"branch": self.s.public(branch)}

    def StartJob(self, p):
        return {"jobSummary": self.s.summary(self.s.start_job(p["appId"], p["branchName"], p))}

    def StopJob(self, p):
        job = self.s.job(p["appId"], p["branchName"], p["jobId"])
        self.s.stop_job(job)
        return {"jobSummary": self.s.summary(job)}

    def GetJob(self, p):
        job = self.s.job(p["appId"], p["branchName"], p["jobId"])
        return {"job": {"summary": self.s.summary(job), "steps": self.s.steps(job)}}

    def CreateDeployment(self, p):
        return self.s.create_deployment(p["appId"], p["branchName"], p)

    def StartDeployment(self, p):
        return {"jobSummary": self.s.summary(self.s.start_deployment(p["appId"], p["branchName"], p))}

    def CreateDomainAssociation(self, p):
        return {"domainAssociation": self.s.create_domain(p["appId"], p)}

    def GetDomainAssociation(self, p):
        return {"domainAssociation": self.s.domain(p["appId"], p["domainName"])}

    def ListDomainAssociations(self, p):
        self.s.app(p["appId"])
        mine = [d for (a, _), d in self.s.domains.items() if a == p["appId"]]
        chunk, token = page(mine, lambda d: d["domainName"], p.get("nextToken"), p.get("maxResults"), 50)
        return {"domainAssociations": chunk, **({"nextToken": token} if token else {})}

    def ListJobs(self, p):
        self.s.branch(p["appId"], p["branchName"])
        newest_first = list(reversed(self.s.jobs[(p["appId"], p["branchName"])]))
        chunk, token = page(newest_first, lambda j: j.number, p.get("nextToken"), p.get("maxResults"), 50)
        return {"jobSummaries": [self.s.summary(j) for j in chunk], **({"nextToken": token} if token else {})}


# ----- HTTP -----

class Handler(BaseHTTPRequestHandler):
    server_version = "AmplifyEmulator/2.0"
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs expect
    store: Store = None

    def log_message(self, fmt, *args):  # quiet: tests read /_emulator/calls instead
        pass

    def do_any(self):
        self.dispatch(self.command)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_any

    def json_body(self):
        if not self.raw_body.strip():
            return {}
        try:
            body = json.loads(self.raw_body)
        except ValueError:
            raise bad("The request body is not valid JSON.")
        if not isinstance(body, dict):
            raise bad("The request body must be a JSON object.")
        return body

    def send(self, status, payload, content_type="application/json", headers=None):
        site_app, self._site_app = getattr(self, "_site_app", None), None
        if site_app is not None:
            self.store.traffic.record(site_app, status, time.time() - self._site_started)
        data = payload if isinstance(payload, bytes) else (
            payload.encode() if isinstance(payload, str) else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        self.send_header("x-amzn-requestid", str(uuid.uuid4()))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error_json(self, e):
        self.send(e.status, {"message": e.message}, headers={"x-amzn-errortype": e.kind})

    def dispatch(self, method):
        # Read the whole body first: on a kept-alive connection leftovers would
        # be taken for the next request.
        self.raw_body = self.rfile.read(int(self.headers.get("content-length") or 0))
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            site = self.site_by_host((self.headers.get("host") or "").split(":")[0])
            if site:
                return self.serve_site(*site)
            top = url.path.split("/")[1] if url.path.count("/") else ""
            if top == "_emulator":
                return Control(self).handle(method, url.path[len("/_emulator"):], query)
            if top == "_logs":
                return self.serve_log(url.path, query)
            if top == "_uploads":
                return self.serve_upload(method, url.path, query)
            if top == "_sites":
                return self.serve_site_path(url.path)
            if is_query(method, url.path, self.headers):
                # CloudFormation's query protocol (AWS_ENDPOINT_URL_CLOUDFORMATION).
                status, xml = self.store.stacks.serve(self.raw_body, self.headers)
                return self.send(status, xml, content_type="text/xml")
            return self.api(method, url.path, query)
        except ApiError as e:
            self.send_error_json(e)
        except Exception as e:  # never leave the SDK without an answer
            self.send_error_json(ApiError("InternalFailureException", f"emulator error: {e!r}"))

    def api(self, method, path, query):
        s = self.store
        call = {"operation": None, "method": method, "path": self.path, "time": now()}
        try:
            op, labels = s.model.match(method, path)
            call["operation"] = op
            body = self.json_body()
            call["params"] = {**labels, **{k: v[0] for k, v in query.items()}, **body}
            if op not in SERVED:
                raise bad(f"{op} is not emulated (served: {', '.join(SERVED)}).")
            with s.lock:
                self.injected_fault(op, call["params"])
                params = s.model.request(op, labels, query, body)
                out = s.model.answer(op, getattr(Api(s), op)(params))
            call["status"] = 200
        except ApiError as e:
            call.update(status=e.status, error=e.kind)
            raise
        finally:
            with s.lock:
                s.calls.append(call)
        self.send(200, out)

    def injected_fault(self, op, params=None):
        for fault in self.store.faults:
            # A fault may name a branch: only calls about it are failed, so
            # tests running side by side do not take each other's faults.
            branch = fault.get("branchName")
            if branch is not None and (params or {}).get("branchName") != branch:
                continue
            if fault["operation"] in (op, "*") and fault["count"] > 0:
                fault["count"] -= 1
                raise ApiError(fault["error"], fault.get("message") or f"Injected {fault['error']} for {op}.")

    # ----- logs -----
    def serve_log(self, path, query):
        s = self.store
        q = {k: v[0] for k, v in query.items()}
        signature, date, expires = q.get("X-Amz-Signature", ""), q.get("X-Amz-Date", ""), q.get("X-Amz-Expires", "")
        if not hmac.compare_digest(signature, s.signature(path, date, expires)):
            return self.s3_error("SignatureDoesNotMatch" if signature else "AccessDenied",
                                 "The request signature we calculated does not match the signature you provided."
                                 if signature else "Query-string authentication requires the Signature parameter.")
        signed = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        if time.time() > signed + int(expires):
            return self.s3_error("AccessDenied", "Request has expired")
        parts = [unquote(p) for p in path.split("/")[2:]]
        with s.lock:
            try:
                job = s.job(parts[0], parts[1], parts[2])
                text = s.log_text(job, parts[3].removesuffix(".txt"))
            except (ApiError, IndexError):
                text = None
        if text is None:
            return self.s3_error("NoSuchKey", "The specified key does not exist.", 404)
        self.send(200, text, "text/plain; charset=utf-8")

    # ----- manual deployments' uploads (zipUploadUrl, fileUploadUrls) -----
    def serve_upload(self, method, path, query):
        """S3's side of a pre-signed PUT: the signature as for logs, then
        the body kept on its job; S3 answers 200 with the ETag (MD5)."""
        s = self.store
        q = {k: v[0] for k, v in query.items()}
        signature, date, expires = q.get("X-Amz-Signature", ""), q.get("X-Amz-Date", ""), q.get("X-Amz-Expires", "")
        if method != "PUT":
            return self.s3_error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
        if not hmac.compare_digest(signature, s.signature(path, date, expires)):
            return self.s3_error("SignatureDoesNotMatch" if signature else "AccessDenied",
                                 "The request signature we calculated does not match the signature you provided."
                                 if signature else "Query-string authentication requires the Signature parameter.")
        signed = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        if time.time() > signed + int(expires):
            return self.s3_error("AccessDenied", "Request has expired")
        try:
            with s.lock:
                s.receive_upload(path, self.raw_body)
        except ApiError as e:
            return self.s3_error("NoSuchUpload" if e.status == 404 else "InvalidRequest", e.message,
                                 404 if e.status == 404 else 400)
        self.send(200, b"", "application/xml", {"ETag": f'"{hashlib.md5(self.raw_body).hexdigest()}"'})

    def s3_error(self, code, message, status=403):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
                f"<RequestId>{uuid.uuid4().hex[:16].upper()}</RequestId></Error>")
        self.send(status, body, "application/xml")

    # ----- sites -----
    def site_by_host(self, host):
        with self.store.lock:
            found = self.store.branch_by_host(host)
        return (*found, urlsplit(self.path).path) if found else None

    def serve_site_path(self, path):
        # ['', '_sites', app, displayName, ...] or ['', '_sites', host, ...]:
        # a host (it has dots; app ids have none) stands for the Host header
        # a real request to that name would carry.
        parts = path.split("/")
        if len(parts) >= 3 and "." in parts[2]:
            with self.store.lock:
                found = self.store.branch_by_host(unquote(parts[2]))
            if found is None:
                return self.send(404, "no such site", "text/plain")
            return self.serve_site(*found, "/" + "/".join(parts[3:]))
        if len(parts) < 4:
            return self.send(404, "no such site", "text/plain")
        app_id, shown = unquote(parts[2]), unquote(parts[3])
        with self.store.lock:
            name = next((b["branchName"] for (a, _), b in self.store.branches.items()
                         if a == app_id and b["displayName"] == shown), None)
        if name is None:
            return self.send(404, "no such site", "text/plain")
        self.serve_site(app_id, name, "/" + "/".join(parts[4:]))

    def serve_site(self, app_id, name, path):
        s = self.store
        self._site_app, self._site_started = app_id, time.time()
        with s.lock:
            override = dict(s.sites.get((app_id, name), {}))
            branch, app = s.branches[(app_id, name)], s.apps[app_id]
            deployed = branch["_deployed"] or {}
            # A branch's own protection wins over the app's, as in Amplify.
            owner = branch if branch.get("enableBasicAuth") else app if app.get("enableBasicAuth") else None
            credentials = owner.get("basicAuthCredentials") if owner else None
        if owner is not None and self.headers.get("Authorization") != f"Basic {credentials}":
            return self.send(401, "Unauthorized", "text/plain",
                             {"www-authenticate": 'Basic realm="Amplify"', "cache-control": "no-store"})
        if override.get("latencyMs"):
            time.sleep(override["latencyMs"] / 1000)
        commit = override.get("commitId") or deployed.get("commitId")
        if commit is None:
            return self.send(404, "no deployment", "text/plain", {"cache-control": "no-store"})
        if deployed.get("files") is not None and not override.get("commitId") and override.get("body") is None:
            return self.serve_file(deployed["files"], path, override)
        headers = {"x-deployed-commit": commit, "cache-control": "no-store"}
        status = int(override.get("status", 200))
        if "brokenCommits" in override and not override.get("failPaths"):  # only these commits answer `status` (default 500)
            status = int(override.get("status", 500)) if commit in override["brokenCommits"] else 200
        # {"failPaths": {"/checkout": 0.2}}: that share of requests to the path
        # answer 500 (with `brokenCommits`, only while one of them is deployed),
        # while every other path, the probes' included, stays healthy.
        share = (override.get("failPaths") or {}).get(path.rstrip("/") or "/")
        if share and commit in override.get("brokenCommits", [commit]):
            status = 500 if s.traffic.fails(app_id, name, path, float(share)) else 200
        if override.get("body") is not None:
            return self.send(status, override["body"], "text/html; charset=utf-8", headers)
        if path.rstrip("/") == "/api/health":
            return self.send(status, {"status": "ok" if status < 400 else "error", "commit": commit}, headers=headers)
        html = (f'<!doctype html><html><head><meta name="x-deployed-commit" content="{commit}">'
                f"<title>{app_id} {name}</title></head><body><h1>{name}</h1>"
                f"<p>commit {commit}</p></body></html>")
        self.send(status, html, "text/html; charset=utf-8", headers)


    def serve_file(self, files, path, override):
        """A manual deployment's site is the zip's files and nothing else:
        `/` and `/dir/` are their index.html, a path the zip lacks is 404
        (an app without rewrite rules), and no `x-deployed-commit` header is
        added (Amplify adds none). A status override still applies."""
        key = path if not path.endswith("/") else path + "index.html"
        body = files.get(key)
        if body is None and not key.endswith("/index.html"):
            body = files.get(key.rstrip("/") + "/index.html")
        if body is None:
            return self.send(int(override.get("status", 404)) if "status" in override else 404,
                             "<Error><Code>NotFound</Code><Message>Not Found</Message></Error>",
                             "application/xml", {"cache-control": "no-store"})
        kind = mimetypes.guess_type(key)[0] or "application/octet-stream"
        if kind.startswith("text/") or kind in ("application/json", "application/javascript"):
            kind += "; charset=utf-8"
        return self.send(int(override.get("status", 200)), body, kind)


def check_play(outcome, mode):
    if outcome not in ("SUCCEED", "FAILED") or mode not in ("auto", "manual"):
        raise bad("outcome must be SUCCEED or FAILED, mode auto or manual")


class Control:
    """The control API under /_emulator (see the README for each call)."""

    def __init__(self, handler):
        self.h, self.s = handler, handler.store

    def handle(self, method, path, query):
        raw = path.strip("/").split("/") if path.strip("/") else []
        p = [unquote(x) for x in raw]
        body = self.h.json_body() if method in ("POST", "PUT") else {}
        with self.s.lock:
            out = self.route(method, p, body)
        if callable(out):  # work that must not hold the lock (delivery, waiting)
            out = out()
        self.h.send(200, out)

    def route(self, method, p, body):
        s = self.s
        simple = {("GET", "health"): lambda: {"ok": True, "eventsEndpoint": s.config["eventsEndpoint"]},
                  ("POST", "reset"): lambda: s.reset() or {"ok": True},
                  ("GET", "calls"): lambda: {"calls": list(s.calls)},
                  ("DELETE", "calls"): lambda: s.calls.clear() or {"calls": []},
                  ("GET", "faults"): lambda: {"faults": s.faults},
                  ("POST", "faults"): lambda: self.add_fault(body),
                  ("DELETE", "faults"): lambda: s.faults.clear() or {"faults": []},
                  ("GET", "metrics"): lambda: {"minutes": s.traffic.summary()},
                  ("GET", "config"): lambda: {"config": s.config},
                  ("POST", "config"): lambda: self.set_config(body)}
        if len(p) == 1 and (method, p[0]) in simple:
            return simple[(method, p[0])]()
        if p and p[0] == "stacks":
            try:
                return s.stacks.control(method, p[1:], body)
            except QueryError as e:
                raise bad(e.message) if e.status < 500 else ApiError("InternalFailureException", e.message)
        if p == ["metrics", "flush"] and method == "POST":
            return lambda: {"published": publish_traffic(s, everything=True)}
        if p == ["apps"] and method == "POST":
            # The project's apps are Next.js SSR: WEB_COMPUTE unless told otherwise.
            params = self.valid("CreateApp", dict({"platform": "WEB_COMPUTE"}, **body))
            return {"app": s.public(s.create_app(params, body.get("appId")))}
        if len(p) == 3 and p[0] == "apps" and p[2] == "branches" and method == "POST":
            params = self.valid("CreateBranch", dict(body, appId=p[1]))
            return {"branch": s.public(s.create_branch(p[1], params, body.get("headCommit"), quota=False))}
        if len(p) == 5 and p[0] == "apps" and p[2] == "branches" and method in ("POST", "GET"):
            return self.branch_call(method, p[1], p[3], p[4], body)
        if len(p) == 4 and p[0] == "apps" and p[2] == "domains" and method == "POST":
            return self.domain_call(s.domain(p[1], p[3]), body)
        if len(p) == 7 and p[0] == "apps" and p[2] == "branches" and p[4] == "jobs":
            return self.job_call(method, s.job(p[1], p[3], p[5]), p[6], body)
        raise ApiError("UnknownOperationException", f"Unknown control call {method} /_emulator/{'/'.join(p)}")

    def valid(self, op, body):
        """Control calls create the same records as the API: same validation."""
        params = {k: v for k, v in body.items() if k not in ("appId", "headCommit")} if op == "CreateApp" else body
        errors = []
        self.s.model.check(self.s.model.ops[op]["input"]["shape"], params, "", errors)
        if "appId" in body:
            self.s.model.check("AppId", body["appId"], "appId", errors)
        if errors:
            raise bad("; ".join(errors))
        return params

    def add_fault(self, body):
        if body.get("error") not in ApiError.STATUS:
            raise bad(f"error must be one of {sorted(ApiError.STATUS)}")
        self.s.faults.append({"operation": body.get("operation", "*"), "error": body["error"],
                              "count": int(body.get("count", 1)), "message": body.get("message"),
                              "branchName": body.get("branchName")})
        return {"faults": self.s.faults}

    def set_config(self, body):
        unknown = set(body) - set(self.s.config)
        if unknown:
            raise bad(f"unknown settings {sorted(unknown)}; known: {sorted(self.s.config)}")
        for key, value in body.items():
            if type(value) is not type(self.s.config[key]):
                raise bad(f"{key} must be a {type(self.s.config[key]).__name__}")
        self.s.config.update(body)
        self.s._events_client = None
        return {"config": self.s.config}

    def domain_call(self, domain, body):
        """Plays DNS and the certificate: sets `domainStatus` (the model's
        enum) and, with `verified`, the sub-domains' verification."""
        errors = []
        if "domainStatus" in body:
            self.s.model.check("DomainStatus", body["domainStatus"], "domainStatus", errors)
        if "verified" in body and not isinstance(body["verified"], bool):
            errors.append("verified must be a boolean")
        if set(body) - {"domainStatus", "verified", "statusReason"} or errors:
            raise bad("; ".join(errors) or "known members: domainStatus, verified, statusReason")
        domain["domainStatus"] = body.get("domainStatus", domain["domainStatus"])
        domain["statusReason"] = body.get("statusReason", domain["statusReason"])
        for sub in domain["subDomains"]:
            sub["verified"] = body.get("verified", sub["verified"])
        return {"domainAssociation": domain}

    def branch_call(self, method, app_id, name, action, body):
        s = self.s
        branch = s.branch(app_id, name)
        if action == "push" and method == "POST":
            if not body.get("commitId"):
                raise bad("commitId is required")
            branch["_head"] = {"commitId": body["commitId"], "commitMessage": body.get("commitMessage", ""),
                               "commitTime": body.get("commitTime", now())}
            job = None
            if branch["enableAutoBuild"]:  # Amplify's webhook builds every push
                job = s.new_job(app_id, name, "WEB_HOOK", branch["_head"])
                s.play_behaviour(branch, job)
            return {"head": branch["_head"], "jobSummary": s.summary(job) if job else None}
        if action == "behaviour" and method == "POST":
            check_play(body.get("outcome", "SUCCEED"), body.get("mode", "auto"))
            branch["_behaviour"].update({k: body[k] for k in DEFAULT_BEHAVIOUR if k in body})
            return {"behaviour": branch["_behaviour"]}
        if action == "site" and method == "POST":
            s.sites[(app_id, name)] = body
            return {"site": body}
        if action == "builds" and method == "POST":
            return self.build(app_id, name, branch, body)
        raise ApiError("UnknownOperationException", f"Unknown control call {method} .../{action}")

    def build(self, app_id, name, branch, body):
        s = self.s
        outcome, mode = body.get("outcome", "SUCCEED"), body.get("mode", "auto")
        check_play(outcome, mode)
        job_type = body.get("jobType", "RELEASE")
        if job_type not in ("RELEASE", "RETRY", "MANUAL", "WEB_HOOK"):
            raise bad(f"Invalid jobType: {job_type!r}")
        # The head's commit unless another is named (then its message/time are the body's or made up).
        head = branch["_head"] if not body.get("commitId") else {
            "commitId": body["commitId"], "commitMessage": "", "commitTime": now() - 60}
        commit = {k: body.get(k, v) for k, v in head.items()}
        job = s.new_job(app_id, name, job_type, commit)
        # Back-dating the start gives a realistic duration without waiting.
        job.start_time = round(job.start_time - float(body.get("durationSeconds", 0)), 3)
        job.commit_time = min(job.commit_time, job.start_time)
        if body.get("log") is not None:
            job.log = body["log"].splitlines() if isinstance(body["log"], str) else list(body["log"])
        if mode == "manual":
            return {"jobSummary": s.summary(job), "events": []}
        thread = s.play(job, outcome, body.get("stepDelayMs", 200) / 1000, body.get("emit", True), None)

        def respond():
            if body.get("wait"):
                thread.join(60)
            with s.lock:
                return {"jobSummary": s.summary(job), "events": list(job.events), "deliveries": list(job.deliveries)}
        return respond

    def job_call(self, method, job, action, body):
        s = self.s
        if action == "events" and method == "GET":
            return {"events": list(job.events), "deliveries": list(job.deliveries)}
        if action == "advance" and method == "POST":
            def respond():
                moved = s.advance(job, body.get("to", ""), bool(body.get("emit", False)), body.get("log"),
                                  reason=body.get("statusReason"))
                event, delivery = moved
                return {"jobSummary": s.summary(job), "events": [event] if event else [], "delivery": delivery}
            return respond
        raise ApiError("UnknownOperationException", f"Unknown control call {method} .../jobs/{job.number}/{action}")


def main():
    ap = argparse.ArgumentParser(description="The Amplify emulator (see tests/localstack/README.md)")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1 only)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("AMPLIFY_EMULATOR_PORT", "4520")))
    args = ap.parse_args()
    events_endpoint = os.environ.get("AWS_ENDPOINT_URL_EVENTBRIDGE") or os.environ.get("AWS_ENDPOINT_URL") or ""
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    Handler.store = Store(Model(), args.host, server.server_address[1], events_endpoint)
    threading.Thread(target=publish_every_minute, args=(Handler.store,), daemon=True).start()
    print(f"amplify emulator on http://{args.host}:{server.server_address[1]} "
          f"(events to {events_endpoint or 'nowhere: no EventBridge endpoint configured'})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
