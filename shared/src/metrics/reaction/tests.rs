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

#[tokio::test]
async fn lead_time_runs_from_the_first_new_commit_when_the_validator_found_it() {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector_with(&store, &publisher, EventMetrics::Environment);
    let mut d = job("main", 8, 2, 4, BuildStatus::Succeeded);
    // Two hours before the head commit's time: the first commit the
    // previous deploy did not contain (GitHub's compare).
    d.details.first_commit_at = d.details.commit_time.map(|t| t - Duration::hours(2));
    let out = deliver(&c, &build_event(&d), now()).await.unwrap();
    let line = parsed(&out.lines[0]);
    assert_eq!(
        line["LeadTime"],
        (2.0 * 60.0 + 34.0) * 60.0,
        "end − first commit"
    );
}

#[tokio::test]
async fn a_build_emits_its_metrics_once() {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector_with(&store, &publisher, EventMetrics::Environment);
    let raw = build_event(&job("main", 7, 2, 4, BuildStatus::Succeeded));
    let first = deliver(&c, &raw, now()).await.unwrap();
    assert_eq!(first.lines.len(), 1);
    let line = parsed(&first.lines[0]);
    assert_eq!(line["BuildDuration"], 240.0);
    assert_eq!(line["BuildsSucceeded"], 1.0);
    assert_eq!(line["LeadTime"], 34.0 * 60.0, "end − commit time");
    assert_eq!(line["Environment"], "prod");
    assert_eq!(line["Branch"], "main", "a property Logs Insights groups by");
    assert_eq!(line["App"], "d1abc");
    assert_eq!(line["event"], "Build Succeeded");
    assert_eq!(
        sets(&line),
        [["Environment"]],
        "no metric per app or branch"
    );
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "Sentinel/Test"
    );
    let again = deliver(&c, &raw, now()).await.unwrap();
    assert!(again.duplicate && again.lines.is_empty(), "{again:?}");
}

#[tokio::test]
async fn by_default_an_event_is_a_log_line_without_metrics() {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector(&store, &publisher);
    let raw = build_event(&job("pr-7", 7, 2, 4, BuildStatus::Failed));
    let out = deliver(&c, &raw, now()).await.unwrap();
    assert_eq!(out.lines.len(), 1);
    let line: Value = serde_json::from_str(&out.lines[0]).unwrap();
    assert!(line.get("_aws").is_none(), "no metric: {line}");
    assert_eq!(line["BuildsFailed"], 1.0);
    assert_eq!(line["BuildDuration"], 240.0);
    assert_eq!(
        (&line["App"], &line["Branch"], &line["event"]),
        (&json!("d1abc"), &json!("previews"), &json!("Build Failed")),
        "what Logs Insights groups by"
    );
}

