"""Manual deployments (CreateDeployment, upload, StartDeployment) and apps
without a repository."""

import json
import os
import subprocess
import time

import pytest
import requests

from .fixtures import DUMMY, tool, wait_until


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
