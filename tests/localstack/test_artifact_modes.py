"""deploy.yml builds once and carries `sam build`'s output to its deploy jobs
as an artifact. actions/upload-artifact keeps no file modes: "All
directories will have 755 and all files will have 644"
(https://github.com/actions/upload-artifact#permission-loss), and SAM's
packaging only adds read bits, so a `bootstrap` that lost its execute bit
deploys fine and then fails every invocation (Runtime.InvalidEntrypoint).

Replayed here without GitHub or AWS: a stand-in build of template.yaml's
functions, the workflow's own steps on each side of the artifact, the
artifact's round trip as the actions do it, then SAM's own packaging code
zipping each function as `sam deploy` would."""

import os
import shutil
import subprocess
import zipfile

import pytest
import yaml
from samcli.lib.package.code_signer import CodeSigner
from samcli.lib.package.packageable_resources import ServerlessFunctionResource
from samcli.lib.package.uploaders import Uploaders

import localservers
from provision import cfn_loader

ROOT = localservers.ROOT
DEPLOY = os.path.join(ROOT, ".github", "workflows", "deploy.yml")
UPLOAD, DOWNLOAD = "actions/upload-artifact", "actions/download-artifact"
FUNCTION = ServerlessFunctionResource.RESOURCE_TYPE


def functions():
    with open(os.path.join(ROOT, "template.yaml")) as f:
        template = yaml.load(f, Loader=cfn_loader())
    return sorted(k for k, r in template["Resources"].items() if r["Type"] == FUNCTION)


def action(step):
    return step.get("uses", "").split("@")[0]


def checkout(tmp_path, name):
    """A job's fresh workspace: the repository's scripts, no build."""
    ws = tmp_path / name
    ws.mkdir()
    os.symlink(os.path.join(ROOT, "scripts"), ws / "scripts")
    return ws


def sam_build(ws, ids):
    """What `sam build` leaves: a directory per function holding an
    executable bootstrap, and the built template pointing at them."""
    build = ws / ".aws-sam" / "build"
    for i in ids:
        (build / i).mkdir(parents=True)
        (build / i / "bootstrap").write_bytes(b"\x7fELF stand-in for " + i.encode())
        (build / i / "bootstrap").chmod(0o755)
    resources = {i: {"Type": FUNCTION, "Properties": {"CodeUri": i, "Handler": "bootstrap"}} for i in ids}
    (build / "template.yaml").write_text(yaml.safe_dump({"Resources": resources}))
    (ws / ".aws-sam" / "build.toml").write_text("# sam build's cache, read by sam build only\n")


def run(steps, ws):
    """Each `run:` as the runner runs it without a `shell:` (bash -e on a
    script file), in the workspace."""
    for n, step in enumerate(steps):
        assert step.get("shell", "bash") == "bash", step
        script = ws.parent / f"{ws.name}-step{n}.sh"
        script.write_text(step["run"])
        out = subprocess.run(["bash", "-e", str(script)], cwd=ws, capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, GITHUB_WORKSPACE=str(ws)))
        if out.returncode != 0:
            return f"{step.get('name', step['run'])}: {out.stdout}{out.stderr}"
    return None


def upload(step, ws):
    """The files actions/upload-artifact stores for `path` (one path: a file,
    or a directory's files relative to it), with no modes. Since v4.4 it
    skips any file or directory whose name starts with `.`, the searched
    path itself included, unless include-hidden-files."""
    [path] = [p.strip() for p in step["with"]["path"].splitlines() if p.strip()]
    hidden = str(step["with"].get("include-hidden-files", "false")).lower() != "true"
    root = ws / path
    stored = {}
    if hidden and root.name.startswith("."):
        return stored
    if root.is_file():
        return {root.name: root.read_bytes()}
    for dirpath, dirs, files in os.walk(root, followlinks=True):
        if hidden:
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            files = [f for f in files if not f.startswith(".")]
        for f in files:
            full = os.path.join(dirpath, f)
            with open(full, "rb") as data:
                stored[os.path.relpath(full, root)] = data.read()
    return stored


def download(step, stored, ws):
    """As actions/download-artifact writes one named artifact: into `path`
    (the workspace by default), directories 755, files 644."""
    dest = ws / step["with"].get("path", ".")
    for rel, data in stored.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        target.write_bytes(data)
        target.chmod(0o644)


class Capture:
    """Stands in for SAM's S3 uploader: keeps each zip it is handed."""

    def __init__(self, into):
        self.into, self.zips = into, {}

    def upload_with_dedup(self, file_name, extension=None, precomputed_md5=None):
        key = f"{len(self.zips)}-{precomputed_md5}"
        shutil.copy(file_name, self.into / key)
        self.zips[key] = self.into / key
        return f"s3://bucket/{key}"


def packaged_modes(ws, into):
    """{function: mode of `bootstrap` in its zip}, zipped by SAM's own
    packaging (what `sam deploy` does to each AWS::Serverless::Function of
    the built template it finds at .aws-sam/build/template.yaml)."""
    built = ws / ".aws-sam" / "build" / "template.yaml"
    assert built.exists(), "sam deploy would not find the built template"
    uploader = Capture(into)
    exporter = ServerlessFunctionResource(Uploaders(uploader, None), CodeSigner(None, None))
    modes = {}
    for logical_id, res in yaml.safe_load(built.read_text())["Resources"].items():
        if res["Type"] != FUNCTION:
            continue
        exporter.export(logical_id, res["Properties"], str(built.parent))
        key = res["Properties"]["CodeUri"].removeprefix("s3://bucket/")
        with zipfile.ZipFile(uploader.zips[key]) as z:
            modes[logical_id] = (z.getinfo("bootstrap").external_attr >> 16) & 0o777
    return modes


