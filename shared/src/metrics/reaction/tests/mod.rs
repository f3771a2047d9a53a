//! The metrics collector's reaction over the in-memory ports: the
//! collector, the jobs and the events shared by the tests of each source
//! of metrics.

use std::sync::atomic::Ordering;

use chrono::{Duration, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::adapters::memory::{InMemory, MemoryAmplify, MemoryPublisher, MemoryStore};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::events::BuildEvent;
use crate::core::model::{BuildStatus, JobId};
use crate::health::Verdict;
use crate::ports::DeploymentStore;

mod dashboard;
mod events;
mod schedule;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 12, 30, 0).unwrap()
}

/// An Amplify that knows no app: every build timeout is the default.
static NO_APPS: std::sync::LazyLock<MemoryAmplify> =
    std::sync::LazyLock::new(MemoryAmplify::default);

fn collector<'a>(
    store: &'a MemoryStore,
    publisher: &'a MemoryPublisher,
) -> Collector<'a, InMemory> {
    collector_with(store, publisher, EventMetrics::default())
}

fn collector_with<'a>(
    store: &'a MemoryStore,
    publisher: &'a MemoryPublisher,
    dimensions: EventMetrics,
) -> Collector<'a, InMemory> {
    Collector {
        store,
        amplify: &NO_APPS,
        publisher,
        namespace: "Sentinel/Test",
        environment: Environment::Prod,
        dimensions,
    }
}

/// A line's dimension sets.
fn sets(line: &Value) -> Vec<Vec<String>> {
    serde_json::from_value(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"].clone()).unwrap()
}

fn job(branch: &str, n: u64, hours_ago: i64, minutes: i64, status: BuildStatus) -> Deployment {
    let key = DeploymentKey {
        app_id: "d1abc".parse().unwrap(),
        branch_name: branch.parse().unwrap(),
        job_id: JobId::new(n),
    };
    let mut d = Deployment::new(key, Environment::Prod);
    d.status = status;
    let start = now() - Duration::hours(hours_ago);
    d.details.start_time = Some(start);
    d.details.end_time = Some(start + Duration::minutes(minutes));
    d.details.commit_time = Some(start - Duration::minutes(30));
    d
}

fn envelope(detail_type: &str, id: &str, detail: Value) -> String {
    json!({
        "id": id, "source": "sentinel", "detail-type": detail_type, "detail": detail,
    })
    .to_string()
}

fn build_event(d: &Deployment) -> String {
    let e = BuildEvent::from_deployment(d).unwrap();
    envelope(
        e.detail_type(),
        &e.event_id,
        serde_json::to_value(&e).unwrap(),
    )
}

fn parsed(line: &str) -> Value {
    emf::validate(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    serde_json::from_str(line).unwrap()
}

async fn save(store: &MemoryStore, jobs: Vec<Deployment>) {
    for d in jobs {
        store.save_deployment(&d).await.unwrap();
    }
}

/// A delivery as the function hands it over: the envelope parsed, then the
/// reaction.
async fn deliver(
    c: &Collector<'_, InMemory>,
    raw: &str,
    now: chrono::DateTime<Utc>,
) -> Result<EventOutcome, Error> {
    c.on_event(&Envelope::parse(raw, ACCEPTED)?, now).await
}
