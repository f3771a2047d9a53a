//! The hourly run: DORA figures stored and emitted, warnings once, a failed
//! publish taken up by the next run, a branch's build timeout.

use super::*;

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
