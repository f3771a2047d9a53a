//! `sentinel diagnose` as a user runs it: the real binary on every fixture
//! of the catalogue (`shared/tests/fixtures/diagnose`), from a file and from
//! standard input, as text and as JSON; and a file that cannot be read.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/fixtures/diagnose")
}

fn sentinel(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sentinel");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child.wait_with_output().unwrap()
}

#[test]
fn every_fixture_through_the_binary_as_json() {
    let index: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("index.json")).unwrap())
            .unwrap();
    assert!(index.len() >= 25);
    for case in &index {
        let file = fixtures().join(case["file"].as_str().unwrap());
        let out = sentinel(&["diagnose", file.to_str().unwrap(), "--json"], None);
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let d: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(d["category"], case["category"], "{}", file.display());
        for key in ["title", "fix"] {
            assert!(
                d[key].as_str().is_some_and(|s| !s.is_empty()),
                "{key} in {d}"
            );
        }
        assert!(d["transient"].is_boolean());
        assert!(d["secondary"].is_array());
        if case["category"] != "unknown" {
            let root = case["root_line"].as_u64().unwrap();
            let lines: Vec<u64> = d["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["line"].as_u64().unwrap())
                .collect();
            assert!(
                lines.contains(&root),
                "{}: line {root} not in {lines:?}",
                file.display()
            );
        }
    }
}

#[test]
fn standard_input_and_text_output() {
    let index: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("index.json")).unwrap())
            .unwrap();
    let case = index
        .iter()
        .find(|c| c["category"] == "node-heap-oom")
        .expect("a node-heap-oom fixture");
    let log = std::fs::read(fixtures().join(case["file"].as_str().unwrap())).unwrap();
    let out = sentinel(&["diagnose", "-"], Some(&log));
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("node-heap-oom: "), "{text}");
    assert!(text.contains("fix:\n  Raise Node's heap limit"), "{text}");
    assert!(
        text.contains(&format!("{:>7} | ", case["root_line"].as_u64().unwrap())),
        "{text}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let out = sentinel(&["diagnose", "/nonexistent/build.log"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/build.log"), "{err}");
}
