"""The deploy pipeline: every action pinned by commit; every job that
assumes an AWS role is deploy.yml's (or smoke.yml's, with its own role), in
a GitHub environment; prod
executes only the change set its reviewers saw (scripts/prod-changeset.py,
run here against stand-ins for `sam` and `aws`)."""

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib

import pytest
import yaml

import localservers

ROOT = localservers.ROOT
WORKFLOWS = os.path.join(ROOT, ".github", "workflows")
ACTIONS = os.path.join(ROOT, ".github", "actions")
SCRIPT = os.path.join(ROOT, "scripts", "prod-changeset.py")
# owner/repo[/path]@<40 hex> # <release>
PINNED = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+(/[A-Za-z0-9._/-]+)?@[0-9a-f]{40}")
COMMENTED = re.compile(r"uses: (\S+) # (v\d+(\.\d+)*)$")


def files():
    """Each workflow and local action: (path, its text, its YAML)."""
    paths = [os.path.join(WORKFLOWS, n) for n in sorted(os.listdir(WORKFLOWS))]
    paths += [os.path.join(ACTIONS, n, "action.yml") for n in sorted(os.listdir(ACTIONS))]
    for path in paths:
        with open(path) as f:
            text = f.read()
        yield os.path.relpath(path, ROOT), text, yaml.safe_load(text)


def uses(doc):
    """Every `uses:` of a workflow (steps and reusable-workflow jobs) or of
    a composite action."""
    for job in doc.get("jobs", {}).values():
        if "uses" in job:
            yield job["uses"]
        for step in job.get("steps", []):
            if "uses" in step:
                yield step["uses"]
    for step in doc.get("runs", {}).get("steps", []):
        if "uses" in step:
            yield step["uses"]


def pinned(ref):
    return ref.startswith("./") or bool(PINNED.fullmatch(ref))


def test_the_pin_check_can_say_no():
    assert pinned("actions/checkout@11d5960a326750d5838078e36cf38b85af677262")
    assert pinned("./.github/actions/aws-credentials")
    for loose in ["actions/checkout@v4", "dtolnay/rust-toolchain@stable", "actions/checkout@11d5960a",
                  "actions/checkout@11D5960A326750D5838078E36CF38B85AF677262", "docker://alpine:3",
                  "acme/shop/.github/workflows/deploy.yml@main"]:
        assert not pinned(loose), loose


def test_every_action_is_pinned_by_commit_with_its_release_named():
    seen = {}
    for path, text, doc in files():
        for ref in uses(doc):
            assert pinned(ref), f"{path}: {ref} is not pinned by a 40-hex commit"
            if ref.startswith("./"):
                assert os.path.exists(os.path.join(ROOT, ref, "action.yml")), f"{path}: no {ref}"
                continue
            [line] = {l.strip().removeprefix("- ") for l in text.splitlines() if f"uses: {ref}" in l}
            m = COMMENTED.fullmatch(line)
            assert m, f"{path}: `{line}` names no release (uses: … # vX.Y.Z)"
            seen.setdefault(ref, set()).add(m.group(2))
    # One commit per action everywhere, one release per commit.
    actions = {}
    for ref, releases in seen.items():
        assert len(releases) == 1, f"{ref} is called {releases}"
        actions.setdefault(ref.split("@")[0], set()).add(ref)
    assert {a: r for a, r in actions.items() if len(r) > 1} == {}


def deploy_flow():
    with open(os.path.join(WORKFLOWS, "deploy.yml")) as f:
        return yaml.safe_load(f)


def runs(job):
    return "\n".join(s.get("run", "") for s in job.get("steps", []))


