"""One Amplify app, a branch per environment (docs/rollout.md): three stacks
side by side — dev watching `develop`, staging `staging`, prod `main` —
each with its own resources (provision.py from template.yaml), its own
function server (`cargo lambda watch`: the real binaries, with that stack's
configuration) and its own dispatcher, on one moto and one Amplify emulator.

One build per branch reaches all three stacks (each stack's Amplify rule
takes the app's events; the branch scope is the functions'). Each stack must
record, validate, check and reconcile its own branch only, and act on
Amplify (here: the prod policy stops `main`'s build) on its own branch only.

Needs the function binaries built (`make test` builds them first); skipped
when cargo-lambda or the binaries are missing."""

import json
import os
import shutil
import subprocess
import sys
import time

import boto3
import pytest
import requests

import localservers

ROOT = localservers.ROOT
APP = "d1shop0000envs"
STACKS = [("dev", "develop"), ("staging", "staging"), ("prod", "main")]
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/deploy-sentinel/target"))
COMMITS = {"develop": "d" * 40, "staging": "5" * 40, "main": "a" * 40}


def binaries_missing():
    cargo_lambda = localservers.executable("cargo-lambda") if shutil.which("cargo") else None
    wanted = ["build-event-handler", "validator", "health-checker", "cleanup", "sentinel"]
    missing = [b for b in wanted if not os.access(os.path.join(TARGET, "debug", b), os.X_OK)]
    return (not cargo_lambda) or missing


def read_env(path):
    env = {}
    with open(path) as f:
        for line in f:
            name, _, value = line.removeprefix("export ").strip().partition("=")
            env[name] = json.loads(value)
    return env


