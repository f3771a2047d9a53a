//! Exactly-once effects, whatever the delivery: the Amplify events of three
//! jobs and the domain events they lead to are delivered in any order, each
//! one to three times, with publishes and notifications failing now and then
//! (a failed delivery comes again, as SQS redelivers it). The result is
//! compared with one clean pass (every event once, in order):
//! - every job's record ends in the same state;
//! - the same domain events are decided (the bus itself is at-least-once);
//! - the alerts are the clean pass's alerts, none sent twice;
//! - the unhealthy deploy is rolled back by exactly one StartJob.
//!
//! The ports are the in-memory ones; the same reactions run against the
//! local stack in `tests/it` (ingest, alert, rollback).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::Ordering;

use proptest::prelude::*;
use serde_json::{Value, json};

use sentinel_shared::adapters::memory::{
    InMemory, MemoryAmplify, MemoryCloudFormation, MemoryLogs, MemoryNotifier, MemoryPublisher,
    MemoryStore,
};
use sentinel_shared::alert::reaction::Alerter;
use sentinel_shared::core::deployment::{DeploymentKey, HealthRecord, JobDetails};
use sentinel_shared::core::events::Envelope;
use sentinel_shared::core::model::{BuildStatus, Environment, JobId};
use sentinel_shared::core::verdicts::Verdict;
use sentinel_shared::ingest::amplify_event::AmplifyStatusEvent;
use sentinel_shared::ingest::reaction::Ingest;
use sentinel_shared::ports::{BranchPointer, DeploymentStore};
use sentinel_shared::rollback::AutoRollback;
use sentinel_shared::rollback::reaction::Rollbacker;

const APP: &str = "d1abc";
const GOOD: &str = "1111111111111111111111111111111111111111";
const BAD: &str = "2222222222222222222222222222222222222222";
const BROKEN: &str = "3333333333333333333333333333333333333333";
const OOM_LOG: &str = "2024-03-01T10:00:00.000Z [INFO]: # Starting phase: build\n\
2024-03-01T10:00:01.000Z [INFO]: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n\
2024-03-01T10:00:01.000Z [ERROR]: !!! Build failed\n";

/// (branch, job, commit, terminal Amplify status)
const JOBS: [(&str, u64, &str, &str); 3] = [
    ("main", 1, GOOD, "SUCCEED"),
    ("main", 2, BAD, "SUCCEED"),
    ("feature", 3, BROKEN, "FAILED"),
];

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    cloudformation: MemoryCloudFormation,
    publisher: MemoryPublisher,
    notifier: MemoryNotifier,
    logs: MemoryLogs,
}

fn key(branch: &str, job: u64) -> DeploymentKey {
    DeploymentKey {
        app_id: APP.parse().unwrap(),
        branch_name: branch.parse().unwrap(),
        job_id: JobId::new(job),
    }
}

fn amplify_event(branch: &str, job: u64, status: &str) -> String {
    json!({
        "version": "0", "id": format!("amplify-{branch}-{job}-{status}"),
        "detail-type": "Amplify Deployment Status Change", "source": "aws.amplify",
        "account": "123456789012", "time": "2026-11-22T10:03:12Z", "region": "us-east-1",
        "resources": [],
        "detail": {"appId": APP, "branchName": branch, "jobId": job.to_string(), "jobStatus": status}
    })
    .to_string()
}

/// What the health checker publishes for job 2: unhealthy, rollback allowed.
fn unhealthy() -> (String, String) {
    let detail = json!({
        "eventId": format!("{APP}/main/0000000002/health"), "environment": "prod", "appId": APP,
        "branchName": "main", "jobId": "2", "commitId": BAD, "verdict": "unhealthy",
        "reason": "3 consecutive rounds failed: status 500", "url": "http://127.0.0.1/",
        "endpoints": [], "isRollback": false, "rollbackOf": null, "scheduled": false,
        "rollbackAllowed": true
    });
    ("Deployment Unhealthy".into(), detail.to_string())
}

