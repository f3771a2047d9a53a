//! The validator through the real binaries: a build starts on a branch that
//! misses a required variable and exposes a secret → the report is recorded,
//! the emulator's job is stopped, "Validation Failed" is published once, even
//! when "Build Started" is delivered twice; the secret appears nowhere.

use std::time::Duration;

use sentinel_shared::core::deployment::{Deployment, DeploymentKey};
use sentinel_shared::core::model::BuildStatus;
use sentinel_shared::policy::BranchPolicy;
use sentinel_shared::policy::PolicyStore;
use sentinel_shared::ports::DeploymentStore;
use serde_json::{Value, json};

use crate::end_to_end::{ensure_watched_app, watched_app};
use crate::helpers::*;

const CANARY: &str = "sk_live_CANARYvalidatorE2E0123456789abc";

/// The emulator's status of the job (what Amplify would answer).
async fn emulated_status(stack: &Stack, branch: &str, job: &str) -> String {
    let out = stack
        .amplify_sdk()
        .get_job()
        .app_id(watched_app().as_str())
        .branch_name(branch)
        .job_id(job)
        .send()
        .await
        .unwrap();
    out.job()
        .unwrap()
        .summary()
        .unwrap()
        .status()
        .as_str()
        .to_owned()
}

/// Starts a build of `commit` on the watched app's `branch` and waits until
/// its record is `done` with nothing left to publish: (job id, record).
async fn validated_build(
    stack: &Stack,
    branch: &str,
    commit: &str,
    what: &str,
    done: impl Fn(&Deployment) -> bool,
) -> (String, Deployment) {
    let app = watched_app();
    let job = stack.manual_build(&app, branch, commit).await.unwrap();
    stack
        .advance(&app, branch, &job, "RUNNING", true)
        .await
        .unwrap();
    let key = DeploymentKey {
        app_id: app,
        branch_name: branch.parse().unwrap(),
        job_id: job.parse().unwrap(),
    };
    let store = stack.store();
    let record = eventually(Duration::from_secs(90), what, || async {
        Ok(store
            .get_deployment(&key)
            .await?
            .filter(|d| done(d) && d.outbox.is_empty()))
    })
    .await
    .unwrap();
    (job, record)
}

#[tokio::test]
async fn a_build_missing_a_required_variable_is_stopped_and_reported_once() {
    let stack = Stack::new().await;
    let app = watched_app();
    let branch = format!("val-{}", unique_app_id());
    let commit = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
    ensure_watched_app(&stack, &branch, commit).await;
    // The branch exposes a secret to browsers and lacks DATABASE_URL.
    stack
        .amplify_sdk()
        .update_branch()
        .app_id(app.as_str())
        .branch_name(&branch)
        .environment_variables("NEXT_PUBLIC_STRIPE_SECRET", CANARY)
        .send()
        .await
        .unwrap();
    let policy = BranchPolicy::parse(
        "required:\n  all: [DATABASE_URL]\nstop_on_error: true\n",
        "test",
    )
    .unwrap();
    stack
        .store()
        .put_policy(&app, Some(&branch.parse().unwrap()), &policy)
        .await
        .unwrap();
    let capture = stack
        .capture(&stack.bus, json!({"branchName": [branch.as_str()]}))
        .await
        .unwrap();

    let (job, record) = validated_build(&stack, &branch, commit, "stopped by validation", |d| {
        d.validation
            .as_ref()
            .is_some_and(|v| v.stop_result.is_some())
    })
    .await;
    let validation = record.validation.clone().unwrap();
    assert_eq!(validation.stop_result.as_deref(), Some("stopped"));
    assert_eq!(validation.policy, "branch");
    let rules: Vec<&str> = validation
        .report
        .findings
        .iter()
        .map(|f| f.rule.as_str())
        .collect();
    assert!(
        rules.contains(&"env.required-missing") && rules.contains(&"env.secret-exposed"),
        "{rules:?}"
    );
    assert_eq!(record.status, BuildStatus::Cancelled);

    assert_eq!(emulated_status(&stack, &branch, &job).await, "CANCELLED");

    let mut events = capture
        .collect(4, Duration::from_secs(30), Duration::from_secs(2))
        .await
        .unwrap();
    // Deliver "Build Started" a second time, straight into the validator's queue.
    let started = events
        .iter()
        .find(|e| e["detail-type"] == "Build Started")
        .cloned()
        .expect("Build Started was published");
    stack
        .send_to_queue("SENTINEL_QUEUE_VALIDATOR_QUEUE", &started.to_string())
        .await;
    events.extend(
        capture
            .collect(0, Duration::from_secs(1), Duration::from_secs(4))
            .await
            .unwrap(),
    );
    let count = |t: &str| events.iter().filter(|e| e["detail-type"] == t).count();
    assert_eq!(count("Validation Failed"), 1, "{events:#?}");
    assert_eq!(count("Validation Completed"), 1);
    assert_eq!(count("Build Cancelled"), 1);
    let failed = events
        .iter()
        .find(|e| e["detail-type"] == "Validation Failed")
        .unwrap();
    assert_eq!(failed["detail"]["stopRequested"], Value::Bool(true));

    // The canary is nowhere: not in events, not in the record, not in the logs.
    let everything = format!(
        "{}{}{}",
        serde_json::to_string(&events).unwrap(),
        serde_json::to_string(&record).unwrap(),
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/lambda.log")
        )
        .unwrap_or_default()
    );
    assert!(!everything.contains("CANARYvalidator"), "the canary leaked");
    assert!(everything.contains("sk_l…"), "the masked form is shown");
}

