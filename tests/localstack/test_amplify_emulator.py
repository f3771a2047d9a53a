"""The Amplify emulator through boto3 (botocore's model, the same one the AWS
CLI uses), through raw HTTP where the wire format itself is the point, and
through the AWS CLI.

This module starts its own emulator and its own moto server on free ports, so
it can reset state freely and never disturbs a running local stack."""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone

import boto3
import pytest
import requests
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
COMMIT = "1234567890abcdef1234567890abcdef12345678"
OTHER = "fedcba0987654321fedcba0987654321fedcba09"
DUMMY = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
         "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[(INFO|WARNING|ERROR)\]: ")


# ----- servers -----

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tool(name):
    beside = os.path.join(os.path.dirname(sys.executable), name)
    return beside if os.access(beside, os.X_OK) else shutil.which(name)


def start(cmd, ready_url, log_path, env):
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, **env), start_new_session=True)
    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None:
        try:
            requests.get(ready_url, timeout=1)
            return proc
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{cmd[0]} did not start: {open(log_path).read()[-2000:]}")


def stop(proc):
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="module")
def moto_endpoint(tmp_path_factory):
    moto_server = tool("moto_server")
    assert moto_server, "moto_server not found: pip install 'moto[server]'"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start([moto_server, "-H", "127.0.0.1", "-p", str(port)], f"{url}/moto-api/data.json",
                 str(tmp_path_factory.mktemp("moto") / "moto.log"), DUMMY)
    yield url
    stop(proc)


@pytest.fixture(scope="module")
def emu_url(moto_endpoint, tmp_path_factory):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(DUMMY, AWS_ENDPOINT_URL=moto_endpoint, AWS_ENDPOINT_URL_EVENTBRIDGE="")
    proc = start([sys.executable, os.path.join(HERE, "amplify_emulator.py"), "--port", str(port)],
                 f"{url}/_emulator/health", str(tmp_path_factory.mktemp("amplify") / "amplify.log"), env)
    yield url
    stop(proc)


@pytest.fixture(autouse=True)
def fresh(emu_url):
    requests.post(f"{emu_url}/_emulator/reset", timeout=5).raise_for_status()


@pytest.fixture(scope="module")
def amp(emu_url):
    return boto3.client("amplify", endpoint_url=emu_url, region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))


@pytest.fixture(scope="module")
def moto(moto_endpoint):
    return lambda service: boto3.client(service, endpoint_url=moto_endpoint, region_name="us-east-1",
                                        aws_access_key_id="test", aws_secret_access_key="test")


class Ctl:
    """The control API; every call must answer 200 unless `status` says otherwise."""

    def __init__(self, url):
        self.url = url + "/_emulator"

    def __call__(self, path, body=None, method="POST", status=200):
        resp = requests.request(method, self.url + path, json=body, timeout=30)
        assert resp.status_code == status, resp.text
        return resp.json()

    def app(self, app_id, branch="main", commit=COMMIT, **extra):
        self("/apps", {"appId": app_id, "name": f"app-{app_id}", **extra})
        self(f"/apps/{app_id}/branches", {"branchName": branch, "stage": "PRODUCTION",
                                          "headCommit": {"commitId": commit, "commitMessage": "feat: first"}})

    def manual(self, app_id, branch="main", **body):
        enc = requests.utils.quote(branch, safe="")
        return self(f"/apps/{app_id}/branches/{enc}/builds", {"mode": "manual", "emit": False, **body})["jobSummary"]

    def advance(self, app_id, job_id, to, branch="main", status=200, **body):
        enc = requests.utils.quote(branch, safe="")
        return self(f"/apps/{app_id}/branches/{enc}/jobs/{job_id}/advance", {"to": to, **body}, status=status)


@pytest.fixture
def ctl(emu_url):
    return Ctl(emu_url)


def wait_until(fetch, ready, timeout=15):
    deadline = time.time() + timeout
    while True:
        value = fetch()
        if ready(value) or time.time() > deadline:
            return value
        time.sleep(0.05)


# ----- apps -----

def test_create_app_answers_every_field_of_the_model_with_the_right_types(amp):
    app = amp.create_app(name="shop", platform="WEB_COMPUTE", environmentVariables={"NODE_ENV": "production"},
                         buildSpec="version: 1\n", enableBranchAutoBuild=True, tags={"team": "web"})["app"]
    assert re.fullmatch(r"d[a-z0-9]{13}", app["appId"])
    assert app["appArn"] == f"arn:aws:amplify:us-east-1:123456789012:apps/{app['appId']}"
    assert app["defaultDomain"] == f"{app['appId']}.amplifyapp.com"
    assert (app["name"], app["platform"], app["buildSpec"]) == ("shop", "WEB_COMPUTE", "version: 1\n")
    assert app["environmentVariables"] == {"NODE_ENV": "production"} and app["tags"] == {"team": "web"}
    assert app["enableBranchAutoBuild"] is True and app["enableBasicAuth"] is False
    assert app["jobConfig"] == {"buildComputeType": "STANDARD_8GB"}
    for key in ("createTime", "updateTime"):
        assert isinstance(app[key], datetime)
        assert abs(app[key].timestamp() - time.time()) < 60, "epoch seconds, not milliseconds"
    got = amp.get_app(appId=app["appId"])["app"]
    assert got == app


def test_update_list_and_delete_apps(amp, ctl):
    ids = [amp.create_app(name=f"a{i}")["app"]["appId"] for i in range(5)]
    updated = amp.update_app(appId=ids[0], environmentVariables={"A": "1"}, name="renamed")["app"]
    assert updated["name"] == "renamed" and updated["environmentVariables"] == {"A": "1"}
    assert updated["updateTime"] >= updated["createTime"]
    first = amp.list_apps(maxResults=2)
    assert len(first["apps"]) == 2 and first["nextToken"]
    listed = [a["appId"] for a in amp.get_paginator("list_apps").paginate(
        PaginationConfig={"PageSize": 2}).build_full_result()["apps"]]
    assert listed == ids
    deleted = amp.delete_app(appId=ids[1])["app"]
    assert deleted["appId"] == ids[1]
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_app(appId=ids[1])
    assert [a["appId"] for a in amp.list_apps()["apps"]] == [ids[0]] + ids[2:]


def test_deleting_an_app_deletes_its_branches_and_jobs(amp, ctl):
    ctl.app("dgone0000000001")
    ctl.manual("dgone0000000001")
    amp.delete_app(appId="dgone0000000001")
    ctl.app("dgone0000000001")
    assert amp.list_jobs(appId="dgone0000000001", branchName="main")["jobSummaries"] == []


# ----- branches -----

