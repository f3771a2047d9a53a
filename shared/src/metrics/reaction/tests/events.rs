//! A domain event's metrics: lead time, once per event, log lines by
//! default, failures, rollbacks and health, bad events, preview branches.

use super::*;

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