/// A line of `tests/fixtures/public-values/public.tsv`: (name, value).
fn public_sample(kind: &str) -> (String, String) {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/public-values/public.tsv");
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 3 && f[0] == kind).then(|| (f[1].to_owned(), f[2].to_owned()))
        })
        .next()
        .unwrap_or_else(|| panic!("no {kind} in {}", path.display()))
}

#[tokio::test]
async fn keys_made_to_be_public_never_stop_a_build_and_a_secret_name_alone_warns() {
    let stack = Stack::new().await;
    let app = watched_app();
    let branch = format!("pub-{}", unique_app_id());
    let commit = "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2";
    ensure_watched_app(&stack, &branch, commit).await;
    let mut update = stack
        .amplify_sdk()
        .update_branch()
        .app_id(app.as_str())
        .branch_name(&branch)
        // Secret-sounding names, public values: what a Next.js app ships.
        .environment_variables("NEXT_PUBLIC_SEARCH_TOKEN", "storefront-search");
    for kind in [
        "a Mapbox public token",
        "a Supabase anon key",
        "a Stripe publishable key",
        "a Sentry DSN",
    ] {
        let (name, value) = public_sample(kind);
        update = update.environment_variables(format!("NEXT_PUBLIC_{name}"), value);
    }
    update.send().await.unwrap();
    let policy = BranchPolicy::parse("stop_on_error: true\n", "test").unwrap();
    stack
        .store()
        .put_policy(&app, Some(&branch.parse().unwrap()), &policy)
        .await
        .unwrap();

    let (job, record) = validated_build(&stack, &branch, commit, "validated", |d| {
        d.validation.is_some()
    })
    .await;
    let validation = record.validation.clone().unwrap();
    let env_findings: Vec<(&str, &str)> = validation
        .report
        .findings
        .iter()
        .filter(|f| f.rule.starts_with("env.secret"))
        .map(|f| (f.rule.as_str(), f.location.as_deref().unwrap_or_default()))
        .collect();
    assert_eq!(
        env_findings,
        vec![("env.secret-suspected", "NEXT_PUBLIC_SEARCH_TOKEN")],
        "{:#?}",
        validation.report.findings
    );
    let suspected = validation
        .report
        .findings
        .iter()
        .find(|f| f.rule == "env.secret-suspected")
        .unwrap();
    assert_eq!(
        suspected.severity,
        sentinel_shared::validate::Severity::Warning
    );
    assert!(!validation.stop_requested, "{:#?}", validation.report);
    assert_eq!(validation.stop_result, None);
    assert_ne!(emulated_status(&stack, &branch, &job).await, "CANCELLED");
}

