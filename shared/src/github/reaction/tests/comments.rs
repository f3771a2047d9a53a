//! The pull request comment and the alert's GitHub details: one comment
//! created then edited, the policy's choice, the author, the custom domain.

use super::*;

#[tokio::test]
async fn a_pull_request_gets_one_comment_created_then_edited() {
    let w = World::new("pr-7");
    w.updated("pr-7", 1, BuildStatus::Failed).await;
    w.updated("pr-7", 2, BuildStatus::Failed).await;
    let comments = w.github.comments.lock().unwrap().clone();
    assert_eq!(comments.len(), 1, "{comments:?}");
    let (number, body) = comments.values().next().unwrap();
    assert_eq!(*number, 7);
    assert!(body.contains(COMMENT_MARKER));
    assert!(
        body.to_lowercase().contains("job 2"),
        "edited for the newer job: {body}"
    );
    let calls = w.github.calls();
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, GitHubCall::CreateComment(..)))
            .count(),
        1
    );
    assert_eq!(
        calls
            .iter()
            .filter(|c| matches!(c, GitHubCall::UpdateComment(..)))
            .count(),
        1
    );
    // A preview's deployment is transient.
    let deployments = w.github.deployments.lock().unwrap();
    assert!(deployments.values().all(|(d, _)| d.transient_environment));
}

#[tokio::test]
async fn a_fine_build_posts_no_comment_but_edits_the_failure_s_one() {
    let w = World::new("pr-8");
    w.updated("pr-8", 1, BuildStatus::Succeeded).await;
    assert!(w.github.comments.lock().unwrap().is_empty(), "none yet");
    // The same event again asks GitHub nothing more.
    let calls = w.github.calls().len();
    w.reporter().update(&key("pr-8", 1), 0).await;
    assert_eq!(w.github.calls().len(), calls);

    w.updated("pr-8", 2, BuildStatus::Failed).await;
    w.updated("pr-8", 3, BuildStatus::Succeeded).await;
    let comments = w.github.comments.lock().unwrap().clone();
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(
        comments
            .values()
            .next()
            .unwrap()
            .1
            .to_lowercase()
            .contains("job 3")
    );
}

#[tokio::test]
async fn a_policy_saying_never_gets_no_comment() {
    let w = World::new("pr-9");
    let policy =
        crate::policy::BranchPolicy::parse("github:\n  pr_comment: never\n", "p.yaml").unwrap();
    crate::policy::PolicyStore::put_policy(&w.store, &"d1abc".parse().unwrap(), None, &policy)
        .await
        .unwrap();
    w.record("pr-9", 1, BuildStatus::Failed).await;
    let o = w.reporter().update(&key("pr-9", 1), 0).await;
    assert!(o.applied >= 1, "the check run still: {o:?}");
    assert!(w.github.comments.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_alert_names_the_author_unless_github_fails() {
    let w = World::new("main");
    w.github.script_commit(CommitInfo {
        sha: "c0ffee01".into(),
        author_name: Some("Jane Doe".into()),
        author_login: Some("jane".into()),
        authored_at: None,
        committed_at: None,
    });
    let app: AppId = "d1abc".parse().unwrap();
    let branch: BranchName = "main".parse().unwrap();
    let x = w
        .reporter()
        .alert_extras(&app, &branch, Some(JobId::new(1)), Some("c0ffee01"))
        .await;
    assert_eq!(x.author_line().as_deref(), Some("Jane Doe (@jane)"));
    assert_eq!(x.custom_site_url, None, "no custom domain");

    let w = World::new("main");
    w.github.fail_next(GitHubError::Unavailable {
        reason: "HTTP 500".into(),
        retry_after: None,
    });
    let x = w
        .reporter()
        .alert_extras(&app, &branch, Some(JobId::new(1)), Some("c0ffee01"))
        .await;
    assert_eq!(x.author, None);
    // The breaker is open: the next alert does not ask.
    let calls = w.github.calls().len();
    w.reporter()
        .alert_extras(&app, &branch, Some(JobId::new(2)), Some("c0ffee02"))
        .await;
    assert_eq!(w.github.calls().len(), calls);
}

#[tokio::test]
async fn the_alert_links_the_custom_domain_when_it_is_available() {
    use crate::ports::{DomainAssociation, SubDomain};
    let w = World::new("main");
    let domain = |status: &str| DomainAssociation {
        domain_name: "shop.example.com".into(),
        domain_status: status.into(),
        sub_domains: vec![SubDomain {
            prefix: "www".into(),
            branch_name: "main".into(),
            verified: true,
        }],
    };
    let app: AppId = "d1abc".parse().unwrap();
    let branch: BranchName = "main".parse().unwrap();
    w.set_domains(vec![domain("PENDING_VERIFICATION")]);
    let x = w.reporter().alert_extras(&app, &branch, None, None).await;
    assert_eq!(x.custom_site_url, None, "not available yet");
    w.set_domains(vec![domain("AVAILABLE")]);
    let x = w.reporter().alert_extras(&app, &branch, None, None).await;
    assert_eq!(
        x.custom_site_url.as_deref(),
        Some("https://www.shop.example.com/")
    );
    // The deployment's environment_url is the same site.
    w.updated("main", 1, BuildStatus::Succeeded).await;
    let deployments = w.github.deployments.lock().unwrap();
    let (_, statuses) = deployments.values().next().unwrap();
    assert_eq!(
        statuses[0].environment_url.as_deref(),
        Some("https://www.shop.example.com/")
    );
}
