"""The GitHub emulator: GitHub's OpenAPI description as its contract, the
App's JWT and installation tokens, the fine-grained token, rate limits and
their modes, and the control API.

These tests start their own emulator on a free port with a key pair of their
own (they sign JWTs with its private key), so they never disturb a running
local stack."""

import json
import time

import jwt
import pytest
import requests

import github_emulator
import localservers

APP_ID = 4242
PAT = "github_pat_11LOCALTEST0000000000_emulatorsecretfortests"
REPO = "sentinel-local/dtest0000001"
SHA = "a" * 40
HEAD = "b" * 40


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return localservers.app_key_pair(str(tmp_path_factory.mktemp("github-key")))


@pytest.fixture(scope="module")
def gh_url(tmp_path_factory, keys):
    server, url = localservers.github_emulator(str(tmp_path_factory.mktemp("github")), keys[1], APP_ID, PAT)
    yield url
    server.stop()


@pytest.fixture
def gh(gh_url):
    """A fresh emulator for each test (POST /_emulator/reset)."""
    requests.post(f"{gh_url}/_emulator/reset", timeout=10).raise_for_status()
    return gh_url


@pytest.fixture(scope="module")
def spec():
    """The description, loaded here as the emulator loads it: the tests check
    the emulator's answers on their own."""
    return github_emulator.Spec(github_emulator.DEFAULT_SPEC)


def app_jwt(keys, iat_offset=-60, lifetime=600, iss=APP_ID, key=None):
    now = int(time.time())
    with open(key or keys[0]) as f:
        pem = f.read()
    return jwt.encode({"iat": now + iat_offset, "exp": now + iat_offset + lifetime, "iss": str(iss)}, pem,
                      algorithm="RS256")