#[tokio::test]
async fn a_required_variable_kept_only_as_an_amplify_secret_passes_and_one_in_neither_place_fails()
{
    const SSM_CANARY: &str = "postgres://app:CANARYssmSecret42@db.internal/shop";
    let stack = Stack::new().await;
    let app = watched_app();
    let kept = format!("ssm-{}", unique_app_id());
    let neither = format!("nossm-{}", unique_app_id());
    let commit = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3";
    let policy = BranchPolicy::parse(
        "required:\n  all: [DATABASE_URL]\nstop_on_error: false\n",
        "test",
    )
    .unwrap();
    for branch in [&kept, &neither] {
        ensure_watched_app(&stack, branch, commit).await;
        stack
            .store()
            .put_policy(&app, Some(&branch.parse().unwrap()), &policy)
            .await
            .unwrap();
    }
    // Where Amplify's build reads the branch's secrets ("Setting Up SSM
    // Secrets"); another branch's secret of the same name must not count.
    for (name, branch) in [
        (format!("/amplify/{app}/{kept}/DATABASE_URL"), &kept),
        (
            format!("/amplify/{app}/{neither}-other/DATABASE_URL"),
            &neither,
        ),
    ] {
        stack
            .ssm()
            .put_parameter()
            .name(name)
            .value(SSM_CANARY)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{branch}: {e:?}"));
    }

    let (_, record) = validated_build(&stack, &kept, commit, "validated", |d| {
        d.validation.is_some()
    })
    .await;
    let report = record.validation.clone().unwrap().report;
    assert!(report.passed, "{report:#?}");
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.rule == "env.required-missing"),
        "{report:#?}"
    );
    assert_eq!(
        report.notes,
        vec![format!(
            "DATABASE_URL: present as an SSM secret (/amplify/{app}/{kept}/DATABASE_URL)"
        )]
    );

    let (_, other) = validated_build(&stack, &neither, commit, "validated", |d| {
        d.validation.is_some()
    })
    .await;
    let report = other.validation.clone().unwrap().report;
    assert!(!report.passed, "{report:#?}");
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.rule == "env.required-missing" && f.message.contains("DATABASE_URL")),
        "{report:#?}"
    );

    // Only names were read: the value is nowhere.
    let everything = format!(
        "{}{}{}",
        serde_json::to_string(&record).unwrap(),
        serde_json::to_string(&other).unwrap(),
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/lambda.log")
        )
        .unwrap_or_default()
    );
    assert!(
        !everything.contains("CANARYssmSecret42"),
        "the secret leaked"
    );
}

/// #28 item 7: a URL variable whose password holds `/` (and the other
/// separators a password may hold) is named in the finding, never quoted:
/// not in the record, the events, the alert nor the functions' logs.
#[tokio::test]
async fn a_url_password_appears_nowhere_after_validation() {
    const PASSWORD: &str = "Ab/Cd+eSecretZ9";
    let stack = Stack::new().await;
    let app = watched_app();
    let branch = format!("pw-{}", unique_app_id());
    let commit = "d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4";
    ensure_watched_app(&stack, &branch, commit).await;
    stack
        .amplify_sdk()
        .update_branch()
        .app_id(app.as_str())
        .branch_name(&branch)
        .environment_variables(
            "REDIS_URL",
            format!("redis://default:{PASSWORD}@cache.internal:6379"),
        )
        .send()
        .await
        .unwrap();
    // An error, so that the build's validation fails and is alerted; the
    // build itself runs on (no stop: nothing to compare but the text).
    let policy = BranchPolicy::parse(
        "severity:\n  env.malformed: error\nstop_on_error: false\n",
        "test",
    )
    .unwrap();
    stack
        .store()
        .put_policy(&app, Some(&branch.parse().unwrap()), &policy)
        .await
        .unwrap();
    let inbox = stack.subscribe_alerts(&branch).await.unwrap();
    let capture = stack
        .capture(&stack.bus, json!({"branchName": [branch.as_str()]}))
        .await
        .unwrap();

    let (_, record) = validated_build(&stack, &branch, commit, "validated", |d| {
        d.validation.is_some()
    })
    .await;
    let report = record.validation.clone().unwrap().report;
    let finding = report
        .findings
        .iter()
        .find(|f| f.rule == "env.malformed")
        .unwrap_or_else(|| panic!("no env.malformed finding: {report:#?}"));
    assert!(finding.message.contains("REDIS_URL"), "{finding:?}");

    let events = capture
        .collect(2, Duration::from_secs(60), Duration::from_secs(2))
        .await
        .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e["detail-type"] == "Validation Failed"),
        "{events:#?}"
    );
    let alerts = inbox
        .collect(1, Duration::from_secs(90), Duration::from_secs(3))
        .await
        .unwrap();
    assert!(!alerts.is_empty(), "the failed validation is alerted");

    let everything = format!(
        "{}{}{}{}",
        serde_json::to_string(&events).unwrap(),
        serde_json::to_string(&record).unwrap(),
        serde_json::to_string(&alerts).unwrap(),
        std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.local/lambda.log")
        )
        .unwrap_or_default()
    );
    for part in [PASSWORD, "eSecretZ9", "Cd+e"] {
        assert!(!everything.contains(part), "{part:?} leaked");
    }
}
