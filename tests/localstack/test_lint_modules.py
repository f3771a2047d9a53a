"""The two structure lints of `make lint`, on small trees made for each case:
scripts/lint-modules.py (no import circle between the files of a crate)
and scripts/lint-sizes.py (no source file over 600 lines but tables)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODULES = ROOT / "scripts" / "lint-modules.py"
SIZES = ROOT / "scripts" / "lint-sizes.py"


def crate(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def lint_modules(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(MODULES), str(root)], capture_output=True, text=True)


def siblings(tmp_path: Path, a: str, b: str) -> subprocess.CompletedProcess:
    """The lint of a crate of two modules, `a` and `b`, with these texts."""
    return lint_modules(crate(tmp_path, {"lib.rs": "pub mod a;\npub mod b;\n", "a.rs": a, "b.rs": b}))


def test_two_siblings_naming_each_other_are_a_circle_with_each_line_named(tmp_path):
    run = siblings(tmp_path, "use crate::b::B;\npub struct A(B);\n",
                   "pub struct B;\npub fn f(_: &crate::a::A) {}\n")
    assert run.returncode == 1
    assert "import circle: crate::a <-> crate::b" in run.stdout
    assert "src/a.rs:1: use crate::b::B;" in run.stdout
    assert "src/b.rs:2: pub fn f(_: &crate::a::A) {}" in run.stdout


def test_a_one_way_dependency_is_no_circle(tmp_path):
    run = siblings(tmp_path, "use crate::b::{B, g as h};\npub struct A(B);\n", "pub struct B;\npub fn g() {}\n")
    assert run.returncode == 0, run.stdout
    assert "no import circle" in run.stdout


def test_a_folder_may_re_export_its_children_but_not_use_one_that_uses_it(tmp_path):
    face = {
        "lib.rs": "pub mod f;\n",
        "f/mod.rs": "mod child;\npub use child::C;\npub struct Shared;\n",
        "f/child.rs": "use super::Shared;\npub struct C(Shared);\n",
    }
    assert lint_modules(crate(tmp_path / "face", face)).returncode == 0
    uses = dict(face)
    uses["f/mod.rs"] = "mod child;\npub struct Shared;\npub fn make() -> child::C { child::C(Shared) }\n"
    run = lint_modules(crate(tmp_path / "uses", uses))
    assert run.returncode == 1
    assert "crate::f <-> crate::f::child" in run.stdout


def test_a_path_through_a_folder_names_the_folder_not_where_it_is_defined(tmp_path):
    # `crate::h::V` is h/mod.rs even when h re-exports it from core: h/mod.rs
    # naming `crate::m` closes the circle m -> h -> m.
    root = crate(tmp_path, {
        "lib.rs": "pub mod core;\npub mod h;\npub mod m;\n",
        "core.rs": "pub struct V;\n",
        "h/mod.rs": "pub use crate::core::V;\npub fn k() -> crate::m::M { crate::m::M }\n",
        "m.rs": "use crate::h::V;\npub struct M;\npub fn v() -> V { V }\n",
    })
    run = lint_modules(root)
    assert run.returncode == 1
    assert "crate::h <-> crate::m" in run.stdout


def test_test_code_comments_and_strings_are_not_dependencies(tmp_path):
    root = crate(tmp_path, {
        "lib.rs": "pub mod a;\npub mod b;\n",
        "a.rs": "use crate::b::B;\npub struct A(B);\n",
        "b.rs": (
            "pub struct B;\n"
            "// use crate::a::A;\n"
            "/* crate::a::A */\n"
            "pub const S: &str = \"crate::a::A\";\n"
            "#[cfg(test)]\nmod tests {\n    use crate::a::A;\n    fn t(_: A) {}\n}\n"
            "#[cfg(test)]\n#[path = \"b_tests.rs\"]\nmod b_tests;\n"
            "#[cfg(test)]\n#[path = \"checks/mod.rs\"]\nmod checks;\n"
        ),
        "b_tests.rs": "use crate::a::A;\n",
        # Test code found by its #[path], and its children: a circle there
        # is not the crate's.
        "checks/mod.rs": "mod deep;\nuse deep::D;\npub fn helper() {}\n",
        "checks/deep.rs": "use super::helper;\npub struct D;\n",
    })
    run = lint_modules(root)
    assert run.returncode == 0, run.stdout


def test_the_projects_shared_crate_has_no_circle():
    run = lint_modules(ROOT / "shared")
    assert run.returncode == 0, run.stdout


def git_tree(tmp_path: Path, files: dict[str, int]) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    for rel, lines in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n" * lines)
    subprocess.run(["git", "-C", str(tmp_path), "add", "."], check=True)
    return tmp_path


def lint_sizes(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SIZES), "--root", str(root)], capture_output=True, text=True)


@pytest.mark.parametrize("lines, code", [(600, 0), (601, 1)])
def test_a_source_file_over_600_lines_fails(tmp_path, lines, code):
    root = git_tree(tmp_path, {
        "shared/src/diagnose/catalogue.rs": 900,  # a table: exempt
        "src/long.rs": lines,
        "notes.md": 5000,  # prose: not source
    })
    run = lint_sizes(root)
    assert run.returncode == code, run.stdout
    assert ("src/long.rs: 601 lines" in run.stdout) == (code == 1)
    assert "catalogue" not in run.stdout


def test_a_table_that_is_gone_is_named(tmp_path):
    run = lint_sizes(git_tree(tmp_path, {"src/short.py": 10}))
    assert run.returncode == 1
    assert "TABLES names shared/src/diagnose/catalogue.rs, which is gone" in run.stdout


def test_core_names_nothing_outside_it_and_ports_only_core(tmp_path):
    files = {
        "lib.rs": "pub mod core;\npub mod ports;\npub mod health;\n",
        "core/mod.rs": "pub mod model;\n",
        "core/model.rs": "pub struct Id;\n",
        "ports.rs": "use crate::core::model::Id;\npub trait Store { fn get(&self, id: &Id); }\n",
        "health.rs": "pub struct Verdict;\n",
    }
    assert lint_modules(crate(tmp_path / "ok", files)).returncode == 0
    bad = dict(files)
    bad["ports.rs"] = files["ports.rs"] + "pub trait Checks { fn v(&self) -> crate::health::Verdict; }\n"
    bad["core/model.rs"] = "pub struct Id(crate::health::Verdict);\n"
    run = lint_modules(crate(tmp_path / "bad", bad))
    assert run.returncode == 1
    assert "layer: crate::ports may name only core, but names crate::health" in run.stdout
    assert "layer: crate::core::model may name only core, but names crate::health" in run.stdout
