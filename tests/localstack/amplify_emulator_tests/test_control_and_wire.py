"""The control API itself, the AWS CLI, the bound host, timestamps on the
wire."""

import json
import os
import shutil
import socket
import subprocess
from datetime import datetime, timezone

import pytest
import requests

from .fixtures import COMMIT, DUMMY, tool


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