#[tokio::test]
async fn a_domain_event_published_twice_counts_once() {
    // Two EventBridge envelopes (ids) around one event: a PutEvents retried
    // after its answer was lost publishes the detail again.
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector(&store, &publisher);
    let d = job("main", 9, 2, 4, BuildStatus::Failed);
    let e = BuildEvent::from_deployment(&d).unwrap();
    let detail = serde_json::to_value(&e).unwrap();
    let first = deliver(
        &c,
        &envelope(e.detail_type(), "eb-1", detail.clone()),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(first.lines.len(), 1);
    let second = deliver(&c, &envelope(e.detail_type(), "eb-2", detail), now())
        .await
        .unwrap();
    assert!(second.duplicate && second.lines.is_empty(), "{second:?}");
}

#[tokio::test]
async fn failures_rollbacks_and_health_have_their_metrics() {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector_with(&store, &publisher, EventMetrics::Environment);
    let failed = deliver(
        &c,
        &build_event(&job("pr-42", 8, 1, 3, BuildStatus::Failed)),
        now(),
    )
    .await
    .unwrap();
    let line = parsed(&failed.lines[0]);
    assert_eq!(line["BuildsFailed"], 1.0);
    assert_eq!(
        line["Branch"], "previews",
        "preview branches share one value"
    );
    assert!(line.get("LeadTime").is_none(), "no lead time for a failure");

    let diagnosed = json!({
        "eventId": "d1abc/main/0000000008/diagnosed", "environment": "prod",
        "appId": "d1abc", "branchName": "main", "jobId": "8", "commitId": null,
        "category": "node-heap-oom", "title": "t", "transient": false, "fix": "f",
        "isRollback": false, "rollbackOf": null,
    });
    let out = deliver(
        &c,
        &envelope("Build Diagnosed", "x1", diagnosed.clone()),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(out.lines.len(), 1, "no metric per category per environment");
    let line = parsed(&out.lines[0]);
    assert_eq!(line["FailuresDiagnosed"], 1.0);
    assert_eq!(line["Category"], "node-heap-oom", "for Logs Insights");

    let detailed = MemoryStore::default();
    let out = deliver(
        &collector_with(&detailed, &publisher, EventMetrics::App),
        &envelope("Build Diagnosed", "x1", diagnosed),
        now(),
    )
    .await
    .unwrap();
    assert_eq!(out.lines.len(), 2);
    let by_category = parsed(&out.lines[1]);
    assert_eq!(by_category["Category"], "node-heap-oom");
    assert_eq!(by_category["FailuresByCategory"], 1.0);
    assert_eq!(sets(&by_category), [["Environment", "Category"]]);

    let restored = json!({
        "eventId": "r1", "environment": "prod", "appId": "d1abc", "branchName": "main",
        "reason": "healthy again", "timeToRestoreSeconds": 420,
    });
    let out = deliver(&c, &envelope("Rollback Succeeded", "r1", restored), now())
        .await
        .unwrap();
    let line = parsed(&out.lines[0]);
    assert_eq!(line["RollbacksSucceeded"], 1.0);
    assert_eq!(line["TimeToRestore"], 420.0);
}

#[tokio::test]
async fn bad_events_are_named_and_claim_nothing() {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector(&store, &publisher);
    for (raw, named) in [
        ("not json".to_owned(), "not a domain event"),
        (envelope("Build Started", "s1", json!({})), "Build Started"),
        (
            envelope("Build Failed", "f1", json!({"jobId": 3})),
            "Build Failed detail",
        ),
    ] {
        let err = deliver(&c, &raw, now()).await.unwrap_err().to_string();
        assert!(err.contains(named), "{err} should name {named}");
    }
    // The malformed "Build Failed" did not take the id: a good one with it
    // still emits.
    let mut d = job("main", 3, 1, 3, BuildStatus::Failed);
    d.key.job_id = JobId::new(3);
    let good = build_event(&d).replace(&BuildEvent::from_deployment(&d).unwrap().event_id, "f1");
    assert_eq!(deliver(&c, &good, now()).await.unwrap().lines.len(), 1);
}

async fn save(store: &MemoryStore, jobs: Vec<Deployment>) {
    for d in jobs {
        store.save_deployment(&d).await.unwrap();
    }
}

#[tokio::test]
async fn the_schedule_stores_emits_and_warns_once() {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector(&store, &publisher);
    // main: 4 good builds in the baseline, then 3 failures in the last day.
    let mut jobs: Vec<Deployment> = (1..=4)
        .map(|n| job("main", n, 24 * (n as i64 + 1), 5, BuildStatus::Succeeded))
        .collect();
    jobs.extend((5..=7).map(|n| job("main", n, 10 - n as i64, 5, BuildStatus::Failed)));
    // Far outside every window: not read.
    jobs.push(job("main", 0, 24 * 90, 5, BuildStatus::Succeeded));
    save(&store, jobs).await;

    let run = c.on_schedule(now()).await.unwrap();
    assert_eq!(
        run.items_read, 7,
        "the 30-day read holds the 7 recent jobs only"
    );
    let days: Vec<u32> = run.figures.iter().map(|f| f.window_days).collect();
    assert_eq!(days, [1, 7, 30]);
    assert_eq!(run.figures[0].builds_failed, 3);
    assert_eq!(run.figures[0].deployments, 0);
    assert_eq!(run.figures[2].deployments, 4);
    let stored = store.latest_snapshot(Environment::Prod, 30).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&run.figures[2]));
    // The rolling figures: log lines, no metric.
    let week: Value = serde_json::from_str(&run.lines[1]).unwrap();
    assert_eq!(week["record"], "figures");
    assert_eq!(week["Window"], "7d");
    assert_eq!(week["BuildSuccessRate"], 4.0 / 7.0 * 100.0);
    assert!(week.get("_aws").is_none(), "{week}");
    // The day's first run: the roll-up (windows ending at midnight) as
    // metrics, stamped at midnight.
    assert!(run.daily_metrics);
    assert_eq!(run.lines.len(), 3 + METRIC_WINDOWS.len());
    let midnight = Utc.with_ymd_and_hms(2026, 11, 20, 0, 0, 0).unwrap();
    for l in &run.lines[3..] {
        let daily = parsed(l);
        assert_eq!(daily["record"], "daily-figures");
        assert_eq!(daily["to"], json!(midnight));
        assert_eq!(
            daily["_aws"]["Timestamp"].as_i64(),
            Some(midnight.timestamp_millis())
        );
        assert_eq!(sets(&daily), [["Environment", "Window"]]);
    }

    let conditions: Vec<&str> = run.warnings_published.iter().map(|w| w.condition).collect();
    assert!(
        conditions.contains(&"consecutive-failures"),
        "{conditions:?}"
    );
    assert!(
        conditions.contains(&"failure-rate-rising"),
        "{conditions:?}"
    );
    assert_eq!(publisher.detail_types().len(), conditions.len());
    assert!(
        publisher
            .detail_types()
            .iter()
            .all(|t| t == "Degradation Detected")
    );

    // An hour later: the same conditions hold, nothing is published again,
    // and the day's metrics are not emitted twice.
    let later = c.on_schedule(now() + Duration::hours(1)).await.unwrap();
    assert!(!later.daily_metrics);
    assert_eq!(later.lines.len(), 3);
    assert!(later.warnings_published.is_empty());
    assert_eq!(later.warnings_known, conditions.len());
    assert_eq!(publisher.detail_types().len(), conditions.len());
}

