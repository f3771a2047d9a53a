"""Jobs: StartJob's types, StopJob through CANCELLING, lists newest first,
played and awaited builds, Amplify's event shape, delivery through moto's
EventBridge, pushes and auto-build."""

import json
import re
import time
import uuid

import pytest

from .fixtures import COMMIT, OTHER, wait_until


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