def test_a_branch_name_with_a_slash_round_trips(amp, ctl):
    ctl.app("dbranch00000001")
    created = amp.create_branch(appId="dbranch00000001", branchName="feature/login.v2", stage="DEVELOPMENT",
                                framework="Next.js - SSR", environmentVariables={"API": "x"})["branch"]
    assert created["branchArn"].endswith(":apps/dbranch00000001/branches/feature/login.v2")
    branch = amp.get_branch(appId="dbranch00000001", branchName="feature/login.v2")["branch"]
    assert branch["branchName"] == "feature/login.v2" and branch["displayName"] == "feature-login-v2"
    assert branch["stage"] == "DEVELOPMENT" and branch["enableAutoBuild"] is True
    assert (branch["activeJobId"], branch["totalNumberOfJobs"]) == ("", "0")
    assert isinstance(branch["createTime"], datetime) and branch["customDomains"] == []
    names = {b["branchName"] for b in amp.list_branches(appId="dbranch00000001")["branches"]}
    assert names == {"main", "feature/login.v2"}
    amp.delete_branch(appId="dbranch00000001", branchName="feature/login.v2")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_branch(appId="dbranch00000001", branchName="feature/login.v2")


def test_update_branch_replaces_what_it_is_given(amp, ctl):
    ctl.app("dupdate00000001")
    before = amp.get_branch(appId="dupdate00000001", branchName="main")["branch"]
    amp.update_branch(appId="dupdate00000001", branchName="main", environmentVariables={"A": "1", "B": "2"})
    after = amp.update_branch(appId="dupdate00000001", branchName="main", enableAutoBuild=False,
                              environmentVariables={"C": "3"}, buildSpec="version: 1\nfrontend: {}\n",
                              stage="BETA", framework="Next.js - SSG", displayName="live")["branch"]
    got = amp.get_branch(appId="dupdate00000001", branchName="main")["branch"]
    assert got == after
    assert got["enableAutoBuild"] is False
    assert got["environmentVariables"] == {"C": "3"}, "the map is replaced, not merged"
    assert (got["buildSpec"], got["stage"], got["framework"], got["displayName"]) == (
        "version: 1\nfrontend: {}\n", "BETA", "Next.js - SSG", "live")
    assert got["updateTime"] > before["updateTime"] and got["createTime"] == before["createTime"]


def test_list_branches_pages(amp, ctl):
    ctl.app("dpages000000001")
    for i in range(4):
        amp.create_branch(appId="dpages000000001", branchName=f"b{i}")
    pages = list(amp.get_paginator("list_branches").paginate(appId="dpages000000001",
                                                             PaginationConfig={"PageSize": 2}))
    assert [len(p["branches"]) for p in pages] == [2, 2, 1]
    assert "nextToken" not in pages[-1]
    assert [b["branchName"] for p in pages for b in p["branches"]] == ["main", "b0", "b1", "b2", "b3"]


def test_the_branch_quota_answers_limit_exceeded(amp, ctl):
    ctl("/config", {"maxBranchesPerApp": 2})
    ctl.app("dquota000000001")
    amp.create_branch(appId="dquota000000001", branchName="two")
    with pytest.raises(amp.exceptions.LimitExceededException):
        amp.create_branch(appId="dquota000000001", branchName="three")


# ----- errors -----

def test_missing_apps_branches_and_jobs_are_not_found(amp, ctl):
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_app(appId="dmissing")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.delete_app(appId="dmissing")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.list_branches(appId="dmissing")
    ctl.app("dnotfound000001")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_branch(appId="dnotfound000001", branchName="nope")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.list_jobs(appId="dnotfound000001", branchName="nope")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_job(appId="dnotfound000001", branchName="main", jobId="999")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.stop_job(appId="dnotfound000001", branchName="main", jobId="999")


def test_errors_follow_the_rest_json_convention_on_the_wire(emu_url):
    # The Rust SDK and botocore both name the error from this header.
    resp = requests.get(f"{emu_url}/apps/dmissing", timeout=5)
    assert resp.status_code == 404
    assert resp.headers["x-amzn-errortype"] == "NotFoundException"
    assert resp.headers["content-type"] == "application/json"
    assert set(resp.json()) == {"message"} and "dmissing" in resp.json()["message"]
    unknown = requests.get(f"{emu_url}/no/such/thing", timeout=5)
    assert unknown.status_code == 404 and unknown.headers["x-amzn-errortype"] == "UnknownOperationException"


def test_bad_input_is_a_bad_request(amp, ctl, emu_url):
    with pytest.raises(amp.exceptions.BadRequestException, match="regular expression"):
        amp.get_app(appId="Not_An_App")
    with pytest.raises(amp.exceptions.BadRequestException, match="length"):
        amp.get_app(appId="d" + "a" * 20)
    ctl.app("dbadrequest0001")
    with pytest.raises(amp.exceptions.BadRequestException):
        amp.get_job(appId="dbadrequest0001", branchName="main", jobId="abc")
    with pytest.raises(amp.exceptions.BadRequestException, match="RETRY"):
        amp.start_job(appId="dbadrequest0001", branchName="main", jobType="RETRY")
    with pytest.raises(amp.exceptions.BadRequestException, match="Cannot retry job 42"):
        amp.start_job(appId="dbadrequest0001", branchName="main", jobType="RETRY", jobId="42")
    with pytest.raises(amp.exceptions.BadRequestException, match="enum"):
        amp.update_branch(appId="dbadrequest0001", branchName="main", stage="STAGING")
    with pytest.raises(amp.exceptions.BadRequestException, match="already exists"):
        amp.create_branch(appId="dbadrequest0001", branchName="main")
    with pytest.raises(amp.exceptions.BadRequestException, match="nextToken"):
        amp.list_jobs(appId="dbadrequest0001", branchName="main", nextToken="garbage")
    # What botocore would refuse before sending, sent raw.
    too_many = requests.get(f"{emu_url}/apps/dbadrequest0001/branches?maxResults=500", timeout=5)
    assert too_many.status_code == 400 and too_many.headers["x-amzn-errortype"] == "BadRequestException"
    nameless = requests.post(f"{emu_url}/apps", json={"platform": "WEB"}, timeout=5)
    assert nameless.status_code == 400 and "'name'" in nameless.json()["message"]
    wrong_type = requests.post(f"{emu_url}/apps/dbadrequest0001/branches/main", json={"enableAutoBuild": "no"},
                               timeout=5)
    assert wrong_type.status_code == 400 and "boolean" in wrong_type.json()["message"]


def test_injected_faults_answer_the_modelled_errors(amp, ctl):
    ctl.app("dfaults00000001")
    ctl("/faults", {"operation": "GetApp", "error": "LimitExceededException", "count": 1})
    with pytest.raises(amp.exceptions.LimitExceededException):
        amp.get_app(appId="dfaults00000001")
    assert amp.get_app(appId="dfaults00000001")["app"]["appId"] == "dfaults00000001", "count is honoured"
    ctl("/faults", {"operation": "*", "error": "UnauthorizedException"})
    with pytest.raises(amp.exceptions.UnauthorizedException):
        amp.list_apps()
    ctl("/faults", {"error": "NoSuchError"}, status=400)