# The workflows whose jobs may assume an AWS role, and with which secret.
# deploy.yml deploys (the bootstrap's deploy and plan roles trust its
# job_workflow_ref only); smoke.yml runs `make smoke-aws` with a role of its
# own (docs/iam/smoke.json) that trusts smoke.yml's job_workflow_ref only, so
# neither workflow can take the other's role. Any other workflow gets none.
ROLE_SECRETS = {".github/workflows/deploy.yml": "${{ secrets.AWS_DEPLOY_ROLE_ARN }}",
                ".github/workflows/smoke.yml": "${{ secrets.AWS_SMOKE_ROLE_ARN }}"}


def test_only_deploy_and_smoke_jobs_in_an_environment_assume_a_role():
    """A role trusts one workflow's job_workflow_ref: a job of a reusable
    workflow would carry that workflow's, and a job without an environment
    has no environment in its sub."""
    for path, text, doc in files():
        assert "workflow_call" not in (doc.get(True) or {}), f"{path}: no reusable workflow deploys"
        for name, job in doc.get("jobs", {}).items():
            wants_token = (job.get("permissions") or {}).get("id-token") == "write"
            if path not in ROLE_SECRETS:
                assert not wants_token, f"{path} {name}"
                continue
            assert "uses" not in job, f"{name} calls a reusable workflow"
            credentials = [s for s in job.get("steps", []) if s.get("uses") == "./.github/actions/aws-credentials"]
            assert bool(credentials) == wants_token, name
            if wants_token:
                assert credentials[0]["with"]["role-to-assume"] == ROLE_SECRETS[path], (path, name)
                if path == ".github/workflows/deploy.yml":
                    assert job["environment"] in {"dev", "staging", "prod-plan", "prod"}, name
                else:  # the environment the dispatch names, one of the deploy environments, never prod-plan
                    assert job["environment"] == "${{ inputs.environment }}", name
                    assert set(doc[True]["workflow_dispatch"]["inputs"]["environment"]["options"]) <= {
                        "dev", "staging", "prod"}
        assert (doc.get("permissions") or {}).get("id-token") is None, f"{path}: id-token per job only"


def test_the_smoke_workflow_only_runs_the_smoke():
    """smoke.yml is dispatched by hand (or a scheduler's dispatch) and runs
    `make smoke-aws`: no deploy, no change set, nothing else with the role."""
    with open(os.path.join(WORKFLOWS, "smoke.yml")) as f:
        doc = yaml.safe_load(f)
    assert set(doc[True]) == {"workflow_dispatch"}
    assert set(doc[True]["workflow_dispatch"]["inputs"]) == {"environment", "stack", "app"}
    [job] = doc["jobs"].values()
    steps = job["steps"]
    at = [i for i, s in enumerate(steps) if s.get("uses") == "./.github/actions/aws-credentials"][0]
    after = [s.get("run", "") for s in steps[at + 1:]]
    assert len(after) == 1 and after[0].startswith("make smoke-aws "), after
    assert "sam " not in runs(job) and "changeset" not in runs(job).lower()


def test_dev_then_staging_then_prods_change_set_then_its_review():
    jobs = deploy_flow()["jobs"]
    assert jobs["deploy-dev"]["needs"] == "build"
    assert jobs["deploy-staging"]["needs"] == "deploy-dev"
    assert jobs["prod-changeset"]["needs"] == "deploy-staging"
    assert jobs["deploy-prod"]["needs"] == "prod-changeset"
    for name, env in [("deploy-dev", "dev"), ("deploy-staging", "staging")]:
        assert jobs[name]["environment"] == env
        assert f"sam deploy --config-env {env}" in runs(jobs[name])


