//! A transient build failure retried once; a real one never.

use super::*;

const NETWORK_LOG: &[&str] = &[
    "# Starting phase: preBuild",
    "# Executing command: npm ci",
    "npm ERR! code ETIMEDOUT",
    "npm ERR! errno ETIMEDOUT",
    "npm ERR! network request to https://registry.npmjs.org/next failed, reason: connect ETIMEDOUT 104.16.1.35:443",
    "!!! Build failed",
    "!!! Error: Command failed with exit code 1",
];

#[tokio::test]
async fn a_transient_failure_is_retried_once_and_a_real_one_never() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "rt").await;
    let retried = events_naming(&stack, &branch, "retryJobId").await;
    // The retry fails the same way.
    behave(
        &stack,
        &branch,
        json!({"outcome": "FAILED", "log": NETWORK_LOG, "stepDelayMs": 50}),
    )
    .await;
    let first = build(&stack, &branch, V1, "FAILED", Some(NETWORK_LOG.to_vec())).await;
    let got = retried
        .collect(1, Duration::from_secs(90), Duration::from_secs(8))
        .await
        .unwrap();
    assert_eq!(detail_types(&got), vec!["Build Retried"], "{got:#?}");
    assert_eq!(got[0]["detail"]["jobId"], first.to_string());
    let retry: JobId = got[0]["detail"]["retryJobId"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let store = stack.store();
    let k = key(&branch, retry);
    eventually(Duration::from_secs(60), "the retry diagnosed", || async {
        Ok(store.get_deployment(&k).await?.and_then(|d| d.diagnosis))
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let starts = start_jobs(&stack, &branch).await;
    assert_eq!(starts.len(), 1, "one retry per lineage: {starts:?}");

    // A failure a retry cannot fix is not retried.
    let other = format!("{branch}-x");
    ensure_watched_app(&stack, &other, V1).await;
    let oom = build(&stack, &other, V2, "FAILED", None).await;
    let k = key(&other, oom);
    let record = eventually(Duration::from_secs(60), "the diagnosis", || async {
        Ok(store
            .get_deployment(&k)
            .await?
            .filter(|d| d.diagnosis.is_some()))
    })
    .await
    .unwrap();
    assert!(!record.diagnosis.unwrap().transient);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(start_jobs(&stack, &other).await.is_empty());
}
