"""HTTP: the control API under /_emulator, else a GitHub API call (mode,
route, credentials, rate limit, validation, answer, the answer's check,
recorded), with rate-limit headers on every answer."""

import json
import time
import uuid
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from .api import Api
from .auth import Auth
from .common import DOCS, RATE_DOCS, GitHubError, not_found
from .control import Control
from .state import State


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
                mode = s.current_mode(path)
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
        rate = s.rate(who, mode)
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
