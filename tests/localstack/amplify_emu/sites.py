"""The branch sites: found by Host (a branch's Amplify host or a verified
custom domain) or by path (`/_sites/...`), guarded by basic auth, serving
the deployed commit (or a manual deployment's files) with the control API's
overrides: status, latency, broken commits, failing paths."""

import mimetypes
import time
from urllib.parse import unquote, urlsplit


class Sites:
    """The Handler's sites (a mixin)."""

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
