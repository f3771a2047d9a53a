"""`make build` from a fresh clone: ./target must be the Cargo target
directory, because cargo-lambda writes the binaries under
$CARGO_TARGET_DIR/lambda and SAM copies them from ./target/lambda. The real
`make build` runs here (its bootstrap skipped with `make -o bootstrap`), with
a `sam` that does what matters of `sam build`: cargo builds a tiny crate into
CARGO_TARGET_DIR, and the binary is then read back through ./target."""

import os
import shutil
import subprocess

import pytest

import localservers

ROOT = localservers.ROOT
# What a fresh checkout lacks is what matters, but the files under test come
# from the working tree, so that an uncommitted edit is the one tested.
UNDER_TEST = ["Makefile", "scripts/link-target.sh"]

SAM = """#!/usr/bin/env bash
set -euo pipefail
cargo build --offline --quiet --manifest-path "$PROBE/Cargo.toml"
mkdir -p "$CARGO_TARGET_DIR/lambda/probe"
cp "$CARGO_TARGET_DIR/debug/probe" "$CARGO_TARGET_DIR/lambda/probe/bootstrap"
cp target/lambda/probe/bootstrap "$PROBE/packaged"
"""

pytestmark = pytest.mark.skipif(
    not (shutil.which("cargo") and shutil.which("make") and os.path.exists(os.path.join(ROOT, ".git"))),
    reason="needs cargo, make and a git checkout to clone")


@pytest.fixture
def clone(tmp_path):
    dest = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", ROOT, str(dest)], check=True, timeout=120)
    for rel in UNDER_TEST:
        shutil.copy2(os.path.join(ROOT, rel), dest / rel)
    assert not os.path.lexists(dest / "target"), "a fresh clone has no ./target"
    return dest


@pytest.fixture
def make_build(tmp_path, clone):
    """Runs `make build` in the clone; `cargo_dir` None leaves the Makefile's
    default (under a throwaway HOME, not the real shared cache)."""
    bin_dir, probe, home = tmp_path / "bin", tmp_path / "probe", tmp_path / "home"
    (probe / "src").mkdir(parents=True)
    (probe / "Cargo.toml").write_text('[package]\nname = "probe"\nversion = "0.1.0"\nedition = "2021"\n')
    (probe / "src" / "main.rs").write_text("fn main() {}\n")
    bin_dir.mkdir()
    (bin_dir / "sam").write_text(SAM)
    (bin_dir / "sam").chmod(0o755)
    home.mkdir()

    def run(cargo_dir):
        env = {k: v for k, v in os.environ.items() if not k.startswith("MAKE") and k != "CARGO_TARGET_DIR"}
        # rustup and cargo still find their toolchain with HOME moved.
        env.setdefault("RUSTUP_HOME", os.path.expanduser("~/.rustup"))
        env.setdefault("CARGO_HOME", os.path.expanduser("~/.cargo"))
        env.update(PATH=f"{bin_dir}:{env['PATH']}", HOME=str(home), PROBE=str(probe))
        if cargo_dir is not None:
            env["CARGO_TARGET_DIR"] = str(cargo_dir)
        if (probe / "packaged").exists():
            (probe / "packaged").unlink()
        out = subprocess.run(["make", "-o", "bootstrap", "build"], cwd=clone, env=env,
                             capture_output=True, text=True, timeout=300)
        return out, probe / "packaged"

    run.default_dir = home / ".cache" / "deploy-sentinel" / "target"
    return run


def assert_target_is(clone, cargo_dir, packaged):
    target = clone / "target"
    if os.path.islink(target):
        assert os.readlink(target) != str(target), "./target links to itself"
    assert os.path.realpath(target) == os.path.realpath(cargo_dir)
    # What SAM read through ./target is what cargo built in CARGO_TARGET_DIR.
    built = os.path.join(cargo_dir, "lambda", "probe", "bootstrap")
    assert packaged.read_bytes() == open(built, "rb").read()


def test_a_cold_ci_cache_makes_target_a_real_directory(clone, make_build):
    """CI: CARGO_TARGET_DIR=$GITHUB_WORKSPACE/target and no ./target yet."""
    cargo_dir = clone / "target"
    for _ in range(2):  # cold, then warm
        out, packaged = make_build(cargo_dir)
        assert out.returncode == 0, out.stdout + out.stderr
        assert os.path.isdir(cargo_dir) and not os.path.islink(cargo_dir)
        assert_target_is(clone, cargo_dir, packaged)


def test_the_default_target_dir_is_linked_as_target(clone, make_build):
    for _ in range(2):
        out, packaged = make_build(None)
        assert out.returncode == 0, out.stdout + out.stderr
        assert os.path.islink(clone / "target")
        assert_target_is(clone, make_build.default_dir, packaged)


def test_a_self_link_left_by_the_old_recipe_is_repaired(clone, make_build):
    os.symlink(clone / "target", clone / "target")
    out, packaged = make_build(clone / "target")
    assert out.returncode == 0, out.stdout + out.stderr
    assert not os.path.islink(clone / "target")
    assert_target_is(clone, clone / "target", packaged)


def test_a_link_to_another_target_dir_is_repointed(tmp_path, clone, make_build):
    old, new = tmp_path / "old-target", tmp_path / "new-target"
    old.mkdir()
    os.symlink(old, clone / "target")
    out, packaged = make_build(new)
    assert out.returncode == 0, out.stdout + out.stderr
    assert_target_is(clone, new, packaged)
    assert os.listdir(old) == [], "the old directory is left alone"


def test_a_real_target_directory_elsewhere_than_cargos_stops_the_build(tmp_path, clone, make_build):
    """Else SAM would package the stale binaries ./target holds."""
    (clone / "target" / "lambda" / "probe").mkdir(parents=True)
    (clone / "target" / "lambda" / "probe" / "bootstrap").write_text("stale")
    out, packaged = make_build(tmp_path / "shared")
    assert out.returncode != 0
    assert "./target is a real directory" in out.stderr and os.path.realpath(tmp_path / "shared") in out.stderr
    assert not packaged.exists(), "sam build did not run"
    assert (clone / "target" / "lambda" / "probe" / "bootstrap").read_text() == "stale"
