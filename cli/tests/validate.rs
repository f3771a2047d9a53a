//! `sentinel validate` as a user runs it: the real binary on the rule
//! fixtures (`tests/fixtures/validate`), exit codes, JSON, and masking.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/validate")
}

fn sentinel(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentinel"))
        .args(args)
        .env_remove("SENTINEL_ENVIRONMENT")
        .output()
        .expect("run sentinel")
}

fn run_fixture(dir: &Path, json: bool) -> Output {
    let args_file = std::fs::read_to_string(dir.join("args")).unwrap();
    let mut args: Vec<String> = vec!["validate".into(), "--dir".into(), dir.display().to_string()];
    args.extend([
        "--env-file".into(),
        dir.join("case.env").display().to_string(),
    ]);
    args.extend([
        "--policy".into(),
        dir.join("policy.yaml").display().to_string(),
    ]);
    args.extend(args_file.split_whitespace().map(String::from));
    if json {
        args.push("--json".into());
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    sentinel(&refs)
}

#[test]
fn every_rule_fixture_through_the_cli() {
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let rule_dir = entry.unwrap().path();
        let rule = rule_dir.file_name().unwrap().to_string_lossy().to_string();
        if rule_dir.join("fail/secrets").exists() {
            // Its input is the validator function's SSM lookup, which a
            // checkout has not: the engine's own fixture test covers it.
            continue;
        }
        for (case, should_fire) in [("fail", true), ("pass", false)] {
            let out = run_fixture(&rule_dir.join(case), true);
            let report: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
                    panic!(
                        "{rule}/{case}: {e}: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )
                });
            let rules: Vec<&str> = report["findings"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["rule"].as_str())
                .collect();
            assert_eq!(
                rules.contains(&rule.as_str()),
                should_fire,
                "{rule}/{case}: {rules:?}"
            );
            let errors = report["errors"].as_u64().unwrap();
            assert_eq!(
                out.status.code(),
                Some(if errors > 0 { 1 } else { 0 }),
                "{rule}/{case}"
            );
        }
    }
}

#[test]
fn a_readable_table_for_people() {
    let out = run_fixture(&fixtures().join("env.required-missing/fail"), false);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("✗ error") && text.contains("env.required-missing") && text.contains("fix:"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_canary_secret_never_appears_in_any_output() {
    const CANARY: &str = "ghp_CANARYc4n4ryC4NARYcanary0123456789ab";
    let dir = std::env::temp_dir().join(format!("sentinel-canary-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("case.env"),
        format!("NEXT_PUBLIC_GITHUB_TOKEN={CANARY}\nDATABASE_URL={CANARY}\nSERVICE_URL={CANARY}\nJOB_TIMEOUT_MS={CANARY}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("amplify.yml"),
        format!("version: 1\nfrontend: [{CANARY}\n"),
    )
    .unwrap();
    std::fs::write(
        dir.join("package.json"),
        format!("{{\"name\": \"{CANARY}\", \"dependencies\": {{\"react\": \"^18\"}}}}"),
    )
    .unwrap();
    for json in [true, false] {
        let mut args = vec!["validate", "--dir", dir.to_str().unwrap(), "--env", "prod"];
        let env_file = dir.join("case.env");
        args.extend(["--env-file", env_file.to_str().unwrap()]);
        if json {
            args.push("--json");
        }
        let out = sentinel(&args);
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(1), "{all}");
        assert!(all.contains("env.secret-exposed"), "{all}");
        assert!(!all.contains("CANARYc4n4ry"), "the canary leaked: {all}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_exits_2_naming_the_file_and_place() {
    let dir = std::env::temp_dir().join(format!("sentinel-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("policy.yaml"),
        "required:\n  all: [A]\nstop_on_eror: true\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("package.json"),
        "{\n  \"name\": \"x\",\n  oops\n}\n",
    )
    .unwrap();
    std::fs::write(dir.join("bad.env"), "A=1\nnot a line\n").unwrap();
    let d = dir.to_str().unwrap();

    let out = sentinel(&[
        "validate",
        "--dir",
        d,
        "--policy",
        &format!("{d}/policy.yaml"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        err.contains("policy.yaml:3:") && err.contains("stop_on_eror"),
        "{err}"
    );

    let out = sentinel(&[
        "validate",
        "--dir",
        d,
        "--env-file",
        &format!("{d}/bad.env"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("bad.env:2:"), "{err}");

    std::fs::write(dir.join("empty.env"), "").unwrap();
    let out = sentinel(&[
        "validate",
        "--dir",
        d,
        "--env-file",
        &format!("{d}/empty.env"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(err.contains("package.json:3:"), "{err}");

    let out = sentinel(&["validate", "--platform", "MOBILE"]);
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).ok();
}

/// Issue #28 item 7, as a new user met it: a `.env` with a URL whose
/// password holds a character that ends a URL's authority.
#[test]
fn a_url_password_never_appears_in_validate_s_output() {
    let dir = std::env::temp_dir().join(format!("sentinel-url-password-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let env_file = dir.join(".env");
    for c in ['/', '@', ':', '#', '?'] {
        std::fs::write(
            &env_file,
            format!(
                "REDIS_URL=redis://default:Kq7vWx{c}Zt9wPm@cache.internal:6379\n\
                 DATABASE_URL=postgres://app:Kq7vWx{c}Zt9wPm@db.internal:5432/shop\n\
                 NEXT_PUBLIC_CACHE_URL=redis://default:Kq7vWx{c}Zt9wPm@cache.internal:6379\n"
            ),
        )
        .unwrap();
        for json in [false, true] {
            let mut args = vec!["validate", "--dir", dir.to_str().unwrap(), "--env", "prod"];
            args.extend(["--env-file", env_file.to_str().unwrap()]);
            if json {
                args.push("--json");
            }
            let out = sentinel(&args);
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // The public one is an error: the run did judge these values.
            assert_eq!(out.status.code(), Some(1), "{c:?}: {all}");
            assert!(
                !all.contains("Kq7vWx") && !all.contains("Zt9wPm"),
                "{c:?} (json: {json}): the password leaked: {all}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