#[tokio::test]
async fn a_failed_publish_is_published_by_the_next_run() {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector(&store, &publisher);
    save(
        &store,
        (1..=3)
            .map(|n| job("main", n, 5 - n as i64, 5, BuildStatus::Failed))
            .collect(),
    )
    .await;
    publisher.fail_next.store(1, Ordering::SeqCst);
    assert!(c.on_schedule(now()).await.is_err());
    assert!(publisher.detail_types().is_empty());
    let retry = c.on_schedule(now()).await.unwrap();
    assert!(!retry.warnings_published.is_empty());
    let events = lock_published(&publisher);
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), events.len(), "each warning once: {ids:?}");
}

fn lock_published(p: &MemoryPublisher) -> Vec<crate::core::outbox::OutboxEntry> {
    p.published.lock().unwrap().clone()
}

#[tokio::test]
async fn steady_history_warns_of_nothing() {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector(&store, &publisher);
    save(
        &store,
        (1..=40)
            .map(|n| {
                job(
                    "main",
                    n,
                    200 - 4 * n as i64,
                    5 + (n % 3) as i64,
                    BuildStatus::Succeeded,
                )
            })
            .collect(),
    )
    .await;
    let run = c.on_schedule(now()).await.unwrap();
    assert!(
        run.warnings_published.is_empty(),
        "{:?}",
        run.warnings_published
    );
    assert_eq!(run.figures[1].build_success_rate, Some(1.0));
}

