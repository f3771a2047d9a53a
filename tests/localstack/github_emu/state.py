"""Everything the emulator remembers (check runs, deployments, comments,
statuses, scripted compares and commits, tokens), the App and its
installation, and the rate limits and modes a request meets."""

import secrets
import threading
import time

from .common import (APP_PERMISSIONS, APP_SLUG, LEVELS, LOCAL_OWNER, RATE_LIMIT, TOKEN_TTL, GitHubError, iso,
                     node_id, user)


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
            # Modes of one repository ("owner/name" -> (mode, until)): a test
            # that breaks GitHub for its own app's repository leaves the
            # other tests' repositories answering (PUT /_emulator/mode with
            # "repo").
            self.repo_modes = {}
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
    def rate(self, who, mode=None):
        """The primary limit's numbers for one credential (its own hourly
        window, as GitHub keeps one per installation or user)."""
        now = time.time()
        if who not in self.window or self.window[who] <= now:
            self.window[who], self.used[who] = now + 3600, 0
        # Unauthenticated callers get 60 an hour (not counted here: nothing
        # of Sentinel's calls GitHub without credentials).
        limit = 60 if who == "anonymous" else RATE_LIMIT
        used = limit if (self.mode if mode is None else mode).get("primary") else self.used[who]
        return {"limit": limit, "used": used, "remaining": max(0, limit - used),
                "reset": int(self.window[who]), "resource": "core"}

    def current_mode(self, path=None):
        """The mode a request to `path` meets: its repository's, if one is
        set, else the global one."""
        now = time.time()
        if self.mode_until is not None and now >= self.mode_until:
            self.mode, self.mode_until = {}, None
        for repo, (_, until) in list(self.repo_modes.items()):
            if until is not None and now >= until:
                del self.repo_modes[repo]
        repo = repo_of(path or "")
        if repo in self.repo_modes:
            return self.repo_modes[repo][0]
        return self.mode


def repo_of(path):
    """`owner/name` of a `/repos/{owner}/{name}/…` path, else None."""
    parts = path.split("?", 1)[0].split("/")
    if len(parts) >= 4 and parts[1] == "repos":
        return f"{parts[2]}/{parts[3]}".lower()
    return None
