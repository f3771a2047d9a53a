//! Builds that should not run, over the in-memory adapters: superseded
//! builds (no GitHub) and the monorepo path filter with the lead time's
//! first commit (GitHub's compare scripted).

use chrono::{Duration, TimeZone};

use super::*;
use crate::adapters::memory::{
    GitHubCall, InMemory, MemoryAmplify, MemoryGitHub, MemoryPublisher, MemorySecrets, MemoryStore,
};
use crate::core::deployment::JobDetails;
use crate::github::api::{CommitInfo, Comparison, GitHubError};
use crate::ports::BranchPointer;
use crate::rollback::ports::RollbackStore;

const BASE: &str = "1111111111111111111111111111111111111111";
const HEAD: &str = "2222222222222222222222222222222222222222";

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    publisher: MemoryPublisher,
    secrets: MemorySecrets,
    github: MemoryGitHub,
}

fn key(job: u64) -> DeploymentKey {
    DeploymentKey {
        app_id: "d1abc".parse().unwrap(),
        branch_name: "main".parse().unwrap(),
        job_id: JobId::new(job),
    }
}

fn at(secs: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + secs, 0).unwrap()
}

impl World {
    /// A branch of an app connected to `acme/shop`, with `policy`.
    async fn new(policy: &str, app_root: Option<&str>) -> Self {
        let amplify = MemoryAmplify::with_branch(&key(1), |_| {});
        {
            let mut apps = amplify.apps.lock().unwrap();
            let app = apps.get_mut("d1abc").unwrap();
            app.repository = Some("https://github.com/acme/shop".into());
            if let Some(root) = app_root {
                app.environment_variables
                    .insert("AMPLIFY_MONOREPO_APP_ROOT".into(), root.into());
            }
        }
        let w = Self {
            store: MemoryStore::default(),
            amplify,
            publisher: MemoryPublisher::default(),
            secrets: MemorySecrets::default(),
            github: MemoryGitHub::default(),
        };
        if !policy.is_empty() {
            let policy = BranchPolicy::parse(policy, "p.yaml").unwrap();
            w.store
                .put_policy(&key(1).app_id, Some(&key(1).branch_name), &policy)
                .await
                .unwrap();
        }
        w
    }

    /// Job `n` of the branch as Amplify lists it and as ingest recorded it
    /// (a started job's record, with its commit).
    async fn job(&self, n: u64, status: BuildStatus, job_type: &str, commit: &str) {
        self.amplify.jobs.lock().unwrap().insert(
            ("d1abc".into(), "main".into(), n),
            JobDetails {
                commit_id: Some(commit.into()),
                job_type: Some(job_type.into()),
                status: Some(status.clone()),
                ..Default::default()
            },
        );
        let mut d = Deployment::new(key(n), Environment::Prod);
        d.details.commit_id = Some(commit.into());
        d.details.commit_time = Some(at(n as i64 * 100));
        d.details.job_type = Some(job_type.into());
        for s in [BuildStatus::Started, status] {
            d.apply(Observation {
                event_id: format!("amplify-{n}-{s}"),
                status: s,
                at: at(n as i64 * 100 + 10),
            });
        }
        d.outbox.clear();
        self.store.save_deployment(&d).await.unwrap();
    }

    /// "Build Started" of job `n`, delivered.
    async fn started(
        &self,
        n: u64,
        stack: Enforcement,
        github: bool,
    ) -> Result<ValidationOutcome, Error> {
        let mut d = self.record(n).await;
        d.status = BuildStatus::Started;
        let event = BuildEvent::from_deployment(&d).unwrap();
        Validator::<InMemory> {
            store: &self.store,
            amplify: &self.amplify,
            secrets: &self.secrets,
            publisher: &self.publisher,
            github: github.then_some(&self.github),
            environment: Environment::Prod,
            enforcement: stack,
        }
        .on_build_started(&event)
        .await
    }

    async fn record(&self, n: u64) -> Deployment {
        self.store.get_deployment(&key(n)).await.unwrap().unwrap()
    }

    fn stopped(&self) -> Vec<u64> {
        self.amplify
            .stopped
            .lock()
            .unwrap()
            .iter()
            .map(|k| k.job_id.number())
            .collect()
    }

    fn published(&self, detail_type: &str) -> Vec<serde_json::Value> {
        self.publisher
            .published
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.detail_type == detail_type)
            .map(|e| serde_json::from_str(&e.detail).unwrap())
            .collect()
    }

    /// The branch's last deploy was `BASE`.
    async fn deployed(&self, commit: &str) {
        self.store
            .advance_pointer(&key(1), Some(commit), BranchPointer::Live)
            .await
            .unwrap();
    }
}

