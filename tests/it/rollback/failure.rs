//! A rollback that fails: unhealthy itself, or deploying another commit;
//! never rolled back again.

use super::*;

#[tokio::test]
async fn an_unhealthy_rollback_fails_and_is_not_rolled_back_again() {
    let stack = Stack::new().await;
    let branch = branch(&stack, "ru").await;
    let events = rollback_events(&stack, &branch).await;
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    site(&stack, &branch, &[V1, V2]).await; // v1 breaks too (a dependency went down)
    build(&stack, &branch, V2, "SUCCEED", None).await;
    let got = events
        .collect(2, Duration::from_secs(90), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        detail_types(&got),
        vec!["Rollback Started", "Rollback Failed"],
        "{got:#?}"
    );
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
    let v1 = build(&stack, &branch, V1, "SUCCEED", None).await;
    assert_eq!(verdict(&stack, &branch, v1).await, "healthy");
    build(&stack, &branch, V2, "SUCCEED", None).await;
    let got = events
        .collect(2, Duration::from_secs(90), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(
        detail_types(&got),
        vec!["Rollback Started", "Rollback Failed"],
        "{got:#?}"
    );
    let reason = got[1]["detail"]["reason"].as_str().unwrap();
    assert!(reason.contains("instead of the target's"), "{reason}");
}