class Environment:
    """One stack: its resources, function server and dispatcher."""

    def __init__(self, name, branch, moto_url, amplify_url, log_dir):
        self.name, self.branch = name, branch
        out = os.path.join(log_dir, name)
        # CloudFormation is this test's own emulator's too (it serves both):
        # inherited from a running local stack's .local/env, the stacks would
        # be registered there, replacing that stack's `deploy-sentinel-dev`.
        aws = dict(localservers.DUMMY_AWS, AWS_ENDPOINT_URL=moto_url, AWS_ENDPOINT_URL_AMPLIFY=amplify_url,
                   AWS_ENDPOINT_URL_CLOUDFORMATION=amplify_url,
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
        params = [f"Environment={name}", f"AmplifyAppIds={APP}", f"WatchedBranches={branch}",
                  "Enforcement=enforce", f"SiteUrlTemplate={amplify_url}/_sites/{{host}}/"]
        subprocess.run([sys.executable, os.path.join(localservers.HERE, "provision.py"), "--out", out,
                        "--visibility-timeout", "2", "--template", os.path.join(ROOT, "template.yaml")]
                       + [a for p in params for a in ("--param", p)],
                       check=True, env=dict(os.environ, **aws), cwd=ROOT, capture_output=True)
        self.env = read_env(os.path.join(out, "stack.env"))
        # The real scope of such a stack: one app (the local stack watches
        # every app for its own tests).
        self.env["SENTINEL_APP_IDS"] = APP
        self.env.update(aws, CARGO_TARGET_DIR=TARGET)
        self.port = localservers.free_port()
        endpoint = f"http://127.0.0.1:{self.port}"
        self.endpoint = endpoint
        self.functions = localservers.Server(
            f"cargo lambda watch ({name})",
            [localservers.executable("cargo-lambda"), "lambda", "watch", "-A", "127.0.0.1", "-P", str(self.port),
             "--ignore-changes"],
            endpoint, os.path.join(log_dir, f"lambda-{name}.log"), env=dict(self.env), timeout=120)
        self.functions_log = os.path.join(log_dir, f"lambda-{name}.log")
        # The dispatcher has no port to poll: it runs until stopped (at most
        # ten minutes, by itself).
        self.dispatcher_log = open(os.path.join(log_dir, f"dispatcher-{name}.log"), "w")
        self.dispatcher = subprocess.Popen(
            [sys.executable, os.path.join(localservers.HERE, "dispatcher.py"), "--routes",
             os.path.join(out, "routes.json"), "--endpoint", endpoint, "--max-seconds", "600"],
            stdout=self.dispatcher_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=dict(os.environ, **self.env), start_new_session=True)
        self.dynamodb = boto3.client("dynamodb", endpoint_url=moto_url, region_name="us-east-1")

    def deployments(self):
        """(branch, job, item) of every deployment record in this stack's table."""
        items = self.dynamodb.scan(TableName=self.env["SENTINEL_TABLE"])["Items"]
        return [(i["branchName"]["S"], i["jobId"]["S"], i) for i in items
                if i.get("SK", {}).get("S", "").startswith("JOB#")]

    def invoke(self, function, payload):
        r = requests.post(f"{self.endpoint}/2015-03-31/functions/{function}/invocations", json=payload, timeout=120)
        r.raise_for_status()
        return r.json()

    def sentinel(self, *args):
        return subprocess.run([os.path.join(TARGET, "debug", "sentinel"), *args], env=dict(os.environ, **self.env),
                              capture_output=True, text=True, timeout=60)

    def stop(self):
        self.dispatcher.terminate()
        try:
            self.dispatcher.wait(10)
        except subprocess.TimeoutExpired:
            self.dispatcher.kill()
        self.dispatcher_log.close()
        self.functions.stop()


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    if binaries_missing():
        pytest.skip("the function binaries or cargo-lambda are missing (make test builds them)")
    log_dir = str(tmp_path_factory.mktemp("environments"))
    moto, moto_url = localservers.moto(log_dir)
    amplify, amplify_url = localservers.amplify_emulator(log_dir, moto_url)
    stacks = []
    try:
        for name, branch in STACKS:
            stacks.append(Environment(name, branch, moto_url, amplify_url, log_dir))
        yield amplify_url, stacks
    finally:
        for s in stacks:
            s.stop()
        amplify.stop()
        moto.stop()


def control(amplify_url, path, body):
    r = requests.post(f"{amplify_url}/_emulator{path}", json=body, timeout=30)
    assert r.ok, r.text
    return r.json()


def eventually(what, check, seconds=90):
    deadline = time.time() + seconds
    while True:
        got = check()
        if got:
            return got
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_three_stacks_on_one_app_each_keep_to_their_own_branch(three):
    amplify_url, stacks = three
    control(amplify_url, "/apps", {"appId": APP, "name": "shop", "platform": "WEB_COMPUTE"})
    for _, branch in STACKS:
        control(amplify_url, f"/apps/{APP}/branches",
                {"branchName": branch, "stage": "PRODUCTION",
                 "headCommit": {"commitId": COMMITS[branch], "commitMessage": "feat"}})
    prod = stacks[2]
    # prod's policy requires a variable main lacks: prod stops main's build.
    policy = os.path.join(os.path.dirname(prod.functions_log), "prod-policy.yaml")
    with open(policy, "w") as f:
        f.write("enforcement: enforce\nrequired:\n  all: [DATABASE_URL]\n"
                "health:\n  healthy_after: 1\n  round_interval_ms: 200\n")
    pushed = prod.sentinel("policy", "push", policy, "--app", APP, "--branch", "main")
    assert pushed.returncode == 0, pushed.stderr

    jobs = {}
    for _, branch in STACKS:
        if branch == "main":
            # Held RUNNING, so that prod's validator finds it running.
            out = control(amplify_url, f"/apps/{APP}/branches/main/builds",
                          {"commitId": COMMITS[branch], "commitMessage": "feat", "mode": "manual", "emit": False})
            jobs[branch] = out["jobSummary"]["jobId"]
            control(amplify_url, f"/apps/{APP}/branches/main/jobs/{jobs[branch]}/advance",
                    {"to": "RUNNING", "emit": True})
            continue
        out = control(amplify_url, f"/apps/{APP}/branches/{branch}/builds",
                      {"commitId": COMMITS[branch], "commitMessage": "feat", "outcome": "SUCCEED",
                       "mode": "auto", "emit": True, "stepDelayMs": 500})
        jobs[branch] = out["jobSummary"]["jobId"]

    # Each stack records its own branch's job, validated; develop and
    # staging are checked healthy after their deploy; main is stopped.
    def settled(stack):
        own = [i for b, j, i in stack.deployments() if b == stack.branch and j == jobs[stack.branch]]
        if not own or "validation" not in own[0]:
            return None
        if stack.branch == "main":
            return own[0] if own[0]["status"]["S"] == "CANCELLED" else None
        return own[0] if "health" in own[0] else None

    for stack in stacks:
        eventually(f"{stack.name}'s record of {stack.branch}", lambda: settled(stack))

    # The scheduled health check and the daily reconciliation, on each stack.
    for stack in stacks:
        scheduled = {"version": "0", "id": f"sched-{stack.name}", "source": "aws.events",
                     "detail-type": "Scheduled Event", "detail": {}}
        stack.invoke("health-checker", scheduled)
        stack.invoke("cleanup", scheduled)
    time.sleep(3)

    for stack in stacks:
        branches = sorted({b for b, _, _ in stack.deployments()})
        assert branches == [stack.branch], f"{stack.name} recorded {branches}"
        # It heard the other branches' events, and skipped them.
        with open(stack.functions_log) as f:
            skips = [line for line in f if "outside the watch scope" in line]
        for _, other in STACKS:
            if other != stack.branch:
                assert any(other in line for line in skips), f"{stack.name} never skipped {other}"

    # Only prod acted on Amplify, and only on main.
    calls = requests.get(f"{amplify_url}/_emulator/calls", timeout=10).json()["calls"]
    acting = sorted({(c["operation"], c["params"].get("branchName")) for c in calls
                     if c["operation"] in ("StopJob", "UpdateBranch", "StartJob")})
    assert acting == [("StopJob", "main")], acting
