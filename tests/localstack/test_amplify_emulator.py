"""The Amplify emulator through boto3 (botocore's model, the same one the AWS
CLI uses) and through the AWS CLI itself."""

import json
import os
import subprocess
import time
from datetime import datetime

import pytest
import requests

COMMIT = "1234567890abcdef1234567890abcdef12345678"


def make_app(amplify, name="shop"):
    app = amplify.create_app(name=name, platform="WEB_COMPUTE", environmentVariables={"NODE_ENV": "production"})["app"]
    amplify.create_branch(appId=app["appId"], branchName="main", stage="PRODUCTION")
    return app["appId"]


def test_create_get_list_and_delete_apps(amplify):
    app_id = make_app(amplify)
    app = amplify.get_app(appId=app_id)["app"]
    assert app["defaultDomain"] == f"{app_id}.amplifyapp.com"
    assert isinstance(app["createTime"], datetime)
    assert app["appArn"].endswith(f":apps/{app_id}")
    listed = [a["appId"] for a in amplify.get_paginator("list_apps").paginate(PaginationConfig={"PageSize": 1}).build_full_result()["apps"]]
    assert app_id in listed
    amplify.delete_app(appId=app_id)
    with pytest.raises(amplify.exceptions.NotFoundException):
        amplify.get_app(appId=app_id)


def test_branches_round_trip_a_slash_and_update(amplify):
    app_id = make_app(amplify)
    amplify.create_branch(appId=app_id, branchName="feature/login.v2")
    branch = amplify.get_branch(appId=app_id, branchName="feature/login.v2")["branch"]
    assert branch["displayName"] == "feature-login-v2"
    assert branch["enableAutoBuild"] is True
    amplify.update_branch(appId=app_id, branchName="feature/login.v2", enableAutoBuild=False)
    assert amplify.get_branch(appId=app_id, branchName="feature/login.v2")["branch"]["enableAutoBuild"] is False
    names = {b["branchName"] for b in amplify.list_branches(appId=app_id)["branches"]}
    assert names == {"main", "feature/login.v2"}
    amplify.delete_branch(appId=app_id, branchName="feature/login.v2")
    with pytest.raises(amplify.exceptions.NotFoundException):
        amplify.get_branch(appId=app_id, branchName="feature/login.v2")


def test_bad_input_is_a_bad_request(amplify):
    with pytest.raises(amplify.exceptions.BadRequestException):
        amplify.get_app(appId="Not_An_App")
    app_id = make_app(amplify)
    with pytest.raises(amplify.exceptions.BadRequestException):
        amplify.get_job(appId=app_id, branchName="main", jobId="abc")
    with pytest.raises(amplify.exceptions.BadRequestException):
        amplify.start_job(appId=app_id, branchName="main", jobType="RETRY")


def test_a_played_build_runs_to_its_outcome(amplify, control, app_id):
    control("/apps", {"appId": app_id, "name": "played"})
    control(f"/apps/{app_id}/branches", {"branchName": "main", "headCommit": {"commitId": COMMIT}})
    job = control(f"/apps/{app_id}/branches/main/builds",
                  {"outcome": "FAILED", "mode": "auto", "emit": False, "stepDelayMs": 50})["jobSummary"]
    deadline = time.time() + 10
    while time.time() < deadline:
        got = amplify.get_job(appId=app_id, branchName="main", jobId=job["jobId"])["job"]
        if got["summary"]["status"] == "FAILED":
            break
        time.sleep(0.05)
    summary, steps = got["summary"], got["steps"]
    assert summary["status"] == "FAILED"
    assert summary["startTime"] <= summary["endTime"]
    assert steps[0]["statusReason"]
    log = requests.get(steps[0]["logUrl"], timeout=5).text
    assert "!!! Build failed" in log
    assert log.splitlines()[0].endswith("[INFO]: # Starting phase: preBuild")
    assert requests.get(steps[0]["logUrl"].replace("Signature=", "Signature=0"), timeout=5).status_code == 403


def test_manual_advance_generates_the_real_event_shape(control, app_id):
    control("/apps", {"appId": app_id, "name": "manual"})
    control(f"/apps/{app_id}/branches", {"branchName": "main"})
    job = control(f"/apps/{app_id}/branches/main/builds", {"mode": "manual", "emit": False})["jobSummary"]
    assert job["status"] == "PENDING"
    event = control(f"/apps/{app_id}/branches/main/jobs/{job['jobId']}/advance", {"to": "RUNNING"})["events"][0]
    assert event["source"] == "aws.amplify"
    assert event["detail-type"] == "Amplify Deployment Status Change"
    assert event["detail"] == {"appId": app_id, "branchName": "main", "jobId": job["jobId"], "jobStatus": "STARTED"}
    assert event["resources"][0].endswith(f"/jobs/{int(job['jobId']):010d}")


