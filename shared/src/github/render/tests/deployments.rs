//! GitHub deployments: production or a PR preview, replaced, inactive, the
//! rollback's own, their names and descriptions within budget.

use super::*;

#[test]
fn a_production_deploy_is_a_production_environment_named_after_its_branch() {
    let d = desired(&succeeded(Some(Verdict::Healthy)), &ctx(), PrComment::Never)
        .deployment
        .expect("deployed");
    assert_eq!(d.new.git_ref, SHA);
    assert_eq!(d.new.environment, "main");
    assert!(!d.new.auto_merge && d.new.required_contexts.is_empty());
    assert!(d.new.production_environment && !d.new.transient_environment);
    assert_eq!(d.new.payload["job"], "12");
    assert_eq!(d.status.state, DeploymentState::Success);
    assert_eq!(
        d.status.environment_url.as_deref(),
        Some("https://www.shop.example.com/")
    );
    assert!(
        d.status
            .log_url
            .as_deref()
            .unwrap()
            .ends_with("/branches/main/deployments/12")
    );
    assert!(!d.status.auto_inactive);
    assert_eq!(d.status.description, "Deployed job 12; the site is healthy");
}

#[test]
fn a_pr_preview_is_a_transient_environment() {
    let mut r = succeeded(None);
    r.key.branch_name = "pr-42".parse().unwrap();
    let c = RenderContext {
        branch_stage: Some("PULL_REQUEST"),
        ..ctx()
    };
    let d = desired(&r, &c, PrComment::Never).deployment.unwrap();
    assert!(d.new.transient_environment && !d.new.production_environment);
    assert_eq!(d.new.environment, "pr-42");
    assert_eq!(d.status.state, DeploymentState::InProgress);
    // Known as a preview by its name even without the stage.
    let c = RenderContext {
        branch_stage: None,
        ..ctx()
    };
    assert!(
        desired(&r, &c, PrComment::Never)
            .deployment
            .unwrap()
            .new
            .transient_environment
    );
}

#[test]
fn a_deploy_replaced_before_its_health_check_does_not_stay_in_progress() {
    let c = RenderContext {
        replaced: true,
        ..ctx()
    };
    let d = desired(&succeeded(None), &c, PrComment::Never);
    assert_eq!(d.check_run.status, CheckStatus::Completed);
    assert_eq!(d.check_run.conclusion, Some(Conclusion::Neutral));
    assert_eq!(
        d.deployment.unwrap().status.state,
        DeploymentState::Inactive
    );
}

#[test]
fn a_replaced_deploy_is_inactive_and_the_rollback_has_its_own_deployment() {
    let bad = succeeded(Some(Verdict::Unhealthy));
    let c = RenderContext {
        replaced: true,
        rolled_back_to: Some(JobId::new(11)),
        ..ctx()
    };
    let d = desired(&bad, &c, PrComment::Never).deployment.unwrap();
    assert_eq!(d.status.state, DeploymentState::Inactive);
    assert_eq!(d.status.description, "Rolled back to job 11");
    let c = RenderContext {
        replaced: true,
        ..ctx()
    };
    let d = desired(&succeeded(Some(Verdict::Healthy)), &c, PrComment::Never)
        .deployment
        .unwrap();
    assert_eq!(
        (d.status.state, d.status.description.as_str()),
        (DeploymentState::Inactive, "Replaced by a later deploy")
    );

    let mut rollback = succeeded(Some(Verdict::Healthy));
    rollback.key.job_id = JobId::new(13);
    rollback.rollback_of = Some(JobId::new(11));
    let d = desired(&rollback, &ctx(), PrComment::Never);
    let dep = d.deployment.unwrap();
    assert_eq!(dep.status.state, DeploymentState::Success);
    assert_eq!(dep.new.description, "Amplify job 13: rollback to job 11");
    assert_eq!(dep.new.payload["rollbackOf"], "11");
    assert!(d.check_run.title.starts_with("Rollback to job 11: "));
}

#[test]
fn descriptions_and_names_keep_their_budgets_whatever_the_branch() {
    let long = format!("feature/{}", "@here-<b>".repeat(27));
    let mut r = succeeded(Some(Verdict::Unhealthy));
    r.key.branch_name = long.parse().unwrap();
    r.health.as_mut().unwrap().reason = "x".repeat(5_000);
    let d = desired(&r, &ctx(), PrComment::Never);
    assert!(d.commit_status.description.chars().count() <= DESCRIPTION_MAX);
    let dep = d.deployment.unwrap();
    assert!(dep.status.description.chars().count() <= DESCRIPTION_MAX);
    assert!(dep.new.description.chars().count() <= DESCRIPTION_MAX);
    assert!(d.check_run.name.chars().count() <= "Deploy Sentinel / ".len() + BRANCH_IN_NAME_MAX);
    assert!(d.check_run.summary.chars().count() <= SUMMARY_MAX);
    // A site URL that is no http(s) URL is neither linked nor an environment URL.
    let c = RenderContext {
        site_url: Some("javascript:alert(1)"),
        ..ctx()
    };
    let d = desired(&succeeded(Some(Verdict::Healthy)), &c, PrComment::Never);
    assert_eq!(d.deployment.unwrap().status.environment_url, None);
    assert!(!d.check_run.summary.contains("javascript:"));
}
