"""HTTP: one handler for every path of the emulator's port. A request is
served by Host (a branch's site), else by its first path segment (the
control API, logs, uploads, sites by path), else as CloudFormation's query
protocol, else as an Amplify API call (matched, validated, answered,
checked, recorded)."""

import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, unquote, urlsplit

from cloudformation_emulator import is_query

from .api import Api
from .common import SERVED, ApiError, bad, now
from .control import Control
from .sites import Sites
from .store import Store


class Handler(Sites, BaseHTTPRequestHandler):
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

    # ----- pre-signed URLs: logs and manual deployments' uploads -----
    def refused(self, path, query):
        """Answers as S3 does and returns True when a pre-signed URL's
        signature is wrong or missing, or has expired."""
        q = {k: v[0] for k, v in query.items()}
        signature, date, expires = q.get("X-Amz-Signature", ""), q.get("X-Amz-Date", ""), q.get("X-Amz-Expires", "")
        if not hmac.compare_digest(signature, self.store.signature(path, date, expires)):
            self.s3_error("SignatureDoesNotMatch" if signature else "AccessDenied",
                          "The request signature we calculated does not match the signature you provided."
                          if signature else "Query-string authentication requires the Signature parameter.")
            return True
        signed = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
        if time.time() > signed + int(expires):
            self.s3_error("AccessDenied", "Request has expired")
            return True
        return False

    def serve_log(self, path, query):
        s = self.store
        if self.refused(path, query):
            return
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

    def serve_upload(self, method, path, query):
        """S3's side of a pre-signed PUT (zipUploadUrl, fileUploadUrls): the
        signature as for logs, then the body kept on its job; S3 answers 200
        with the ETag (MD5)."""
        s = self.store
        if method != "PUT":
            return self.s3_error("MethodNotAllowed", "The specified method is not allowed against this resource.", 405)
        if self.refused(path, query):
            return
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
