"""The wire contract, from GitHub's OpenAPI description: the served
operations' routes, request validation (422 naming the field, as GitHub
answers) and the check of every answer against the response schema."""

import json
import os
import re
from urllib.parse import unquote

from jsonschema.exceptions import best_match
from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from .common import GitHubError

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


DEFAULT_SPEC = os.path.join(ROOT, ".tools", "node_modules", "@octokit", "openapi", "generated",
                            "api.github.com.json")
SPEC_URI = "urn:github-openapi"


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


# A path parameter that may hold '/' (a branch name in a ref or a compare).
GREEDY = {"basehead", "ref"}


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