def test_a_fault_naming_a_branch_fails_only_calls_about_it(amp, ctl):
    ctl.app("dfaults00000002")
    # More failures than the client's retries: a call that takes it fails.
    ctl("/faults", {"operation": "GetBranch", "error": "InternalFailureException", "count": 20,
                    "branchName": "other"})
    # A call about another branch does not take the fault.
    assert amp.get_branch(appId="dfaults00000002", branchName="main")["branch"]["branchName"] == "main"
    ctl("/apps/dfaults00000002/branches", {"branchName": "other"})
    with pytest.raises(amp.exceptions.InternalFailureException):
        amp.get_branch(appId="dfaults00000002", branchName="other")
    requests.delete(f"{amp.meta.endpoint_url}/_emulator/faults", timeout=5)
    assert amp.get_branch(appId="dfaults00000002", branchName="other")["branch"]["branchName"] == "other"


# ----- jobs -----

def test_start_job_release_retry_and_manual(amp, ctl):
    ctl.app("djobs0000000001")
    ctl("/apps/djobs0000000001/branches/main/behaviour", {"mode": "manual"})
    first = amp.start_job(appId="djobs0000000001", branchName="main", jobType="RELEASE", jobReason="go")["jobSummary"]
    assert (first["jobId"], first["status"], first["jobType"], first["commitId"]) == ("1", "PENDING", "RELEASE", COMMIT)
    assert first["jobArn"] == "arn:aws:amplify:us-east-1:123456789012:apps/djobs0000000001/branches/main/jobs/0000000001"
    assert "endTime" not in first and first["commitTime"] <= first["startTime"]
    ctl.advance("djobs0000000001", "1", "SUCCEED")
    ctl("/apps/djobs0000000001/branches/main/push", {"commitId": OTHER, "commitMessage": "feat: new"})
    branch = amp.get_branch(appId="djobs0000000001", branchName="main")["branch"]
    assert (branch["activeJobId"], branch["totalNumberOfJobs"]) == ("2", "2"), "the push built (auto-build on)"
    release = amp.start_job(appId="djobs0000000001", branchName="main", jobType="RELEASE",
                            commitId="ignored")["jobSummary"]
    assert (release["jobId"], release["commitId"]) == ("3", OTHER), "RELEASE builds the head"
    retry = amp.start_job(appId="djobs0000000001", branchName="main", jobType="RETRY", jobId="1")["jobSummary"]
    assert (retry["jobId"], retry["jobType"], retry["commitId"], retry["commitMessage"]) == (
        "4", "RETRY", COMMIT, "feat: first"), "RETRY rebuilds the old job's commit"
    manual = amp.start_job(appId="djobs0000000001", branchName="main", jobType="MANUAL", commitId="abc",
                           commitMessage="hand")["jobSummary"]
    assert (manual["jobId"], manual["commitId"], manual["jobType"]) == ("5", "abc", "MANUAL")
    padded = amp.get_job(appId="djobs0000000001", branchName="main", jobId="0000000004")["job"]["summary"]
    assert padded["jobId"] == "4" and padded["commitId"] == COMMIT


def test_stop_job_goes_through_cancelling_to_cancelled_and_emits_nothing(amp, ctl):
    ctl("/config", {"cancelDelayMs": 300})
    ctl.app("dstop0000000001")
    job = ctl.manual("dstop0000000001")
    ctl.advance("dstop0000000001", job["jobId"], "RUNNING")
    stopped = amp.stop_job(appId="dstop0000000001", branchName="main", jobId=job["jobId"])["jobSummary"]
    assert stopped["status"] == "CANCELLING"
    assert amp.get_job(appId="dstop0000000001", branchName="main", jobId="1")["job"]["summary"]["status"] == \
        "CANCELLING", "GetJob shows CANCELLING until cancelDelayMs has passed"
    final = wait_until(lambda: amp.get_job(appId="dstop0000000001", branchName="main", jobId="1")["job"],
                       lambda j: j["summary"]["status"] == "CANCELLED")
    assert final["summary"]["status"] == "CANCELLED" and "endTime" in final["summary"]
    assert final["steps"][0]["status"] == "CANCELLED"
    with pytest.raises(amp.exceptions.BadRequestException):
        amp.stop_job(appId="dstop0000000001", branchName="main", jobId="1")
    events = ctl("/apps/dstop0000000001/branches/main/jobs/1/events", method="GET")["events"]
    assert [e["detail"]["jobStatus"] for e in events] == ["STARTED"], "cancellation emits nothing"


def test_by_default_a_stopped_job_is_cancelled_at_once(amp, ctl):
    ctl.app("dstop0000000002")
    ctl.manual("dstop0000000002")
    assert amp.stop_job(appId="dstop0000000002", branchName="main", jobId="1")["jobSummary"]["status"] == "CANCELLING"
    got = wait_until(lambda: amp.get_job(appId="dstop0000000002", branchName="main", jobId="1")["job"],
                     lambda j: j["summary"]["status"] == "CANCELLED", timeout=1)
    assert got["summary"]["status"] == "CANCELLED" and got["steps"] == [], "it never ran: no steps"


def test_list_jobs_is_newest_first_and_pages_stably(amp, ctl):
    ctl.app("dlist0000000001")
    for _ in range(5):
        ctl.manual("dlist0000000001")
    first = amp.list_jobs(appId="dlist0000000001", branchName="main", maxResults=2)
    assert [j["jobId"] for j in first["jobSummaries"]] == ["5", "4"]
    ctl.manual("dlist0000000001")  # a new job between pages does not shift the next page
    second = amp.list_jobs(appId="dlist0000000001", branchName="main", maxResults=2, nextToken=first["nextToken"])
    assert [j["jobId"] for j in second["jobSummaries"]] == ["3", "2"]
    everything = amp.get_paginator("list_jobs").paginate(appId="dlist0000000001", branchName="main",
                                                         PaginationConfig={"PageSize": 4}).build_full_result()
    assert [j["jobId"] for j in everything["jobSummaries"]] == ["6", "5", "4", "3", "2", "1"]


def test_a_played_build_reaches_succeed_with_ordered_timestamps(amp, ctl):
    ctl.app("dplayed00000001")
    job = ctl("/apps/dplayed00000001/branches/main/builds",
              {"outcome": "SUCCEED", "mode": "auto", "emit": False, "stepDelayMs": 50})["jobSummary"]
    assert job["status"] == "PENDING"
    got = wait_until(lambda: amp.get_job(appId="dplayed00000001", branchName="main", jobId=job["jobId"])["job"],
                     lambda j: j["summary"]["status"] == "SUCCEED")
    summary, steps = got["summary"], got["steps"]
    assert summary["status"] == "SUCCEED" and summary["commitId"] == COMMIT
    assert summary["commitTime"] <= summary["startTime"] <= steps[0]["startTime"] <= steps[0]["endTime"]
    assert steps[0]["endTime"] <= summary["endTime"] and summary["endTime"] - summary["startTime"]
    assert [(s["stepName"], s["status"]) for s in steps] == [("BUILD", "SUCCEED"), ("DEPLOY", "SUCCEED")]
    assert steps[1]["artifactsUrl"].startswith("http://127.0.0.1:")
    events = ctl(f"/apps/dplayed00000001/branches/main/jobs/{job['jobId']}/events", method="GET")["events"]
    assert [e["detail"]["jobStatus"] for e in events] == ["STARTED", "SUCCEED"]


