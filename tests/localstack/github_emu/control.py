"""The control API under /_emulator (tests/localstack/README.md): calls,
state, modes (rate limits, failures, per repository), scripted compares
and commits, the installation."""

import time

from .api import Api
from .common import LEVELS, LOCAL_OWNER, TOKEN_TTL, iso
from .spec import describe


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
        repos = {repo: {"mode": m, "seconds_left": None if until is None else max(0, round(until - time.time(), 1))}
                 for repo, (m, until) in self.s.repo_modes.items()}
        return {"mode": mode, "seconds_left": left, "repos": repos}

    def set_mode(self, body):
        known = {"primary", "secondary", "fail", "seconds", "repo"}
        if set(body) - known:
            raise ValueError(f"unknown modes {sorted(set(body) - known)}; known: primary, secondary, fail, seconds, repo")
        repo = body.get("repo")
        if repo is not None and (not isinstance(repo, str) or repo.count("/") != 1):
            raise ValueError('repo must be "owner/name"')
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
        until = time.time() + seconds if mode and seconds else None
        if repo is not None:
            if mode:
                self.s.repo_modes[repo.lower()] = (mode, until)
            else:
                self.s.repo_modes.pop(repo.lower(), None)
            return self.mode()
        self.s.mode = mode
        self.s.mode_until = until
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