/// The health checker's record of that verdict.
fn unhealthy_verdict() -> HealthRecord {
    HealthRecord {
        verdict: Verdict::Unhealthy,
        reason: "3 consecutive rounds failed: status 500".into(),
        url: "http://127.0.0.1/".into(),
        checked_at: "2026-11-22T10:05:00Z".parse().unwrap(),
        rounds: 3,
        endpoints: Vec::new(),
    }
}

impl World {
    async fn new() -> Self {
        let w = Self {
            store: MemoryStore::default(),
            amplify: MemoryAmplify::default(),
            cloudformation: MemoryCloudFormation::default(),
            publisher: MemoryPublisher::default(),
            notifier: MemoryNotifier::default(),
            logs: MemoryLogs::default(),
        };
        for (branch, job, commit, status) in JOBS {
            let details = JobDetails {
                commit_id: Some(commit.into()),
                commit_message: Some(format!("change {job}")),
                status: Some(if status == "SUCCEED" {
                    BuildStatus::Succeeded
                } else {
                    BuildStatus::Failed
                }),
                job_type: Some("RELEASE".into()),
                ..Default::default()
            };
            let at = (APP.to_string(), branch.to_string(), job);
            w.amplify.jobs.lock().unwrap().insert(at.clone(), details);
            let url = format!("https://logs.example/{branch}/{job}");
            w.amplify.log_urls.lock().unwrap().insert(at, url.clone());
            w.logs
                .logs
                .lock()
                .unwrap()
                .insert(url, OOM_LOG.as_bytes().to_vec());
        }
        // Job 1 was verified healthy before: the rollback's target.
        w.store
            .advance_pointer(&key("main", 1), Some(GOOD), BranchPointer::LastKnownGood)
            .await
            .unwrap();
        w
    }

