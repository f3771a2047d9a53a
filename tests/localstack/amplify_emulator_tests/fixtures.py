"""The servers these tests start (moto and the emulator, on free ports, per
module), their clients, the control API, and what the tests share."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time

import boto3
import pytest
import requests
from botocore.config import Config

# tests/localstack, where amplify_emulator.py is.
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