def not_executable(modes):
    """Lambda wants 755 on executables: every function whose bootstrap lacks it."""
    return sorted(f for f, mode in modes.items() if mode & 0o755 != 0o755)


def replay(flow, tmp_path):
    """{job: its bootstraps that would ship without 755, or why the job's
    own steps failed}, for every job that downloads the build."""
    build_job = flow["jobs"]["build"]
    steps = build_job["steps"]
    built = next(n for n, s in enumerate(steps) if s.get("run", "").strip() == "make build")
    [up] = [n for n, s in enumerate(steps) if action(s) == UPLOAD]
    ws = checkout(tmp_path, "build")
    sam_build(ws, functions())
    failed = run(steps[built + 1:up], ws)
    assert failed is None, failed
    stored = upload(steps[up], ws)
    assert stored, "the upload found no file"
    name = steps[up]["with"]["name"]

    found = {}
    for job_name, job in flow["jobs"].items():
        steps = job.get("steps", [])
        downs = [n for n, s in enumerate(steps) if action(s) == DOWNLOAD and s["with"]["name"] == name]
        if not downs:
            continue
        [down] = downs
        ws = checkout(tmp_path, job_name)
        download(steps[down], stored, ws)
        after = []
        for s in steps[down + 1:]:  # the `run:` steps right after the download restore it
            if "run" not in s:
                break
            after.append(s)
        failed = run(after, ws)
        zips = tmp_path / f"{job_name}-zips"
        zips.mkdir()
        found[job_name] = failed or not_executable(packaged_modes(ws, zips))
    return found


def deploy_flow():
    with open(DEPLOY) as f:
        return yaml.safe_load(f)


def test_template_has_the_seven_functions_the_replay_builds():
    assert len(functions()) == 7, functions()


def test_every_job_that_packages_the_build_gets_it_and_prod_executes_a_change_set_only():
    """sam deploy packages .aws-sam/build: deploy-dev and -staging directly,
    prod-changeset through `prod-changeset.py plan` (sam deploy
    --no-execute-changeset). deploy-prod executes that change set, whose code
    is already in S3, and so needs no build."""
    jobs = deploy_flow()["jobs"]
    packaging = {n for n, j in jobs.items()
                 if any("sam deploy" in s.get("run", "") or "prod-changeset.py plan" in s.get("run", "")
                        for s in j.get("steps", []))}
    downloading = {n for n, j in jobs.items() if any(action(s) == DOWNLOAD for s in j.get("steps", []))}
    assert packaging == downloading == {"deploy-dev", "deploy-staging", "prod-changeset"}
    assert "prod-changeset.py execute" in str(jobs["deploy-prod"]["steps"])


def test_every_function_ships_an_executable_bootstrap_after_the_artifact_round_trip(tmp_path):
    found = replay(deploy_flow(), tmp_path)
    assert set(found) == {"deploy-dev", "deploy-staging", "prod-changeset"}
    assert found == {job: [] for job in found}


OLD_WAY = """
jobs:
  build:
    steps:
      - run: make build
      - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
        with: {name: sam-build, path: .aws-sam/build}
  deploy-dev:
    steps:
      - uses: actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0
        with: {name: sam-build, path: .aws-sam/build}
      - uses: aws-actions/setup-sam@f84ec7d548307efafe33230528756de3c5841a17 # v2
      - run: sam deploy --config-env dev
"""


def test_the_check_finds_every_bootstrap_that_lost_its_mode_on_the_old_way(tmp_path):
    """The directory uploaded as is, nothing restored after download: SAM
    zips every bootstrap 0644."""
    found = replay(yaml.safe_load(OLD_WAY), tmp_path)
    assert found == {"deploy-dev": functions()}


def test_sams_packaging_keeps_a_mode_it_is_given_and_adds_no_execute_bit(tmp_path):
    """What the replay relies on: the zip carries the mode on disk."""
    ws = tmp_path / "ws"
    sam_build(ws, ["A", "B"])
    (ws / ".aws-sam" / "build" / "B" / "bootstrap").chmod(0o644)
    (tmp_path / "zips").mkdir()
    assert packaged_modes(ws, tmp_path / "zips") == {"A": 0o755, "B": 0o644}


@pytest.mark.parametrize("step", ["pack", "unpack"])
def test_the_scripts_refuse_a_bootstrap_without_its_execute_bit(tmp_path, step):
    """The job fails there, not the stack's first invocation."""
    ws = checkout(tmp_path, "ws")
    sam_build(ws, functions())
    (ws / ".aws-sam" / "build" / functions()[0] / "bootstrap").chmod(0o644)
    if step == "unpack":
        # A tar that carries the lost mode.
        subprocess.run(["tar", "-cf", "sam-build.tar", ".aws-sam/build"], cwd=ws, check=True)
    failed = run([{"run": f"scripts/sam-artifact.sh {step}"}], ws)
    assert failed and f"{functions()[0]}/bootstrap is not executable" in failed
