//! Event parsing plus state-machine application, in events per second.
//!
//! `cargo bench -p sentinel-shared --bench ingest` (or `make bench`).
//! Beside it, the same JSON parsed into an untyped `serde_json::Value` only —
//! what a hand-written handler that checks nothing would do — to show what
//! strict parsing and the state machine cost on top.

use chrono::{Duration, TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sentinel_shared::core::deployment::Deployment;
use sentinel_shared::core::model::Environment;
use sentinel_shared::ingest::amplify_event::AmplifyStatusEvent;
use std::hint::black_box;

fn events(n: usize) -> Vec<String> {
    let t0 = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let status = ["STARTED", "SUCCEED", "STARTED", "FAILED"][i % 4];
            serde_json::json!({
                "version": "0",
                "id": format!("00000000-0000-4000-8000-{i:012}"),
                "detail-type": "Amplify Deployment Status Change",
                "source": "aws.amplify",
                "account": "123456789012",
                "time": (t0 + Duration::seconds(i as i64)).to_rfc3339(),
                "region": "us-east-1",
                "resources": [format!("arn:aws:amplify:us-east-1:123456789012:apps/dsentinel0001/branches/main/jobs/{:010}", i / 2)],
                "detail": {"appId": "dsentinel0001", "branchName": "main", "jobId": (i / 2).to_string(), "jobStatus": status}
            })
            .to_string()
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let raw = events(1000);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(raw.len() as u64));
    group.bench_function("parse+apply (sentinel)", |b| {
        b.iter(|| {
            let mut current: Option<Deployment> = None;
            for r in &raw {
                let e = AmplifyStatusEvent::parse_str(black_box(r)).unwrap();
                let d = match current.take() {
                    Some(d) if d.key == e.key() => d,
                    _ => Deployment::new(e.key(), Environment::Prod),
                };
                let mut d = d;
                black_box(d.apply(e.observation()));
                current = Some(d);
            }
        })
    });
    group.bench_function("untyped serde_json::Value (baseline)", |b| {
        b.iter(|| {
            for r in &raw {
                let v: serde_json::Value = serde_json::from_str(black_box(r)).unwrap();
                black_box(v["detail"]["jobStatus"].as_str());
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
