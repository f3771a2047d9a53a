use chrono::TimeZone;

use super::*;
use crate::core::bake::BakeRecord;
use crate::core::deployment::{DeploymentKey, HealthRecord, ValidationRecord};
use crate::core::enforcement::ObservedAction;
use crate::core::model::Environment;
use crate::core::verdicts::{Diagnosis, EndpointReport, Evidence, Finding, Report};
use crate::diagnose::diagnose_bytes;

const SHA: &str = "5d8e2a0c7b1f49e3a6d05c8b2e7f1a9d3c6b4e08";

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

fn record(branch: &str, status: BuildStatus) -> Deployment {
    let key = DeploymentKey {
        app_id: "d1a2b3c4d5e6f7".parse().unwrap(),
        branch_name: branch.parse().unwrap(),
        job_id: JobId::new(12),
    };
    let mut d = Deployment::new(key, Environment::Prod);
    d.status = status;
    d.details.commit_id = Some(SHA.into());
    d.details.commit_message = Some("Checkout: discount codes".into());
    d.details.start_time = Some(at(0));
    d.details.end_time = Some(at(120)).filter(|_| d.status.is_terminal());
    d
}

fn ctx() -> RenderContext<'static> {
    RenderContext {
        region: "eu-west-1",
        site_url: Some("https://www.shop.example.com/"),
        branch_stage: Some("PRODUCTION"),
        ..Default::default()
    }
}

fn fixture(name: &str) -> Diagnosis {
    let path = format!(
        "{}/tests/fixtures/diagnose/{name}.log",
        env!("CARGO_MANIFEST_DIR")
    );
    diagnose_bytes(&std::fs::read(&path).expect("fixture"))
}

fn failed_with(d: Diagnosis) -> Deployment {
    let mut r = record("main", BuildStatus::Failed);
    r.diagnosis = Some(d);
    r
}

fn health(verdict: Verdict, reason: &str) -> HealthRecord {
    HealthRecord {
        verdict,
        reason: reason.into(),
        url: "https://www.shop.example.com/".into(),
        checked_at: at(300),
        rounds: 3,
        endpoints: vec![EndpointReport {
            url: "https://www.shop.example.com/api/health".into(),
            last_status: Some(503),
            last_latency_ms: 40,
            verdict: if verdict == Verdict::Healthy {
                EndpointOutcome::Passed
            } else {
                EndpointOutcome::SiteFailed
            },
            reason: (verdict != Verdict::Healthy).then(|| "expected 2xx, got 503".into()),
            attempts: 3,
            p50_ms: 30,
            p95_ms: 45,
        }],
    }
}

fn succeeded(verdict: Option<Verdict>) -> Deployment {
    let mut r = record("main", BuildStatus::Succeeded);
    r.health = verdict.map(|v| health(v, "3 of 3 rounds failed: /api/health answered 503"));
    r
}

fn bake(outcome: Option<BakeOutcome>) -> BakeRecord {
    BakeRecord {
        started_at: at(400),
        deployed_at: Some(at(120)),
        interval_minutes: 5,
        steps_total: 6,
        baseline: None,
        steps: Vec::new(),
        outcome,
        reason: outcome.map(|_| "5xx rate 4.1% over 3 intervals (baseline 0.2%)".into()),
        decided_at: outcome.map(|_| at(2_000)),
        console_url: "https://eu-west-1.console.aws.amazon.com/cloudwatch/home".into(),
    }
}

fn validation(stop: bool) -> ValidationRecord {
    ValidationRecord {
        report: Report {
            passed: false,
            errors: 1,
            warnings: 1,
            findings: vec![
                Finding {
                    rule: "env.required-missing".into(),
                    severity: Severity::Error,
                    message: "DATABASE_URL is required in prod and not set".into(),
                    fix: "Set DATABASE_URL in the branch's environment variables".into(),
                    location: Some("DATABASE_URL".into()),
                },
                Finding {
                    rule: "buildspec.node-memory".into(),
                    severity: Severity::Warning,
                    message: "next build runs with the default heap".into(),
                    fix: "export NODE_OPTIONS=--max-old-space-size=6144".into(),
                    location: Some("amplify.yml:12".into()),
                },
            ],
            skipped: Vec::new(),
            notes: Vec::new(),
        },
        policy: "branch".into(),
        validated_at: at(5),
        stop_requested: stop,
        stop_result: stop.then(|| "stopped".into()),
    }
}

// Status mappings.

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

// The failure summary.

