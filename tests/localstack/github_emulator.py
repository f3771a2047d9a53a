#!/usr/bin/env python3
"""The project's GitHub API emulator (the local stack's GitHub).

Serves only the REST endpoints Deploy Sentinel uses (see SERVED), checked
against GitHub's official OpenAPI description (the npm package
`@octokit/openapi`, `generated/api.github.com.json`, installed by
scripts/bootstrap.sh under .tools/), as the Amplify emulator is checked
against botocore's model. The description is loaded once at start; every
request body and path/query parameter is validated against the operation's
schema (422 naming the field, as GitHub answers), and every answer the
emulator sends is validated against the operation's response schema (an
invalid answer is an emulator bug: 500 with the reason, logged).

Auth as GitHub does it: the App's JWT (RS256, verified with the public key
given at start), installation tokens minted from it (expiring), and a
fine-grained personal access token given at start (no check runs). Rate-limit
headers on every answer, and modes that answer as GitHub's primary and
secondary limits do, or fail every request for a while. A control API under
/_emulator records calls, shows the state and scripts compares, commits and
installations. See tests/localstack/README.md.

Binds only the host it is given (127.0.0.1 by default). Standard library,
plus PyJWT and cryptography (the JWT), openapi-schema-validator (OpenAPI 3.0's
`nullable` on top of jsonschema) and referencing (the description's `$ref`s).
"""

import argparse
import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import jwt
from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEFAULT_SPEC = os.path.join(ROOT, ".tools", "node_modules", "@octokit", "openapi", "generated",
                            "api.github.com.json")
SPEC_URI = "urn:github-openapi"
DOCS = "https://docs.github.com/rest"
RATE_DOCS = ("https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
             "#about-secondary-rate-limits")
LOCAL_OWNER = "sentinel-local"
APP_SLUG = "deploy-sentinel-local"
# The permissions `sentinel github setup`'s manifest asks for (issue #29).
APP_PERMISSIONS = {"checks": "write", "statuses": "write", "deployments": "write", "pull_requests": "write",
                   "contents": "read", "metadata": "read"}
TOKEN_TTL = 3600  # installation tokens: one hour, as GitHub mints them
JWT_MAX_LIFETIME = 600  # exp - iat, and exp - now: at most 10 minutes
CLOCK_DRIFT = 60  # iat may be this far in the future
RATE_LIMIT = 5000  # an installation's (and a token's) primary limit per hour
MAX_COMPARE_FILES, MAX_COMPARE_COMMITS = 300, 250

# (method, the description's path, what the credentials need). "jwt": the
# App's JWT; (permission, level): an installation token with it, or the PAT
# (PAT_REFUSED lists what a fine-grained token cannot do); None: anyone.
SERVED = [
    ("GET", "/app", "jwt"),
    ("GET", "/repos/{owner}/{repo}/installation", "jwt"),
    ("POST", "/app/installations/{installation_id}/access_tokens", "jwt"),
    ("POST", "/repos/{owner}/{repo}/check-runs", ("checks", "write")),
    ("GET", "/repos/{owner}/{repo}/check-runs/{check_run_id}", ("checks", "read")),
    ("PATCH", "/repos/{owner}/{repo}/check-runs/{check_run_id}", ("checks", "write")),
    ("POST", "/repos/{owner}/{repo}/statuses/{sha}", ("statuses", "write")),
    ("POST", "/repos/{owner}/{repo}/deployments", ("deployments", "write")),
    ("GET", "/repos/{owner}/{repo}/deployments", ("deployments", "read")),
    ("POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", ("deployments", "write")),
    ("GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses", ("deployments", "read")),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}", ("contents", "read")),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}", ("contents", "read")),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", ("pull_requests", "read")),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", ("pull_requests", "write")),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", ("pull_requests", "write")),
    ("GET", "/rate_limit", None),
]
# A fine-grained token cannot write check runs: "Your GitHub App must have
# the `checks:write` permission to create check runs" (the description's
# checks/create, docs.github.com/rest/checks/runs#create-a-check-run), and
# fine-grained tokens have no Checks permission to grant.
PAT_REFUSED = {"checks"}
# A path parameter that may hold '/' (a branch name in a ref or a compare).
GREEDY = {"basehead", "ref"}
LEVELS = {"read": 1, "write": 2, "admin": 3}


class GitHubError(Exception):
    """An answer other than success, in GitHub's shape: `message`,
    `documentation_url`, and `errors` for a validation failure."""

    def __init__(self, status, message, errors=None, headers=None, docs=DOCS):
        super().__init__(message)
        self.status, self.message, self.errors, self.headers, self.docs = status, message, errors, headers or {}, docs

    def body(self):
        out = {"message": self.message, "documentation_url": self.docs}
        if self.errors is not None:
            out["errors"] = self.errors
        return out


def not_found():
    return GitHubError(404, "Not Found", docs=DOCS)