def test_retry_rebuilds_the_old_commit_and_stop_cancels(amplify, control, app_id):
    control("/apps", {"appId": app_id, "name": "retry"})
    control(f"/apps/{app_id}/branches", {"branchName": "main", "headCommit": {"commitId": COMMIT}})
    first = control(f"/apps/{app_id}/branches/main/builds", {"mode": "manual", "emit": False})["jobSummary"]
    control(f"/apps/{app_id}/branches/main/push", {"commitId": "f" * 40})
    retry = amplify.start_job(appId=app_id, branchName="main", jobType="RETRY", jobId=first["jobId"])["jobSummary"]
    assert retry["commitId"] == COMMIT and retry["jobType"] == "RETRY"
    stopped = amplify.stop_job(appId=app_id, branchName="main", jobId=retry["jobId"])["jobSummary"]
    assert stopped["status"] == "CANCELLED"
    jobs = amplify.list_jobs(appId=app_id, branchName="main")["jobSummaries"]
    assert [j["jobId"] for j in jobs] == sorted((j["jobId"] for j in jobs), key=int, reverse=True)


def test_emitted_events_reach_a_queue_through_eventbridge(aws, control, app_id):
    sqs, events = aws("sqs"), aws("events")
    name = f"emu-{app_id}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["aws.amplify"], "detail": {"appId": [app_id]}}))
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:123456789012:{name}"}])
    control("/apps", {"appId": app_id, "name": "emit"})
    control(f"/apps/{app_id}/branches", {"branchName": "main"})
    control(f"/apps/{app_id}/branches/main/builds", {"outcome": "SUCCEED", "emit": True, "stepDelayMs": 20})
    seen, deadline = [], time.time() + 15
    while len(seen) < 2 and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    assert [e["detail"]["jobStatus"] for e in seen] == ["STARTED", "SUCCEED"]
    assert all(e["detail"]["jobId"] == "1" for e in seen)
    assert seen[0]["resources"][0].endswith("/jobs/0000000001")


def test_the_site_reports_its_commit_and_follows_overrides(amplify_url, control, app_id):
    control("/apps", {"appId": app_id, "name": "site"})
    control(f"/apps/{app_id}/branches", {"branchName": "release/1.2"})
    site = f"{amplify_url}/_sites/{app_id}/release-1-2"
    assert requests.get(site + "/", timeout=5).status_code == 404
    job = control(f"/apps/{app_id}/branches/release%2F1.2/builds", {"mode": "manual", "emit": False, "commitId": COMMIT})["jobSummary"]
    control(f"/apps/{app_id}/branches/release%2F1.2/jobs/{job['jobId']}/advance", {"to": "RUNNING"})
    control(f"/apps/{app_id}/branches/release%2F1.2/jobs/{job['jobId']}/advance", {"to": "SUCCEED"})
    health = requests.get(site + "/api/health", timeout=5)
    assert health.json()["commit"] == COMMIT and health.headers["x-deployed-commit"] == COMMIT
    by_host = requests.get(f"{amplify_url}/", headers={"Host": f"release-1-2.{app_id}.amplifyapp.com"}, timeout=5)
    assert f'content="{COMMIT}"' in by_host.text
    control(f"/apps/{app_id}/branches/release%2F1.2/site", {"status": 503})
    assert requests.get(site + "/api/health", timeout=5).status_code == 503


def test_the_aws_cli_reads_a_job(amplify_url, control, app_id):
    control("/apps", {"appId": app_id, "name": "cli"})
    control(f"/apps/{app_id}/branches", {"branchName": "main", "headCommit": {"commitId": COMMIT}})
    job = control(f"/apps/{app_id}/branches/main/builds", {"mode": "manual", "emit": False})["jobSummary"]
    aws = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".venv", "bin", "aws")
    out = subprocess.run([aws, "amplify", "get-job", "--endpoint-url", amplify_url, "--app-id", app_id,
                          "--branch-name", "main", "--job-id", job["jobId"], "--output", "json"],
                         capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout)["job"]["summary"]["commitId"] == COMMIT
    missing = subprocess.run([aws, "amplify", "get-job", "--endpoint-url", amplify_url, "--app-id", app_id,
                              "--branch-name", "main", "--job-id", "999"], capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "NotFoundException" in missing.stderr
