"""The release: the workflow's shape, scripts/dist.sh (which packages and
checks every asset, locally and in the workflow), examples/amplify.yml's
download-and-verify, and CHANGELOG.md's section per version."""

import functools
import hashlib
import http.server
import os
import re
import shutil
import subprocess
import threading

import pytest
import yaml

import localservers

ROOT = localservers.ROOT
DIST = os.path.join(ROOT, "scripts", "dist.sh")
LINUX = {"x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl"}
MACOS = {"x86_64-apple-darwin", "aarch64-apple-darwin"}


def workspace_version():
    with open(os.path.join(ROOT, "Cargo.toml")) as f:
        return re.search(r'^version = "(.+)"', f.read(), re.M).group(1)


def workflow():
    with open(os.path.join(ROOT, ".github", "workflows", "release.yml")) as f:
        return yaml.safe_load(f)


def runs(job):
    return "\n".join(s.get("run", "") for s in job["steps"])


def test_a_version_tag_releases_static_linux_and_macos_binaries():
    flow = workflow()
    # PyYAML reads the key `on` as True.
    assert flow[True] == {"push": {"tags": ["v*"]}}
    assert flow["permissions"] == {"contents": "read"}
    jobs = flow["jobs"]
    assert set(jobs["linux"]["strategy"]["matrix"]["target"]) == LINUX
    assert set(jobs["macos"]["strategy"]["matrix"]["target"]) == MACOS
    assert jobs["macos"]["runs-on"].startswith("macos")
    assert "cargo zigbuild --release --locked -p sentinel" in runs(jobs["linux"])
    for name in ("linux", "macos"):
        assert "scripts/dist.sh package" in runs(jobs[name]) and "scripts/dist.sh check" in runs(jobs[name])
    release = jobs["release"]
    assert set(release["needs"]) == {"linux", "macos"}
    assert release["permissions"] == {"contents": "write"}, "only the release job may write"
    assert "sha256sum -c" in runs(release) and "gh release" in runs(release)
    assert flow["env"]["SENTINEL_COMMIT"] == "${{ github.sha }}"


def dist(*args, env=None, check=False):
    return subprocess.run([DIST, *args], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, **(env or {})), check=check)


def test_dist_check_refuses_a_dynamic_binary_and_a_changed_one(tmp_path):
    out = dist("package", "test-target", shutil.which("true"), env={"DIST": str(tmp_path)}, check=True)
    asset = tmp_path / "sentinel-test-target"
    assert out.stdout.strip() == str(asset)
    want = hashlib.sha256(asset.read_bytes()).hexdigest()
    assert (tmp_path / "sentinel-test-target.sha256").read_text() == f"{want}  sentinel-test-target\n"
    refused = dist("check", str(asset))
    assert refused.returncode != 0 and "not static" in refused.stderr, refused
    asset.write_bytes(asset.read_bytes() + b"\0")
    changed = dist("check", str(asset))
    assert changed.returncode != 0 and "does not match" in changed.stderr, changed


def test_dist_check_passes_the_static_build_when_make_dist_ran():
    asset = os.path.join(ROOT, "dist", "sentinel-x86_64-unknown-linux-gnu")
    if not os.path.exists(asset):
        pytest.skip("no dist/: `make dist` builds it (a release build, minutes)")
    out = dist("check", asset)
    assert out.returncode == 0, out.stderr


def test_the_release_notes_are_the_changelog_section_of_the_version():
    version = workspace_version()
    with open(os.path.join(ROOT, "CHANGELOG.md")) as f:
        changelog = f.read()
    headings = re.findall(r"^## \[([^\]]+)\]", changelog, re.M)
    assert headings[0] == "Unreleased" and version in headings, headings
    notes = dist("notes", version, check=True).stdout
    assert "### Upgrade notes" in notes and "Enforcement" in notes
    assert "## [" not in notes, "one section only"
    assert dist("notes", "0.0.0-none").returncode != 0


def test_the_readme_links_the_changelog_and_says_how_to_install():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    assert "CHANGELOG.md" in readme
    assert "cargo install --locked --git" in readme and "sentinel --version" in readme
    assert "make dist" in readme and "sha256sum -c" in readme


# ----- examples/amplify.yml: pinned download, checksum, then validate -----

def amplify_example():
    with open(os.path.join(ROOT, "examples", "amplify.yml")) as f:
        return yaml.safe_load(f)


def pre_build_until_validate(spec):
    """The preBuild commands up to `sentinel validate` (nvm and npm aside)."""
    commands = []
    for c in spec["frontend"]["phases"]["preBuild"]["commands"]:
        if c.startswith(("nvm ", "npm ")):
            continue
        commands.append(c)
        if " validate " in c:
            return commands
    raise AssertionError("preBuild never runs sentinel validate")


@pytest.fixture
def releases(tmp_path):
    """A local stand-in for the GitHub release download URL."""
    root = tmp_path / "releases"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run_pre_build(tmp_path, base_url, sha256):
    spec = amplify_example()
    build = tmp_path / "app"
    build.mkdir(exist_ok=True)
    env = dict(os.environ, **{k: str(v) for k, v in spec["env"]["variables"].items()})
    env.update(SENTINEL_RELEASES=base_url, SENTINEL_SHA256=sha256, NO_PROXY="127.0.0.1", no_proxy="127.0.0.1")
    # Amplify runs each command in one shell and stops at the first failure.
    script = "set -e\n" + "\n".join(pre_build_until_validate(spec)) + "\n"
    return subprocess.run(["bash", "-c", script], cwd=build, env=env, capture_output=True,
                          text=True, timeout=60), build


def fake_release(root, version):
    """An asset that says it ran, in place of the real binary."""
    asset = root / f"v{version}" / "sentinel-x86_64-unknown-linux-musl"
    asset.parent.mkdir(parents=True)
    asset.write_text('#!/bin/sh\necho "sentinel ran: $*" >> "$PWD/ran.log"\n')
    return hashlib.sha256(asset.read_bytes()).hexdigest()


def test_the_example_pins_this_version_and_a_placeholder_that_fails():
    variables = amplify_example()["env"]["variables"]
    assert variables["SENTINEL_VERSION"] == workspace_version()
    assert not re.fullmatch(r"[0-9a-f]{64}", variables["SENTINEL_SHA256"]), "a placeholder, set by the team"
    assert variables["SENTINEL_REPO"].count("/") == 1


def test_the_example_runs_validate_only_with_the_pinned_checksum(tmp_path, releases):
    root, url = releases
    version = amplify_example()["env"]["variables"]["SENTINEL_VERSION"]
    good = fake_release(root, version)

    out, build = run_pre_build(tmp_path, url, good)
    assert out.returncode == 0, out.stderr
    assert (build / "ran.log").read_text().splitlines() == [
        "sentinel ran: --version",
        "sentinel ran: validate --env prod --policy sentinel-policy.yaml",
    ]

    for bad in ["0" * 64, amplify_example()["env"]["variables"]["SENTINEL_SHA256"], ""]:
        shutil.rmtree(build)
        out, build = run_pre_build(tmp_path, url, bad)
        assert out.returncode != 0, bad
        assert not (build / "ran.log").exists(), f"ran a download that does not match {bad!r}"


def test_the_example_fails_when_the_version_has_no_release(tmp_path, releases):
    _, url = releases
    out, build = run_pre_build(tmp_path, url, "0" * 64)
    assert out.returncode != 0 and not (build / "ran.log").exists()
