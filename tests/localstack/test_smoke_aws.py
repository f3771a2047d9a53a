"""scripts/smoke-aws.py without AWS: the dry run prints the plan and calls
nothing, bad usage is refused before any call, and (with the local stack
up) the refusals that read the stack: an unknown stack, an app the stack does
not watch, an app with a repository. The full run against the local stack is
a step of `make test` (scripts/test.sh)."""

import importlib.util
import io
import os
import socket
import subprocess
import sys
import threading
import zipfile

import pytest

import localservers

SCRIPT = os.path.join(localservers.ROOT, "scripts", "smoke-aws.py")
SERVICES = ["CLOUDFORMATION", "AMPLIFY", "DYNAMODB", "SQS", "SNS", "STS"]


def load():
    spec = importlib.util.spec_from_file_location("smoke_aws", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Listener:
    """A port that counts the connections made to it (and answers none):
    every endpoint points here, so any AWS call the script makes is seen."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()


@pytest.fixture
def listener():
    got = Listener()
    yield got
    got.sock.close()


def run(args, listener, tmp_path, **env):
    """The script with every endpoint at the listener, no AWS config of this
    machine, and dummy credentials unless `env` says otherwise."""
    empty = tmp_path / "empty"
    empty.write_text("")
    full = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMOKE_"))}
    full.update(AWS_ENDPOINT_URL=listener.url, AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty),
                AWS_EC2_METADATA_DISABLED="true", AWS_MAX_ATTEMPTS="1", AWS_ACCESS_KEY_ID="test",
                AWS_SECRET_ACCESS_KEY="test", AWS_REGION="us-east-1")
    full.update({f"AWS_ENDPOINT_URL_{s}": listener.url for s in SERVICES})
    full.update(env)
    for k in [k for k, v in full.items() if v is None]:
        del full[k]
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True, env=full, timeout=60)


def test_the_dry_run_prints_the_plan_and_calls_nothing(listener, tmp_path):
    out = run(["--stack", "deploy-sentinel-dev", "--app", "d1smoke", "--dry-run"], listener, tmp_path)
    assert out.returncode == 0, out.stderr
    assert "no AWS call" in out.stdout and "deploy-sentinel-dev" in out.stdout and "d1smoke" in out.stdout
    for step in ["DescribeStacks", "SQS queue", "throwaway branch", "sentinel policy push", "good deploy",
                 "broken deploy", "would have rolled back", "delete what was created"]:
        assert step in out.stdout, step
    assert listener.connections == 0


def test_the_dry_run_needs_no_credentials_nor_an_app(listener, tmp_path):
    out = run(["--stack", "s", "--dry-run"], listener, tmp_path, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None)
    assert out.returncode == 0 and "<--app / SMOKE_APP>" in out.stdout
    assert listener.connections == 0


@pytest.mark.parametrize("args, env, says", [
    ([], {}, "no stack: pass --stack"),
    (["--stack", "s"], {}, "no smoke app: pass --app"),
    (["--stack", "s", "--app", "Not_An_App"], {}, "is not an Amplify app id"),
    (["--stack", "s", "--app", "d1smoke", "--profile", "nope"], {}, "no AWS profile 'nope'"),
    (["--stack", "s", "--app", "d1smoke"], {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None},
     "no AWS credentials"),
    (["--stack", "s", "--app", "d1smoke"], {"AWS_REGION": None, "AWS_DEFAULT_REGION": None}, "no region"),
])
def test_bad_usage_is_refused_before_any_call(listener, tmp_path, args, env, says):
    out = run(args + ["--sentinel", "/bin/false"], listener, tmp_path, **env)
    assert out.returncode == 2 and says in out.stderr, out.stdout + out.stderr
    assert listener.connections == 0


def test_branch_patterns_follow_the_functions_rule():
    smoke = load()
    assert smoke.branch_watched("*", "smoke-20260101-000000")
    assert smoke.branch_watched("", "smoke-1")
    assert smoke.branch_watched("main,smoke-*", "smoke-1")
    assert not smoke.branch_watched("main,release/*", "smoke-1")
    assert not smoke.branch_watched("*,!smoke-*", "smoke-1")
    assert smoke.branch_watched("*,!unwatched/*", "smoke-1")
    assert not smoke.branch_watched("smoke", "smoke-1"), "a pattern without * matches the whole name only"
    assert smoke.app_watched("d1,d2", "d2") and not smoke.app_watched("d1,d2", "d3") and smoke.app_watched("*", "d3")


def test_only_the_good_site_has_the_health_file_and_both_name_the_manual_commit():
    smoke = load()
    good = zipfile.ZipFile(io.BytesIO(smoke.site_zip("tok3n", with_health=True)))
    bad = zipfile.ZipFile(io.BytesIO(smoke.site_zip("tok3n", with_health=False)))
    assert sorted(good.namelist()) == ["index.html", "smoke-health.txt"] and bad.namelist() == ["index.html"]
    assert b"tok3n" in good.read("smoke-health.txt")
    for z in (good, bad):
        assert b'content="HEAD"' in z.read("index.html")
    policy = smoke.smoke_policy("tok3n")
    assert "enforcement: observe" in policy and "automatic: true" in policy and 'body_contains: "tok3n"' in policy


# With the local stack (make test, or make local-up then . .local/env): the
# refusals that need a stack. Nothing is created before them.

local_stack = pytest.mark.skipif(not os.environ.get("SENTINEL_TABLE") or not os.environ.get("SMOKE_APP"),
                                 reason="needs the local stack (. .local/env)")


def run_local(args):
    return subprocess.run([sys.executable, SCRIPT, "--sentinel", "/bin/false", "--max-wait", "5", *args],
                          capture_output=True, text=True, timeout=120)


@local_stack
def test_an_unknown_stack_is_named():
    out = run_local(["--stack", "deploy-sentinel-nope", "--app", os.environ["SMOKE_APP"]])
    assert out.returncode == 1 and "✗ read stack deploy-sentinel-nope" in out.stdout
    assert "no stack deploy-sentinel-nope in region" in out.stdout


@local_stack
def test_an_app_the_stack_does_not_watch_is_refused(amplify):
    app = amplify.create_app(name="not-watched")["app"]["appId"]
    out = run_local(["--stack", "deploy-sentinel-dev", "--app", app])
    assert out.returncode == 1 and f"app {app} is not in the stack's AmplifyAppIds" in out.stdout, out.stdout
    assert "subscribe" not in out.stdout and "create throwaway branch" not in out.stdout, "nothing was created"


@local_stack
def test_an_app_with_a_repository_is_refused(amplify):
    out = run_local(["--stack", "deploy-sentinel-dev", "--app", "dsentinel0001"])
    assert out.returncode == 1 and "is connected to https://github.com/" in out.stdout, out.stdout
    assert "create throwaway branch" not in out.stdout


def test_docs_iam_smoke_json_allows_every_call_the_smoke_makes():
    """Each `client.operation(` of the script (and `sentinel policy push`'s
    PutItem) is allowed by docs/iam/smoke.json, and every action it names
    exists in botocore's models: the policy a smoke role needs, kept true."""
    import json
    import re

    import botocore.session
    from botocore import xform_name

    clients = {"cfn": "cloudformation", "amplify": "amplify", "ddb": "dynamodb", "sqs": "sqs", "sns": "sns"}
    with open(SCRIPT) as f:
        source = f.read()
    calls = set(re.findall(r"\b(cfn|amplify|ddb|sqs|sns)\.(\w+)\(", source))
    calls |= {("amplify", name) for name in re.findall(r'get_paginator\("(\w+)"\)', source)}
    session = botocore.session.get_session()
    needed = {"dynamodb:PutItem"}  # sentinel policy push (shared/src/adapters/dynamodb/policies.rs)
    for client, method in calls:
        if method in ("get_paginator", "exceptions"):
            continue
        model = session.get_service_model(clients[client])
        [op] = [o for o in model.operation_names if xform_name(o) == method] or [None]
        assert op, f"{client}.{method} is no {clients[client]} operation"
        needed.add(f"{clients[client]}:{op}")  # IAM's prefix is the service's name for these five
    with open(os.path.join(localservers.ROOT, "docs", "iam", "smoke.json")) as f:
        policy = json.load(f)
    allowed = {a for s in policy["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert len(needed) >= 12, needed  # the regex found the calls
    assert needed - allowed == set(), f"docs/iam/smoke.json lacks {sorted(needed - allowed)}"
    for action in allowed:
        service, op = action.split(":")
        assert op in session.get_service_model(service).operation_names, action
