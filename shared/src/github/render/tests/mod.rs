//! What appears on GitHub for a job's record: the records at each stage
//! (fixtures shared by the tests of each thing rendered).

use chrono::TimeZone;

use super::*;
use crate::core::bake::BakeRecord;
use crate::core::deployment::{DeploymentKey, HealthRecord, ValidationRecord};
use crate::core::enforcement::ObservedAction;
use crate::core::model::Environment;
use crate::core::verdicts::{Diagnosis, EndpointReport, Evidence, Finding, Report};
use crate::diagnose::diagnose_bytes;

mod annotations;
mod check_run;
mod deployments;
mod failure;
mod pr_comment;

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