    fn ingest(&self) -> Ingest<'_, InMemory> {
        Ingest {
            store: &self.store,
            amplify: &self.amplify,
            publisher: &self.publisher,
            environment: Environment::Prod,
        }
    }

    fn alerter(&self) -> Alerter<'_, InMemory> {
        Alerter {
            store: &self.store,
            amplify: &self.amplify,
            cloudformation: &self.cloudformation,
            publisher: &self.publisher,
            notifier: &self.notifier,
            logs: &self.logs,
            region: "us-east-1",
            site_url_template: None,
            extras: None,
        }
    }

    fn rollbacker(&self) -> Rollbacker<'_, InMemory> {
        Rollbacker {
            store: &self.store,
            amplify: &self.amplify,
            publisher: &self.publisher,
            environment: Environment::Prod,
            auto_rollback: AutoRollback::Auto,
            enforcement: sentinel_shared::core::enforcement::Enforcement::Enforce,
            holder: "exactly-once".into(),
        }
    }

    /// Published domain events as (detail-type, eventId).
    fn published(&self) -> Vec<(String, String)> {
        self.publisher
            .published
            .lock()
            .unwrap()
            .iter()
            .map(|e| {
                let detail: Value = serde_json::from_str(&e.detail).unwrap();
                (
                    e.detail_type.clone(),
                    detail["eventId"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    async fn outcome(&self) -> Outcome {
        let mut records = BTreeMap::new();
        for (branch, job, _, _) in JOBS {
            let d = self
                .store
                .get_deployment(&key(branch, job))
                .await
                .unwrap()
                .expect("every job is recorded");
            records.insert(job, (d.status, d.details.commit_id.clone()));
        }
        let alerts: Vec<(String, String)> = self
            .notifier
            .sent()
            .into_iter()
            .map(|n| (n.id, n.subject))
            .collect();
        let starts = self.amplify.started.lock().unwrap().len();
        Outcome {
            records,
            published: self.published(),
            alerts,
            starts,
        }
    }
}

#[derive(Debug)]
struct Outcome {
    records: BTreeMap<u64, (BuildStatus, Option<String>)>,
    published: Vec<(String, String)>,
    alerts: Vec<(String, String)>,
    starts: usize,
}

/// How one run delivers: for each delivery, a sort key and a copy count,
/// and which calls fail.
#[derive(Debug, Clone)]
struct Delivery {
    /// Per queued message: (position, copies 1..=3).
    shuffle: Vec<(u32, u8)>,
    /// Publishes that fail (the n-th call from now), notifications that fail.
    failing_publishes: usize,
    failing_notifications: usize,
}

fn delivery() -> impl Strategy<Value = Delivery> {
    (
        proptest::collection::vec((any::<u32>(), 1u8..=3), 64),
        0usize..3,
        0usize..3,
    )
        .prop_map(
            |(shuffle, failing_publishes, failing_notifications)| Delivery {
                shuffle,
                failing_publishes,
                failing_notifications,
            },
        )
}

/// Delivers `messages` in the order and multiplicity `plan` gives (the clean
/// pass: in order, once), redelivering a failed one until it succeeds.
async fn deliver<F>(messages: Vec<String>, plan: Option<&Delivery>, mut handle: F)
where
    F: AsyncFnMut(&str) -> Result<(), String>,
{
    let mut queue: Vec<(u32, String)> = Vec::new();
    for (i, m) in messages.into_iter().enumerate() {
        let (position, copies) = plan.map_or((i as u32, 1), |p| p.shuffle[i % p.shuffle.len()]);
        for c in 0..copies {
            queue.push((position.wrapping_add(c as u32 * 7919), m.clone()));
        }
    }
    queue.sort_by_key(|(position, _)| *position);
    let mut queue: VecDeque<String> = queue.into_iter().map(|(_, m)| m).collect();
    let mut attempts = 0;
    while let Some(m) = queue.pop_front() {
        attempts += 1;
        if let Err(e) = handle(&m).await {
            assert!(attempts < 200, "a delivery never succeeded: {e}\n{m}");
            queue.push_back(m);
        }
    }
}

fn envelope(seq: usize, detail_type: &str, detail: &str) -> String {
    json!({
        "version": "0", "id": format!("eb-{seq}"), "source": sentinel_shared::core::events::SOURCE,
        "detail-type": detail_type, "account": "123456789012", "time": "2026-11-22T10:05:00Z",
        "region": "us-east-1", "resources": [],
        "detail": serde_json::from_str::<Value>(detail).unwrap()
    })
    .to_string()
}

async fn run(plan: Option<&Delivery>) -> Outcome {
    let w = World::new().await;
    if let Some(p) = plan {
        w.publisher
            .fail_next
            .store(p.failing_publishes, Ordering::SeqCst);
        w.notifier
            .fail_next
            .store(p.failing_notifications, Ordering::SeqCst);
    }

    // 1. Amplify's events into ingest.
    let mut amplify = Vec::new();
    for (branch, job, _, status) in JOBS {
        amplify.push(amplify_event(branch, job, "STARTED"));
        amplify.push(amplify_event(branch, job, status));
    }
    let ingest = w.ingest();
    deliver(amplify, plan, async |raw| {
        let event = AmplifyStatusEvent::parse_str(raw).expect("a valid event");
        ingest
            .ingest(&event)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await;

    // The health checker's verdict on job 2, recorded before it publishes
    // it (the rollback acts on the record, not on the event).
    sentinel_shared::effects::update(&w.store, &key("main", 2), |d| {
        d.health = Some(unhealthy_verdict());
        Ok(true)
    })
    .await
    .expect("job 2 is recorded");

    // 2. The domain events, to the alerter and to rollback, round after
    // round: what one round publishes (Rollback Started, Build Diagnosed…)
    // is delivered in the next. The health checker's verdict on job 2 joins
    // the first round.
    let (unhealthy_type, unhealthy_detail) = unhealthy();
    let mut seen = 0;
    let mut extra = vec![envelope(0, &unhealthy_type, &unhealthy_detail)];
    for _round in 0..6 {
        let entries: Vec<String> = {
            let published = w.publisher.published.lock().unwrap();
            published[seen..]
                .iter()
                .enumerate()
                .map(|(i, e)| envelope(seen + i + 1, &e.detail_type, &e.detail))
                .collect()
        };
        seen += entries.len();
        let mut round = std::mem::take(&mut extra);
        round.extend(entries);
        if round.is_empty() {
            break;
        }
        // Each function's rule routes it only the events it takes.
        let routed = |takes: &[&str]| -> Vec<String> {
            round
                .iter()
                .filter(|raw| {
                    let v: Value = serde_json::from_str(raw).unwrap();
                    takes.contains(&v["detail-type"].as_str().unwrap_or_default())
                })
                .cloned()
                .collect()
        };
        let (for_alerter, for_rollback) = (
            routed(sentinel_shared::alert::reaction::ACCEPTED),
            routed(sentinel_shared::rollback::reaction::ACCEPTED),
        );
        let alerter = w.alerter();
        deliver(for_alerter, plan, async |raw| {
            let envelope = Envelope::parse(raw, sentinel_shared::alert::reaction::ACCEPTED)
                .map_err(|e| e.to_string())?;
            alerter
                .on_event(&envelope)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await;
        let rollbacker = w.rollbacker();
        deliver(for_rollback, plan, async |raw| {
            let envelope = Envelope::parse(raw, sentinel_shared::rollback::reaction::ACCEPTED)
                .map_err(|e| e.to_string())?;
            rollbacker
                .on_event(&envelope)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        })
        .await;
    }
    w.outcome().await
}

fn sorted<T: Ord + Clone>(v: &[T]) -> Vec<T> {
    let mut v = v.to_vec();
    v.sort();
    v
}

/// The distinct domain events, but "Build Started": a job whose end is
/// delivered before its start never reports a start, by design.
fn decided(published: &[(String, String)]) -> BTreeSet<(String, String)> {
    published
        .iter()
        .filter(|(t, _)| t != "Build Started")
        .cloned()
        .collect()
}

fn check(clean: &Outcome, got: &Outcome) -> Result<(), TestCaseError> {
    prop_assert_eq!(&got.records, &clean.records, "final records");
    // The bus is at-least-once (a reaction repeats its publish on a
    // redelivery, in case the first one was lost); what counts is that the
    // same events are decided, and that their effects happen once.
    prop_assert_eq!(decided(&got.published), decided(&clean.published));
    let started: BTreeSet<_> = got
        .published
        .iter()
        .filter(|(t, _)| t == "Build Started")
        .collect();
    let clean_started: BTreeSet<_> = clean
        .published
        .iter()
        .filter(|(t, _)| t == "Build Started")
        .collect();
    prop_assert!(started.is_subset(&clean_started));
    let alert_ids: BTreeSet<_> = got.alerts.iter().map(|(id, _)| id).collect();
    prop_assert_eq!(
        alert_ids.len(),
        got.alerts.len(),
        "an alert was sent twice: {:?}",
        got.alerts
    );
    prop_assert_eq!(
        sorted(&got.alerts),
        sorted(&clean.alerts),
        "the alerts differ from one clean pass"
    );
    prop_assert_eq!(got.starts, 1, "rollbacks started");
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn the_clean_pass_records_alerts_and_rolls_back() {
    let clean = runtime().block_on(run(None));
    assert_eq!(clean.records[&1].0, BuildStatus::Succeeded);
    assert_eq!(clean.records[&3].0, BuildStatus::Failed);
    assert_eq!(clean.starts, 1, "one rollback of job 2");
    let types: BTreeSet<&str> = clean.published.iter().map(|(t, _)| t.as_str()).collect();
    for expected in [
        "Build Succeeded",
        "Build Failed",
        "Build Diagnosed",
        "Rollback Started",
    ] {
        assert!(types.contains(expected), "{expected} in {types:?}");
    }
    assert!(
        clean.alerts.len() >= 2,
        "a failure alert and the rollback's: {:?}",
        clean.alerts
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn any_delivery_has_the_effects_of_one_clean_pass(plan in delivery()) {
        let rt = runtime();
        let clean = rt.block_on(run(None));
        let got = rt.block_on(run(Some(&plan)));
        check(&clean, &got)?;
    }
}
