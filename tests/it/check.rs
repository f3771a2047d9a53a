//! `sentinel check` against the Amplify emulator's site of a branch: the real
//! binary, a real HTTP server, the exit codes the issue names.

use std::process::Command;

use serde_json::{Value, json};

use crate::helpers::*;

const COMMIT: &str = "c0ffee0123456789c0ffee0123456789c0ffee01";

fn sentinel() -> Command {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/../target", env!("CARGO_MANIFEST_DIR")));
    Command::new(format!("{target}/debug/sentinel"))
}

#[tokio::test]
async fn sentinel_check_judges_the_deployed_site() {
    let stack = Stack::new().await;
    let app = unique_app_id();
    stack.create_app(&app, "main", COMMIT).await.unwrap();
    let job = stack.manual_build(&app, "main", COMMIT).await.unwrap();
    stack
        .advance(&app, "main", &job, "RUNNING", false)
        .await
        .unwrap();
    stack
        .advance(&app, "main", &job, "SUCCEED", false)
        .await
        .unwrap();
    let site = format!("{}/_sites/{app}/main/", stack.amplify_url);

    let run = |args: &[&str]| {
        let out = sentinel().args(args).output().expect("run sentinel check");
        let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code(), report)
    };

    let (code, report) = run(&[
        "check",
        &site,
        "--expect-commit",
        &COMMIT[..7],
        "--path",
        "/",
        "--path",
        "/api/health",
        "--deadline",
        "20",
        "--json",
    ]);
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(report["verdict"], "healthy");
    assert_eq!(
        report["endpoints"].as_array().map(Vec::len),
        Some(3),
        "two paths and the version check"
    );

    let (code, report) = run(&[
        "check",
        &site,
        "--expect-commit",
        "deadbeefdeadbeef",
        "--deadline",
        "20",
        "--json",
    ]);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("does not report commit deadbeef"),
        "{report}"
    );

    stack
        .control(
            &format!("/apps/{app}/branches/main/site"),
            json!({"status": 503}),
        )
        .await
        .unwrap();
    let (code, report) = run(&["check", &site, "--deadline", "20", "--json"]);
    assert_eq!(code, Some(1), "{report}");
    assert!(
        report["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("status 503"),
        "{report}"
    );

    let (code, _) = run(&["check", "http://127.0.0.1:9/", "--deadline", "1", "--json"]);
    assert_eq!(code, Some(3), "connection refused is inconclusive");

    let (code, _) = run(&["check", "not a url"]);
    assert_eq!(code, Some(2));
}
