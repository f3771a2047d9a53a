//! The dashboard and the metrics manifest against every line the collector
//! emits at each level.

use super::*;

/// The dashboard's body in template.yaml, `${…}` filled with placeholders.
fn dashboard() -> Value {
    let template = include_str!("../../../../../template.yaml");
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
        "about": "Every custom metric (source, name, dimension set) Deploy Sentinel emits, per EventMetrics level. Written by the_metrics_manifest_is_what_is_emitted (shared/src/metrics/reaction/tests/dashboard.rs); read by scripts/cost.py.",
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