def bearer(token):
    return {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28"}


def token(gh, keys, **body):
    r = requests.post(f"{gh}/app/installations/1/access_tokens", headers=bearer(app_jwt(keys)), json=body or None,
                      timeout=10)
    assert r.status_code == 201, r.text
    return r.json()["token"]


def control(gh, method, path, body=None):
    r = requests.request(method, f"{gh}/_emulator/{path}", json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def check_run(gh, auth, **extra):
    body = dict({"name": "Deploy Sentinel / main", "head_sha": SHA, "status": "in_progress"}, **extra)
    return requests.post(f"{gh}/repos/{REPO}/check-runs", headers=bearer(auth), json=body, timeout=10)


# ----- the App's JWT -----

def test_a_valid_jwt_reads_the_app_and_the_repositorys_installation(gh, keys):
    r = requests.get(f"{gh}/app", headers=bearer(app_jwt(keys)), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == APP_ID
    r = requests.get(f"{gh}/repos/{REPO}/installation", headers=bearer(app_jwt(keys)), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == 1 and r.json()["permissions"]["checks"] == "write"


@pytest.mark.parametrize("case, make, message", [
    ("expired", lambda k: app_jwt(k, iat_offset=-700, lifetime=600), "'Expiration time' claim ('exp')"),
    ("longer than 10 minutes", lambda k: app_jwt(k, lifetime=700), "too far in the future"),
    ("issued in the future", lambda k: app_jwt(k, iat_offset=300, lifetime=200), "'Issued at' claim ('iat')"),
    ("another App's id", lambda k: app_jwt(k, iss=9999), "could not be decoded"),
    ("not a JWT", lambda k: "not-a-jwt", "could not be decoded"),
])
def test_a_bad_jwt_is_refused_with_githubs_message(gh, keys, case, make, message):
    r = requests.get(f"{gh}/app", headers=bearer(make(keys)), timeout=10)
    assert r.status_code == 401, (case, r.text)
    assert message in r.json()["message"], (case, r.text)


def test_a_jwt_signed_with_another_key_is_refused(gh, keys, tmp_path):
    other_private, _ = localservers.app_key_pair(str(tmp_path))
    r = requests.post(f"{gh}/app/installations/1/access_tokens",
                      headers=bearer(app_jwt(keys, key=other_private)), timeout=10)
    assert r.status_code == 401
    assert r.json()["message"] == "A JSON web token could not be decoded"


def test_a_jwt_is_not_a_repositorys_credential_nor_a_token_the_apps(gh, keys):
    assert check_run(gh, app_jwt(keys)).status_code == 401
    r = requests.get(f"{gh}/app", headers=bearer(token(gh, keys)), timeout=10)
    assert r.status_code == 401 and "could not be decoded" in r.json()["message"]


# ----- installation tokens -----

def test_an_installation_token_writes_a_check_run_and_expires(gh, keys):
    r = requests.post(f"{gh}/app/installations/1/access_tokens", headers=bearer(app_jwt(keys)), timeout=10)
    assert r.status_code == 201
    minted = r.json()
    assert minted["token"].startswith("ghs_")
    expires = time.mktime(time.strptime(minted["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 3500 < expires - time.time() <= 3600
    assert check_run(gh, minted["token"]).status_code == 201

    control(gh, "PUT", "installations", {"token_ttl_seconds": 1})
    short = token(gh, keys)
    assert check_run(gh, short).status_code == 201
    time.sleep(1.2)
    r = check_run(gh, short)
    assert r.status_code == 401 and r.json()["message"] == "Bad credentials"
    # The knob also ends the tokens already minted.
    control(gh, "PUT", "installations", {"expire_tokens": True})
    assert check_run(gh, minted["token"]).status_code == 401


def test_an_unknown_token_or_none_is_refused(gh):
    assert check_run(gh, "ghs_" + "x" * 36).json()["message"] == "Bad credentials"
    r = requests.post(f"{gh}/repos/{REPO}/check-runs", json={"name": "x", "head_sha": SHA}, timeout=10)
    assert r.status_code == 401 and r.json()["message"] == "Requires authentication"


def test_an_uninstalled_repository_and_a_dropped_permission(gh, keys):
    t = token(gh, keys)
    control(gh, "PUT", "installations", {"repo": REPO, "installed": False})
    assert requests.get(f"{gh}/repos/{REPO}/installation", headers=bearer(app_jwt(keys)), timeout=10).status_code \
        == 404
    assert check_run(gh, t).status_code == 404
    # Other repositories of the owner keep it; one outside it has none.
    assert requests.get(f"{gh}/repos/sentinel-local/other/installation", headers=bearer(app_jwt(keys)),
                        timeout=10).status_code == 200
    assert requests.get(f"{gh}/repos/acme/shop/installation", headers=bearer(app_jwt(keys)),
                        timeout=10).status_code == 404
    control(gh, "PUT", "installations", {"repo": REPO, "installed": True})
    assert check_run(gh, t).status_code == 201

    perms = dict(github_emulator.APP_PERMISSIONS)
    del perms["checks"]
    state = control(gh, "PUT", "installations", {"permissions": perms})
    assert "checks" not in state["permissions"]
    r = check_run(gh, t)
    assert r.status_code == 403 and r.json()["message"] == "Resource not accessible by integration"
    installation = requests.get(f"{gh}/repos/{REPO}/installation", headers=bearer(app_jwt(keys)), timeout=10)
    assert "checks" not in installation.json()["permissions"]


def test_a_token_asking_more_than_the_installation_grants_is_refused(gh, keys):
    r = requests.post(f"{gh}/app/installations/1/access_tokens", headers=bearer(app_jwt(keys)),
                      json={"permissions": {"administration": "write"}}, timeout=10)
    assert r.status_code == 422
    narrowed = token(gh, keys, permissions={"statuses": "write"})
    assert check_run(gh, narrowed).status_code == 403


# ----- the fine-grained token -----

def test_the_pat_is_refused_for_check_runs_and_accepted_for_the_rest(gh):
    r = check_run(gh, PAT)
    assert r.status_code == 403
    assert r.json()["message"] == "Resource not accessible by personal access token"
    r = requests.post(f"{gh}/repos/{REPO}/statuses/{SHA}", headers=bearer(PAT),
                      json={"state": "failure", "context": "Deploy Sentinel / main", "description": "Build failed"},
                      timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(f"{gh}/repos/{REPO}/deployments", headers=bearer(PAT),
                      json={"ref": SHA, "environment": "main", "auto_merge": False, "required_contexts": []},
                      timeout=10)
    assert r.status_code == 201, r.text
    assert requests.get(f"{gh}/repos/{REPO}/commits/{SHA}", headers=bearer(PAT), timeout=10).status_code == 200
    r = requests.post(f"{gh}/repos/{REPO}/issues/7/comments", headers=bearer(PAT), json={"body": "hi"}, timeout=10)
    assert r.status_code == 201 and r.json()["user"]["login"] == "local-dev"


# ----- the contract: GitHub's OpenAPI description -----

@pytest.mark.parametrize("path, body, field", [
    (f"/repos/{REPO}/check-runs", {"name": "x", "head_sha": SHA, "conclusion": "green"}, "conclusion"),
    (f"/repos/{REPO}/check-runs", {"head_sha": SHA}, "name"),
    (f"/repos/{REPO}/check-runs", {"name": "x", "head_sha": SHA, "output": {"title": "t", "summary": "s" * 65536}},
     "output.summary"),
    (f"/repos/{REPO}/check-runs", {"name": "x", "head_sha": SHA, "output": {"title": "t", "summary": "s",
                                                                          "annotations": [{"path": "a"}] * 51}},
     "output.annotations"),
    (f"/repos/{REPO}/statuses/{SHA}", {"state": "green"}, "state"),
    (f"/repos/{REPO}/deployments", {"ref": SHA, "auto_merge": "no"}, "auto_merge"),
])
def test_a_request_that_breaks_the_schema_gets_422_naming_the_field(gh, keys, path, body, field):
    r = requests.post(gh + path, headers=bearer(token(gh, keys)), json=body, timeout=10)
    assert r.status_code == 422, r.text
    assert r.json()["message"].startswith("Invalid request.")
    assert f"({field})" in r.json()["message"], r.text
    assert len(r.json()["message"]) < 5000  # the value is not echoed whole
    assert control(gh, "GET", "calls")[-1]["status"] == 422


def test_a_deployment_status_with_an_unknown_state_and_a_bad_query_get_422(gh, keys):
    t = token(gh, keys)
    d = requests.post(f"{gh}/repos/{REPO}/deployments", headers=bearer(t), json={"ref": SHA}, timeout=10).json()
    r = requests.post(f"{gh}/repos/{REPO}/deployments/{d['id']}/statuses", headers=bearer(t),
                      json={"state": "deployed"}, timeout=10)
    assert r.status_code == 422 and "'properties/state' (state)" in r.json()["message"]
    r = requests.get(f"{gh}/repos/{REPO}/issues/1/comments?per_page=many", headers=bearer(t), timeout=10)
    assert r.status_code == 422 and "'per_page'" in r.json()["message"]
    r = requests.get(f"{gh}/repos/{REPO}/check-runs/not-a-number", headers=bearer(t), timeout=10)
    assert r.status_code == 422 and "'check_run_id'" in r.json()["message"]


def test_a_completed_check_run_needs_a_conclusion(gh, keys):
    r = check_run(gh, token(gh, keys), status="completed")
    assert r.status_code == 422 and "conclusion" in r.json()["message"]


def test_malformed_json_and_unknown_paths(gh, keys):
    r = requests.post(f"{gh}/repos/{REPO}/check-runs", headers=dict(bearer(token(gh, keys)),
                                                                    **{"content-type": "application/json"}),
                      data="{not json", timeout=10)
    assert r.status_code == 400 and r.json()["message"] == "Problems parsing JSON"
    r = requests.get(f"{gh}/repos/{REPO}/pulls", headers=bearer(token(gh, keys)), timeout=10)
    assert r.status_code == 404 and r.json()["message"] == "Not Found"


def every_endpoint(gh, keys):
    """Calls each served operation once (with a token, or the JWT where the
    App is asked): [(operationId, response)]."""
    j, t = bearer(app_jwt(keys)), bearer(token(gh, keys))
    control(gh, "PUT", "compare", {"owner": "sentinel-local", "repo": REPO.split("/")[1], "base": SHA, "head": HEAD,
                                   "files": ["apps/web/page.tsx", {"filename": "b.ts", "status": "renamed",
                                                                   "previous_filename": "a.ts"}],
                                   "commits": [{"sha": HEAD, "author_name": "Ada", "author_login": "ada",
                                                "date": "2026-12-01T10:00:00Z"}]})
    out = []

    def call(op, method, path, headers, body=None):
        r = requests.request(method, gh + path, headers=headers, json=body, timeout=10)
        out.append((op, r))
        return r

    call("apps/get-authenticated", "GET", "/app", j)
    call("apps/get-repo-installation", "GET", f"/repos/{REPO}/installation", j)
    call("apps/create-installation-access-token", "POST", "/app/installations/1/access_tokens", j)
    run = call("checks/create", "POST", f"/repos/{REPO}/check-runs", t,
               {"name": "Deploy Sentinel / main", "head_sha": SHA, "status": "in_progress",
                "details_url": "https://console.aws.amazon.com/amplify", "external_id": "d1/main/4",
                "output": {"title": "Building", "summary": "Job 4 is building"}}).json()
    call("checks/update", "PATCH", f"/repos/{REPO}/check-runs/{run['id']}", t,
         {"conclusion": "failure", "output": {"title": "Build failed", "summary": "**Category**: dependency",
                                              "annotations": [{"path": "package.json", "start_line": 3, "end_line": 3,
                                                               "annotation_level": "failure", "message": "bad"}]}})
    call("checks/get", "GET", f"/repos/{REPO}/check-runs/{run['id']}", t)
    call("repos/create-commit-status", "POST", f"/repos/{REPO}/statuses/{SHA}", t,
         {"state": "failure", "context": "Deploy Sentinel / main", "target_url": "https://example.com"})
    d = call("repos/create-deployment", "POST", f"/repos/{REPO}/deployments", t,
             {"ref": SHA, "environment": "main", "auto_merge": False, "required_contexts": [],
              "transient_environment": False, "payload": {"app": "d1", "branch": "main", "job": "4"}}).json()
    call("repos/list-deployments", "GET", f"/repos/{REPO}/deployments?sha={SHA}&environment=main", t)
    call("repos/create-deployment-status", "POST", f"/repos/{REPO}/deployments/{d['id']}/statuses", t,
         {"state": "success", "environment_url": "https://main.d1.amplifyapp.com",
          "log_url": "https://console.aws.amazon.com/amplify", "auto_inactive": False, "description": "Deployed"})
    call("repos/list-deployment-statuses", "GET", f"/repos/{REPO}/deployments/{d['id']}/statuses", t)
    call("repos/compare-commits-with-basehead", "GET", f"/repos/{REPO}/compare/{SHA}...{HEAD}", t)
    call("repos/get-commit", "GET", f"/repos/{REPO}/commits/{HEAD}", t)
    c = call("issues/create-comment", "POST", f"/repos/{REPO}/issues/12/comments", t, {"body": "<!-- ds -->"}).json()
    call("issues/list-comments", "GET", f"/repos/{REPO}/issues/12/comments?per_page=100", t)
    call("issues/update-comment", "PATCH", f"/repos/{REPO}/issues/comments/{c['id']}", t, {"body": "<!-- ds --> v2"})
    call("rate-limit/get", "GET", "/rate_limit", t)
    return out


def test_every_endpoint_answers_what_the_description_says(gh, keys, spec):
    answered = every_endpoint(gh, keys)
    served = {spec.match(m, p)[0] for m, p, _ in [(m, p.replace("{basehead}", "a...b"), n)
                                                    for m, p, n in github_emulator.SERVED]}
    assert {op for op, _ in answered} == served, "a served endpoint is not exercised here"
    for op, r in answered:
        assert 200 <= r.status_code < 300, (op, r.status_code, r.text)
        assert spec.response(op, r.status_code, r.json()) == [], op


def test_an_answer_that_breaks_the_description_is_an_emulator_bug(spec):
    # What the emulator does with each answer before it sends it: a check run
    # without its required members, or with a conclusion GitHub never gives.
    assert spec.response("checks/create", 201, {"id": 1})
    good = {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}
    assert spec.response("checks/get", 404, good) == []
    assert spec.response("checks/get", 404, {"msg": "x"})
    assert spec.response("checks/get", 299, {}) == ["checks/get answers no 299 in GitHub's description"]


def test_state_holds_the_last_body_of_each_check_run_deployments_with_statuses_and_comments(gh, keys):
    every_endpoint(gh, keys)
    state = control(gh, "GET", "state")
    (run,) = state["check_runs"]
    assert run["status"] == "completed" and run["conclusion"] == "failure"
    assert run["output"]["summary"] == "**Category**: dependency" and run["output"]["annotations_count"] == 1
    assert run["last_body"]["conclusion"] == "failure" and run["updates"] == 2
    assert run["repo"] == REPO and run["annotations"][0]["path"] == "package.json"
    (dep,) = state["deployments"]
    assert dep["environment"] == "main" and [s["state"] for s in dep["statuses"]] == ["success"]
    assert dep["statuses"][0]["environment_url"] == "https://main.d1.amplifyapp.com"
    (comment,) = state["comments"]
    assert comment["body"] == "<!-- ds --> v2" and comment["issue"] == 12
    assert state["statuses"][0]["state"] == "failure"


def test_a_success_marks_the_environments_earlier_deployments_inactive_unless_told_not_to(gh, keys):
    t = bearer(token(gh, keys))
    ids = []
    for auto in (True, True, False):
        d = requests.post(f"{gh}/repos/{REPO}/deployments", headers=t, json={"ref": SHA, "environment": "main"},
                          timeout=10).json()
        ids.append(d["id"])
        requests.post(f"{gh}/repos/{REPO}/deployments/{d['id']}/statuses", headers=t,
                      json={"state": "success", "auto_inactive": auto}, timeout=10).raise_for_status()
    states = {d["id"]: [s["state"] for s in d["statuses"]] for d in control(gh, "GET", "state")["deployments"]}
    assert states == {ids[0]: ["success", "inactive"], ids[1]: ["success"], ids[2]: ["success"]}
    listed = requests.get(f"{gh}/repos/{REPO}/deployments/{ids[0]}/statuses", headers=t, timeout=10).json()
    assert [s["state"] for s in listed] == ["inactive", "success"]  # newest first, as GitHub lists them
    r = requests.get(f"{gh}/repos/{REPO}/deployments?environment=preview", headers=t, timeout=10)
    assert r.json() == []


# ----- rate limits -----

def test_rate_limit_headers_on_every_answer_and_remaining_decreases(gh, keys):
    t = bearer(token(gh, keys))
    seen = []
    for _ in range(3):
        r = requests.get(f"{gh}/repos/{REPO}/commits/{SHA}", headers=t, timeout=10)
        assert r.headers["x-ratelimit-limit"] == "5000" and r.headers["x-ratelimit-resource"] == "core"
        assert int(r.headers["x-ratelimit-reset"]) > time.time()
        seen.append((int(r.headers["x-ratelimit-remaining"]), int(r.headers["x-ratelimit-used"])))
    assert [s[0] for s in seen] == [seen[0][0], seen[0][0] - 1, seen[0][0] - 2]
    assert all(remaining + used == 5000 for remaining, used in seen)
    # Errors carry them too; /rate_limit tells the same numbers without counting.
    r = check_run(gh, t["Authorization"].split()[1], conclusion="green")
    assert r.status_code == 422 and int(r.headers["x-ratelimit-remaining"]) == seen[-1][0] - 1
    core = requests.get(f"{gh}/rate_limit", headers=t, timeout=10).json()["resources"]["core"]
    assert core["remaining"] == seen[-1][0] - 1
    # Refused callers are told theirs: an unauthenticated one has 60 an hour.
    r = requests.post(f"{gh}/repos/{REPO}/check-runs", json={"name": "x", "head_sha": SHA}, timeout=10)
    assert r.status_code == 401 and r.headers["x-ratelimit-limit"] == "60"
    r = check_run(gh, PAT)
    assert r.status_code == 403 and r.headers["x-ratelimit-limit"] == "5000"


def test_primary_mode_answers_403_with_remaining_0_and_the_reset(gh, keys):
    t = bearer(token(gh, keys))
    control(gh, "PUT", "mode", {"primary": {"reset_in": 120}})
    r = requests.get(f"{gh}/repos/{REPO}/commits/{SHA}", headers=t, timeout=10)
    assert r.status_code == 403 and r.json()["message"].startswith("API rate limit exceeded")
    assert r.headers["x-ratelimit-remaining"] == "0"
    assert 100 < int(r.headers["x-ratelimit-reset"]) - time.time() <= 121
    control(gh, "PUT", "mode", {})
    assert requests.get(f"{gh}/repos/{REPO}/commits/{SHA}", headers=t, timeout=10).status_code == 200


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_mode_answers_with_retry_after_and_githubs_message(gh, keys, status):
    t = bearer(token(gh, keys))
    control(gh, "PUT", "mode", {"secondary": {"retry_after": 30, "status": status}})
    r = check_run(gh, t["Authorization"].split()[1])
    assert r.status_code == status and r.headers["retry-after"] == "30"
    assert r.json()["message"].startswith("You have exceeded a secondary rate limit")
    assert int(r.headers["x-ratelimit-remaining"]) > 0  # not the primary limit
    assert control(gh, "GET", "state")["check_runs"] == []
    control(gh, "PUT", "mode", {})
    assert check_run(gh, t["Authorization"].split()[1]).status_code == 201


def test_fail_mode_answers_its_status_for_its_seconds_then_recovers(gh, keys):
    t = bearer(token(gh, keys))
    mode = control(gh, "PUT", "mode", {"fail": {"status": 500, "seconds": 3600}})
    assert mode["mode"] == {"fail": {"status": 500}} and mode["seconds_left"] > 3500
    for path in ("/app", f"/repos/{REPO}/commits/{SHA}", "/rate_limit"):
        r = requests.get(gh + path, headers=t, timeout=10)
        assert r.status_code == 500 and r.json()["message"] == "Server Error"
        assert "x-ratelimit-limit" not in r.headers  # a failing front end knows nothing of limits
    assert control(gh, "GET", "health")["ok"]  # the control API is not failed
    control(gh, "PUT", "mode", {})
    assert requests.get(f"{gh}/repos/{REPO}/commits/{SHA}", headers=t, timeout=10).status_code == 200
    control(gh, "PUT", "mode", {"fail": {"status": 502, "seconds": 1}})
    assert requests.get(f"{gh}/repos/{REPO}/commits/{SHA}", headers=t, timeout=10).status_code == 502
    time.sleep(1.2)
    assert requests.get(f"{gh}/repos/{REPO}/commits/{SHA}", headers=t, timeout=10).status_code == 200
    assert control(gh, "GET", "mode")["mode"] == {}


def test_a_bad_mode_is_refused(gh):
    for body in ({"fail": {"status": 200}}, {"secondary": {"retry_after": "soon"}}, {"slow": True}):
        r = requests.put(f"{gh}/_emulator/mode", json=body, timeout=10)
        assert r.status_code == 400, body


# ----- the control API -----

def test_calls_are_recorded_without_the_authorization_header(gh, keys):
    t = token(gh, keys)
    check_run(gh, t)
    calls = control(gh, "GET", "calls")
    assert [c["path"] for c in calls] == ["/app/installations/1/access_tokens", f"/repos/{REPO}/check-runs"]
    assert all(set(c) == {"method", "path", "body", "status"} for c in calls)
    assert calls[0]["body"] is None and calls[0]["status"] == 201
    assert calls[1] == {"method": "POST", "path": f"/repos/{REPO}/check-runs", "status": 201,
                        "body": {"name": "Deploy Sentinel / main", "head_sha": SHA, "status": "in_progress"}}
    text = json.dumps(calls)
    assert t not in text and "Bearer" not in text and "authorization" not in text.lower()
    assert control(gh, "DELETE", "calls") == [] and control(gh, "GET", "calls") == []


def test_comments_paginate_with_githubs_link_header(gh, keys):
    t = bearer(token(gh, keys))
    for i in range(5):
        requests.post(f"{gh}/repos/{REPO}/issues/3/comments", headers=t, json={"body": f"c{i}"},
                      timeout=10).raise_for_status()
    requests.post(f"{gh}/repos/{REPO}/issues/4/comments", headers=t, json={"body": "other"}, timeout=10)
    url, bodies, pages = f"{gh}/repos/{REPO}/issues/3/comments?per_page=2", [], 0
    while url:
        r = requests.get(url, headers=t, timeout=10)
        bodies += [c["body"] for c in r.json()]
        pages += 1
        url = r.links.get("next", {}).get("url")
        if pages == 1:
            assert r.links["last"]["url"].endswith("page=3")
    assert bodies == ["c0", "c1", "c2", "c3", "c4"] and pages == 3
    assert "next" not in r.links and r.links["first"]["url"].endswith("page=1")
    r = requests.get(f"{gh}/repos/{REPO}/issues/3/comments", headers=t, timeout=10)
    assert len(r.json()) == 5 and "link" not in r.headers


def test_compare_answers_the_script_and_404_without_one(gh, keys):
    t = bearer(token(gh, keys))
    r = requests.get(f"{gh}/repos/{REPO}/compare/{SHA}...{HEAD}", headers=t, timeout=10)
    assert r.status_code == 404
    control(gh, "PUT", "compare", {"owner": "sentinel-local", "repo": REPO.split("/")[1], "base": SHA,
                                   "head": "feature/login", "files": ["apps/web/a.ts"],
                                   "commits": [{"sha": HEAD, "author_name": "Ada Lovelace", "author_login": "ada",
                                                "date": "2026-12-01T10:00:00Z"}]})
    r = requests.get(f"{gh}/repos/{REPO}/compare/{SHA}...feature/login", headers=t, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [f["filename"] for f in body["files"]] == ["apps/web/a.ts"]
    assert body["status"] == "ahead" and body["total_commits"] == 1
    assert body["commits"][0]["commit"]["author"] == {"name": "Ada Lovelace", "email": "ada@users.noreply.github.com",
                                                      "date": "2026-12-01T10:00:00Z"}
    assert body["commits"][0]["author"]["login"] == "ada"
    control(gh, "PUT", "compare", {"owner": "sentinel-local", "repo": REPO.split("/")[1], "base": SHA, "head": HEAD,
                                   "files": ["apps/web/a.ts"], "truncated": True})
    body = requests.get(f"{gh}/repos/{REPO}/compare/{SHA}...{HEAD}", headers=t, timeout=10).json()
    assert len(body["files"]) == 300 and body["files"][0]["filename"] == "apps/web/a.ts"


def test_a_commit_has_the_default_author_unless_scripted(gh, keys):
    t = bearer(token(gh, keys))
    body = requests.get(f"{gh}/repos/{REPO}/commits/{SHA}", headers=t, timeout=10).json()
    assert body["commit"]["author"]["name"] == "Local Dev" and body["author"]["login"] == "local-dev"
    control(gh, "PUT", "commits", {"owner": "sentinel-local", "repo": REPO.split("/")[1], "sha": HEAD,
                                   "author_name": "Grace Hopper", "author_login": "grace",
                                   "date": "2026-11-30T08:00:00Z"})
    body = requests.get(f"{gh}/repos/{REPO}/commits/{HEAD}", headers=t, timeout=10).json()
    assert body["commit"]["author"]["name"] == "Grace Hopper" and body["author"]["login"] == "grace"
    assert body["commit"]["author"]["date"] == "2026-11-30T08:00:00Z"


def test_bad_control_calls_say_what_is_wrong(gh):
    r = requests.put(f"{gh}/_emulator/compare", json={"owner": "o", "repo": "r", "base": "a"}, timeout=10)
    assert r.status_code == 400 and "head" in r.json()["message"]
    r = requests.put(f"{gh}/_emulator/installations", json={"permissions": {"checks": "sometimes"}}, timeout=10)
    assert r.status_code == 400 and "permissions" in r.json()["message"]
    r = requests.put(f"{gh}/_emulator/installations", json={"permissions": {"no_such_thing": "read"}}, timeout=10)
    assert r.status_code == 400 and "no_such_thing" in r.json()["message"]


def test_a_compare_of_more_than_250_commits_lists_the_newest_250(gh, keys):
    commits = [{"sha": f"{n:040x}", "author_name": f"dev{n}"} for n in range(1, 261)]
    control(gh, "PUT", "compare", {"owner": "sentinel-local", "repo": REPO.split("/")[1], "base": SHA, "head": HEAD,
                                   "files": ["a.ts"], "commits": commits})
    body = requests.get(f"{gh}/repos/{REPO}/compare/{SHA}...{HEAD}", headers=bearer(token(gh, keys)),
                        timeout=10).json()
    assert body.get("total_commits") == 260 and len(body["commits"]) == 250, str(body)[:600]
    assert body["commits"][-1]["sha"] == commits[-1]["sha"] and body["commits"][0]["sha"] == commits[10]["sha"]


def test_auto_inactive_leaves_production_environments_alone(gh, keys):
    t = bearer(token(gh, keys))
    for _ in range(2):
        d = requests.post(f"{gh}/repos/{REPO}/deployments", headers=t, json={"ref": SHA, "environment": "production"},
                          timeout=10).json()
        assert d["production_environment"] is True
        requests.post(f"{gh}/repos/{REPO}/deployments/{d['id']}/statuses", headers=t, json={"state": "success"},
                      timeout=10).raise_for_status()
    assert [[s["state"] for s in d["statuses"]] for d in control(gh, "GET", "state")["deployments"]] \
        == [["success"], ["success"]]
