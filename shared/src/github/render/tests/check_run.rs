//! The check run and the commit status at each stage: its status and
//! conclusion, its name, the bake, validation, rollback and observe mode,
//! a validation stop, a skipped build.

use super::*;

#[test]
fn each_stage_maps_to_its_check_status_commit_state_and_deployment_state() {
    use CheckStatus::*;
    use Conclusion as C;
    use DeploymentState as D;
    let mut timed_out = record("main", BuildStatus::Started);
    timed_out.timed_out_at = Some(at(3_600));
    let mut stopped = record("main", BuildStatus::Cancelled);
    stopped.validation = Some(validation(true));
    let mut baking = succeeded(Some(Verdict::Healthy));
    baking.bake = Some(bake(None));
    let mut bake_failed = succeeded(Some(Verdict::Healthy));
    bake_failed.bake = Some(bake(Some(BakeOutcome::Failed)));
    type Case = (
        &'static str,
        Deployment,
        CheckStatus,
        Option<Conclusion>,
        CommitState,
        Option<DeploymentState>,
    );
    let cases: Vec<Case> = vec![
        (
            "building",
            record("main", BuildStatus::Started),
            InProgress,
            None,
            CommitState::Pending,
            None,
        ),
        (
            "unknown status",
            record("main", BuildStatus::Unknown("PAUSED".into())),
            InProgress,
            None,
            CommitState::Pending,
            None,
        ),
        (
            "timed out",
            timed_out,
            Completed,
            Some(C::TimedOut),
            CommitState::Failure,
            None,
        ),
        (
            "failed",
            failed_with(fixture("typescript-error")),
            Completed,
            Some(C::Failure),
            CommitState::Failure,
            None,
        ),
        (
            "cancelled",
            record("main", BuildStatus::Cancelled),
            Completed,
            Some(C::Cancelled),
            CommitState::Error,
            None,
        ),
        (
            "stopped by validation",
            stopped,
            Completed,
            Some(C::Failure),
            CommitState::Failure,
            None,
        ),
        (
            "checking the site",
            succeeded(None),
            InProgress,
            None,
            CommitState::Pending,
            Some(D::InProgress),
        ),
        (
            "healthy",
            succeeded(Some(Verdict::Healthy)),
            Completed,
            Some(C::Success),
            CommitState::Success,
            Some(D::Success),
        ),
        (
            "healthy, baking",
            baking,
            Completed,
            Some(C::Success),
            CommitState::Success,
            Some(D::Success),
        ),
        (
            "unhealthy",
            succeeded(Some(Verdict::Unhealthy)),
            Completed,
            Some(C::Failure),
            CommitState::Failure,
            Some(D::Failure),
        ),
        (
            "bake failed",
            bake_failed,
            Completed,
            Some(C::Failure),
            CommitState::Failure,
            Some(D::Failure),
        ),
        (
            "inconclusive",
            succeeded(Some(Verdict::Inconclusive)),
            Completed,
            Some(C::Neutral),
            CommitState::Success,
            Some(D::Error),
        ),
    ];
    for (what, r, status, conclusion, commit, deployment) in cases {
        let d = desired(&r, &ctx(), PrComment::Failures);
        assert_eq!(d.check_run.status, status, "{what}");
        assert_eq!(d.check_run.conclusion, conclusion, "{what}");
        assert_eq!(d.commit_status.state, commit, "{what}");
        assert_eq!(d.deployment.map(|d| d.status.state), deployment, "{what}");
        assert_eq!(
            d.check_run.completed_at.is_some(),
            status == Completed,
            "{what}"
        );
        assert!(d.commit_status.description.chars().count() <= DESCRIPTION_MAX);
    }
}

#[test]
fn the_check_run_names_the_branch_and_finds_the_job_again() {
    let d = desired(
        &record("feature/cart", BuildStatus::Started),
        &ctx(),
        PrComment::Never,
    );
    let run = &d.check_run;
    assert_eq!(run.name, "Deploy Sentinel / feature/cart");
    assert_eq!(run.head_sha, SHA);
    assert_eq!(
        run.external_id.as_deref(),
        Some("d1a2b3c4d5e6f7/feature/cart/12")
    );
    assert_eq!(
        run.details_url.as_deref(),
        Some(
            "https://eu-west-1.console.aws.amazon.com/amplify/apps/d1a2b3c4d5e6f7/branches/feature%2Fcart/deployments/12"
        )
    );
    assert_eq!(run.started_at, Some(at(0)));
    assert_eq!(run.title, "Building job 12");
    assert_eq!(d.commit_status.context, run.name);
    assert_eq!(d.commit_status.target_url, run.details_url);
    assert_eq!(d.deployment, None, "nothing is deployed while it builds");
}

