//! Commands that act never guess: what they need and are not given, they
//! refuse before any call, naming the flag; what they do not use, they do
//! not ask for.

use std::process::{Command, Output};

fn sentinel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(args)
        .env_remove("SENTINEL_RETENTION_DAYS")
        .env_remove("SENTINEL_EVENT_BUS")
        // Nothing here may reach AWS: an endpoint that refuses connections.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .output()
        .expect("run sentinel")
}

fn refused(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn cleanup_refuses_to_guess_the_retention() {
    for args in [
        &["--env", "prod", "cleanup"][..],
        &["--env", "prod", "cleanup", "--dry-run"][..],
    ] {
        let stderr = refused(&sentinel(args));
        assert!(stderr.contains("--retention-days"), "{stderr}");
        assert!(stderr.contains("never guesses"), "{stderr}");
    }
}

#[test]
fn a_cleanup_that_changes_things_needs_the_bus_a_dry_run_does_not() {
    let stderr = refused(&sentinel(&[
        "--env",
        "prod",
        "cleanup",
        "--retention-days",
        "30",
    ]));
    assert!(stderr.contains("--bus"), "{stderr}");
    // The dry run goes further: it fails only at the (refused) table read,
    // a failure talking to AWS (4), never for want of a bus.
    let out = sentinel(&[
        "--env",
        "prod",
        "--table",
        "t",
        "cleanup",
        "--dry-run",
        "--retention-days",
        "30",
    ]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("--bus"), "{stderr}");
    assert!(
        stderr.contains("store") && stderr.contains("127.0.0.1:9"),
        "{stderr}"
    );
}

#[test]
fn unlock_does_not_ask_for_a_bus() {
    let out = sentinel(&["unlock", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(help.contains("--branch"), "{help}");
    assert!(!help.contains("--bus"), "{help}");
}

#[test]
fn a_rollback_outside_the_watch_scope_is_refused_before_any_call() {
    let out = Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args([
            "--env",
            "prod",
            "rollback",
            "--app",
            "d1abc",
            "--branch",
            "preview/x",
        ])
        .args([
            "--bus",
            "b",
            "--watched",
            "d1abc",
            "--branches",
            "main,release/*",
        ])
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .expect("run sentinel");
    let stderr = refused(&out);
    assert!(
        stderr.contains("outside the stack's watch scope"),
        "{stderr}"
    );
    assert!(!stderr.contains("127.0.0.1"), "no call was made: {stderr}");
}
