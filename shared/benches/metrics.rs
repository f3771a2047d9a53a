//! Delivery figures over 1 000 000 deployment records in memory: the time
//! and peak heap of `dora::compute` and of the early warnings, and the
//! items a 30-day window read touches through the environment-and-time
//! index against the scan a user would otherwise write.
//!
//! Run: `cargo bench -p sentinel-shared --bench metrics`
//! (`METRICS_BENCH_RECORDS=N` for another size).
//!
//! The index is modelled the way DynamoDB keeps it: records sorted by
//! `GSI1SK` (start time first), a window is a binary search and a
//! contiguous read; the scan reads every record and filters. On DynamoDB
//! itself, what a Query reads is what its key condition selects; the local
//! test `metrics::the_window_read_touches_only_the_windows_items` checks
//! that on moto.

use std::hint::black_box;
use std::time::Instant;

use chrono::{DateTime, Duration, TimeZone, Utc};
use sentinel_shared::core::deployment::{Deployment, DeploymentKey, HealthRecord};
use sentinel_shared::core::model::{AppId, BranchName, BuildStatus, Environment, JobId};
use sentinel_shared::health::Verdict;
use sentinel_shared::measure::{self, Counting};
use sentinel_shared::metrics::reaction::started_between;
use sentinel_shared::metrics::{dora, warnings};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A deterministic history: `n` jobs of 20 apps × 5 branches over two
/// years, 88 % succeeded, 4 % of deploys unhealthy then repaired by the
/// next job, some rolled back.
fn history(n: usize, end: DateTime<Utc>) -> Vec<Deployment> {
    let span = Duration::days(730).num_seconds();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let apps: Vec<AppId> = (0..20)
        .map(|i| format!("d{i:02}bench").parse().unwrap())
        .collect();
    let branches: Vec<BranchName> = ["main", "staging", "dev", "release", "pr-1"]
        .iter()
        .map(|b| b.parse().unwrap())
        .collect();
    (0..n)
        .map(|i| {
            let r = next();
            let start =
                end - Duration::seconds(span) + Duration::seconds(span * i as i64 / n as i64);
            let minutes = 3 + (r % 12) as i64;
            let key = DeploymentKey {
                app_id: apps[(r >> 8) as usize % apps.len()].clone(),
                branch_name: branches[(r >> 16) as usize % branches.len()].clone(),
                job_id: JobId::new(i as u64 + 1),
            };
            let mut d = Deployment::new(key, Environment::Prod);
            d.status = if r % 100 < 88 {
                BuildStatus::Succeeded
            } else {
                BuildStatus::Failed
            };
            d.details.start_time = Some(start);
            d.details.end_time = Some(start + Duration::minutes(minutes));
            d.details.commit_time = Some(start - Duration::minutes((r >> 24) as i64 % 600));
            if d.status == BuildStatus::Succeeded {
                let verdict = if (r >> 32) % 100 < 4 {
                    Verdict::Unhealthy
                } else {
                    Verdict::Healthy
                };
                d.health = Some(HealthRecord {
                    verdict,
                    reason: String::new(),
                    url: String::new(),
                    checked_at: start + Duration::minutes(minutes + 1),
                    rounds: 2,
                    endpoints: vec![],
                });
                if (r >> 40) % 100 < 2 {
                    d.rollback_of = Some(JobId::new(i as u64));
                }
            }
            d
        })
        .collect()
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Runs `f` `runs` times; the median time and the peak heap above the
/// live bytes before it.
fn measure<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, usize) {
    let mut times = Vec::new();
    let mut peak = 0;
    for _ in 0..runs {
        let base = measure::start();
        let t = Instant::now();
        black_box(f());
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        peak = peak.max(measure::peak_since(base));
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], peak)
}

fn main() {
    let n: usize = std::env::var("METRICS_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let end = Utc.with_ymd_and_hms(2026, 11, 20, 12, 0, 0).unwrap();
    let before = measure::live();
    let t = Instant::now();
    let mut records = history(n, end);
    // The index's order: start time first (GSI1SK).
    records.sort_by_key(|d| d.started_at());
    println!(
        "{n} records generated in {:.1} s, {:.0} MiB held",
        t.elapsed().as_secs_f64(),
        mib(measure::live() - before)
    );
    let (from, to) = dora::window(end, 30);

    // The window read: index (binary search + contiguous read) vs scan.
    let index_read = || {
        let window = started_between(&records, from, to);
        (window.len(), window.to_vec())
    };
    let scan_read = || {
        let window: Vec<Deployment> = records
            .iter()
            .filter(|d| d.started_at().is_some_and(|t| t >= from && t < to))
            .cloned()
            .collect();
        (records.len(), window)
    };
    let (window_items, window) = index_read();
    let (scanned, scanned_window) = scan_read();
    assert_eq!(window.len(), scanned_window.len());
    let (index_ms, _) = measure(5, index_read);
    let (scan_ms, _) = measure(5, scan_read);
    println!("\n30-day window read among {n} rows");
    println!("  index (Query on env + time)   items read {window_items:>9}   {index_ms:>8.1} ms");
    println!("  scan + filter                 items read {scanned:>9}   {scan_ms:>8.1} ms");
    println!(
        "  → {:.0}× fewer items read, {:.1}× faster",
        scanned as f64 / window_items.max(1) as f64,
        scan_ms / index_ms.max(f64::EPSILON)
    );

    println!("\nDORA figures (dora::compute), median of 5 runs, peak heap above the input");
    let (ms, peak) = measure(5, || dora::compute(Environment::Prod, from, to, &window));
    println!(
        "  30-day window, {:>9} records   {ms:>8.1} ms   peak {:.1} MiB",
        window.len(),
        mib(peak)
    );
    let all_from = records[0].started_at().unwrap_or(end);
    let (ms, peak) = measure(3, || {
        dora::compute(Environment::Prod, all_from, end, &records)
    });
    println!(
        "  all records,    {n:>9} records   {ms:>8.1} ms   peak {:.1} MiB   ({:.0} ns per record)",
        mib(peak),
        ms * 1e6 / n as f64
    );
    let eight_days = started_between(&window, end - Duration::days(8), end);
    let (ms, peak) = measure(5, || warnings::detect(eight_days, end));
    println!(
        "  early warnings over 8 days, {:>6} records   {ms:>6.1} ms   peak {:.1} MiB",
        eight_days.len(),
        mib(peak)
    );
    let f = dora::compute(Environment::Prod, from, to, &window);
    println!(
        "\n(30-day figures: {} deploys, {:.1} per day, change failure rate {:.1} %, recovery median {:.0} s)",
        f.deployments,
        f.deployment_frequency_per_day,
        f.change_failure_rate.unwrap_or_default() * 100.0,
        f.recovery_time_median_seconds.unwrap_or_default()
    );
    println!("\nreproduce: cargo bench -p sentinel-shared --bench metrics");
}