/// What must not depend on the order deliveries arrive in.
type Shape = (
    BuildStatus,
    Option<(SkipKind, JobId, Option<String>)>,
    usize,
);

fn shape(d: &Deployment) -> Shape {
    (
        d.status.clone(),
        d.skipped
            .as_ref()
            .map(|s| (s.kind, s.by_job, s.stop_result.clone())),
        d.observed.len(),
    )
}

// ----- superseded builds -----

#[tokio::test]
async fn a_newer_build_stops_the_older_one_still_running_and_announces_it() {
    let w = World::new("", None).await;
    w.job(6, BuildStatus::Started, "WEB_HOOK", BASE).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    let outcome = w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert_eq!(outcome.superseded, vec![JobId::new(6)]);
    assert!(!outcome.skipped && outcome.passed);
    assert_eq!(w.stopped(), vec![6], "StopJob of the older job only");
    let old = w.record(6).await;
    let skip = old.skipped.clone().unwrap();
    assert_eq!(
        (skip.kind, skip.by_job, skip.stop_result.as_deref()),
        (SkipKind::Superseded, JobId::new(7), Some("stopped"))
    );
    assert_eq!(skip.reason, "superseded by job 7 (a newer build of main)");
    assert_eq!(old.status, BuildStatus::Cancelled);
    assert!(old.outbox.is_empty(), "published");
    let skipped = w.published("Build Skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["jobId"], "6");
    assert_eq!(skipped[0]["kind"], "superseded");
    assert_eq!(skipped[0]["byJobId"], "7");
    assert_eq!(skipped[0]["reason"], skip.reason.as_str());
    assert_eq!(w.published("Build Cancelled").len(), 1);
    assert!(w.record(7).await.skipped.is_none());
}

#[tokio::test]
async fn duplicated_and_reordered_starts_converge_on_the_same_records() {
    let mut shapes = Vec::new();
    for order in [[7u64, 6, 7, 6], [6, 7, 6, 7], [7, 7, 6, 6]] {
        let w = World::new("", None).await;
        w.job(6, BuildStatus::Started, "WEB_HOOK", BASE).await;
        w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
        for n in order {
            w.started(n, Enforcement::Enforce, false).await.unwrap();
        }
        assert_eq!(w.stopped(), vec![6], "{order:?}: one StopJob");
        assert_eq!(w.published("Build Skipped").len(), 1, "{order:?}");
        shapes.push((
            shape(&w.record(6).await),
            shape(&w.record(7).await),
            w.publisher.detail_types().len(),
        ));
    }
    assert!(shapes.windows(2).all(|p| p[0] == p[1]), "{shapes:#?}");
    assert_eq!(
        shapes[0].0,
        (
            BuildStatus::Cancelled,
            Some((SkipKind::Superseded, JobId::new(7), Some("stopped".into()))),
            0
        )
    );
}

#[tokio::test]
async fn a_pending_older_job_without_a_record_is_recorded_and_stopped() {
    let w = World::new("", None).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    // Job 6 is pending: Amplify lists it, ingest never heard of it.
    w.amplify.jobs.lock().unwrap().insert(
        ("d1abc".into(), "main".into(), 6),
        JobDetails {
            status: Some(BuildStatus::Started),
            job_type: Some("WEB_HOOK".into()),
            ..Default::default()
        },
    );
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert_eq!(w.stopped(), vec![6]);
    let old = w.record(6).await;
    assert_eq!(old.status, BuildStatus::Cancelled);
    assert_eq!(old.skipped.unwrap().stop_result.as_deref(), Some("stopped"));
}

#[tokio::test]
async fn in_observe_mode_nothing_is_stopped_and_the_would_have_is_told_once() {
    let w = World::new("", None).await;
    w.job(6, BuildStatus::Started, "WEB_HOOK", BASE).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    for n in [7, 6, 7] {
        w.started(n, Enforcement::Observe, false).await.unwrap();
    }
    assert!(w.stopped().is_empty(), "no StopJob");
    let old = w.record(6).await;
    assert_eq!(old.status, BuildStatus::Started, "still running");
    assert!(old.skipped.is_none());
    assert_eq!(old.observed.len(), 1);
    assert_eq!(old.observed[0].action, ObservedKind::Skip);
    assert_eq!(
        old.observed[0].summary,
        "would have skipped this build: superseded by job 7 (a newer build of main)"
    );
    let observed = w.published("Action Observed");
    assert_eq!(observed.len(), 1, "{observed:?}");
    assert_eq!(
        observed[0]["eventId"],
        "d1abc/main/0000000006/observed-skip"
    );
    assert_eq!(observed[0]["action"], "skip");
    assert!(w.published("Build Skipped").is_empty());
    assert!(w.record(7).await.observed.is_empty());
}

#[tokio::test]
async fn a_rollback_job_is_never_stopped_and_stops_nothing() {
    let w = World::new("", None).await;
    // 6: a rollback job (its record says so); 7 a push; 8 a rollback job
    // the branch's rollback state names (its record does not say yet).
    w.job(6, BuildStatus::Started, "RETRY", BASE).await;
    let mut six = w.record(6).await;
    six.rollback_of = Some(JobId::new(4));
    w.store.save_deployment(&six).await.unwrap();
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.job(8, BuildStatus::Started, "RETRY", BASE).await;
    let mut state =
        crate::rollback::RollbackState::new(key(1).app_id, key(1).branch_name, Environment::Prod);
    state.active = Some(crate::rollback::state::RollbackRecord {
        id: "d1abc/main/0000000005/rollback".into(),
        from_job: JobId::new(5),
        from_commit: None,
        target_job: JobId::new(3),
        target_commit: Some(BASE.into()),
        rollback_job: Some(JobId::new(8)),
        reason: "unhealthy".into(),
        requested_by: "automatic".into(),
        automatic: true,
        started_at: Utc::now(),
        outcome: None,
        finished_at: None,
        outcome_reason: None,
        auto_build_before: Some(true),
    });
    w.store.save_rollback_state(&state).await.unwrap();
    for n in [7, 8, 6] {
        let outcome = w.started(n, Enforcement::Enforce, false).await.unwrap();
        assert!(outcome.superseded.is_empty(), "job {n}: {outcome:?}");
    }
    assert!(w.stopped().is_empty(), "{:?}", w.stopped());
    for n in [6, 7, 8] {
        assert!(w.record(n).await.skipped.is_none(), "job {n}");
    }
    assert!(w.published("Build Skipped").is_empty());
}

#[tokio::test]
async fn a_retry_supersedes_nothing_a_newer_push_supersedes_it_and_ended_jobs_are_left() {
    let w = World::new("", None).await;
    w.job(5, BuildStatus::Succeeded, "WEB_HOOK", BASE).await;
    w.job(6, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.job(7, BuildStatus::Started, "RETRY", BASE).await;
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert!(w.stopped().is_empty(), "a retry stops nothing");
    w.job(8, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    let outcome = w.started(8, Enforcement::Enforce, false).await.unwrap();
    assert_eq!(outcome.superseded, vec![JobId::new(6), JobId::new(7)]);
    assert_eq!(w.stopped(), vec![6, 7], "the ended job 5 is left alone");
    assert_eq!(w.record(5).await.status, BuildStatus::Succeeded);
}

#[tokio::test]
async fn cancel_superseded_false_leaves_both_builds_running() {
    let w = World::new("cancel_superseded: false\n", None).await;
    w.job(6, BuildStatus::Started, "WEB_HOOK", BASE).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    w.started(6, Enforcement::Enforce, false).await.unwrap();
    assert!(w.stopped().is_empty());
    assert!(w.record(6).await.observed.is_empty());
}

#[tokio::test]
async fn a_build_stopped_for_its_configuration_supersedes_nothing() {
    let w = World::new("required:\n  all: [DATABASE_URL]\n", None).await;
    w.job(6, BuildStatus::Started, "WEB_HOOK", BASE).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    let outcome = w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert!(outcome.stopped && outcome.superseded.is_empty());
    assert_eq!(w.stopped(), vec![7]);
}

// ----- the monorepo path filter -----

fn comparison(files: &[&str], truncated: bool) -> Comparison {
    Comparison {
        status: "ahead".into(),
        total_commits: 2,
        commits: [at(-3_600), at(-60)]
            .into_iter()
            .enumerate()
            .map(|(i, t)| CommitInfo {
                sha: format!("{i}{}", &HEAD[1..]),
                author_name: Some("dev".into()),
                author_login: None,
                authored_at: Some(t),
                committed_at: Some(t + Duration::seconds(5)),
            })
            .collect(),
        files: files.iter().map(|f| (*f).to_owned()).collect(),
        truncated,
    }
}

/// An app rooted at apps/web whose last deploy was BASE; job 7 builds HEAD.
async fn monorepo(policy: &str, answer: Result<Comparison, GitHubError>) -> World {
    let w = World::new(policy, Some("apps/web")).await;
    w.job(5, BuildStatus::Succeeded, "WEB_HOOK", BASE).await;
    w.deployed(BASE).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.github.script_compare(BASE, HEAD, answer);
    w
}

#[tokio::test]
async fn a_push_changing_nothing_under_the_app_root_is_stopped() {
    let w = monorepo("", Ok(comparison(&["apps/api/x.ts", "README.md"], false))).await;
    let outcome = w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert!(outcome.skipped && !outcome.stopped, "{outcome:?}");
    assert_eq!(w.stopped(), vec![7]);
    let d = w.record(7).await;
    let skip = d.skipped.clone().unwrap();
    assert_eq!(
        (skip.kind, skip.reason.as_str(), skip.by_job),
        (
            SkipKind::NoChange,
            "no change under apps/web",
            JobId::new(7)
        )
    );
    assert_eq!(d.status, BuildStatus::Cancelled);
    let skipped = w.published("Build Skipped");
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["kind"], "no-change");
    assert_eq!(skipped[0]["reason"], "no change under apps/web");
    // Once per build: a redelivery neither compares nor stops again.
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    let compares = w
        .github
        .calls()
        .iter()
        .filter(|c| matches!(c, GitHubCall::Compare(..)))
        .count();
    assert_eq!(compares, 1);
    assert_eq!(w.stopped(), vec![7]);
    assert_eq!(w.published("Build Skipped").len(), 1);
}

#[tokio::test]
async fn policy_paths_filter_an_app_without_a_root() {
    let w = World::new("paths: [libs/web/**]\n", None).await;
    w.deployed(BASE).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.github
        .script_compare(BASE, HEAD, Ok(comparison(&["libs/api/x.ts"], false)));
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert_eq!(
        w.record(7).await.skipped.unwrap().reason,
        "no change under libs/web/**"
    );
}

#[tokio::test]
async fn never_stopped_when_the_compare_fails_is_truncated_or_a_shared_path_changed() {
    let outside = &["apps/api/x.ts"][..];
    let cases: Vec<(&str, &str, Result<Comparison, GitHubError>)> = vec![
        (
            "compare fails",
            "",
            Err(GitHubError::Unavailable {
                reason: "502".into(),
                retry_after: None,
            }),
        ),
        (
            "rate limited",
            "",
            Err(GitHubError::RateLimited {
                retry_after: std::time::Duration::from_secs(60),
                kind: "secondary",
            }),
        ),
        ("truncated", "", Ok(comparison(outside, true))),
        (
            "shared path",
            "shared_paths: [packages/**, pnpm-lock.yaml]\n",
            Ok(comparison(&["apps/api/x.ts", "pnpm-lock.yaml"], false)),
        ),
        ("inside", "", Ok(comparison(&["apps/web/page.tsx"], false))),
    ];
    for (what, policy, answer) in cases {
        let failed = answer.is_err();
        let w = monorepo(policy, answer).await;
        let outcome = w.started(7, Enforcement::Enforce, true).await;
        let outcome = outcome.unwrap_or_else(|e| panic!("{what}: the validation failed: {e}"));
        assert!(!outcome.skipped, "{what}");
        assert!(w.stopped().is_empty(), "{what}");
        let d = w.record(7).await;
        assert!(d.skipped.is_none(), "{what}");
        let compared = d.compare.unwrap();
        assert_eq!(compared.error.is_some(), failed, "{what}: {compared:?}");
        assert!(compared.outcome.contains("built"), "{what}: {compared:?}");
        // Never retried: a second delivery does not compare again.
        w.started(7, Enforcement::Enforce, true).await.unwrap();
        assert_eq!(w.github.calls().len(), 1, "{what}");
    }
}

#[tokio::test]
async fn in_observe_mode_the_filter_stops_nothing_and_says_would_have_skipped() {
    let w = monorepo("", Ok(comparison(&["docs/x.md"], false))).await;
    let outcome = w.started(7, Enforcement::Observe, true).await.unwrap();
    assert!(outcome.would_skip && !outcome.skipped);
    assert!(w.stopped().is_empty());
    let d = w.record(7).await;
    assert_eq!(d.status, BuildStatus::Started);
    assert_eq!(
        d.observed[0].summary,
        "would have skipped this build: no change under apps/web"
    );
    assert_eq!(w.published("Action Observed").len(), 1);
    assert!(w.published("Build Skipped").is_empty());
}

#[tokio::test]
async fn without_github_or_a_previous_deploy_nothing_is_compared() {
    // GitHub off.
    let w = monorepo("", Ok(comparison(&["docs/x.md"], false))).await;
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    assert!(w.github.calls().is_empty() && w.stopped().is_empty());
    assert!(w.record(7).await.compare.is_none());
    // No successful deploy yet.
    let w = World::new("", Some("apps/web")).await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert!(w.github.calls().is_empty() && w.stopped().is_empty());
    // The deployed commit is not a git commit (a manual deploy's HEAD).
    let w = World::new("", Some("apps/web")).await;
    w.deployed("HEAD").await;
    w.job(7, BuildStatus::Started, "WEB_HOOK", HEAD).await;
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert!(w.github.calls().is_empty());
}

#[tokio::test]
async fn a_rollback_build_is_never_filtered() {
    let w = monorepo("", Ok(comparison(&["docs/x.md"], false))).await;
    let mut d = w.record(7).await;
    d.rollback_of = Some(JobId::new(4));
    w.store.save_deployment(&d).await.unwrap();
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    assert!(w.stopped().is_empty());
    assert_eq!(
        w.record(7).await.compare.unwrap().outcome,
        "a rollback: never skipped"
    );
}

// ----- lead time from the first commit -----

#[tokio::test]
async fn lead_time_runs_from_the_first_new_commit_when_github_is_on() {
    let w = monorepo("", Ok(comparison(&["apps/web/a.ts"], false))).await;
    w.started(7, Enforcement::Enforce, true).await.unwrap();
    let mut d = w.record(7).await;
    assert_eq!(
        d.details.first_commit_at,
        Some(at(-3_600)),
        "the oldest listed"
    );
    assert_eq!(d.details.lead_time_from(), Some(at(-3_600)));
    let end = at(600);
    d.details.end_time = Some(end);
    d.apply(Observation {
        event_id: "amplify-7-done".into(),
        status: BuildStatus::Succeeded,
        at: end,
    });
    let event = BuildEvent::from_deployment(&d).unwrap();
    assert_eq!(event.first_commit_time, Some(at(-3_600)));
    let figures = crate::metrics::dora::compute(
        Environment::Prod,
        at(-86_400),
        at(86_400),
        std::slice::from_ref(&d),
    );
    assert_eq!(figures.lead_time_median_seconds, Some(4_200.0));

    // GitHub off: from the head commit's time, as before.
    let w = monorepo("", Ok(comparison(&["apps/web/a.ts"], false))).await;
    w.started(7, Enforcement::Enforce, false).await.unwrap();
    let mut d = w.record(7).await;
    assert_eq!(d.details.first_commit_at, None);
    d.details.end_time = Some(end);
    d.apply(Observation {
        event_id: "amplify-7-done".into(),
        status: BuildStatus::Succeeded,
        at: end,
    });
    let figures = crate::metrics::dora::compute(
        Environment::Prod,
        at(-86_400),
        at(86_400),
        std::slice::from_ref(&d),
    );
    // The head commit's time is at(700): after the end, so not counted;
    // move it back an hour before the end.
    assert_eq!(figures.lead_time_median_seconds, None);
    d.details.commit_time = Some(at(0));
    let figures = crate::metrics::dora::compute(
        Environment::Prod,
        at(-86_400),
        at(86_400),
        std::slice::from_ref(&d),
    );
    assert_eq!(figures.lead_time_median_seconds, Some(600.0));
}

#[tokio::test]
async fn a_build_skipped_for_no_change_never_supersedes_the_older_one_carrying_the_change() {
    for stack in [Enforcement::Observe, Enforcement::Enforce] {
        let w = monorepo("", Ok(comparison(&["docs/x.md"], false))).await;
        // Job 6 (apps/web's change) still runs when job 7 (docs only) starts.
        w.job(6, BuildStatus::Started, "WEB_HOOK", BASE).await;
        for n in [7, 6, 7] {
            w.started(n, stack, true).await.unwrap();
        }
        let six = w.record(6).await;
        assert!(
            six.skipped.is_none() && six.observed.is_empty(),
            "{stack}: {six:?}"
        );
        let seven = w.record(7).await;
        match stack {
            Enforcement::Enforce => assert_eq!(w.stopped(), vec![7], "{stack}"),
            Enforcement::Observe => {
                assert!(w.stopped().is_empty());
                assert_eq!(seven.observed[0].action, ObservedKind::Skip);
            }
        }
    }
}
