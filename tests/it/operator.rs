//! The operator's commands against the local stack: settings read from the
//! stack itself (`--stack`: CloudFormation's outputs and parameters, as
//! provision.py registers them like `sam deploy` would), a flag that
//! disagrees refused; and the dead-letter queue shown and redriven, each
//! message back to its own source queue.

use std::collections::BTreeSet;
use std::process::Output;
use std::time::Duration;

use serde_json::Value;

use crate::helpers::*;

/// `sentinel ARGS` with none of the stack's variables: only what `--stack`
/// reads (and the endpoints and credentials) is known.
fn bare_sentinel(args: &[&str]) -> Output {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let mut command = std::process::Command::new(format!("{target}/debug/sentinel"));
    for (name, _) in std::env::vars() {
        if name.starts_with("SENTINEL_") {
            command.env_remove(name);
        }
    }
    command.args(args).output().expect("run sentinel")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stack_name() -> String {
    format!("deploy-sentinel-{}", env("SENTINEL_ENVIRONMENT"))
}

#[tokio::test]
async fn cleanup_reads_retention_bus_and_scope_from_the_stack_and_refuses_a_disagreeing_flag() {
    let _stack = Stack::new().await;
    let name = stack_name();
    // Without the stack nor the flags, a cleanup that acts refuses.
    let out = bare_sentinel(&["cleanup", "--env", "dev", "--table", &env("SENTINEL_TABLE")]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("retention"), "{}", stderr(&out));
    let out = bare_sentinel(&[
        "cleanup",
        "--env",
        "dev",
        "--table",
        &env("SENTINEL_TABLE"),
        "--retention-days",
        "90",
        "--bus",
        &env("SENTINEL_EVENT_BUS"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("watch scope"), "{}", stderr(&out));

    // With --stack: the table, environment, retention, bus and scope are the
    // stack's; a dry run shows it (and changes nothing).
    let out = bare_sentinel(&["--stack", &name, "cleanup", "--dry-run", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["environment"], "dev", "{report}");
    assert_eq!(report["dryRun"], true, "{report}");

    // A flag that says otherwise is refused, naming both.
    let out = bare_sentinel(&[
        "--stack",
        &name,
        "cleanup",
        "--dry-run",
        "--retention-days",
        "7",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains(
            "--retention-days (SENTINEL_RETENTION_DAYS) is 7 but the stack's RetentionDays is 90"
        ),
        "{}",
        stderr(&out)
    );
    let out = bare_sentinel(&["--stack", &name, "--env", "prod", "deployments"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Environment is dev"),
        "{}",
        stderr(&out)
    );
    let out = bare_sentinel(&["--stack", "deploy-sentinel-nope", "deployments"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("deploy-sentinel-nope"),
        "{}",
        stderr(&out)
    );
    // The other commands read the same: deployments from the stack's table.
    let out = bare_sentinel(&["--stack", &name, "deployments", "--limit", "1", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        serde_json::from_slice::<Value>(&out.stdout)
            .unwrap()
            .is_array()
    );
}

#[tokio::test]
async fn a_dead_letter_names_its_source_queue() {
    let stack = Stack::new().await;
    let marker = format!("operator-{}", unique_app_id());
    // Not an event at all: the ingest function dead-letters it itself.
    stack
        .send_to_queue(
            "SENTINEL_QUEUE_INGEST_QUEUE",
            format!("{{\"not\": \"{marker}\"}}"),
        )
        .await;
    let message = dead_letter_with(&stack, &marker).await;
    let attrs = message.message_attributes.unwrap_or_default();
    let source = attrs
        .get("sourceQueue")
        .and_then(|a| a.string_value.clone())
        .unwrap_or_default();
    assert!(source.ends_with(":deploy-sentinel-dev-ingest"), "{source}");
    assert!(source.starts_with("arn:aws:sqs:"), "{source}");
}

#[tokio::test]
async fn a_redrive_sends_each_message_back_to_its_own_queue_and_keeps_the_rest() {
    let stack = Stack::new().await;
    let sqs = stack.sqs();
    let id = unique_app_id();
    let mut urls = Vec::new();
    for name in ["dlq", "alerts", "rollbacks"] {
        let url = sqs
            .create_queue()
            .queue_name(format!("redrive-{name}-{id}"))
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        urls.push(url);
    }
    let arn = |name: &str| format!("arn:aws:sqs:us-east-1:123456789012:redrive-{name}-{id}");
    let attribute = |v: &str| {
        aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(v)
            .build()
            .unwrap()
    };
    let messages = [
        ("for-alerts", Some("Retryable.Store"), Some(arn("alerts"))),
        (
            "for-rollbacks",
            Some("Retryable.Amplify"),
            Some(arn("rollbacks")),
        ),
        ("malformed", Some("NonRetryable.Event"), Some(arn("alerts"))),
        ("no-source", None, None),
    ];
    for (body, error_type, source) in &messages {
        let mut send = sqs.send_message().queue_url(&urls[0]).message_body(*body);
        if let Some(t) = error_type {
            send = send.message_attributes("errorType", attribute(t));
        }
        if let Some(s) = source {
            send = send.message_attributes("sourceQueue", attribute(s));
        }
        send.send().await.unwrap();
    }
    // What EventBridge dead-letters when a rule cannot deliver to its
    // target (a function's queue): its own attributes, no errorType.
    sqs.send_message()
        .queue_url(&urls[0])
        .message_body("from-eventbridge")
        .message_attributes(
            "RULE_ARN",
            attribute("arn:aws:events:us-east-1:123456789012:rule/r"),
        )
        .message_attributes("TARGET_ARN", attribute(&arn("rollbacks")))
        .message_attributes("ERROR_CODE", attribute("SDK_CLIENT_ERROR"))
        .message_attributes("ERROR_MESSAGE", attribute("the queue did not answer"))
        .send()
        .await
        .unwrap();

    let shown = bare_sentinel(&["dlq", "--dlq", &urls[0], "show", "--json"]);
    assert!(shown.status.success(), "{}", stderr(&shown));
    let shown: Value = serde_json::from_slice(&shown.stdout).unwrap();
    let from_rule = shown
        .as_array()
        .or_else(|| shown["messages"].as_array())
        .and_then(|all| all.iter().find(|m| m["body"] == "from-eventbridge"))
        .cloned()
        .unwrap_or_else(|| panic!("not shown: {shown}"));
    assert_eq!(
        from_rule["errorType"], "EventBridge.SDK_CLIENT_ERROR",
        "{from_rule}"
    );
    assert_eq!(
        from_rule["reason"], "the queue did not answer",
        "{from_rule}"
    );

    let dry = bare_sentinel(&["dlq", "--dlq", &urls[0], "redrive", "--dry-run", "--json"]);
    assert!(dry.status.success(), "{}", stderr(&dry));
    let planned: Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(planned["moved"][arn("alerts")], 1, "{planned}");
    assert_eq!(planned["moved"][arn("rollbacks")], 2, "{planned}");

    let out = bare_sentinel(&["dlq", "--dlq", &urls[0], "redrive", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kept: BTreeSet<&str> = done["kept"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["body"].as_str())
        .collect();
    assert_eq!(kept, BTreeSet::from(["malformed", "no-source"]), "{done}");

    let bodies = |url: String| {
        let sqs = sqs.clone();
        async move {
            let mut got = BTreeSet::new();
            for _ in 0..3 {
                let out = sqs
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(10)
                    .wait_time_seconds(1)
                    .send()
                    .await
                    .unwrap();
                got.extend(
                    out.messages
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|m| m.body),
                );
            }
            got
        }
    };
    assert_eq!(
        bodies(urls[1].clone()).await,
        BTreeSet::from(["for-alerts".to_owned()])
    );
    assert_eq!(
        bodies(urls[2].clone()).await,
        BTreeSet::from(["for-rollbacks".to_owned(), "from-eventbridge".to_owned()])
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        bodies(urls[0].clone()).await,
        BTreeSet::from(["malformed".to_owned(), "no-source".to_owned()]),
        "the rest stays in the DLQ, visible"
    );
}

/// Keys with an underscore, outside the policy (which keeps its file
/// format, `docs/policy.md`).
fn snake_keys(v: &Value, path: &str, found: &mut Vec<String>) {
    match v {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| *k != "policy")
            .for_each(|(k, child)| {
                if k.contains('_') {
                    found.push(format!("{path}/{k}"));
                }
                snake_keys(child, &format!("{path}/{k}"), found);
            }),
        Value::Array(items) => items.iter().for_each(|i| snake_keys(i, path, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_command_that_reads_or_acts_prints_one_camel_case_json_document() {
    let stack = Stack::new().await;
    let app = crate::end_to_end::watched_app();
    let branch = format!("json-{}", unique_app_id());
    crate::end_to_end::ensure_watched_app(&stack, &branch, &"c".repeat(40)).await;
    let policy = std::env::temp_dir().join(format!("{branch}.yaml"));
    std::fs::write(&policy, "stop_on_error: false\n").unwrap();
    let dlq = stack
        .sqs()
        .create_queue()
        .queue_name(format!("json-dlq-{}", unique_app_id()))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let name = stack_name();
    let (app, policy) = (app.as_str(), policy.to_str().unwrap());
    // (arguments, exit code); the DLQ commands name their own queue, so
    // they go without --stack (whose DLQ would disagree).
    let commands: Vec<(Vec<&str>, i32)> = vec![
        (vec!["deployments", "--limit", "3"], 0),
        (vec!["metrics", "--window", "1d"], 0),
        (
            vec!["policy", "push", policy, "--app", app, "--branch", &branch],
            0,
        ),
        (vec!["policy", "show", "--app", app, "--branch", &branch], 0),
        (
            vec!["unlock", "--app", app, "--branch", &branch, "--by", "json"],
            0,
        ),
        // No known good job: refused, a finding.
        (
            vec![
                "rollback", "--app", app, "--branch", &branch, "--by", "json",
            ],
            1,
        ),
        (vec!["cleanup", "--dry-run", "--app", app], 0),
        (vec!["alert", "test", "--app", app, "--branch", &branch], 0),
        // 0 or 1: other tests' dead letters may be in the stack's DLQ.
        (vec!["doctor"], -1),
        (vec!["dlq", "--dlq", &dlq, "show"], 0),
        (vec!["dlq", "--dlq", &dlq, "redrive", "--dry-run"], 0),
    ];
    for (args, code) in commands {
        let mut full = if args[0] == "dlq" {
            vec![]
        } else {
            vec!["--stack", name.as_str()]
        };
        full.extend(&args);
        full.push("--json");
        let out = bare_sentinel(&full);
        let got = out.status.code();
        if code < 0 {
            assert!(matches!(got, Some(0 | 1)), "{args:?}: {}", stderr(&out));
        } else {
            assert_eq!(got, Some(code), "{args:?}: {}", stderr(&out));
        }
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: not one JSON document ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        });
        let mut found = Vec::new();
        snake_keys(&v, "", &mut found);
        assert!(found.is_empty(), "{args:?}: snake_case keys {found:?}");
    }
    let _ = std::fs::remove_file(policy);
}

#[tokio::test]
async fn times_are_shown_with_their_zone() {
    use sentinel_shared::core::deployment::{Deployment, DeploymentKey};
    use sentinel_shared::core::transitions::Observation;
    use sentinel_shared::ports::DeploymentStore;
    let stack = Stack::new().await;
    let app = unique_app_id();
    let mut d = Deployment::new(
        DeploymentKey {
            app_id: app.clone(),
            branch_name: "main".parse().unwrap(),
            job_id: sentinel_shared::core::model::JobId::new(1),
        },
        stack.environment(),
    );
    d.apply(Observation {
        event_id: "e1".into(),
        status: sentinel_shared::core::model::BuildStatus::Started,
        at: chrono::Utc::now(),
    });
    d.outbox.clear();
    stack.store().save_deployment(&d).await.unwrap();
    let name = stack_name();
    let utc = bare_sentinel(&["--stack", &name, "deployments", "--app", app.as_str()]);
    assert!(utc.status.success(), "{}", stderr(&utc));
    let text = String::from_utf8_lossy(&utc.stdout);
    assert!(text.contains(" UTC "), "{text}");
    let mut local = std::process::Command::new(format!(
        "{}/debug/sentinel",
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into())
    ));
    let out = local
        .env("TZ", "Asia/Kolkata")
        .args([
            "--stack",
            &name,
            "--local",
            "deployments",
            "--app",
            app.as_str(),
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("+05:30"), "{text}");
}
