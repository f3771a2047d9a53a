//! The conventions people expect of a command-line tool, through the real
//! binary: a closed pipe ends it quietly; one exit code per kind of outcome;
//! `--json` is exactly one camelCase JSON document on stdout; help on every
//! flag and the exit codes in `--help`; progress on stderr and colour only
//! on a terminal (never with `NO_COLOR`); shell completions. (The commands
//! that read a stack are checked the same way on the local stack:
//! `tests/it/operator.rs`.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> Command {
    isolated(Command::new(env!("CARGO_BIN_EXE_sentinel")))
}

/// No setting of the caller's, and AWS unreachable.
fn isolated(mut command: Command) -> Command {
    for (name, _) in std::env::vars() {
        if name.starts_with("SENTINEL_") || name == "NO_COLOR" {
            command.env_remove(name);
        }
    }
    // Nothing here may reach AWS: an endpoint that refuses connections.
    command
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_MAX_ATTEMPTS", "1");
    command
}

fn sentinel(args: &[&str]) -> Output {
    bin().args(args).output().expect("run sentinel")
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

/// `validate` of a rule fixture that fails (args: --dir …).
fn failing_validation() -> Vec<String> {
    let dir = fixtures().join("validate/env.secret-exposed/fail");
    let mut args = vec![
        "validate".to_owned(),
        "--dir".to_owned(),
        dir.display().to_string(),
        "--env-file".to_owned(),
        dir.join("case.env").display().to_string(),
        "--policy".to_owned(),
        dir.join("policy.yaml").display().to_string(),
    ];
    let extra = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
    args.extend(extra.split_whitespace().map(str::to_owned));
    args
}

fn a_log() -> PathBuf {
    fixtures()
        .join("../../shared/tests/fixtures/diagnose/amplify-backend-missing.log")
        .canonicalize()
        .unwrap()
}

#[test]
#[cfg(unix)]
fn a_closed_pipe_ends_the_program_quietly() {
    use std::os::unix::process::ExitStatusExt;
    // The reader is gone before the program writes a byte.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = bin()
        .args(["completions", "bash"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(out.status.signal(), Some(libc_sigpipe()), "{out:?}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn libc_sigpipe() -> i32 {
    13
}

#[test]
fn each_outcome_has_its_exit_code() {
    assert_eq!(sentinel(&["completions", "bash"]).status.code(), Some(0));
    let args = failing_validation();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    assert_eq!(sentinel(&refs).status.code(), Some(1), "a finding");
    let refused = sentinel(&["check", "http://127.0.0.1:9/", "--deadline", "1"]);
    assert_eq!(
        refused.status.code(),
        Some(3),
        "a site that does not answer: inconclusive"
    );
    let usage = sentinel(&["--env", "prod", "cleanup"]);
    assert_eq!(usage.status.code(), Some(2), "bad usage");
    // AWS unreachable: 4, with the service and what to check.
    let aws = sentinel(&["--env", "prod", "--table", "t", "deployments"]);
    let stderr = String::from_utf8_lossy(&aws.stderr);
    assert_eq!(aws.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("DynamoDB"), "{stderr}");
    assert!(
        stderr.contains("AWS_REGION") && stderr.contains("credentials"),
        "{stderr}"
    );
    assert!(aws.stdout.is_empty(), "errors go to stderr");
    let aws = sentinel(&["--stack", "deploy-sentinel-prod", "deployments"]);
    let stderr = String::from_utf8_lossy(&aws.stderr);
    assert_eq!(aws.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains("CloudFormation DescribeStacks"), "{stderr}");
    // Documented where people look.
    let help = String::from_utf8_lossy(&sentinel(&["--help"]).stdout).into_owned();
    assert!(
        help.contains("Exit codes: 0 success; 1 a finding")
            && help.contains("4 a failure talking to AWS"),
        "{help}"
    );
}

/// Keys with an underscore, anywhere but inside `except` (paths).
fn snake_keys(v: &Value, path: &str, except: &[&str], found: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let here = format!("{path}/{k}");
                if except.contains(&here.as_str()) {
                    continue;
                }
                if k.contains('_') {
                    found.push(here.clone());
                }
                snake_keys(child, &here, except, found);
            }
        }
        Value::Array(items) => {
            for item in items {
                snake_keys(item, &format!("{path}/*"), except, found);
            }
        }
        _ => {}
    }
}

/// Exactly one JSON document on stdout, camelCase throughout.
pub fn one_camel_case_document(out: &Output) -> Value {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not exactly one JSON document ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    let mut found = Vec::new();
    snake_keys(&v, "", &["/policy"], &mut found);
    assert!(found.is_empty(), "snake_case keys: {found:?}");
    v
}

#[test]
fn json_is_one_camel_case_document() {
    let mut args = failing_validation();
    args.push("--json".into());
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let report = one_camel_case_document(&sentinel(&refs));
    assert_eq!(report["passed"], false);
    let log = a_log();
    let diagnosis =
        one_camel_case_document(&sentinel(&["diagnose", log.to_str().unwrap(), "--json"]));
    assert!(diagnosis["category"].is_string());
}

/// The subcommands a `--help` lists.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

/// Every option of `path` and of its subcommands has help text.
fn check_help(path: &mut Vec<String>, seen: &mut usize) {
    let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
    args.push("--help");
    let text = String::from_utf8_lossy(&sentinel(&args).stdout).into_owned();
    // An option line: `  -x, --name <V>  help`, or (clap's long layout)
    // the flag alone with its help on the next, deeper-indented line.
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    for (i, line) in lines.iter().enumerate() {
        if !line.trim_start().starts_with('-') {
            continue;
        }
        let words: Vec<&str> = line.split("  ").filter(|w| !w.trim().is_empty()).collect();
        let next_is_help = lines.get(i + 1).is_some_and(|n| {
            !n.trim().is_empty() && !n.trim_start().starts_with('-') && indent(n) > indent(line)
        });
        assert!(
            words.len() >= 2 || next_is_help,
            "`sentinel {}`: no help for {line:?}",
            path.join(" ")
        );
    }
    // A positional argument: `  <FILE>  help`.
    for line in text
        .lines()
        .skip_while(|l| !l.starts_with("Arguments:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
    {
        let words: Vec<&str> = line.split("  ").filter(|w| !w.trim().is_empty()).collect();
        assert!(
            words.len() >= 2,
            "`sentinel {}`: no help for {line:?}",
            path.join(" ")
        );
    }
    *seen += 1;
    for sub in subcommands(&text) {
        path.push(sub);
        check_help(path, seen);
        path.pop();
    }
}

#[test]
fn every_flag_has_help_and_errors_go_to_stderr() {
    let mut seen = 0;
    check_help(&mut Vec::new(), &mut seen);
    assert!(seen >= 14, "{seen} commands' help read");
    let bad = sentinel(&["deployments", "--limit", "many"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(bad.stdout.is_empty() && !bad.stderr.is_empty());
}

/// Runs `sentinel ARGS` under a pseudo-terminal (`script`), returning what
/// the terminal showed; `None` where `script` is missing.
fn on_a_terminal(args: &[&str], no_color: bool) -> Option<String> {
    let script = ["/usr/bin/script", "/bin/script"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let line = std::iter::once(env!("CARGO_BIN_EXE_sentinel"))
        .chain(args.iter().copied())
        .map(|a| format!("'{a}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = isolated(Command::new(script));
    if no_color {
        command.env("NO_COLOR", "1");
    }
    let out = command.args(["-qec", &line, "/dev/null"]).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn progress_and_colour_only_on_a_terminal_and_never_with_no_color() {
    let log = a_log();
    let log = log.to_str().unwrap();
    // Not a terminal: stderr stays empty, stdout has no escape codes.
    let piped = sentinel(&["diagnose", log]);
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let args = failing_validation();
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let plain = sentinel(&refs);
    assert!(!String::from_utf8_lossy(&plain.stdout).contains('\x1b'));
    // A terminal: the spinner says what it reads, findings are coloured.
    let Some(shown) = on_a_terminal(&["diagnose", log], false) else {
        eprintln!("skipped: no `script` for a pseudo-terminal");
        return;
    };
    assert!(shown.contains("reading "), "{shown:?}");
    let coloured = on_a_terminal(&refs, false).unwrap();
    assert!(coloured.contains("\x1b[31m"), "{coloured:?}");
    let no_color = on_a_terminal(&refs, true).unwrap();
    assert!(
        !no_color.contains("\x1b[31m") && !no_color.contains("\x1b[32m"),
        "{no_color:?}"
    );
}

#[test]
fn completions_for_the_usual_shells() {
    for (shell, marker) in [
        ("bash", "complete -F _sentinel"),
        ("zsh", "#compdef sentinel"),
        ("fish", "complete -c sentinel"),
    ] {
        let out = sentinel(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(marker),
            "{shell}: {}",
            &text[..text.len().min(200)]
        );
        assert!(text.contains("doctor") || text.contains("deployments"));
    }
}
