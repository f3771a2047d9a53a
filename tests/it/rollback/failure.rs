//! A rollback that fails: unhealthy itself, or deploying another commit;
//! never rolled back again.

use super::*;

#[tokio::test]
async fn an_unhealthy_rollback_fails_and_is_not_rolled_back_again() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "ru").await;
    let events = rollback_events(&stack, &branch).await;
    healthy(&stack, &branch, V1).await;
    site(&stack, &branch, &[V1, V2]).await; // v1 breaks too (a dependency went down)
    build(&stack, &branch, V2, "SUCCEED", None).await;
    let got = expect(&events, &["Rollback Started", "Rollback Failed"], 90, 5).await;
    assert!(
        got[1]["detail"]["reason"]
            .as_str()
            .unwrap()
            .contains("unhealthy too"),
        "{got:#?}"
    );
    assert_eq!(
        start_jobs(&stack, &branch).await.len(),
        1,
        "no second rollback"
    );
}

#[tokio::test]
async fn a_rollback_that_deploys_another_commit_fails() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "rw").await;
    let events = rollback_events(&stack, &branch).await;
    behave(
        &stack,
        &branch,
        json!({"retryCommitId": V3, "stepDelayMs": 50}),
    )
    .await;
    site(&stack, &branch, &[V2]).await;
    healthy(&stack, &branch, V1).await;
    build(&stack, &branch, V2, "SUCCEED", None).await;
    let got = expect(&events, &["Rollback Started", "Rollback Failed"], 90, 3).await;
    let reason = got[1]["detail"]["reason"].as_str().unwrap();
    assert!(reason.contains("instead of the target's"), "{reason}");
}