def test_prod_executes_only_the_reviewed_change_set():
    jobs = deploy_flow()["jobs"]
    in_prod = [n for n, j in jobs.items() if j.get("environment") == "prod"]
    assert in_prod == ["deploy-prod"], "only the reviewed job holds the prod role"
    plan, execute = jobs["prod-changeset"], jobs["deploy-prod"]
    assert plan["environment"] == "prod-plan"
    # Its other `run:` unpacks the build (test_artifact_modes.py).
    [planning] = [s for s in plan["steps"] if s.get("id") == "plan"]
    assert planning["run"].strip() == "python3 scripts/prod-changeset.py plan prod"
    assert "sam deploy" not in runs(plan)
    assert plan["outputs"] == {k: f"${{{{ steps.plan.outputs.{k} }}}}" for k in ["changes", "change-set", "stack", "digest"]}
    assert execute["if"] == "needs.prod-changeset.outputs.changes == 'true'"
    [step] = [s for s in execute["steps"] if "run" in s]
    assert step["run"].strip() == "python3 scripts/prod-changeset.py execute prod"
    assert step["env"] == {"CHANGE_SET": "${{ needs.prod-changeset.outputs.change-set }}",
                           "STACK_MARKER": "${{ needs.prod-changeset.outputs.stack }}",
                           "DIGEST": "${{ needs.prod-changeset.outputs.digest }}"}
    assert "sam " not in runs(execute) and "download-artifact" not in json.dumps(execute["steps"])
    # Nothing anywhere skips prod's confirmation or deploys prod directly.
    for path, text, _ in files():
        assert "--no-confirm-changeset" not in text, path
        assert not re.search(r"sam deploy[^\n]*--config-env\W+prod", text), path
    with open(SCRIPT) as f:
        script = f.read()
    assert '"sam", "deploy", "--config-env", env, "--no-execute-changeset"' in script
    with open(os.path.join(ROOT, "samconfig.toml"), "rb") as f:
        assert tomllib.load(f)["prod"]["deploy"]["parameters"]["confirm_changeset"] is True


# scripts/prod-changeset.py against stand-ins

STACK = "deploy-sentinel-prod"
STACK_ID = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{STACK}/5f0c3b70-0000-4000-8000-000000000001"
ARN = "arn:aws:cloudformation:us-east-1:123456789012:changeSet/samcli-deploy1767225600/7d2a4c1e-0000-4000-8000-000000000002"
CHANGE_SET = {
    "ChangeSetName": "samcli-deploy1767225600", "ChangeSetId": ARN, "StackId": STACK_ID, "StackName": STACK,
    "Status": "CREATE_COMPLETE", "ExecutionStatus": "AVAILABLE", "CreationTime": "2026-01-01T00:00:00Z",
    "Capabilities": ["CAPABILITY_IAM"], "Parameters": [{"ParameterKey": "Environment", "ParameterValue": "prod"}],
    "Changes": [{"Type": "Resource", "ResourceChange": {
        "Action": "Modify", "LogicalResourceId": "IngestFunction", "ResourceType": "AWS::Lambda::Function",
        "Replacement": "False", "Details": [{"Target": {"Attribute": "Properties", "Name": "Code"}}]}}],
}
STACK_STATE = {"StackId": STACK_ID, "StackName": STACK, "StackStatus": "UPDATE_COMPLETE",
               "CreationTime": "2025-06-01T00:00:00Z", "LastUpdatedTime": "2025-12-01T00:00:00Z"}
CREATED = f"Uploading ...\n\nChangeset created successfully. {ARN}\n\n"


@pytest.fixture
def stand_ins(tmp_path):
    """`sam` and `aws` first on PATH, answering from state.json and logging
    each call; GITHUB_OUTPUT and GITHUB_STEP_SUMMARY in tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    state, log = tmp_path / "state.json", tmp_path / "calls.log"
    python = shutil.which("python3")
    (bin_dir / "sam").write_text(f"""#!{python}
import json, sys
state = json.load(open({str(state)!r}))
open({str(log)!r}, "a").write(json.dumps(["sam"] + sys.argv[1:]) + "\\n")
sys.stdout.write(state["sam_output"])
sys.exit(state.get("sam_rc", 0))
""")
    (bin_dir / "aws").write_text(f"""#!{python}