def test_a_build_can_be_awaited_and_reports_its_duration(ctl):
    ctl.app("dwait0000000001")
    out = ctl("/apps/dwait0000000001/branches/main/builds",
              {"outcome": "FAILED", "stepDelayMs": 10, "emit": False, "wait": True, "durationSeconds": 120})
    assert out["jobSummary"]["status"] == "FAILED"
    assert out["jobSummary"]["endTime"] - out["jobSummary"]["startTime"] >= 120
    assert [e["detail"]["jobStatus"] for e in out["events"]] == ["STARTED", "FAILED"]
    assert out["deliveries"] == [], "emit false delivers nothing"


def test_manual_advance_generates_amplifys_event_shape(ctl):
    ctl.app("dmanual00000001", branch="release/1.2")
    for _ in range(3):
        job = ctl.manual("dmanual00000001", branch="release/1.2")
    assert job["jobId"] == "3" and job["status"] == "PENDING"
    out = ctl.advance("dmanual00000001", "3", "RUNNING", branch="release/1.2")
    assert out["jobSummary"]["status"] == "RUNNING" and out["delivery"] is None
    event = out["events"][0]
    assert set(event) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}
    assert (event["version"], event["source"], event["detail-type"]) == (
        "0", "aws.amplify", "Amplify Deployment Status Change")
    assert (event["account"], event["region"]) == ("123456789012", "us-east-1")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
    uuid.UUID(event["id"])
    assert event["resources"] == [
        "arn:aws:amplify:us-east-1:123456789012:apps/dmanual00000001/branches/release/1.2/jobs/0000000003"]
    assert event["detail"] == {"appId": "dmanual00000001", "branchName": "release/1.2", "jobId": "3",
                               "jobStatus": "STARTED"}
    done = ctl.advance("dmanual00000001", "3", "FAILED", branch="release/1.2", statusReason="heap")
    assert done["events"][0]["detail"]["jobStatus"] == "FAILED" and done["events"][0]["id"] != event["id"]
    ctl.advance("dmanual00000001", "3", "SUCCEED", branch="release/1.2", status=400)
    events = ctl("/apps/dmanual00000001/branches/release%2F1.2/jobs/0000000003/events", method="GET")["events"]
    assert [e["id"] for e in events] == [event["id"], done["events"][0]["id"]]


