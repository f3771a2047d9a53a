//! Observe mode through the real binaries and the emulator: a branch whose
//! policy says `enforcement: observe` (the local stack enforces, as the
//! other tests need) has a build that would have been stopped and a deploy
//! that would have been rolled back. Nothing reaches Amplify (no StopJob,
//! UpdateBranch or StartJob for the branch); the would-haves are recorded,
//! published as "Action Observed", alerted as such, and shown by
//! `sentinel deployments` and `sentinel metrics`. Enforce mode is the rest
//! of the suite (validator.rs, rollback.rs).

use std::time::Duration;

use sentinel_shared::core::enforcement::ObservedKind;
use sentinel_shared::core::model::JobId;
use sentinel_shared::ports::DeploymentStore;
use serde_json::json;

use crate::end_to_end::{watched_app, watched_build};
use crate::helpers::*;
use crate::rollback::{auto_build, detail_types, key, sentinel, site, verdict};

const V1: &str = "4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d4d";
const V2: &str = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

/// A build of `commit` whose steps take long enough for the validator to
/// see it running (a build that already ended is never stopped).
async fn slow_build(stack: &Stack, branch: &str, commit: &str) -> JobId {
    watched_build(
        stack,
        branch,
        json!({"commitId": commit, "commitMessage": "feat", "outcome": "SUCCEED",
               "mode": "auto", "emit": true, "stepDelayMs": 6000}),
    )
    .await
}

/// Amplify operations that act, as the emulator logged them for `branch`.
async fn acting_calls(stack: &Stack, branch: &str) -> Vec<String> {
    stack
        .amplify_calls()
        .await
        .iter()
        .filter(|c| c["params"]["branchName"] == branch)
        .filter_map(|c| c["operation"].as_str())
        .filter(|op| ["StopJob", "UpdateBranch", "StartJob"].contains(op))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn observe_mode_records_publishes_and_alerts_what_it_would_have_done_and_acts_on_nothing() {
    let stack = Stack::new().await;
    // rollback.rs's branch (automatic rollback on, quick checks), observing
    // and requiring a variable the builds lack.
    let branch = crate::rollback::branch_with(
        &stack,
        "obs",
        "enforcement: observe\nrequired:\n  all: [DATABASE_URL]\n",
    )
    .await;
    site(&stack, &branch, &[V2]).await;
    let observed = stack
        .capture(
            &stack.bus,
            json!({"branchName": [branch.as_str()], "action": [{"exists": true}]}),
        )
        .await
        .unwrap();
    let alerts = stack.subscribe_alerts(&branch).await.unwrap();

    // v1 lacks DATABASE_URL: it would have been stopped, and is not.
    let v1 = slow_build(&stack, &branch, V1).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    // v2's site is broken: it would have been rolled back to v1.
    let v2 = slow_build(&stack, &branch, V2).await;
    assert_eq!(verdict(&stack, &branch, v2).await, "unhealthy");

    // Both builds lack the variable: two stops, one rollback, each once.
    let got = observed
        .collect(3, Duration::from_secs(90), Duration::from_secs(4))
        .await
        .unwrap();
    assert!(
        detail_types(&got).iter().all(|t| t == "Action Observed"),
        "{got:#?}"
    );
    let mut actions: Vec<String> = got
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["detail"]["action"].as_str().unwrap_or("?"),
                e["detail"]["jobId"].as_str().unwrap_or("?")
            )
        })
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        vec![
            format!("rollback {v2}"),
            format!("stop-build {v1}"),
            format!("stop-build {v2}")
        ]
    );
    let rollback = got
        .iter()
        .find(|e| e["detail"]["action"] == "rollback")
        .unwrap();
    assert_eq!(rollback["detail"]["jobId"], v2.to_string());
    assert_eq!(rollback["detail"]["targetJobId"], v1.to_string());
    let summary = rollback["detail"]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("would have rolled back to job {v1}")),
        "{summary}"
    );

    // Nothing acted on Amplify for this branch; auto-build is still on.
    assert_eq!(acting_calls(&stack, &branch).await, Vec::<String>::new());
    assert!(auto_build(&stack, &branch).await);

    // Recorded on the jobs.
    let store = stack.store();
    let d1 = store
        .get_deployment(&key(&branch, v1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d1.observed.len(), 1);
    assert_eq!(d1.observed[0].action, ObservedKind::StopBuild);
    assert_eq!(d1.status.as_str(), "SUCCEED", "not cancelled");
    let d2 = store
        .get_deployment(&key(&branch, v2))
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<ObservedKind> = d2.observed.iter().map(|a| a.action).collect();
    assert_eq!(kinds, vec![ObservedKind::StopBuild, ObservedKind::Rollback]);

    // Alerted as "would have": the validation failure says so, and the
    // rollback has its own message with the command to run by hand.
    let messages = alerts
        .collect(3, Duration::from_secs(60), Duration::from_secs(4))
        .await
        .unwrap();
    let text = serde_json::to_string(&messages).unwrap();
    assert!(
        text.contains("would have stopped this build"),
        "{messages:#?}"
    );
    assert!(text.contains("Would have rolled back"), "{messages:#?}");
    assert!(
        text.contains(&format!(
            "sentinel rollback --app {} --branch",
            watched_app()
        )),
        "{messages:#?}"
    );

    // `sentinel deployments` and `sentinel metrics` show them.
    let out = sentinel(&[
        "deployments",
        "--app",
        watched_app().as_str(),
        "--branch",
        &branch,
    ]);
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        shown.contains("observe mode: would have stopped this build"),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("observe mode: would have rolled back to job {v1}")),
        "{shown}"
    );
    let out = sentinel(&["metrics", "--window", "1d"]);
    let figures = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(figures.contains("Observe mode"), "{figures}");
    assert!(figures.contains("would have stopped"), "{figures}");
}