#[test]
fn the_failure_summary_is_what_the_alert_says() {
    let r = failed_with(fixture("typescript-error"));
    let c = RenderContext {
        author: Some(&CommitInfo {
            sha: SHA.into(),
            author_name: Some("Jane Doe".into()),
            author_login: Some("jdoe".into()),
            authored_at: None,
            committed_at: None,
        }),
        ..ctx()
    };
    let d = desired(&r, &c, PrComment::Never);
    let s = &d.check_run.summary;
    assert_eq!(
        d.check_run.title,
        "Build failed: TypeScript type checking failed"
    );
    assert!(
        s.contains("**Why:** TypeScript type checking failed (`typescript-error`)"),
        "{s}"
    );
    assert!(s.contains("**Fix:** Fix the type error shown"), "{s}");
    assert!(s.contains("Not transient"), "{s}");
    assert!(
        s.contains("#### Evidence (from the build log; secrets masked)\n\n```text\n"),
        "{s}"
    );
    assert!(
        s.contains(
            "    47: Type error: Property 'discountCode' does not exist on type 'CartSummary'."
        ),
        "{s}"
    );
    assert!(s.contains("Pushed by Jane Doe (@\u{200D}jdoe)"), "{s}");
    assert!(
        s.contains("[Job 12 in the Amplify console](https://eu-west-1.console.aws.amazon.com/"),
        "{s}"
    );
    assert!(
        s.contains("[Open the site](https://www.shop.example.com/)"),
        "{s}"
    );
    assert!(
        s.contains("Commit `5d8e2a0c7b1f` Checkout: discount codes"),
        "{s}"
    );
}

