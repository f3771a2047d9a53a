"""What every part of the GitHub emulator shares: the local App's names,
permissions and limits, GitHub's error answer, ids and times as GitHub
writes them, and a user or an organisation as GitHub answers it."""

import hashlib
from datetime import datetime, timezone


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


# A fine-grained token cannot write check runs: "Your GitHub App must have
# the `checks:write` permission to create check runs" (the description's
# checks/create, docs.github.com/rest/checks/runs#create-a-check-run), and
# fine-grained tokens have no Checks permission to grant.
PAT_REFUSED = {"checks"}


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


def user(host, login, number, kind="User"):
    base = f"{host}/users/{login}"
    return {"login": login, "id": number, "node_id": node_id("U", number),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{number}?v=4", "gravatar_id": "",
            "url": base, "html_url": f"https://github.com/{login}", "followers_url": f"{base}/followers",
            "following_url": f"{base}/following{{/other_user}}", "gists_url": f"{base}/gists{{/gist_id}}",
            "starred_url": f"{base}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{base}/subscriptions",
            "organizations_url": f"{base}/orgs", "repos_url": f"{base}/repos", "events_url": f"{base}/events{{/privacy}}",
            "received_events_url": f"{base}/received_events", "type": kind, "site_admin": False}