import json, sys
state = json.load(open({str(state)!r}))
args = sys.argv[1:]
open({str(log)!r}, "a").write(json.dumps(["aws"] + args) + "\\n")
op = args[1]
def arg(name):
    return args[args.index(name) + 1]
if op == "describe-change-set":
    cs = state["change_sets"].get(arg("--change-set-name"))
    if cs is None:
        sys.stderr.write("ChangeSetNotFound"); sys.exit(254)
    print(json.dumps(cs))
elif op == "describe-stacks":
    print(json.dumps({{"Stacks": [state["stack"]]}}))
elif op == "execute-change-set":
    pass
elif op == "wait":
    sys.exit(state.get("wait_rc", 0))
elif op == "describe-stack-events":
    print(json.dumps({{"StackEvents": [{{"LogicalResourceId": "IngestFunction", "ResourceStatus": "UPDATE_FAILED"}}]}}))
else:
    sys.exit(f"unexpected: {{args}}")
""")
    for name in ("sam", "aws"):
        (bin_dir / name).chmod(0o755)

    class World:
        def __init__(self):
            self.state = json.loads(json.dumps(
                {"sam_output": CREATED, "change_sets": {ARN: CHANGE_SET}, "stack": STACK_STATE}))

        def run(self, *args, **env):
            state.write_text(json.dumps(self.state))
            for f in ("out", "summary"):
                (tmp_path / f).write_text("")
            # Should a real `aws` be reached after all, it fails at once.
            full = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}",
                        AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_MAX_ATTEMPTS="1",
                        GITHUB_OUTPUT=str(tmp_path / "out"), GITHUB_STEP_SUMMARY=str(tmp_path / "summary"), **env)
            for k in ("CHANGE_SET", "STACK_MARKER", "DIGEST"):
                if k not in env:
                    full.pop(k, None)
            if log.exists():
                log.unlink()
            # This interpreter, not `python3` on PATH: a pyenv shim would put
            # its own bin (and its `aws`) first.
            return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                                  env=full, timeout=60)

        def outputs(self):
            return dict(line.split("=", 1) for line in (tmp_path / "out").read_text().splitlines())

        def summary(self):
            return (tmp_path / "summary").read_text()

        def calls(self):
            return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

        def plan(self):
            out = self.run("plan", "prod")
            assert out.returncode == 0, out.stdout + out.stderr
            got = self.outputs()
            return {"CHANGE_SET": got["change-set"], "STACK_MARKER": got["stack"], "DIGEST": got["digest"]}

    return World()


def test_plan_creates_the_change_set_and_shows_it_without_executing(stand_ins):
    out = stand_ins.run("plan", "prod")
    assert out.returncode == 0, out.stdout + out.stderr
    got = stand_ins.outputs()
    assert got["changes"] == "true" and got["change-set"] == ARN
    assert got["stack"] == f"{STACK_ID}|UPDATE_COMPLETE|2025-12-01T00:00:00Z"
    assert re.fullmatch(r"[0-9a-f]{64}", got["digest"])
    calls = stand_ins.calls()
    assert calls[0] == ["sam", "deploy", "--config-env", "prod", "--no-execute-changeset"]
    assert not [c for c in calls if "execute-change-set" in c]
    summary = stand_ins.summary()
    assert ARN in summary and got["digest"] in summary
    assert "| Modify | IngestFunction | AWS::Lambda::Function | False | Code |" in summary


def test_plan_without_changes_leaves_nothing_to_execute(stand_ins):
    stand_ins.state["sam_output"] = f"No changes to deploy. Stack {STACK} is up to date\n"
    out = stand_ins.run("plan", "prod")
    assert out.returncode == 0, out.stderr
    assert stand_ins.outputs() == {"changes": "false"}


@pytest.mark.parametrize("sam_output, sam_rc", [
    ("Error: something else\n", 0),
    (CREATED, 1),
    ("Changeset created successfully. arn:aws:cloudformation:us-east-1:123456789012:stack/x/y\n", 0),
])
def test_plan_fails_unless_sam_made_a_change_set_or_had_nothing_to_do(stand_ins, sam_output, sam_rc):
    stand_ins.state.update(sam_output=sam_output, sam_rc=sam_rc)
    out = stand_ins.run("plan", "prod")
    assert out.returncode == 1 and "::error::" in out.stdout
    assert stand_ins.outputs() == {}


def test_execute_runs_the_reviewed_change_set_and_waits(stand_ins):
    reviewed = stand_ins.plan()
    out = stand_ins.run("execute", "prod", **reviewed)
    assert out.returncode == 0, out.stdout + out.stderr
    acting = [c for c in stand_ins.calls() if c[2] in ("execute-change-set", "wait")]
    assert acting == [["aws", "cloudformation", "execute-change-set", "--change-set-name", ARN, "--output", "json"],
                      ["aws", "cloudformation", "wait", "stack-update-complete", "--stack-name", STACK_ID]]
    assert not [c for c in stand_ins.calls() if c[0] == "sam"]


def test_a_first_deploy_waits_for_the_stacks_creation(stand_ins):
    stand_ins.state["stack"] = dict(STACK_STATE, StackStatus="REVIEW_IN_PROGRESS", LastUpdatedTime=None)
    out = stand_ins.run("execute", "prod", **stand_ins.plan())
    assert out.returncode == 0, out.stdout + out.stderr
    assert ["aws", "cloudformation", "wait", "stack-create-complete", "--stack-name", STACK_ID] in stand_ins.calls()


@pytest.mark.parametrize("tamper, says", [
    (lambda s: s["change_sets"][ARN].update(ExecutionStatus="OBSOLETE"), "OBSOLETE"),
    (lambda s: s["change_sets"][ARN].update(ExecutionStatus="EXECUTE_COMPLETE"), "EXECUTE_COMPLETE"),
    (lambda s: s["stack"].update(LastUpdatedTime="2026-01-02T00:00:00Z"), "the stack changed"),
    (lambda s: s["stack"].update(StackStatus="UPDATE_ROLLBACK_COMPLETE"), "the stack changed"),
    (lambda s: s["change_sets"][ARN]["Changes"].append({"Type": "Resource", "ResourceChange": {
        "Action": "Remove", "LogicalResourceId": "DeploymentsTable"}}), "digest differs"),
    (lambda s: s["change_sets"][ARN].update(StackName="deploy-sentinel-staging"), "not 'deploy-sentinel-prod'"),
    (lambda s: s["change_sets"].clear(), "describe-change-set failed"),
])
def test_execute_refuses_a_change_set_other_than_the_one_reviewed(stand_ins, tamper, says):
    reviewed = stand_ins.plan()
    tamper(stand_ins.state)
    out = stand_ins.run("execute", "prod", **reviewed)
    assert out.returncode == 1 and says in out.stdout, out.stdout + out.stderr
    assert not [c for c in stand_ins.calls() if "execute-change-set" in c]


@pytest.mark.parametrize("drop", ["CHANGE_SET", "STACK_MARKER", "DIGEST"])
def test_execute_refuses_without_the_plans_outputs(stand_ins, drop):
    reviewed = stand_ins.plan()
    reviewed[drop] = ""
    out = stand_ins.run("execute", "prod", **reviewed)
    assert out.returncode == 1 and "must come from the plan" in out.stdout
    assert stand_ins.calls() == []


def test_a_failed_execution_fails_the_job_with_the_stacks_events(stand_ins):
    reviewed = stand_ins.plan()
    stand_ins.state["wait_rc"] = 255
    out = stand_ins.run("execute", "prod", **reviewed)
    assert out.returncode == 1
    assert "IngestFunction UPDATE_FAILED" in out.stdout and "did not reach UPDATE_COMPLETE" in out.stdout