#[test]
fn hostile_evidence_cannot_escape_its_code_block_ping_or_link() {
    let mut d = fixture("typescript-error");
    d.title = "<b>@channel</b> see #1".into();
    d.fix = "run `rm -rf` [here](https://evil.example) @here fixes #1 and GH-2".into();
    d.evidence = vec![
        Evidence {
            line: 1,
            text: "```` then <script>alert(1)</script>".into(),
        },
        Evidence {
            line: 2,
            text: "@channel @here fixes #1 owner/repo#2".into(),
        },
        Evidence {
            line: 3,
            text: "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        },
    ];
    let s = desired(&failed_with(d), &ctx(), PrComment::Never)
        .check_run
        .summary;
    // Outside code: no raw HTML, no mention, no reference, no link.
    let outside: String = s.lines().filter(|l| !l.starts_with("     ")).collect();
    assert!(
        !outside.contains('<') && !outside.contains("@channel"),
        "{s}"
    );
    assert!(
        s.contains("&lt;b&gt;@\u{200D}channel&lt;/b&gt; see #\u{200D}1"),
        "{s}"
    );
    assert!(s.contains("run `rm -rf` \\[here\\](https://evil.example) @\u{200D}here fixes #\u{200D}1 and GH-\u{200D}2"), "{s}");
    // The evidence: a fence longer than the longest backtick run, closed
    // after the last line, each line as it was (secrets masked).
    let open = s.find("`````text\n").expect("a five-backtick fence");
    let rest = &s[open + 10..];
    let close = rest.find("\n`````\n").expect("closed");
    let block = &rest[..close];
    assert_eq!(block.lines().count(), 3, "{block}");
    assert!(
        block.contains("     2: @channel @here fixes #1 owner/repo#2"),
        "{block}"
    );
    assert!(!s.contains("wJalrXUtnFEMI"), "the secret is masked: {s}");
}

#[test]
fn a_huge_diagnosis_fits_github_s_65535_characters_with_a_note() {
    let mut d = fixture("typescript-error");
    d.fix = "<&>".repeat(5_000);
    d.title = "t".repeat(10_000);
    d.evidence = (1..=2_000)
        .map(|i| Evidence {
            line: i,
            text: format!("{i}: {}", "x<`@#".repeat(120)),
        })
        .collect();
    let mut r = failed_with(d);
    let mut v = validation(false);
    v.report.findings = (0..300)
        .map(|i| Finding {
            rule: format!("rule.{i}"),
            severity: Severity::Error,
            message: "<>".repeat(1_000),
            fix: "&".repeat(1_000),
            location: Some(format!("src/f{i}.ts:{}", i + 1)),
        })
        .collect();
    r.validation = Some(v);
    let run = desired(&r, &ctx(), PrComment::Never).check_run;
    let n = run.summary.chars().count();
    assert!(n <= SUMMARY_MAX, "{n}");
    assert!(n > SUMMARY_MAX / 2, "the budget is used, not wasted: {n}");
    assert!(
        run.summary.contains("more evidence lines left out"),
        "the note"
    );
    assert!(run.summary.contains("more findings"), "the findings' note");
    // The evidence block is closed.
    let fence = "`".repeat(3);
    assert_eq!(run.summary.matches(&format!("{fence}text\n")).count(), 1);
    assert!(run.summary.contains(&format!("\n{fence}\n")));
    assert!(run.title.chars().count() <= 300);
    assert_eq!(run.annotations.len(), annotate::MAX);
}

// Annotations.

#[test]
fn annotations_come_from_real_typescript_and_eslint_logs() {
    let ts = desired(
        &failed_with(fixture("typescript-error")),
        &ctx(),
        PrComment::Never,
    );
    let a = &ts.check_run.annotations;
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(
        (a[0].path.as_str(), a[0].start_line, a[0].end_line),
        ("src/app/checkout/page.tsx", 42, 42)
    );
    assert_eq!(
        a[0].message,
        "Type error: Property 'discountCode' does not exist on type 'CartSummary'."
    );
    assert_eq!(a[0].annotation_level, AnnotationLevel::Failure);
    assert_eq!(
        a[0].title.as_deref(),
        Some("TypeScript type checking failed")
    );

    let lint = desired(
        &failed_with(fixture("lint-error")),
        &ctx(),
        PrComment::Never,
    );
    let got: Vec<_> = lint
        .check_run
        .annotations
        .iter()
        .map(|a| (a.path.as_str(), a.start_line, a.annotation_level))
        .collect();
    assert_eq!(
        got,
        vec![
            ("src/components/Hero.tsx", 23, AnnotationLevel::Failure),
            ("src/components/Hero.tsx", 41, AnnotationLevel::Warning),
        ]
    );
    assert!(
        lint.check_run.annotations[0]
            .message
            .starts_with("Error: `'` can be escaped")
    );

    let after = desired(
        &failed_with(fixture("lint-error-after-warnings")),
        &ctx(),
        PrComment::Never,
    );
    let got: Vec<_> = after
        .check_run
        .annotations
        .iter()
        .map(|a| (a.path.as_str(), a.start_line))
        .collect();
    assert_eq!(got, vec![("src/components/MemberCard.tsx", 14)]);

    // A file named without a line, node_modules and the build output are
    // not annotated.
    for name in ["module-not-found", "missing-export", "prerender-error"] {
        let d = desired(&failed_with(fixture(name)), &ctx(), PrComment::Never);
        assert_eq!(d.check_run.annotations, vec![], "{name}");
    }
}

#[test]
fn annotations_stay_inside_the_repository_de_duplicated_and_at_most_50() {
    let lines = [
        "src/app/page.tsx(12,5): error TS2322: Type 'string' is not assignable to type 'number'.",
        "src/app/page.tsx(12,9): error TS2322: the same line again",
        "./src/lib/a.ts:3:1",
        "error here",
        "    at load (/codebuild/output/src42/src/shop/src/lib/db.ts:10:5)",
        "    at x (/custom/root/packages/ui/button.tsx:7:1)",
        "./node_modules/next/dist/x.js:1:1 boom",
        "/usr/lib/node_modules/npm/lib/cli.js:5:3 boom",
        "../outside/file.ts:4:2 boom",
        "src/../../etc/passwd.ts:1:1 boom",
        "connect ECONNREFUSED 127.0.0.1:3000",
        "see https://nextjs.org/docs/messages/x.html:12",
    ];
    let mut evidence: Vec<Evidence> = lines
        .iter()
        .enumerate()
        .map(|(i, t)| Evidence {
            line: i as u64 + 1,
            text: (*t).into(),
        })
        .collect();
    let hints = vec!["/custom/root/".to_owned()];
    let c = RenderContext {
        repo_root_hints: &hints,
        ..ctx()
    };
    let mut d = fixture("typescript-error");
    d.evidence = evidence.clone();
    let got: Vec<_> = desired(&failed_with(d.clone()), &c, PrComment::Never)
        .check_run
        .annotations
        .into_iter()
        .map(|a| (a.path, a.start_line, a.message))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "src/app/page.tsx".into(),
                12,
                "error TS2322: Type 'string' is not assignable to type 'number'.".into()
            ),
            ("src/lib/a.ts".into(), 3, "error here".into()),
            (
                "src/lib/db.ts".into(),
                10,
                "at load (/codebuild/output/src42/src/shop/src/lib/db.ts:10:5)".into()
            ),
            (
                "packages/ui/button.tsx".into(),
                7,
                "at x (/custom/root/packages/ui/button.tsx:7:1)".into()
            ),
        ]
    );
    // In a monorepo, what the build prints relative is under the app root.
    let c = RenderContext {
        app_root: Some("apps/web"),
        ..ctx()
    };
    let first = desired(&failed_with(d), &c, PrComment::Never)
        .check_run
        .annotations;
    assert_eq!(first[0].path, "apps/web/src/app/page.tsx");
    assert_eq!(
        first[2].path, "src/lib/db.ts",
        "an absolute path is from the repository's root"
    );
    // Capped.
    evidence = (1..=200)
        .map(|i| Evidence {
            line: i,
            text: format!("src/f{i}.ts({i},1): error TS1: x"),
        })
        .collect();
    let mut d = fixture("typescript-error");
    d.evidence = evidence;
    let a = desired(&failed_with(d), &ctx(), PrComment::Never)
        .check_run
        .annotations;
    assert_eq!(a.len(), 50);
}

