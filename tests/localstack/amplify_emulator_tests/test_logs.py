"""Logs: the log URL serves Amplify's format, failures' bang lines and status
reason, a given log, S3's refusals of a bad, missing or expired signature."""

import re
import time

import requests

from .fixtures import LOG_LINE


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
