"""Who is calling, as GitHub checks it: the App's JWT, installation tokens
(their permissions and repositories), the fine-grained personal access
token."""

import time

import jwt

from .common import CLOCK_DRIFT, JWT_MAX_LIFETIME, LEVELS, PAT_REFUSED, GitHubError, not_found


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