#[test]
fn an_unhealthy_deploy_fails_its_check_although_the_build_succeeded() {
    let r = succeeded(Some(Verdict::Unhealthy));
    let d = desired(&r, &ctx(), PrComment::Failures);
    assert_eq!(d.check_run.conclusion, Some(Conclusion::Failure));
    let s = &d.check_run.summary;
    assert!(s.contains("#### Health: unhealthy"), "{s}");
    assert!(s.contains("/api/health answered 503"), "{s}");
    assert!(
        s.contains("expected 2xx, got 503") && s.contains("HTTP 503"),
        "{s}"
    );
    assert_eq!(d.check_run.completed_at, Some(at(300)));
}

#[test]
fn the_bake_validation_and_rollback_update_the_check_run() {
    let mut r = succeeded(Some(Verdict::Healthy));
    r.bake = Some(bake(Some(BakeOutcome::Failed)));
    r.validation = Some(validation(false));
    let c = RenderContext {
        rolled_back_to: Some(JobId::new(11)),
        replaced: true,
        ..ctx()
    };
    let d = desired(&r, &c, PrComment::Never);
    let s = &d.check_run.summary;
    assert!(
        s.contains("#### Bake: failed") && s.contains("5xx rate 4.1%"),
        "{s}"
    );
    assert!(s.contains("**Rolled back to job 11.**"), "{s}");
    assert!(d.check_run.title.ends_with("; rolled back to job 11"));
    assert!(s.contains("#### Validation: 1 error, 1 warning"), "{s}");
    assert!(s.contains("DATABASE\\_URL is required in prod"), "{s}");
    assert!(s.contains("**Fix:** Set DATABASE\\_URL"), "{s}");
    // A finding located at file:line is annotated there; a variable is not.
    assert_eq!(d.check_run.annotations.len(), 1);
    let a = &d.check_run.annotations[0];
    assert_eq!((a.path.as_str(), a.start_line), ("amplify.yml", 12));
    assert_eq!(a.annotation_level, AnnotationLevel::Warning);
    assert_eq!(d.check_run.completed_at, Some(at(2_000)));
}

#[test]
fn observe_mode_says_what_would_have_been_rolled_back() {
    let mut r = succeeded(Some(Verdict::Unhealthy));
    r.observed.push(ObservedAction::new(
        ObservedKind::Rollback,
        "to job 11: the deploy is unhealthy",
        at(400),
    ));
    let d = desired(&r, &ctx(), PrComment::Never);
    assert!(
        d.check_run.summary.contains(
            "**Would have rolled back (observe mode)**: to job 11: the deploy is unhealthy"
        ),
        "{}",
        d.check_run.summary
    );
    assert!(
        d.check_run
            .title
            .ends_with("would have rolled back (observe mode)")
    );
}

#[test]
fn a_validation_stop_fails_with_each_finding_and_its_fix() {
    let mut r = record("main", BuildStatus::Cancelled);
    r.validation = Some(validation(true));
    let d = desired(&r, &ctx(), PrComment::Never);
    assert_eq!(d.check_run.conclusion, Some(Conclusion::Failure));
    assert_eq!(
        d.check_run.title,
        "Stopped: the configuration cannot build (1 error)"
    );
    let s = &d.check_run.summary;
    assert!(
        s.contains("`env.required-missing`") && s.contains("`buildspec.node-memory`"),
        "{s}"
    );
    assert!(
        s.contains("export NODE\\_OPTIONS=--max-old-space-size=6144"),
        "{s}"
    );
    assert!(s.contains("Stop: stopped"), "{s}");
}

#[test]
fn a_skipped_build_completes_skipped_with_its_reason_once_stopped() {
    use crate::core::deployment::{Skip, SkipKind};
    let mut r = record("main", BuildStatus::Cancelled);
    let skip = |stop: &str| Skip {
        kind: SkipKind::NoChange,
        reason: "no change under apps/web".into(),
        by_job: JobId::new(12),
        at: at(10),
        stop_result: Some(stop.into()),
    };
    r.skipped = Some(skip("stopped"));
    let d = desired(&r, &ctx(), PrComment::Failures);
    assert_eq!(d.check_run.status, CheckStatus::Completed);
    assert_eq!(d.check_run.conclusion, Some(Conclusion::Skipped));
    assert!(
        d.check_run.title.contains("no change under apps/web")
            || d.check_run.summary.contains("no change under apps/web"),
        "{:?}",
        d.check_run
    );
    assert!(d.deployment.is_none());
    // Too late to stop: the job shows as what it did.
    let mut ended = record("main", BuildStatus::Succeeded);
    ended.skipped = Some(skip("not stopped: the job had ended (SUCCEED)"));
    let d = desired(&ended, &ctx(), PrComment::Failures);
    assert_ne!(d.check_run.conclusion, Some(Conclusion::Skipped));
}