// Deployments.

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

// The pull request comment.

fn on_pr(mut r: Deployment) -> Deployment {
    r.key.branch_name = "pr-7".parse().unwrap();
    r
}

#[test]
fn pr_numbers_are_amplify_s_preview_branches_only() {
    let n = |b: &str| pr_number(&b.parse().unwrap());
    assert_eq!(n("pr-7"), Some(7));
    assert_eq!(n("pr-12345"), Some(12345));
    for other in [
        "main",
        "pr-",
        "pr-0",
        "pr-7a",
        "pr-+7",
        "xpr-7",
        "pr-99999999999",
        "PR-7",
    ] {
        assert_eq!(n(other), None, "{other}");
    }
}

#[test]
fn the_pr_comment_follows_the_policy() {
    let failed = on_pr(failed_with(fixture("typescript-error")));
    let building = on_pr(record("main", BuildStatus::Started));
    let healthy = on_pr(succeeded(Some(Verdict::Healthy)));
    let unhealthy = on_pr(succeeded(Some(Verdict::Unhealthy)));
    let c = ctx();
    let comment = |r: &Deployment, p| {
        let d = desired(r, &c, p);
        (d.pr_comment, d.pr_comment_may_create)
    };
    // never
    for r in [&failed, &building, &healthy] {
        assert_eq!(comment(r, PrComment::Never), (None, false));
    }
    // failures: posted on a failure, else only edits the one there is.
    let (body, create) = comment(&failed, PrComment::Failures);
    let body = body.unwrap();
    assert!(create);
    assert!(body.starts_with(COMMENT_MARKER));
    assert!(
        body.contains("❌ Deploy Sentinel: Build failed: TypeScript type checking failed"),
        "{body}"
    );
    assert!(body.contains("**Fix:** Fix the type error shown"), "{body}");
    assert!(body.contains("47: Type error"), "{body}");
    assert!(
        body.contains("Job 12 in the Amplify console"),
        "it names the latest job"
    );
    assert!(
        comment(&unhealthy, PrComment::Failures).1,
        "an unhealthy deploy is a failure"
    );
    let (body, create) = comment(&healthy, PrComment::Failures);
    assert!(!create);
    assert!(body.unwrap().contains("**Fixed:**"));
    let (body, create) = comment(&building, PrComment::Failures);
    assert!(
        !create
            && body
                .unwrap()
                .contains("⏳ Deploy Sentinel: Building job 12")
    );
    // always: on every build, never "fixed".
    for r in [&failed, &building, &healthy] {
        let (body, create) = comment(r, PrComment::Always);
        assert!(create);
        assert!(!body.unwrap().contains("Fixed"));
    }
    // Not a preview: no comment.
    assert_eq!(
        comment(&failed_with(fixture("typescript-error")), PrComment::Always),
        (None, false)
    );
}

#[test]
fn a_pr_comment_is_escaped_and_bounded() {
    let mut d = fixture("typescript-error");
    d.fix = "@channel <img src=x> #3 ".repeat(2_000);
    d.evidence = vec![
        Evidence {
            line: 1,
            text: "```\n@here".repeat(1_000)
        };
        100
    ];
    let body = desired(&on_pr(failed_with(d)), &ctx(), PrComment::Failures)
        .pr_comment
        .unwrap();
    assert!(body.chars().count() <= COMMENT_MAX);
    assert!(!body.contains("<img") && !body.contains("@channel") && !body.contains(" #3"));
    assert_eq!(body.matches(COMMENT_MARKER).count(), 1);
}

/// `cargo test -p sentinel-shared --lib github::render::tests::print_example -- --ignored --nocapture`
/// prints the failure summary `docs/github.md` ("What appears where") shows.
#[test]
#[ignore = "prints the documentation's example"]
fn print_example() {
    let r = failed_with(fixture("typescript-error"));
    let author = CommitInfo {
        sha: SHA.into(),
        author_name: Some("Jane Doe".into()),
        author_login: Some("jdoe".into()),
        authored_at: None,
        committed_at: None,
    };
    let c = RenderContext {
        author: Some(&author),
        ..ctx()
    };
    let d = desired(&r, &c, PrComment::Failures);
    println!("{}\n---\n{}", d.check_run.title, d.check_run.summary);
    println!(
        "{}",
        serde_json::to_string_pretty(&d.check_run.annotations).unwrap()
    );
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