#[tokio::test]
async fn a_branch_build_timeout_is_read_from_amplify() {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let amplify = MemoryAmplify::default();
    let mut branch: crate::ports::BranchInfo = serde_json::from_value(json!({
        "branchName": "main", "displayName": "main", "stage": null, "enableAutoBuild": true,
        "activeJobId": null, "environmentVariables": {}, "buildSpec": null, "framework": null,
    }))
    .unwrap();
    branch
        .environment_variables
        .insert("_BUILD_TIMEOUT".into(), "10".into());
    amplify
        .branches
        .lock()
        .unwrap()
        .insert(("d1abc".into(), "main".into()), branch);
    let c = Collector::<InMemory> {
        store: &store,
        amplify: &amplify,
        publisher: &publisher,
        namespace: "Sentinel/Test",
        environment: Environment::Prod,
        dimensions: EventMetrics::default(),
    };
    // A 9-minute build: near the branch's 10-minute timeout (the app is
    // unknown to Amplify: that lookup fails and is not fatal).
    save(&store, vec![job("main", 1, 2, 9, BuildStatus::Succeeded)]).await;
    let run = c.on_schedule(now()).await.unwrap();
    let conditions: Vec<&str> = run.warnings_published.iter().map(|w| w.condition).collect();
    assert_eq!(conditions, ["near-build-timeout"]);
    assert!(run.warnings_published[0].summary.contains("10-minute"));
    // The default collector (30 minutes) sees nothing.
    let other = MemoryStore::default();
    save(&other, vec![job("main", 1, 2, 9, BuildStatus::Succeeded)]).await;
    let run = collector(&other, &publisher)
        .on_schedule(now())
        .await
        .unwrap();
    assert!(run.warnings_published.is_empty());
}

#[test]
fn preview_branches_share_a_dimension() {
    for (branch, dimension) in [
        ("main", "main"),
        ("pr-12", "previews"),
        ("pr-", "pr-"),
        ("pr-feature", "pr-feature"),
    ] {
        assert_eq!(branch_dimension(&branch.parse().unwrap()), dimension);
    }
}

