"""The control API under /_emulator (see tests/localstack/README.md for
each call): reset, calls, faults, config and metrics; apps and branches
created as the API would; pushes, behaviours, sites and played builds;
domains' DNS; jobs moved by hand; CloudFormation's stacks."""

from urllib.parse import unquote

from cloudformation_emulator import QueryError

from .common import DEFAULT_BEHAVIOUR, ApiError, bad, now
from .traffic import publish_traffic


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