def iso(t):
    return datetime.fromtimestamp(int(t), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha_of(text):
    return hashlib.sha1(text.encode()).hexdigest()


def node_id(kind, number):
    return f"{kind}_local{number}"


# ----- the wire contract, from GitHub's OpenAPI description -----

class Spec:
    """The served operations of GitHub's OpenAPI description: routes,
    parameter and body validators (requests), and response validators."""

    def __init__(self, path):
        if not os.path.exists(path):
            raise SystemExit(f"github emulator: GitHub's OpenAPI description {path} is missing: run `make bootstrap` "
                             f"(it installs the npm package @octokit/openapi under .tools/)")
        with open(path) as f:
            self.doc = json.load(f)
        allow_null(self.doc)
        resource = Resource.from_contents(self.doc, default_specification=DRAFT4)
        self.registry = Registry().with_resource(SPEC_URI, resource)
        self.ops = {}
        self.routes = []
        for method, path, need in SERVED:
            op = self.doc["paths"][path][method.lower()]
            pattern = re.sub(r"\{(\w+)\}", lambda m: f"(?P<{m.group(1)}>{'.+' if m.group(1) in GREEDY else '[^/]+'})",
                             path)
            if path.endswith("{basehead}"):
                pattern = pattern.replace("(?P<basehead>.+)", "(?P<basehead>.+?\\.\\.\\..+)")
            self.routes.append((method, re.compile(f"^{pattern}$"), op["operationId"]))
            self.ops[op["operationId"]] = {"method": method, "path": path, "need": need, "op": op,
                                           "params": [self.deref(p) for p in op.get("parameters", [])]}
        self.error_schema = self.validator({"$ref": "#/components/schemas/basic-error"}, read=True)
        self.validation_error_schema = self.validator({"$ref": "#/components/schemas/validation-error-simple"},
                                                      read=True)
        self._validators = {}

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            assert ref.startswith("#/"), ref
            node = self.doc
            for part in ref[2:].split("/"):
                node = node[part]
        return node

    def validator(self, schema, read):
        """A validator for a schema of the description: its `$ref`s resolve
        against the whole document."""
        cls = OAS30ReadValidator if read else OAS30WriteValidator
        return cls(anchored(schema), registry=self.registry)

    def cached(self, key, schema, read):
        if key not in self._validators:
            self._validators[key] = self.validator(schema, read)
        return self._validators[key]

    def match(self, method, path):
        """(operationId, path parameters) or None; parameters are decoded
        after the split, so an encoded '/' stays inside its parameter."""
        for verb, regex, op_id in self.routes:
            m = regex.match(path)
            if m and verb == method:
                return op_id, {k: unquote(v) for k, v in m.groupdict().items()}
        return None

    def request(self, op_id, labels, query, body):
        """Path and query parameters (typed as the description says) and the
        body, validated; a violation answers 422 naming the field."""
        spec = self.ops[op_id]
        params, problems = {}, []
        for p in spec["params"]:
            name, where, schema = p["name"], p["in"], self.deref(p.get("schema", {}))
            raw = labels.get(name) if where == "path" else (query.get(name, [None])[0] if where == "query" else None)
            if raw is None:
                if p.get("required"):
                    problems.append(f"For '{name}', a value is required.")
                continue
            value = raw
            if schema.get("type") == "integer":
                value = int(raw) if re.fullmatch(r"-?\d+", raw) else raw
            validator = self.cached(("param", op_id, name), p.get("schema", {}), read=False)
            for e in validator.iter_errors(value):
                problems.append(f"For '{name}', {e.message}.")
            params[name] = value
        body_spec = spec["op"].get("requestBody")
        if body_spec is not None:
            schema = self.deref(body_spec)["content"]["application/json"]["schema"]
            validator = self.cached(("body", op_id), schema, read=False)
            for e in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
                problems.append(describe(e))
        if problems:
            raise GitHubError(422, "Invalid request.\n\n" + listing(problems))
        return params

    def response(self, op_id, status, body):
        """Our own answer checked against the description: the operation's
        schema for that status, else GitHub's error shapes. Returns the
        problems (an emulator bug when not empty)."""
        responses = self.ops[op_id]["op"]["responses"] if op_id else {}
        if str(status) in responses:
            content = self.deref(responses[str(status)]).get("content", {})
            if "application/json" not in content:
                return [] if body is None else [f"{status} has no JSON body in the description"]
            validator = self.cached(("response", op_id, status), content["application/json"]["schema"], read=True)
        elif status >= 400:
            validator = self.validation_error_schema if "errors" in (body or {}) else self.error_schema
        else:
            return [f"{op_id} answers no {status} in GitHub's description"]
        problems = [describe(e) for e in validator.iter_errors(body)]
        if status >= 400 and not (isinstance(body, dict) and isinstance(body.get("message"), str)):
            # basic-error requires nothing; GitHub's errors always say why.
            problems.append("an error answer without its message")
        return problems


def anchored(node):
    """A copy of a schema whose local `$ref`s name the description's
    resource (so an inline schema resolves them as the document does)."""
    if isinstance(node, dict):
        return {k: (SPEC_URI + v if k == "$ref" and isinstance(v, str) and v.startswith("#/") else anchored(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [anchored(v) for v in node]
    return node


def allow_null(node):
    """OpenAPI 3.0.3: `nullable: true` "adds "null" to the allowed values".
    openapi-schema-validator honours it beside a `type` only, and jsonschema's
    `enum` still refuses null; so null is added to a nullable `enum` (a check
    run's `conclusion` is null until it completes), and a nullable schema
    without a `type` (a commit's `author`: `oneOf` a user or `{}`, null when
    GitHub matched no account) becomes `anyOf: [null, the schema]`."""
    if isinstance(node, dict):
        for v in node.values():
            allow_null(v)
        if node.get("nullable") is True:
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"].append(None)
            if "type" not in node and any(k in node for k in ("oneOf", "anyOf", "allOf", "$ref")):
                inner = {k: node.pop(k) for k in ("oneOf", "anyOf", "allOf", "$ref") if k in node}
                node["anyOf"] = [{"enum": [None]}, inner]
    elif isinstance(node, list):
        for v in node:
            allow_null(v)


def describe(error):
    """One violation, named by its field as GitHub names it
    ("For 'properties/conclusion', \"green\" is not one of [...]"), the
    offending value cut short (a 65,536-character summary is not echoed)."""
    if error.context:
        error = best_match(error.context) or error
    path = list(error.absolute_path)
    message = error.message if len(error.message) <= 300 else error.message[:300] + "…"
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [name for name in error.validator_value if name not in error.instance]
        if missing:
            path.append(missing[0])
            message = f'"{missing[0]}" wasn\'t supplied'
    where = "/".join(f"properties/{p}" if isinstance(p, str) else f"items/{p}" for p in path)
    field = ".".join(str(p) for p in path) or "body"
    return f"For '{where or 'body'}' ({field}), {message}."


def listing(problems, most=10):
    """At most `most` problems, and how many more there were."""
    shown = problems[:most]
    if len(problems) > most:
        shown.append(f"…and {len(problems) - most} more.")
    return "\n".join(shown)


# ----- objects as GitHub answers them -----

def user(host, login, number, kind="User"):
    base = f"{host}/users/{login}"
    return {"login": login, "id": number, "node_id": node_id("U", number),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{number}?v=4", "gravatar_id": "",
            "url": base, "html_url": f"https://github.com/{login}", "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}", "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs", "repos_url": f"{base}/repos", "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events", "type": kind, "site_admin": False}


class State:
    """Everything the emulator remembers (one lock: the server is threaded)."""

    def __init__(self, spec, app_id, public_key, pat, host_url):
        self.spec, self.app_id, self.public_key, self.pat, self.url = spec, app_id, public_key, pat, host_url
        self.lock = threading.RLock()
        self.started = time.time()
        self.reset()

    def reset(self):
        with self.lock:
            self.calls, self.check_runs, self.deployments, self.comments, self.statuses = [], {}, {}, {}, []
            self.compares, self.commits, self.tokens = {}, {}, {}
            self.next_id = 1000
            self.mode, self.mode_until = {}, None
            self.used, self.window = {}, {}
            self.installation = {"id": 1, "account": LOCAL_OWNER, "permissions": dict(APP_PERMISSIONS),
                                 "uninstalled": [], "installed": [], "token_ttl_seconds": TOKEN_TTL}

    def new_id(self):
        self.next_id += 1
        return self.next_id

    def repo_url(self, owner, repo):
        return f"{self.url}/repos/{owner}/{repo}"

    # ----- the App and its installation -----
    def app_user(self):
        return user(self.url, f"{APP_SLUG}[bot]", 90000 + self.app_id, "Bot")

    def app(self):
        t = iso(self.started)
        owner = user(self.url, LOCAL_OWNER, 4000, "Organization")
        return {"id": self.app_id, "slug": APP_SLUG, "client_id": f"Iv1.local{self.app_id}",
                "node_id": node_id("A", self.app_id), "owner": owner, "name": "Deploy Sentinel (local)",
                "description": "The local stack's GitHub App", "external_url": "http://127.0.0.1",
                "html_url": f"https://github.com/apps/{APP_SLUG}", "created_at": t, "updated_at": t,
                "permissions": dict(self.installation["permissions"]), "events": [], "installations_count": 1}

    def installed_on(self, owner, repo):
        full = f"{owner}/{repo}"
        if full in self.installation["uninstalled"]:
            return False
        return owner == LOCAL_OWNER or full in self.installation["installed"]

    def installation_object(self):
        i = self.installation
        t = iso(self.started)
        return {"id": i["id"], "account": user(self.url, i["account"], 4000, "Organization"),
                "repository_selection": "selected" if i["uninstalled"] else "all",
                "access_tokens_url": f"{self.url}/app/installations/{i['id']}/access_tokens",
                "repositories_url": f"{self.url}/installation/repositories",
                "html_url": f"https://github.com/organizations/{i['account']}/settings/installations/{i['id']}",
                "app_id": self.app_id, "app_slug": APP_SLUG, "target_id": 4000, "target_type": "Organization",
                "permissions": dict(i["permissions"]), "events": [], "created_at": t, "updated_at": t,
                "single_file_name": None, "has_multiple_single_files": False, "single_file_paths": [],
                "suspended_by": None, "suspended_at": None}

    def mint_token(self, body):
        i = self.installation
        wanted = body.get("permissions")
        if wanted:
            for name, level in wanted.items():
                if LEVELS.get(i["permissions"].get(name), 0) < LEVELS.get(level, 0):
                    raise GitHubError(422, "The permissions requested are not granted to this installation.")
            permissions = dict(wanted)
        else:
            permissions = dict(i["permissions"])
        token = "ghs_" + secrets.token_urlsafe(27)[:36]
        expires = time.time() + i["token_ttl_seconds"]
        self.tokens[token] = {"expires": expires, "permissions": permissions,
                              "repositories": body.get("repositories")}
        out = {"token": token, "expires_at": iso(expires), "permissions": permissions,
               "repository_selection": "selected" if body.get("repositories") else "all"}
        return out

    # ----- rate limits -----
    def rate(self, who):
        """The primary limit's numbers for one credential (its own hourly
        window, as GitHub keeps one per installation or user)."""
        now = time.time()
        if who not in self.window or self.window[who] <= now:
            self.window[who], self.used[who] = now + 3600, 0
        # Unauthenticated callers get 60 an hour (not counted here: nothing
        # of Sentinel's calls GitHub without credentials).
        limit = 60 if who == "anonymous" else RATE_LIMIT
        used = limit if self.mode.get("primary") else self.used[who]
        return {"limit": limit, "used": used, "remaining": max(0, limit - used),
                "reset": int(self.window[who]), "resource": "core"}

    def current_mode(self):
        if self.mode_until is not None and time.time() >= self.mode_until:
            self.mode, self.mode_until = {}, None
        return self.mode


class Handler(BaseHTTPRequestHandler):
    server_version = "GitHubEmulator/1.0"
    protocol_version = "HTTP/1.1"
    state: State = None

    def log_message(self, fmt, *args):  # quiet: tests read /_emulator/calls instead
        pass

    def do_any(self):
        self.dispatch(self.command)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_any

    def send(self, status, payload, headers=None):
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("content-type", "application/json; charset=utf-8")
        self.send_header("content-length", str(len(data)))
        self.send_header("x-github-media-type", "github.v3; format=json")
        self.send_header("x-github-request-id", uuid.uuid4().hex[:20].upper())
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def dispatch(self, method):
        # Read the whole body first: on a kept-alive connection leftovers
        # would be taken for the next request.
        self.raw_body = self.rfile.read(int(self.headers.get("content-length") or 0))
        url = urlsplit(self.path)
        query = parse_qs(url.query, keep_blank_values=True)
        try:
            if url.path == "/_emulator" or url.path.startswith("/_emulator/"):
                return Control(self).handle(method, url.path[len("/_emulator"):])
            return self.api(method, url.path, query)
        except Exception as e:  # never leave a client without an answer
            print(f"github emulator: error: {e!r}", flush=True)
            self.send(500, {"message": f"emulator error: {e!r}", "documentation_url": DOCS})

    def parsed_body(self):
        if not self.raw_body.strip():
            return None
        try:
            return json.loads(self.raw_body)
        except ValueError:
            return None

    def api(self, method, path, query):
        s = self.state
        body = self.parsed_body()
        call = {"method": method, "path": self.path, "body": body, "status": None}
        op_id, headers, who, failing = None, {}, None, False
        try:
            with s.lock:
                mode = s.current_mode()
                if mode.get("fail"):
                    failing = True
                    raise GitHubError(mode["fail"]["status"], "Server Error" if mode["fail"]["status"] >= 500
                                      else "Injected failure")
                matched = s.spec.match(method, path)
                if matched is None:
                    raise not_found()
                op_id, labels = matched
                need = s.spec.ops[op_id]["need"]
                auth = Auth(s)
                try:
                    who = auth.check(self.headers.get("authorization"), need, labels)
                finally:
                    who = auth.who
                if who is not None and op_id != "rate-limit/get":
                    headers = self.limits(who, mode)
                if self.raw_body.strip() and body is None:
                    raise GitHubError(400, "Problems parsing JSON")
                if body is not None and not isinstance(body, dict):
                    raise GitHubError(400, "Problems parsing JSON")
                params = s.spec.request(op_id, labels, query, body if body is not None else {})
                status, out, extra = Api(s, who, self.path).call(op_id, params, body or {}, query)
                headers.update(extra)
        except GitHubError as e:
            status, out = e.status, e.body()
            headers.update(e.headers)
        if status not in (204, 304):
            problems = s.spec.response(op_id, status, out)
            if problems:
                message = f"emulator bug: invalid {op_id} answer ({status}): " + " ".join(problems)
                print(f"github emulator: {message}", flush=True)
                status, out = 500, {"message": message, "documentation_url": DOCS}
        call["status"] = status
        with s.lock:
            s.calls.append(call)
            if not failing and "x-ratelimit-limit" not in {k.lower() for k in headers}:
                # Every answer says where the caller stands, errors included.
                headers.update(self.limit_headers(s.rate(who or "anonymous")))
        self.send(status, out, headers)

    @staticmethod
    def limit_headers(rate):
        return {"x-ratelimit-limit": rate["limit"], "x-ratelimit-remaining": rate["remaining"],
                "x-ratelimit-used": rate["used"], "x-ratelimit-reset": rate["reset"],
                "x-ratelimit-resource": rate["resource"]}

    def limits(self, who, mode):
        """Counts the request against the credential's primary limit and
        answers as GitHub does past a limit
        (docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api,
        "Exceeding the rate limit"; the secondary limit's message and
        `retry-after` from docs.github.com/rest/using-the-rest-api/best-practices-for-using-the-rest-api,
        "Handle rate limit errors appropriately")."""
        s = self.state
        rate = s.rate(who)
        if mode.get("secondary"):
            sec = mode["secondary"]
            raise GitHubError(sec.get("status", 403),
                              "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                              "again. If you reach out to GitHub Support for help, please include the request ID "
                              f"{uuid.uuid4().hex[:20].upper()}.",
                              headers=dict(self.limit_headers(rate), **{"retry-after": sec.get("retry_after", 60)}),
                              docs=RATE_DOCS)
        if rate["remaining"] <= 0:
            reset = int(time.time()) + int(mode["primary"].get("reset_in", 60)) \
                if isinstance(mode.get("primary"), dict) else rate["reset"]
            rate = dict(rate, remaining=0, reset=reset)
            what = "installation ID 1" if who.startswith("installation") else "user ID 4001"
            raise GitHubError(403, f"API rate limit exceeded for {what}.", headers=self.limit_headers(rate),
                              docs="https://docs.github.com/rest/overview/rate-limits-for-the-rest-api")
        s.used[who] += 1
        return self.limit_headers(s.rate(who))


class Auth:
    """Who is calling, as GitHub's messages say it when it is nobody."""

    def __init__(self, state):
        self.s = state
        self.who = None  # the rate-limit bucket, once the credential is known

    def bucket(self, credential):
        if not credential:
            return None
        if self.s.pat and credential == self.s.pat:
            return "pat"
        token = self.s.tokens.get(credential)
        if token is not None and token["expires"] > time.time():
            return "installation:1"
        return None

    def check(self, header, need, labels):
        """The credential's rate-limit bucket ("app", "installation:1",
        "pat"), or None for an anonymous call where none is needed."""
        scheme, _, credential = (header or "").strip().partition(" ")
        credential = credential.strip()
        self.who = self.bucket(credential)
        if need is None:
            return self.who
        if not credential:
            raise GitHubError(401, "Requires authentication")
        if need == "jwt":
            if scheme.lower() != "bearer" or credential.startswith(("ghs_", "github_pat_")):
                raise GitHubError(401, "A JSON web token could not be decoded")
            self.jwt(credential)
            self.who = "app"
            return "app"
        # A repository's endpoint: an installation token, or the PAT.
        owner, repo = labels.get("owner"), labels.get("repo")
        permission, level = need
        if self.s.pat and credential == self.s.pat:
            if permission in PAT_REFUSED:
                raise GitHubError(403, "Resource not accessible by personal access token")
            return "pat"
        token = self.s.tokens.get(credential)
        if token is None or token["expires"] <= time.time():
            raise GitHubError(401, "Bad credentials")
        if not self.s.installed_on(owner, repo) or (token["repositories"] and repo not in token["repositories"]):
            raise not_found()
        # What the token was minted with, as far as the installation still
        # grants it (a permission dropped later is gone for old tokens too).
        have = max(min(LEVELS.get(token["permissions"].get(p, ""), 0),
                       LEVELS.get(self.s.installation["permissions"].get(p, ""), 0))
                   for p in self.accepted(permission))
        if have < LEVELS[level]:
            raise GitHubError(403, "Resource not accessible by integration")
        return "installation:1"

    @staticmethod
    def accepted(permission):
        # A pull request's comments are its issue's: either permission does
        # (docs.github.com/rest/issues/comments, fine-grained permissions).
        return ["pull_requests", "issues"] if permission == "pull_requests" else [permission]

    def jwt(self, token):
        """RS256, `iss` the App's id, `exp` in the future and at most 10
        minutes after `iat` (and after now), `iat` not in the future beyond
        60 s of drift (docs.github.com/apps/creating-github-apps/
        authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app)."""
        try:
            claims = jwt.decode(token, self.s.public_key, algorithms=["RS256"],
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "verify_iss": False, "verify_aud": False})
        except jwt.PyJWTError:
            # A wrong key or algorithm, or not a JWT at all.
            raise GitHubError(401, "A JSON web token could not be decoded")
        now = time.time()
        if str(claims.get("iss")) != str(self.s.app_id):
            # GitHub checks the signature with the key of the App that `iss`
            # names: another id is another key.
            raise GitHubError(401, "A JSON web token could not be decoded")
        exp, iat = claims.get("exp"), claims.get("iat")
        if not isinstance(iat, (int, float)) or isinstance(iat, bool) or iat > now + CLOCK_DRIFT:
            raise GitHubError(401, "'Issued at' claim ('iat') must be an Integer representing the time that the "
                                   "assertion was issued.")
        if not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now:
            raise GitHubError(401, "'Expiration time' claim ('exp') must be a numeric value representing the "
                                   "future time at which the assertion expires.")
        if exp - iat > JWT_MAX_LIFETIME or exp > now + JWT_MAX_LIFETIME + CLOCK_DRIFT:
            raise GitHubError(401, "'Expiration time' claim ('exp') is too far in the future.")


class Api:
    """The served operations: (status, answer, extra headers)."""

    def __init__(self, state, who, path="/"):
        self.s, self.who, self.path = state, who, path

    def call(self, op_id, params, body, query):
        name = "op_" + re.sub(r"[^a-z0-9]+", "_", op_id.lower())
        return getattr(self, name)(params, body, query)

    def actor(self):
        return user(self.s.url, "local-dev", 4001) if self.who == "pat" else self.s.app_user()

    def performed_via(self):
        return None if self.who == "pat" else self.s.app()

    # ----- the App -----
    def op_apps_get_authenticated(self, p, body, q):
        return 200, self.s.app(), {}

    def op_apps_get_repo_installation(self, p, body, q):
        if not self.s.installed_on(p["owner"], p["repo"]):
            raise not_found()
        return 200, self.s.installation_object(), {}

    def op_apps_create_installation_access_token(self, p, body, q):
        if p["installation_id"] != self.s.installation["id"]:
            raise not_found()
        return 201, self.s.mint_token(body), {}

    # ----- check runs -----
    def check_run_view(self, run):
        out = {k: v for k, v in run.items() if k not in ("repo", "annotations", "last_body", "updates")}
        out["output"] = dict(run["output"], annotations_count=len(run["annotations"]))
        out["output"].pop("annotations", None)
        return out

    def op_checks_create(self, p, body, q):
        s = self.s
        run_id = s.new_id()
        now = iso(time.time())
        base = f"{s.repo_url(p['owner'], p['repo'])}/check-runs/{run_id}"
        run = {"repo": f"{p['owner']}/{p['repo']}", "id": run_id, "node_id": node_id("CR", run_id),
               "head_sha": body["head_sha"], "name": body["name"], "external_id": body.get("external_id", ""),
               "url": base, "html_url": f"https://github.com/{p['owner']}/{p['repo']}/runs/{run_id}",
               "details_url": body.get("details_url"), "status": "queued", "conclusion": None,
               "started_at": body.get("started_at", now), "completed_at": None,
               "output": {"title": None, "summary": None, "text": None,
                          "annotations_url": f"{base}/annotations"},
               "check_suite": {"id": run_id + 500000}, "app": s.app(), "pull_requests": [],
               "annotations": [], "last_body": None, "updates": 0}
        self.apply_check(run, body)
        s.check_runs[run_id] = run
        return 201, self.check_run_view(run), {}

    def apply_check(self, run, body):
        """GitHub's update rules: given members replace, `output`'s
        annotations are appended, a conclusion completes the run
        (docs.github.com/rest/checks/runs#update-a-check-run)."""
        if (body.get("status") == "completed" or body.get("completed_at")) and not body.get("conclusion") \
                and run["conclusion"] is None:
            raise GitHubError(422, "Invalid request.\n\nFor 'properties/conclusion', a value is required when "
                                   "'status' is 'completed' or 'completed_at' is given.")
        for key in ("name", "details_url", "external_id", "started_at", "status"):
            if key in body:
                run[key] = body[key]
        if body.get("conclusion"):
            run["conclusion"], run["status"] = body["conclusion"], "completed"
            run["completed_at"] = body.get("completed_at") or run["completed_at"] or iso(time.time())
        if "output" in body:
            out = body["output"]
            for key in ("title", "summary", "text"):
                if key in out:
                    run["output"][key] = out[key]
            run["annotations"].extend(out.get("annotations", []))
        run["last_body"], run["updates"] = body, run["updates"] + 1

    def check_run(self, p):
        run = self.s.check_runs.get(p["check_run_id"])
        if run is None or run["repo"] != f"{p['owner']}/{p['repo']}":
            raise not_found()
        return run

    def op_checks_get(self, p, body, q):
        return 200, self.check_run_view(self.check_run(p)), {}

    def op_checks_update(self, p, body, q):
        run = self.check_run(p)
        self.apply_check(run, body)
        return 200, self.check_run_view(run), {}

    # ----- commit statuses -----
    def op_repos_create_commit_status(self, p, body, q):
        s = self.s
        number = s.new_id()
        now = iso(time.time())
        status = {"url": f"{s.repo_url(p['owner'], p['repo'])}/statuses/{p['sha']}",
                  "avatar_url": "https://avatars.githubusercontent.com/u/4001?v=4", "id": number,
                  "node_id": node_id("SC", number), "state": body["state"], "description": body.get("description"),
                  "target_url": body.get("target_url"), "context": body.get("context", "default"),
                  "created_at": now, "updated_at": now, "creator": self.actor()}
        s.statuses.append(dict(status, repo=f"{p['owner']}/{p['repo']}", sha=p["sha"]))
        return 201, status, {}

    # ----- deployments -----
    def deployment_view(self, d):
        return {k: v for k, v in d.items() if k not in ("repo", "statuses")}

    def op_repos_create_deployment(self, p, body, q):
        s = self.s
        number = s.new_id()
        now = iso(time.time())
        ref = body["ref"]
        environment = body.get("environment", "production")
        base = f"{s.repo_url(p['owner'], p['repo'])}/deployments/{number}"
        sha = ref if re.fullmatch(r"[0-9a-f]{40}", ref) else sha_of(ref)
        d = {"repo": f"{p['owner']}/{p['repo']}", "url": base, "id": number, "node_id": node_id("DE", number),
             "sha": sha, "ref": ref, "task": body.get("task", "deploy"), "payload": body.get("payload", {}),
             "original_environment": environment, "environment": environment,
             "description": body.get("description"), "creator": self.actor(), "created_at": now,
             "updated_at": now, "statuses_url": f"{base}/statuses",
             "repository_url": s.repo_url(p["owner"], p["repo"]),
             "transient_environment": body.get("transient_environment", False),
             "production_environment": body.get("production_environment", environment == "production"),
             "performed_via_github_app": self.performed_via(), "statuses": []}
        if isinstance(d["payload"], str):
            # GitHub takes the payload as an object or as a JSON string.
            try:
                d["payload"] = json.loads(d["payload"]) if d["payload"] else {}
            except ValueError:
                raise GitHubError(422, "Invalid request.\n\nFor 'properties/payload' (payload), the string is not JSON.")
        s.deployments[number] = d
        return 201, self.deployment_view(d), {}

    def op_repos_list_deployments(self, p, body, q):
        repo = f"{p['owner']}/{p['repo']}"
        found = [d for d in sorted(self.s.deployments.values(), key=lambda d: -d["id"]) if d["repo"] == repo]
        for key in ("sha", "ref", "task", "environment"):
            if p.get(key) not in (None, "", "none"):
                found = [d for d in found if d[key] == p[key]]
        page, headers = self.page(found, p)
        return 200, [self.deployment_view(d) for d in page], headers

    def deployment(self, p):
        d = self.s.deployments.get(p["deployment_id"])
        if d is None or d["repo"] != f"{p['owner']}/{p['repo']}":
            raise not_found()
        return d

    def op_repos_create_deployment_status(self, p, body, q):
        s = self.s
        d = self.deployment(p)
        state = body["state"]
        status = self.new_deployment_status(d, state, body)
        if state == "success" and body.get("auto_inactive", True):
            # "Adds a new inactive status to all prior non-transient,
            # non-production environment deployments with the same repository
            # and environment name … only added to deployments that had a
            # success state" (the description's auto_inactive,
            # docs.github.com/rest/deployments/statuses).
            for other in s.deployments.values():
                if other is not d and other["repo"] == d["repo"] and other["environment"] == d["environment"] \
                        and not other["transient_environment"] and not other["production_environment"] \
                        and other["statuses"] \
                        and other["statuses"][-1]["state"] == "success":
                    self.new_deployment_status(other, "inactive", {})
        return 201, status, {}

    def new_deployment_status(self, d, state, body):
        s = self.s
        number = s.new_id()
        now = iso(time.time())
        status = {"url": f"{d['url']}/statuses/{number}", "id": number, "node_id": node_id("DES", number),
                  "state": state, "creator": self.actor(), "description": body.get("description", ""),
                  "environment": body.get("environment", d["environment"]),
                  "target_url": body.get("target_url", body.get("log_url", "")),
                  "created_at": now, "updated_at": now, "deployment_url": d["url"],
                  "repository_url": d["repository_url"], "environment_url": body.get("environment_url", ""),
                  "log_url": body.get("log_url", body.get("target_url", "")),
                  "performed_via_github_app": self.performed_via()}
        d["statuses"].append(status)
        if "environment" in body:
            d["environment"] = body["environment"]
        d["updated_at"] = now
        return status

    def op_repos_list_deployment_statuses(self, p, body, q):
        d = self.deployment(p)
        page, headers = self.page(list(reversed(d["statuses"])), p)
        return 200, page, headers

    # ----- compare and commits -----
    def commit(self, owner, repo, sha, scripted=None):
        """A commit as GitHub answers it; the author is scripted
        (PUT /_emulator/commits or a compare's commits) or "Local Dev"."""
        s = self.s
        info = scripted or s.commits.get((owner, repo, sha))
        if info is None:
            info = s.commits.setdefault((owner, repo, sha), {"author_name": "Local Dev", "author_login": "local-dev",
                                                             "date": iso(time.time()), "message": "local commit"})
        base = s.repo_url(owner, repo)
        git_author = {"name": info.get("author_name", "Local Dev"),
                      "email": f"{info.get('author_login') or 'local-dev'}@users.noreply.github.com",
                      "date": info.get("date") or iso(time.time())}
        login = info.get("author_login")
        account = user(s.url, login, 5000 + int(sha_of(login)[:6], 16) % 100000) if login else None
        parent = sha_of(sha + "^")
        return {"url": f"{base}/commits/{sha}", "sha": sha, "node_id": node_id("C", sha[:12]),
                "html_url": f"https://github.com/{owner}/{repo}/commit/{sha}",
                "comments_url": f"{base}/commits/{sha}/comments",
                "commit": {"url": f"{base}/git/commits/{sha}", "author": git_author,
                           "committer": dict(git_author, date=info.get("committed_at") or git_author["date"]),
                           "message": info.get("message", "local commit"), "comment_count": 0,
                           "tree": {"sha": sha_of(sha + "tree"), "url": f"{base}/git/trees/{sha_of(sha + 'tree')}"}},
                "author": account, "committer": account,
                "parents": [{"sha": parent, "url": f"{base}/commits/{parent}",
                             "html_url": f"https://github.com/{owner}/{repo}/commit/{parent}"}]}

    def op_repos_get_commit(self, p, body, q):
        ref = p["ref"]
        sha = ref if re.fullmatch(r"[0-9a-f]{40}", ref) else sha_of(ref)
        out = self.commit(p["owner"], p["repo"], sha, self.s.commits.get((p["owner"], p["repo"], ref)))
        out["files"], out["stats"] = [], {"additions": 0, "deletions": 0, "total": 0}
        return 200, out, {}

    def op_repos_compare_commits_with_basehead(self, p, body, q):
        s = self.s
        base, _, head = p["basehead"].partition("...")
        script = s.compares.get((p["owner"], p["repo"], base, head))
        if script is None:
            raise not_found()
        owner, repo = p["owner"], p["repo"]
        root = s.repo_url(owner, repo)
        files = []
        for f in script["files"]:
            f = {"filename": f} if isinstance(f, str) else f
            entry = {"sha": sha_of(f["filename"]), "filename": f["filename"], "status": f.get("status", "modified"),
                     "additions": 1, "deletions": 0, "changes": 1,
                     "blob_url": f"https://github.com/{owner}/{repo}/blob/{head}/{f['filename']}",
                     "raw_url": f"https://github.com/{owner}/{repo}/raw/{head}/{f['filename']}",
                     "contents_url": f"{root}/contents/{f['filename']}?ref={head}"}
            if f.get("previous_filename"):
                entry["previous_filename"] = f["previous_filename"]
            files.append(entry)
        if script.get("truncated"):
            # The list of changed files "includes up to 300 changed files for
            # the entire comparison" and nothing says more were left out (the
            # description's compare, docs.github.com/rest/commits/commits
            # #compare-two-commits): a truncated answer has exactly 300.
            n = 0
            while len(files) < MAX_COMPARE_FILES:
                n += 1
                name = f"zz-unlisted/{n}.txt"
                files.append({"sha": sha_of(name), "filename": name, "status": "modified", "additions": 1,
                              "deletions": 0, "changes": 1, "blob_url": f"https://github.com/{owner}/{repo}/blob/x",
                              "raw_url": f"https://github.com/{owner}/{repo}/raw/x",
                              "contents_url": f"{root}/contents/{name}"})
            files = files[:MAX_COMPARE_FILES]
        # Without paging "the returned list is limited to 250 commits, and the
        # last commit in the list is the most recent" (same page).
        commits = [self.commit(owner, repo, c["sha"], c) for c in script["commits"]][-MAX_COMPARE_COMMITS:]
        total = script.get("total_commits", len(script["commits"]))
        status = script.get("status", "ahead" if total else "identical")
        base_sha = base if re.fullmatch(r"[0-9a-f]{40}", base) else sha_of(base)
        out = {"url": f"{root}/compare/{base}...{head}",
               "html_url": f"https://github.com/{owner}/{repo}/compare/{base}...{head}",
               "permalink_url": f"https://github.com/{owner}/{repo}/compare/{owner}:{base}...{owner}:{head}",
               "diff_url": f"https://github.com/{owner}/{repo}/compare/{base}...{head}.diff",
               "patch_url": f"https://github.com/{owner}/{repo}/compare/{base}...{head}.patch",
               "base_commit": self.commit(owner, repo, base_sha), "merge_base_commit": self.commit(owner, repo, base_sha),
               "status": status, "ahead_by": script.get("ahead_by", total), "behind_by": script.get("behind_by", 0),
               "total_commits": total, "commits": commits, "files": files}
        return 200, out, {}

    # ----- issue comments -----
    def comment_view(self, c):
        return {k: v for k, v in c.items() if k not in ("repo", "issue")}

    def op_issues_list_comments(self, p, body, q):
        repo = f"{p['owner']}/{p['repo']}"
        found = [c for c in sorted(self.s.comments.values(), key=lambda c: c["id"])
                 if c["repo"] == repo and c["issue"] == p["issue_number"]]
        if p.get("since"):
            found = [c for c in found if c["updated_at"] >= p["since"]]
        page, headers = self.page(found, p)
        return 200, [self.comment_view(c) for c in page], headers

    def op_issues_create_comment(self, p, body, q):
        s = self.s
        number = s.new_id()
        now = iso(time.time())
        owner, repo, issue = p["owner"], p["repo"], p["issue_number"]
        c = {"repo": f"{owner}/{repo}", "issue": issue, "id": number, "node_id": node_id("IC", number),
             "url": f"{s.repo_url(owner, repo)}/issues/comments/{number}",
             "html_url": f"https://github.com/{owner}/{repo}/pull/{issue}#issuecomment-{number}",
             "body": body["body"], "user": self.actor(), "created_at": now, "updated_at": now,
             "issue_url": f"{s.repo_url(owner, repo)}/issues/{issue}", "author_association": "NONE",
             "performed_via_github_app": self.performed_via()}
        s.comments[number] = c
        return 201, self.comment_view(c), {}

    def op_issues_update_comment(self, p, body, q):
        c = self.s.comments.get(p["comment_id"])
        if c is None or c["repo"] != f"{p['owner']}/{p['repo']}":
            raise not_found()
        c["body"], c["updated_at"] = body["body"], iso(time.time())
        return 200, self.comment_view(c), {}

    # ----- rate limit -----
    def op_rate_limit_get(self, p, body, q):
        core = {k: v for k, v in self.s.rate(self.who or "anonymous").items() if k != "resource"}
        search = {"limit": 30, "remaining": 30, "used": 0, "reset": int(time.time()) + 60}
        return 200, {"resources": {"core": core, "search": search}, "rate": core}, {}

    # ----- pagination -----
    def page(self, items, p):
        """`per_page` (default 30, at most 100) and `page`, with GitHub's
        `Link` header (docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api)."""
        per_page = min(int(p.get("per_page") or 30), 100)
        number = max(int(p.get("page") or 1), 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(number - 1) * per_page:number * per_page]
        path = urlsplit(self.path).path
        query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}

        def link(n, rel):
            return f'<{self.s.url}{path}?{urlencode(dict(query, per_page=per_page, page=n))}>; rel="{rel}"'

        rels = []
        if number > 1:
            rels += [link(number - 1, "prev")]
        if number < last:
            rels += [link(number + 1, "next"), link(last, "last")]
        if number > 1:
            rels += [link(1, "first")]
        return chunk, ({"link": ", ".join(rels)} if rels else {})


class Control:
    """The control API under /_emulator (tests/localstack/README.md)."""

    def __init__(self, handler):
        self.h, self.s = handler, handler.state

    def handle(self, method, path):
        body = self.h.parsed_body()
        if self.h.raw_body.strip() and not isinstance(body, dict):
            return self.h.send(400, {"message": "the control call's body must be a JSON object"})
        try:
            with self.s.lock:
                out = self.route(method, path.strip("/"), body or {})
        except ValueError as e:
            return self.h.send(400, {"message": str(e)})
        self.h.send(200, out)

    def route(self, method, path, body):
        s = self.s
        if (method, path) == ("GET", "health"):
            return {"ok": True, "app_id": s.app_id, "pat": bool(s.pat)}
        if (method, path) == ("GET", "calls"):
            return list(s.calls)
        if (method, path) == ("DELETE", "calls"):
            s.calls.clear()
            return []
        if (method, path) == ("POST", "reset"):
            s.reset()
            return {"ok": True}
        if (method, path) == ("GET", "state"):
            return self.state()
        if (method, path) == ("GET", "mode"):
            return self.mode()
        if (method, path) == ("PUT", "mode"):
            return self.set_mode(body)
        if (method, path) == ("PUT", "compare"):
            return self.set_compare(body)
        if (method, path) == ("PUT", "commits"):
            return self.set_commit(body)
        if (method, path) == ("GET", "installations"):
            return self.installations()
        if (method, path) == ("PUT", "installations"):
            return self.set_installations(body)
        raise ValueError(f"unknown control call {method} /_emulator/{path}")

    def state(self):
        s = self.s
        runs = [dict(Api(s, None).check_run_view(r), repo=r["repo"], annotations=r["annotations"],
                     last_body=r["last_body"], updates=r["updates"]) for r in s.check_runs.values()]
        deployments = [dict(Api(s, None).deployment_view(d), repo=d["repo"], statuses=d["statuses"])
                       for d in s.deployments.values()]
        comments = [dict(Api(s, None).comment_view(c), repo=c["repo"], issue=c["issue"]) for c in s.comments.values()]
        return {"check_runs": runs, "deployments": deployments, "comments": comments, "statuses": list(s.statuses)}

    def mode(self):
        mode = self.s.current_mode()
        left = None if self.s.mode_until is None else max(0, round(self.s.mode_until - time.time(), 1))
        return {"mode": mode, "seconds_left": left}

    def set_mode(self, body):
        known = {"primary", "secondary", "fail", "seconds"}
        if set(body) - known:
            raise ValueError(f"unknown modes {sorted(set(body) - known)}; known: primary, secondary, fail, seconds")
        mode, seconds = {}, body.get("seconds")
        if body.get("primary"):
            primary = body["primary"]
            if primary is not True and not (isinstance(primary, dict) and set(primary) <= {"reset_in"}):
                raise ValueError('primary must be true or {"reset_in": seconds}')
            mode["primary"] = primary
        if body.get("secondary") is not None:
            sec = body["secondary"]
            if not isinstance(sec, dict) or set(sec) - {"retry_after", "status"} \
                    or not isinstance(sec.get("retry_after", 60), int) or sec.get("status", 403) not in (403, 429):
                raise ValueError('secondary must be {"retry_after": seconds, "status": 403 or 429}')
            mode["secondary"] = sec
        if body.get("fail") is not None:
            fail = body["fail"]
            if not isinstance(fail, dict) or not isinstance(fail.get("status"), int) \
                    or not 400 <= fail["status"] <= 599:
                raise ValueError('fail must be {"status": 400..599, "seconds": N}')
            mode["fail"] = {"status": fail["status"]}
            seconds = fail.get("seconds", seconds)
        if seconds is not None and (not isinstance(seconds, (int, float)) or seconds <= 0):
            raise ValueError("seconds must be a positive number")
        self.s.mode = mode
        self.s.mode_until = time.time() + seconds if mode and seconds else None
        return self.mode()

    def set_compare(self, body):
        for key in ("owner", "repo", "base", "head"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise ValueError(f"{key} is required (a string)")
        files = body.get("files", [])
        if not isinstance(files, list) or not all(isinstance(f, str) or (isinstance(f, dict) and "filename" in f)
                                                  for f in files):
            raise ValueError('files must be a list of paths or of {"filename", "status", "previous_filename"}')
        commits = body.get("commits", [])
        if not isinstance(commits, list) or not all(isinstance(c, dict) and isinstance(c.get("sha"), str)
                                                    for c in commits):
            raise ValueError('commits must be a list of {"sha", "author_name", "author_login", "date"}')
        script = {k: body[k] for k in ("files", "commits", "truncated", "status", "total_commits", "ahead_by",
                                       "behind_by") if k in body}
        script.setdefault("files", [])
        script.setdefault("commits", [])
        self.s.compares[(body["owner"], body["repo"], body["base"], body["head"])] = script
        return {"compare": dict(body)}

    def set_commit(self, body):
        for key in ("owner", "repo", "sha"):
            if not isinstance(body.get(key), str) or not body[key]:
                raise ValueError(f"{key} is required (a string)")
        info = {"author_name": body.get("author_name", "Local Dev"), "author_login": body.get("author_login"),
                "date": body.get("date") or iso(time.time()), "message": body.get("message", "local commit")}
        if "committed_at" in body:
            info["committed_at"] = body["committed_at"]
        self.s.commits[(body["owner"], body["repo"], body["sha"])] = info
        return {"commit": dict(body, **info)}

    def installations(self):
        i = self.s.installation
        return {"id": i["id"], "account": i["account"], "permissions": i["permissions"],
                "uninstalled": i["uninstalled"], "installed": i["installed"],
                "token_ttl_seconds": i["token_ttl_seconds"], "tokens": len(self.s.tokens)}

    def set_installations(self, body):
        known = {"repo", "installed", "permissions", "token_ttl_seconds", "expire_tokens"}
        if set(body) - known:
            raise ValueError(f"unknown keys {sorted(set(body) - known)}; known: {sorted(known)}")
        i = self.s.installation
        if "repo" in body:
            repo = body["repo"]
            if not isinstance(repo, str) or repo.count("/") != 1 or not isinstance(body.get("installed"), bool):
                raise ValueError('give {"repo": "owner/name", "installed": true or false}')
            for key in ("uninstalled", "installed"):
                if repo in i[key]:
                    i[key].remove(repo)
            if body["installed"] and not repo.startswith(LOCAL_OWNER + "/"):
                i["installed"].append(repo)
            elif not body["installed"]:
                i["uninstalled"].append(repo)
        if "permissions" in body:
            perms = body["permissions"]
            if not isinstance(perms, dict) or not all(v in LEVELS for v in perms.values()):
                raise ValueError('permissions must be {"name": "read" | "write" | "admin"}')
            schema = self.s.spec.doc["components"]["schemas"]["app-permissions"]
            problems = [f"{name} is not a GitHub App permission" for name in perms if name not in schema["properties"]]
            problems += [describe(e) for e in self.s.spec.validator({"$ref": "#/components/schemas/app-permissions"},
                                                                    read=True).iter_errors(perms)]
            if problems:
                raise ValueError("; ".join(problems))
            i["permissions"] = dict(perms)
        if "token_ttl_seconds" in body:
            ttl = body["token_ttl_seconds"]
            if not isinstance(ttl, (int, float)) or isinstance(ttl, bool) or not 0 < ttl <= TOKEN_TTL:
                raise ValueError(f"token_ttl_seconds must be in (0, {TOKEN_TTL}]")
            i["token_ttl_seconds"] = ttl
        if body.get("expire_tokens"):
            for token in self.s.tokens.values():
                token["expires"] = min(token["expires"], time.time())
        return self.installations()


def main():
    ap = argparse.ArgumentParser(description="The GitHub API emulator (see tests/localstack/README.md)")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1 only)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("GITHUB_PORT", "4540")))
    ap.add_argument("--app-id", type=int, default=4242, help="the App's id (the JWT's iss)")
    ap.add_argument("--app-public-key", required=True, help="PEM file of the App's public key (verifies the JWTs)")
    ap.add_argument("--pat", default=os.environ.get("GITHUB_EMULATOR_PAT", ""),
                    help="a fine-grained personal access token to accept (github_pat_…)")
    ap.add_argument("--openapi", default=os.environ.get("GITHUB_OPENAPI", DEFAULT_SPEC),
                    help="GitHub's OpenAPI description (api.github.com.json of @octokit/openapi)")
    args = ap.parse_args()
    if args.pat and not args.pat.startswith("github_pat_"):
        raise SystemExit("github emulator: --pat must be a fine-grained token (github_pat_…)")
    with open(args.app_public_key, "rb") as f:
        public_key = f.read()
    spec = Spec(args.openapi)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    url = f"http://{args.host}:{server.server_address[1]}"
    Handler.state = State(spec, args.app_id, public_key, args.pat, url)
    print(f"github emulator on {url} (App {args.app_id}, description {args.openapi})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