/// The dashboard's body in template.yaml, `${…}` filled with placeholders.
fn dashboard() -> Value {
    let template = include_str!("../../../../template.yaml");
    let start = template
        .find("DashboardBody: !Sub |\n")
        .expect("a dashboard in template.yaml");
    let body: String = template[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("        ") || l.trim().is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    let filled = regex::Regex::new(r"\$\{[^}]+\}")
        .unwrap()
        .replace_all(&body, "x");
    serde_json::from_str(&filled).expect("the dashboard body is JSON")
}

/// Every line the collector prints: every kind of event it takes, and a
/// day's first scheduled run with figures in every field.
async fn every_line(dimensions: EventMetrics) -> Vec<String> {
    let (store, publisher) = (MemoryStore::default(), MemoryPublisher::default());
    let c = collector_with(&store, &publisher, dimensions);
    let mut lines = Vec::new();
    let mut ok = job("main", 1, 3, 4, BuildStatus::Succeeded);
    lines.extend(deliver(&c, &build_event(&ok), now()).await.unwrap().lines);
    ok.key.job_id = JobId::new(2);
    ok.status = BuildStatus::Failed;
    lines.extend(deliver(&c, &build_event(&ok), now()).await.unwrap().lines);
    let branch = json!({"environment": "prod", "appId": "d1abc", "branchName": "main"});
    let with = |extra: Value| {
        let mut v = branch.clone();
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    };
    let health = |verdict: &str| {
        with(
            json!({"eventId": verdict, "jobId": "2", "commitId": null, "verdict": verdict,
                    "reason": "", "url": "", "endpoints": [{"url": "u", "lastStatus": 200,
                    "lastLatencyMs": 5, "verdict": "passed", "reason": null, "attempts": 1,
                    "p50Ms": 5, "p95Ms": 9}], "isRollback": false, "rollbackOf": null}),
        )
    };
    let rollback = |id: &str| {
        let restored = (id == "rok").then_some(60);
        with(json!({"eventId": id, "reason": "r", "timeToRestoreSeconds": restored}))
    };
    for (kind, detail) in [
        ("Deployment Healthy", health("healthy")),
        ("Deployment Unhealthy", health("unhealthy")),
        ("Deployment Check Inconclusive", health("inconclusive")),
        ("Rollback Started", rollback("rs")),
        ("Rollback Succeeded", rollback("rok")),
        ("Rollback Failed", rollback("rf")),
        (
            "Build Retried",
            with(json!({"eventId": "br", "jobId": "2", "retryJobId": "3",
                        "category": "network-transient", "attempt": 1, "maxRetries": 1})),
        ),
        (
            "Build Diagnosed",
            with(
                json!({"eventId": "bd", "jobId": "2", "commitId": null, "category": "unknown",
                        "title": "t", "transient": false, "fix": "f", "isRollback": false,
                        "rollbackOf": null}),
            ),
        ),
        (
            "Validation Failed",
            with(
                json!({"eventId": "vf", "jobId": "2", "commitId": null, "passed": false,
                        "errors": 1, "warnings": 0, "findings": [], "policy": "default",
                        "stopRequested": true}),
            ),
        ),
    ] {
        let out = deliver(&c, &envelope(kind, &format!("e-{kind}"), detail), now())
            .await
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        lines.extend(out.lines);
    }
    // A deploy found unhealthy, then a healthy one: a recovery. Yesterday's,
    // so that the day's roll-up has every figure too.
    let mut bad = job("main", 10, 30, 5, BuildStatus::Succeeded);
    let mut good = job("main", 11, 20, 5, BuildStatus::Succeeded);
    for (d, verdict) in [
        (&mut bad, Verdict::Unhealthy),
        (&mut good, Verdict::Healthy),
    ] {
        d.health = Some(crate::core::deployment::HealthRecord {
            verdict,
            reason: String::new(),
            url: String::new(),
            checked_at: d.ended_at().unwrap(),
            rounds: 1,
            endpoints: vec![],
        });
    }
    save(&store, vec![bad, good]).await;
    let run = c.on_schedule(now()).await.unwrap();
    assert!(run.daily_metrics);
    lines.extend(run.lines);
    lines
}

/// What makes a metric: (where it comes from, its name, its dimension set).
/// A dimension whose value is fixed by the line's kind (`Window`) is written
/// with its value; the others (`Environment`, `App`, `Branch`, `Category`)
/// by name, each of their values being a metric of its own.
type Emitted = std::collections::BTreeSet<(String, String, Vec<String>)>;

fn emitted(lines: &[String]) -> Emitted {
    const PER_VALUE: [&str; 4] = ["Environment", "App", "Branch", "Category"];
    let mut out = Emitted::new();
    for line in lines {
        let v: Value = serde_json::from_str(line).unwrap();
        let Some(directive) = v["_aws"]["CloudWatchMetrics"].get(0) else {
            continue;
        };
        parsed(line);
        let source = v["event"]
            .as_str()
            .or(v["record"].as_str())
            .unwrap_or("cleanup run")
            .to_owned();
        for set in directive["Dimensions"].as_array().unwrap() {
            let set: Vec<String> = set
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let d = d.as_str().unwrap();
                    if PER_VALUE.contains(&d) {
                        d.to_owned()
                    } else {
                        format!("{d}={}", v[d].as_str().unwrap())
                    }
                })
                .collect();
            for m in directive["Metrics"].as_array().unwrap() {
                let name = m["Name"].as_str().unwrap().to_owned();
                out.insert((source.clone(), name, set.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn the_dashboard_graphs_only_metrics_emitted_by_default() {
    let default = emitted(&every_line(EventMetrics::default()).await);
    let mut graphed = 0;
    for widget in dashboard()["widgets"].as_array().unwrap() {
        for metric in widget["properties"]["metrics"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if metric[0] != "x" {
                continue;
            }
            // [namespace, name, dim, value, dim, value, …, {options}?]
            let name = metric[1].as_str().unwrap();
            let parts: Vec<&str> = metric
                .as_array()
                .unwrap()
                .iter()
                .skip(2)
                .filter_map(Value::as_str)
                .collect();
            let set: Vec<String> = parts
                .chunks(2)
                .map(|p| match p {
                    [d, v] if *v != "x" => format!("{d}={v}"),
                    [d, ..] => (*d).to_owned(),
                    _ => unreachable!(),
                })
                .collect();
            assert!(
                default.iter().any(|(_, n, s)| n == name && *s == set),
                "the dashboard graphs {name} {set:?}, which is not emitted by default: {default:?}"
            );
            graphed += 1;
        }
    }
    assert!(graphed >= 10, "{graphed}");
}

#[tokio::test]
async fn per_branch_metrics_are_opt_in() {
    let default = emitted(&every_line(EventMetrics::default()).await);
    let branch = emitted(&every_line(EventMetrics::Branch).await);
    let per_branch = |e: &Emitted| {
        e.iter()
            .filter(|(_, _, set)| set.iter().any(|d| d == "Branch"))
            .count()
    };
    assert_eq!(per_branch(&default), 0);
    assert!(
        default
            .iter()
            .all(|(_, _, set)| !set.contains(&"App".to_owned())),
        "{default:?}"
    );
    assert!(per_branch(&branch) >= 15, "{branch:?}");
    assert!(default.is_subset(&branch), "a level keeps the coarser sets");
}

/// `docs/metrics-emitted.json`: every (source, metric, dimension set) the
/// collector and cleanup emit, per `EventMetrics` level. `scripts/cost.py`
/// prices it; this test keeps it true. After changing what is emitted:
/// `SENTINEL_WRITE_METRICS_MANIFEST=1 cargo test -p sentinel-shared metrics_manifest`.
#[tokio::test]
async fn the_metrics_manifest_is_what_is_emitted() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/metrics-emitted.json");
    let mut levels = serde_json::Map::new();
    for level in EventMetrics::ALL {
        let mut lines = every_line(level).await;
        lines.push(crate::cleanup::Report::default().emf_line("Sentinel/Test", now()));
        let entries: Vec<Value> = emitted(&lines)
            .into_iter()
            .map(|(source, metric, dimensions)| {
                json!({"source": source, "metric": metric, "dimensions": dimensions})
            })
            .collect();
        levels.insert(level.as_str().to_owned(), Value::Array(entries));
    }
    let manifest = json!({
        "about": "Every custom metric (source, name, dimension set) Deploy Sentinel emits, per EventMetrics level. Written by the_metrics_manifest_is_what_is_emitted (shared/src/metrics/reaction/tests.rs); read by scripts/cost.py.",
        "defaultLevel": EventMetrics::default().as_str(),
        "dailyFigureWindows": METRIC_WINDOWS.iter().map(|d| format!("{d}d")).collect::<Vec<_>>(),
        "categories": crate::diagnose::catalogue::ids().len(),
        "levels": levels,
    });
    let text = serde_json::to_string_pretty(&manifest).unwrap() + "\n";
    if std::env::var_os("SENTINEL_WRITE_METRICS_MANIFEST").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        stored == text,
        "{} is not what the code emits; rewrite it with \
         SENTINEL_WRITE_METRICS_MANIFEST=1 cargo test -p sentinel-shared metrics_manifest, \
         then run scripts/cost.py --write (docs/cost.md). Expected:\n{text}",
        path.display()
    );
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