def test_emitted_events_reach_a_queue_through_moto_eventbridge(moto, ctl):
    sqs, events = moto("sqs"), moto("events")
    url = sqs.create_queue(QueueName="amplify-events")["QueueUrl"]
    events.put_rule(Name="amplify", EventPattern=json.dumps({"source": ["aws.amplify"]}))
    events.put_targets(Rule="amplify", Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:amplify-events"}])
    ctl.app("demit0000000001")
    out = ctl("/apps/demit0000000001/branches/main/builds",
              {"outcome": "SUCCEED", "emit": True, "stepDelayMs": 20, "wait": True})
    assert [d["delivered"] for d in out["deliveries"]] == [True, True], out["deliveries"]
    seen, deadline = [], time.time() + 15
    while len(seen) < 2 and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [e["detail"]["jobStatus"] for e in seen] == ["STARTED", "SUCCEED"]
    assert all(e["detail"] == dict(out["events"][i]["detail"]) for i, e in enumerate(seen))
    assert seen[0]["source"] == "aws.amplify" and seen[0]["detail-type"] == "Amplify Deployment Status Change"
    assert seen[0]["resources"] == [
        "arn:aws:amplify:us-east-1:123456789012:apps/demit0000000001/branches/main/jobs/0000000001"]


def test_without_an_eventbridge_endpoint_nothing_is_emitted_and_the_answer_says_so(ctl):
    ctl("/config", {"eventsEndpoint": ""})
    ctl.app("dnoemit00000001")
    job = ctl.manual("dnoemit00000001")
    out = ctl.advance("dnoemit00000001", job["jobId"], "RUNNING", emit=True)
    assert out["delivery"]["delivered"] is False and "no EventBridge endpoint" in out["delivery"]["reason"]


def test_a_push_builds_only_while_auto_build_is_on(amp, ctl):
    ctl.app("dpush0000000001")
    ctl("/apps/dpush0000000001/branches/main/behaviour", {"mode": "manual"})
    pushed = ctl("/apps/dpush0000000001/branches/main/push", {"commitId": OTHER, "commitMessage": "feat: x"})
    assert pushed["jobSummary"]["jobType"] == "WEB_HOOK" and pushed["jobSummary"]["commitId"] == OTHER
    amp.update_branch(appId="dpush0000000001", branchName="main", enableAutoBuild=False)
    assert amp.get_branch(appId="dpush0000000001", branchName="main")["branch"]["enableAutoBuild"] is False
    locked = ctl("/apps/dpush0000000001/branches/main/push", {"commitId": COMMIT})
    assert locked["jobSummary"] is None
    assert len(amp.list_jobs(appId="dpush0000000001", branchName="main")["jobSummaries"]) == 1


# ----- logs -----

def build_step(amp, app_id, job_id, branch="main"):
    return amp.get_job(appId=app_id, branchName=branch, jobId=job_id)["job"]["steps"][0]


def test_the_log_url_serves_amplifys_log_format(amp, ctl):
    ctl.app("dlogs0000000001")
    job = ctl.manual("dlogs0000000001")
    ctl.advance("dlogs0000000001", job["jobId"], "RUNNING")
    partial = requests.get(build_step(amp, "dlogs0000000001", "1")["logUrl"], timeout=5).text
    ctl.advance("dlogs0000000001", job["jobId"], "SUCCEED")
    step = build_step(amp, "dlogs0000000001", "1")
    assert "X-Amz-Expires=900" in step["logUrl"] and "X-Amz-Signature=" in step["logUrl"]
    resp = requests.get(step["logUrl"], timeout=5)
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    lines = resp.text.splitlines()
    assert all(LOG_LINE.match(line) for line in lines), lines[:3]
    assert any(line.endswith("[INFO]: # Starting phase: build") for line in lines)
    assert any(line.endswith("> next build") for line in lines)
    assert len(partial.splitlines()) < len(lines), "a running build's log is partial"
    assert not any("!!!" in line for line in lines)


def test_a_failed_build_logs_bang_lines_and_a_status_reason(amp, ctl):
    ctl.app("dfail0000000001")
    ctl("/apps/dfail0000000001/branches/main/builds", {"outcome": "FAILED", "stepDelayMs": 10, "wait": True,
                                                       "emit": False})
    steps = amp.get_job(appId="dfail0000000001", branchName="main", jobId="1")["job"]["steps"]
    assert [s["stepName"] for s in steps] == ["BUILD"], "a failed build deploys nothing"
    step = steps[0]
    assert step["status"] == "FAILED" and step["statusReason"] == "Error: Command failed with exit code 134"
    text = requests.get(step["logUrl"], timeout=5).text
    assert "[WARNING]: !!! Build failed" in text and "[ERROR]: !!! Error: Command failed" in text
    assert "JavaScript heap out of memory" in text


def test_a_given_log_is_served(amp, ctl):
    ctl.app("dgivenlog000001")
    ctl("/apps/dgivenlog000001/branches/main/builds",
        {"outcome": "FAILED", "stepDelayMs": 10, "wait": True, "emit": False,
         "log": "# Starting phase: build\nModule not found: Can't resolve 'fs'\n!!! Build failed"})
    lines = requests.get(build_step(amp, "dgivenlog000001", "1")["logUrl"], timeout=5).text.splitlines()
    assert [line.split("]: ", 1)[1] for line in lines] == [
        "# Starting phase: build", "Module not found: Can't resolve 'fs'", "!!! Build failed"]


def test_a_bad_missing_or_expired_signature_is_refused_like_s3(amp, ctl):
    ctl.app("dsigned00000001")
    job = ctl.manual("dsigned00000001")
    ctl.advance("dsigned00000001", job["jobId"], "FAILED")
    url = build_step(amp, "dsigned00000001", "1")["logUrl"]
    tampered = requests.get(re.sub(r"Signature=(.)", lambda m: "Signature=" + ("0" if m[1] != "0" else "1"), url),
                            timeout=5)
    assert tampered.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in tampered.text
    unsigned = requests.get(url.split("?")[0], timeout=5)
    assert unsigned.status_code == 403 and "<Code>AccessDenied</Code>" in unsigned.text
    other_job = requests.get(url.replace("/1/BUILD.txt", "/2/BUILD.txt"), timeout=5)
    assert other_job.status_code == 403, "the signature covers the path"
    # Generous enough that a loaded machine still fetches it in time.
    ctl("/config", {"logUrlExpiresSeconds": 4})
    short = build_step(amp, "dsigned00000001", "1")["logUrl"]
    assert requests.get(short, timeout=5).status_code == 200
    time.sleep(5.1)
    expired = requests.get(short, timeout=5)
    assert expired.status_code == 403 and "Request has expired" in expired.text


# ----- sites -----

def test_the_site_serves_the_last_succeeded_commit_and_follows_overrides(amp, ctl, emu_url):
    ctl.app("dsite0000000001", branch="release/1.2")
    site = f"{emu_url}/_sites/dsite0000000001/release-1-2"
    host = {"Host": "release-1-2.dsite0000000001.amplifyapp.com"}
    assert requests.get(site + "/", timeout=5).status_code == 404, "no deployment yet"
    job = ctl.manual("dsite0000000001", branch="release/1.2", commitId=COMMIT)
    ctl.advance("dsite0000000001", job["jobId"], "RUNNING", branch="release/1.2")
    assert requests.get(site + "/", timeout=5).status_code == 404, "still building"
    ctl.advance("dsite0000000001", job["jobId"], "SUCCEED", branch="release/1.2")
    health = requests.get(site + "/api/health", timeout=5)
    assert health.status_code == 200 and health.json() == {"status": "ok", "commit": COMMIT}
    assert health.headers["x-deployed-commit"] == COMMIT
    page = requests.get(f"{emu_url}/any/path", headers=host, timeout=5)
    assert f'<meta name="x-deployed-commit" content="{COMMIT}">' in page.text
    assert page.headers["x-deployed-commit"] == COMMIT

    failed = ctl.manual("dsite0000000001", branch="release/1.2", commitId=OTHER)
    ctl.advance("dsite0000000001", failed["jobId"], "FAILED", branch="release/1.2")
    assert requests.get(site + "/", timeout=5).headers["x-deployed-commit"] == COMMIT, "a failed build deploys nothing"

    ctl("/apps/dsite0000000001/branches/release%2F1.2/site", {"status": 503, "latencyMs": 300})
    started = time.time()
    slow = requests.get(site + "/api/health", timeout=5)
    assert slow.status_code == 503 and slow.json()["status"] == "error" and time.time() - started >= 0.3
    ctl("/apps/dsite0000000001/branches/release%2F1.2/site", {"commitId": OTHER, "body": "<h1>old</h1>"})
    odd = requests.get(site + "/", headers=host, timeout=5)
    assert odd.text == "<h1>old</h1>" and odd.headers["x-deployed-commit"] == OTHER
    ctl("/apps/dsite0000000001/branches/release%2F1.2/site", {})
    assert requests.get(site + "/api/health", timeout=5).json()["commit"] == COMMIT, "{} clears the override"

    amp.update_branch(appId="dsite0000000001", branchName="release/1.2", displayName="rc")
    assert requests.get(f"{emu_url}/_sites/dsite0000000001/rc/", timeout=5).status_code == 200
    moved = requests.get(f"{emu_url}/", headers={"Host": "rc.dsite0000000001.amplifyapp.com"}, timeout=5)
    assert moved.headers["x-deployed-commit"] == COMMIT


def test_a_retry_redeploys_the_old_commit(amp, ctl, emu_url):
    ctl.app("dretry000000001")
    ctl("/apps/dretry000000001/branches/main/builds", {"stepDelayMs": 10, "wait": True, "emit": False})
    ctl("/apps/dretry000000001/branches/main/push", {"commitId": OTHER})  # auto-build: job 2 builds OTHER
    wait_until(lambda: requests.get(f"{emu_url}/_sites/dretry000000001/main/", timeout=5),
               lambda r: r.headers.get("x-deployed-commit") == OTHER, timeout=10)
    retry = amp.start_job(appId="dretry000000001", branchName="main", jobType="RETRY", jobId="1")["jobSummary"]
    assert retry["commitId"] == COMMIT
    served = wait_until(lambda: requests.get(f"{emu_url}/_sites/dretry000000001/main/", timeout=5),
                        lambda r: r.headers.get("x-deployed-commit") == COMMIT, timeout=10)
    assert served.headers["x-deployed-commit"] == COMMIT


# ----- the control API itself -----

def test_the_call_log_counts_api_calls(amp, ctl):
    ctl("/calls", method="DELETE")
    ctl.app("dcalls000000001")
    amp.get_app(appId="dcalls000000001")
    amp.update_branch(appId="dcalls000000001", branchName="main", enableAutoBuild=False)
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_job(appId="dcalls000000001", branchName="main", jobId="7")
    calls = ctl("/calls", method="GET")["calls"]
    assert [c["operation"] for c in calls] == ["GetApp", "UpdateBranch", "GetJob"], "control calls are not logged"
    assert calls[1]["params"] == {"appId": "dcalls000000001", "branchName": "main", "enableAutoBuild": False}
    assert (calls[0]["status"], calls[2]["status"], calls[2]["error"]) == (200, 404, "NotFoundException")
    assert ctl("/calls", method="DELETE")["calls"] == [] and ctl("/calls", method="GET")["calls"] == []


def test_the_control_api_validates_like_the_api(ctl):
    ctl("/apps", {"appId": "Bad_Id", "name": "x"}, status=400)
    ctl("/apps", {"appId": "dcontrol0000001"}, status=400)  # no name
    ctl("/apps", {"appId": "dcontrol0000001", "name": "x"})
    ctl("/apps", {"appId": "dcontrol0000001", "name": "x"}, status=400)  # exists
    ctl("/apps/dcontrol0000001/branches", {"branchName": "main", "stage": "LIVE"}, status=400)
    ctl("/apps/dnothere0000001/branches", {"branchName": "main"}, status=404)
    ctl("/apps/dcontrol0000001/branches", {"branchName": "main"})
    ctl("/apps/dcontrol0000001/branches/main/builds", {"outcome": "MAYBE"}, status=400)
    ctl("/apps/dcontrol0000001/branches/main/jobs/1/advance", {"to": "RUNNING"}, status=404)
    ctl("/config", {"nope": 1}, status=400)
    assert ctl("/apps", {"appId": "dcontrol0000002", "name": "y"})["app"]["platform"] == "WEB_COMPUTE"


# ----- the AWS CLI -----

def test_the_aws_cli_reads_a_job_and_sees_not_found(emu_url, ctl, tmp_path):
    aws = tool("aws")
    if not aws:
        pytest.skip("the AWS CLI is not installed in this venv (pip install awscli)")
    ctl.app("dcli00000000001")
    job = ctl.manual("dcli00000000001")
    env = dict(os.environ, **DUMMY, AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    base = [aws, "amplify", "--endpoint-url", emu_url, "--output", "json"]
    out = subprocess.run(base + ["get-job", "--app-id", "dcli00000000001", "--branch-name", "main",
                                 "--job-id", job["jobId"]], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)["job"]["summary"]
    assert summary["commitId"] == COMMIT and summary["status"] == "PENDING"
    listed = subprocess.run(base + ["list-jobs", "--app-id", "dcli00000000001", "--branch-name", "main"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert [j["jobId"] for j in json.loads(listed.stdout)["jobSummaries"]] == ["1"]
    missing = subprocess.run(base + ["get-job", "--app-id", "dcli00000000001", "--branch-name", "main",
                                     "--job-id", "999"], capture_output=True, text=True, timeout=60, env=env)
    assert missing.returncode != 0 and "NotFoundException" in missing.stderr


def test_the_emulator_binds_only_the_given_host(emu_url):
    port = int(emu_url.rsplit(":", 1)[1])
    others = [a for a in socket.gethostbyname_ex(socket.gethostname())[2] if not a.startswith("127.")]
    for address in others:
        with socket.socket() as s:
            s.settimeout(1)
            assert s.connect_ex((address, port)) != 0, f"reachable on {address}"
    listening = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True) \
        if shutil.which("ss") else None
    if listening is not None:
        assert listening.stdout.split()[3] == f"127.0.0.1:{port}"


def test_timestamps_are_epoch_seconds_on_the_wire(emu_url, ctl):
    ctl.app("dwire0000000001")
    ctl.manual("dwire0000000001")
    raw = requests.get(f"{emu_url}/apps/dwire0000000001/branches/main/jobs/1", timeout=5).json()
    start = raw["job"]["summary"]["startTime"]
    assert isinstance(start, (int, float)) and abs(start - datetime.now(timezone.utc).timestamp()) < 60


def test_basic_auth_is_returned_as_given_and_guards_the_site(amp, ctl, emu_url):
    ctl.app("dauth0000000001")
    creds = base64.b64encode(b"team:s3cret-pass").decode()
    got = amp.update_branch(appId="dauth0000000001", branchName="main", enableBasicAuth=True,
                            basicAuthCredentials=creds)["branch"]
    assert got["enableBasicAuth"] is True and got["basicAuthCredentials"] == creds
    assert amp.get_branch(appId="dauth0000000001", branchName="main")["branch"]["basicAuthCredentials"] == creds
    ctl("/apps/dauth0000000001/branches/main/builds", {"outcome": "SUCCEED", "stepDelayMs": 10, "emit": False, "wait": True})
    site = f"{emu_url}/_sites/dauth0000000001/main/"
    refused = requests.get(site, timeout=5)
    assert refused.status_code == 401 and refused.headers["www-authenticate"].startswith("Basic")
    assert requests.get(site, auth=("team", "wrong"), timeout=5).status_code == 401
    assert requests.get(site, auth=("team", "s3cret-pass"), timeout=5).status_code == 200
    # The app's protection covers a branch without its own.
    amp.update_branch(appId="dauth0000000001", branchName="main", enableBasicAuth=False)
    assert requests.get(site, timeout=5).status_code == 200
    app_creds = base64.b64encode(b"all:branches").decode()
    amp.update_app(appId="dauth0000000001", enableBasicAuth=True, basicAuthCredentials=app_creds)
    assert requests.get(site, timeout=5).status_code == 401
    assert requests.get(site, auth=("all", "branches"), timeout=5).status_code == 200


def test_custom_domains_in_amplify_s_wire_format_and_their_sites(amp, ctl, emu_url):
    ctl.app("ddomain00000001")
    ctl("/apps/ddomain00000001/branches", {"branchName": "develop", "stage": "DEVELOPMENT"})
    for branch in ("main", "develop"):
        ctl(f"/apps/ddomain00000001/branches/{branch}/builds",
            {"outcome": "SUCCEED", "stepDelayMs": 10, "emit": False, "wait": True})
    created = amp.create_domain_association(
        appId="ddomain00000001", domainName="shop.example.test",
        subDomainSettings=[{"prefix": "www", "branchName": "main"}, {"prefix": "", "branchName": "main"},
                           {"prefix": "beta", "branchName": "develop"}])["domainAssociation"]
    assert created["domainStatus"] == "CREATING" and created["domainName"] == "shop.example.test"
    assert [s["verified"] for s in created["subDomains"]] == [False, False, False]
    assert created["subDomains"][0]["subDomainSetting"] == {"prefix": "www", "branchName": "main"}
    assert "CNAME" in created["subDomains"][0]["dnsRecord"]
    assert created["domainAssociationArn"].endswith(":apps/ddomain00000001/domains/shop.example.test")

    # The raw wire: GetDomainAssociation's path and shape.
    raw = requests.get(f"{emu_url}/apps/ddomain00000001/domains/shop.example.test", timeout=5)
    assert raw.status_code == 200 and raw.json()["domainAssociation"]["domainStatus"] == "CREATING"
    got = amp.get_domain_association(appId="ddomain00000001", domainName="shop.example.test")
    assert got["domainAssociation"] == created

    # Not served while being set up.
    site = f"{emu_url}/_sites/www.shop.example.test/"
    assert requests.get(site, timeout=5).status_code == 404
    ctl("/apps/ddomain00000001/domains/shop.example.test", {"domainStatus": "AVAILABLE", "verified": True})
    listed = amp.list_domain_associations(appId="ddomain00000001")["domainAssociations"]
    assert [d["domainStatus"] for d in listed] == ["AVAILABLE"]
    assert all(s["verified"] for s in listed[0]["subDomains"])
    for host, branch in [("www.shop.example.test", "main"), ("shop.example.test", "main"),
                         ("beta.shop.example.test", "develop")]:
        by_path = requests.get(f"{emu_url}/_sites/{host}/", timeout=5)
        by_host = requests.get(f"{emu_url}/", headers={"Host": host}, timeout=5)
        assert by_path.status_code == by_host.status_code == 200, host
        assert f"<h1>{branch}</h1>" in by_path.text and f"<h1>{branch}</h1>" in by_host.text, host
    # Amplify's own host still serves, in the same path form.
    assert requests.get(f"{emu_url}/_sites/main.ddomain00000001.amplifyapp.com/", timeout=5).status_code == 200
    assert requests.get(f"{emu_url}/_sites/www.unknown.example.test/", timeout=5).status_code == 404

    # Paging, errors as Amplify names them, the model's validation.
    for i in range(3):
        amp.create_domain_association(appId="ddomain00000001", domainName=f"extra{i}.example.test",
                                      subDomainSettings=[{"prefix": "", "branchName": "develop"}])
    first = amp.list_domain_associations(appId="ddomain00000001", maxResults=2)
    assert len(first["domainAssociations"]) == 2 and first["nextToken"]
    rest = amp.list_domain_associations(appId="ddomain00000001", maxResults=2, nextToken=first["nextToken"])
    assert len(rest["domainAssociations"]) == 2 and "nextToken" not in rest
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.get_domain_association(appId="ddomain00000001", domainName="nope.example.test")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.create_domain_association(appId="ddomain00000001", domainName="x.example.test",
                                      subDomainSettings=[{"prefix": "", "branchName": "no-such-branch"}])
    with pytest.raises(amp.exceptions.BadRequestException):
        amp.create_domain_association(appId="ddomain00000001", domainName="shop.example.test",
                                      subDomainSettings=[{"prefix": "", "branchName": "main"}])
    with pytest.raises(amp.exceptions.BadRequestException):
        amp.create_domain_association(appId="ddomain00000001", domainName="not a domain",
                                      subDomainSettings=[{"prefix": "", "branchName": "main"}])
    ctl("/apps/ddomain00000001/domains/shop.example.test", {"domainStatus": "SOON"}, status=400)
    ctl("/apps/ddomain00000001/domains/shop.example.test", {"verified": "yes"}, status=400)
    # Unverified again: no longer served.
    ctl("/apps/ddomain00000001/domains/shop.example.test", {"verified": False})
    assert requests.get(site, timeout=5).status_code == 404


# ----- manual deployments (CreateDeployment, upload, StartDeployment) -----

def site_zip(files):
    """A zip of {name: text}, as a team would upload its build output."""
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def manual_app(amp, name="smoke"):
    """An app with no repository, as CreateApp makes it, and one branch."""
    app = amp.create_app(name=name, platform="WEB")["app"]
    amp.create_branch(appId=app["appId"], branchName="smoke-1")
    return app["appId"]


def deploy(amp, app_id, body, branch="smoke-1"):
    created = amp.create_deployment(appId=app_id, branchName=branch)
    assert set(created) - {"ResponseMetadata"} == {"jobId", "fileUploadUrls", "zipUploadUrl"}
    assert created["fileUploadUrls"] == {}
    put = requests.put(created["zipUploadUrl"], data=body, timeout=5)
    assert put.status_code == 200 and put.headers["ETag"].strip('"') == __import__("hashlib").md5(body).hexdigest()
    return created["jobId"], amp.start_deployment(appId=app_id, branchName=branch, jobId=created["jobId"])["jobSummary"]


def test_the_metrics_answer_once_a_site_has_been_requested(ctl, emu_url):
    # As a new user: a site asked for (even before any deploy), then the metrics.
    ctl.app("dmetrics0000001")
    assert requests.get(f"{emu_url}/_sites/dmetrics0000001/main/", timeout=5).status_code == 404
    got = requests.get(f"{emu_url}/_emulator/metrics", timeout=5)
    assert got.status_code == 200, got.text
    [minute] = got.json()["minutes"]
    assert minute["appId"] == "dmetrics0000001" and minute["requests"] == 1 and minute["4xx"] == 1
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:00Z", minute["minute"])


def test_create_app_without_a_repository_makes_a_manually_deployed_app(amp, ctl):
    assert amp.create_app(name="bare")["app"]["repository"] == ""
    assert amp.create_app(name="linked", repository="https://github.com/acme/shop")["app"]["repository"] \
        == "https://github.com/acme/shop"
    # The control API's apps stay connected unless told otherwise.
    assert ctl("/apps", {"appId": "dlinked00000001", "name": "x"})["app"]["repository"]
    assert ctl("/apps", {"appId": "dbare0000000001", "name": "x", "repository": ""})["app"]["repository"] == ""


def test_the_control_apis_apps_are_on_the_local_github_and_getapp_says_so(amp, ctl, emu_url):
    """The GitHub emulator installs its App on every sentinel-local/*
    repository: each app the tests make is one, by its id; the smoke app (no
    repository) and an app given its own keep theirs. GetApp's answers pass
    the emulator's own check against botocore's model, and botocore's parser."""
    ctl("/apps", {"appId": "dgithub00000001", "name": "x"})
    ctl("/apps", {"appId": "dsmokelike00001", "name": "deploy-sentinel-smoke-dev", "platform": "WEB",
                  "repository": ""})
    ctl("/apps", {"appId": "dgiven000000001", "name": "y", "repository": "https://github.com/acme/shop"})
    assert amp.get_app(appId="dgithub00000001")["app"]["repository"] == "https://github.com/sentinel-local/dgithub00000001"
    assert amp.get_app(appId="dsmokelike00001")["app"]["repository"] == ""
    assert amp.get_app(appId="dgiven000000001")["app"]["repository"] == "https://github.com/acme/shop"
    calls = requests.get(f"{emu_url}/_emulator/calls", timeout=5).json()["calls"]
    assert [c["status"] for c in calls if c["operation"] == "GetApp"] == [200, 200, 200]


def test_a_manual_deployment_runs_emits_amplifys_events_and_serves_the_zip(amp, moto, emu_url):
    sqs, events = moto("sqs"), moto("events")
    url = sqs.create_queue(QueueName="manual-deploys")["QueueUrl"]
    events.put_rule(Name="manual-deploys", EventPattern=json.dumps(
        {"source": ["aws.amplify"], "detail-type": ["Amplify Deployment Status Change"]}))
    events.put_targets(Rule="manual-deploys",
                       Targets=[{"Id": "q", "Arn": "arn:aws:sqs:us-east-1:123456789012:manual-deploys"}])
    app_id = manual_app(amp)
    created = amp.create_deployment(appId=app_id, branchName="smoke-1")
    job = amp.get_job(appId=app_id, branchName="smoke-1", jobId=created["jobId"])["job"]
    assert (job["summary"]["status"], job["summary"]["jobType"], job["steps"]) == ("CREATED", "MANUAL", [])
    requests.put(created["zipUploadUrl"], data=site_zip(
        {"index.html": "<h1>smoke</h1>", "smoke-health.txt": "ok token-1", "docs/index.html": "docs"}),
        timeout=5).raise_for_status()
    started = amp.start_deployment(appId=app_id, branchName="smoke-1", jobId=created["jobId"])["jobSummary"]
    assert (started["jobId"], started["status"], started["jobType"]) == (created["jobId"], "PENDING", "MANUAL")
    done = wait_until(lambda: amp.get_job(appId=app_id, branchName="smoke-1", jobId=created["jobId"])["job"],
                      lambda j: j["summary"]["status"] in ("SUCCEED", "FAILED"))
    assert done["summary"]["status"] == "SUCCEED", done
    [step] = done["steps"]
    assert step["stepName"] == "DEPLOY" and step["status"] == "SUCCEED"
    assert "Deployment complete" in requests.get(step["logUrl"], timeout=5).text

    site = f"{emu_url}/_sites/{app_id}/smoke-1"
    assert requests.get(site + "/", timeout=5).text == "<h1>smoke</h1>"
    health = requests.get(site + "/smoke-health.txt", timeout=5)
    assert health.status_code == 200 and health.text == "ok token-1" and health.headers["content-type"].startswith("text/plain")
    assert requests.get(site + "/docs/", timeout=5).text == "docs"
    assert requests.get(site + "/nothing-here.txt", timeout=5).status_code == 404
    assert "x-deployed-commit" not in requests.get(site + "/", timeout=5).headers, "Amplify adds no such header"

    seen, deadline = [], time.time() + 15
    while len(seen) < 2 and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [e["detail"] for e in seen] == [
        {"appId": app_id, "branchName": "smoke-1", "jobId": created["jobId"], "jobStatus": s} for s in ("STARTED", "SUCCEED")]


def test_a_second_deployment_replaces_the_site_and_a_missing_file_answers_404(amp, emu_url):
    app_id = manual_app(amp)
    amp.create_branch(appId=app_id, branchName="other")
    for branch in ("smoke-1", "other"):
        amp.update_branch(appId=app_id, branchName=branch, enableAutoBuild=False)
    requests.post(f"{emu_url}/_emulator/apps/{app_id}/branches/smoke-1/behaviour", json={"stepDelayMs": 20},
                  timeout=5).raise_for_status()
    first, _ = deploy(amp, app_id, site_zip({"index.html": "v1", "smoke-health.txt": "token"}))
    wait_until(lambda: requests.get(f"{emu_url}/_sites/{app_id}/smoke-1/", timeout=5), lambda r: r.text == "v1")
    second, _ = deploy(amp, app_id, site_zip({"index.html": "v2"}))
    assert int(second) == int(first) + 1
    wait_until(lambda: requests.get(f"{emu_url}/_sites/{app_id}/smoke-1/", timeout=5), lambda r: r.text == "v2")
    assert requests.get(f"{emu_url}/_sites/{app_id}/smoke-1/smoke-health.txt", timeout=5).status_code == 404
    assert requests.get(f"{emu_url}/_sites/{app_id}/other/", timeout=5).status_code == 404, "another branch: nothing"


def test_an_upload_that_is_not_a_zip_fails_the_job_and_says_why(amp, emu_url):
    app_id = manual_app(amp)
    job_id, _ = deploy(amp, app_id, b"this is not a zip")
    job = wait_until(lambda: amp.get_job(appId=app_id, branchName="smoke-1", jobId=job_id)["job"],
                     lambda j: j["summary"]["status"] in ("SUCCEED", "FAILED"))
    assert job["summary"]["status"] == "FAILED"
    [step] = job["steps"]
    assert step["status"] == "FAILED" and "not a valid zip archive" in step["statusReason"]
    assert "!!! Error: The uploaded artifact is not a valid zip archive" in requests.get(step["logUrl"], timeout=5).text
    assert requests.get(f"{emu_url}/_sites/{app_id}/smoke-1/", timeout=5).status_code == 404, "nothing deployed"


def test_manual_deployments_are_refused_where_they_cannot_run(amp, ctl, emu_url):
    linked = amp.create_app(name="linked", repository="https://github.com/acme/shop")["app"]["appId"]
    amp.create_branch(appId=linked, branchName="main")
    with pytest.raises(amp.exceptions.BadRequestException, match="connected to the repository"):
        amp.create_deployment(appId=linked, branchName="main")
    app_id = manual_app(amp)
    with pytest.raises(amp.exceptions.BadRequestException, match="jobId is required"):
        amp.start_deployment(appId=app_id, branchName="smoke-1")
    with pytest.raises(amp.exceptions.BadRequestException, match="sourceUrl is not emulated"):
        amp.start_deployment(appId=app_id, branchName="smoke-1", sourceUrl="https://example.com/site.zip")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.start_deployment(appId=app_id, branchName="smoke-1", jobId="42")
    with pytest.raises(amp.exceptions.NotFoundException):
        amp.create_deployment(appId=app_id, branchName="no-such-branch")
    job_id, _ = deploy(amp, app_id, site_zip({"index.html": "x"}))
    with pytest.raises(amp.exceptions.BadRequestException, match="cannot be started"):
        amp.start_deployment(appId=app_id, branchName="smoke-1", jobId=job_id)
    # The upload URL is signed like S3's: tampered or unsigned, it is refused.
    url = amp.create_deployment(appId=app_id, branchName="smoke-1")["zipUploadUrl"]
    assert requests.put(url.replace("X-Amz-Signature=", "X-Amz-Signature=0"), data=b"x", timeout=5).status_code == 403
    assert requests.put(url.split("?")[0], data=b"x", timeout=5).status_code == 403
    assert requests.get(url, timeout=5).status_code == 405


def test_a_file_map_gets_one_upload_url_per_file(amp, emu_url):
    app_id = manual_app(amp)
    created = amp.create_deployment(appId=app_id, branchName="smoke-1",
                                    fileMap={"index.html": "0" * 32, "a/b.txt": "1" * 32})
    assert set(created["fileUploadUrls"]) == {"index.html", "a/b.txt"} and created["zipUploadUrl"] == ""
    requests.put(created["fileUploadUrls"]["index.html"], data=b"home", timeout=5).raise_for_status()
    amp.start_deployment(appId=app_id, branchName="smoke-1", jobId=created["jobId"])
    job = wait_until(lambda: amp.get_job(appId=app_id, branchName="smoke-1", jobId=created["jobId"])["job"],
                     lambda j: j["summary"]["status"] in ("SUCCEED", "FAILED"))
    assert job["summary"]["status"] == "FAILED" and "a/b.txt" in job["steps"][0]["statusReason"]


def test_the_aws_cli_creates_and_starts_a_deployment(amp, emu_url, tmp_path):
    aws = tool("aws")
    if not aws:
        pytest.skip("the AWS CLI is not installed in this venv (pip install awscli)")
    app_id = manual_app(amp)
    env = dict(os.environ, **DUMMY, AWS_CONFIG_FILE=str(tmp_path / "none"),
               AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"))
    base = [aws, "amplify", "--endpoint-url", emu_url, "--output", "json"]
    out = subprocess.run(base + ["create-deployment", "--app-id", app_id, "--branch-name", "smoke-1"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    requests.put(created["zipUploadUrl"], data=site_zip({"index.html": "cli"}), timeout=5).raise_for_status()
    out = subprocess.run(base + ["start-deployment", "--app-id", app_id, "--branch-name", "smoke-1",
                                 "--job-id", created["jobId"]], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["jobSummary"]["jobType"] == "MANUAL"
    wait_until(lambda: requests.get(f"{emu_url}/_sites/{app_id}/smoke-1/", timeout=5), lambda r: r.text == "cli")
