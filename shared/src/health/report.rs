//! What a check found: each request of each round ([`Attempt`]), the
//! verdict with its reason and the figures per endpoint ([`HealthReport`]),
//! and the summary of the rounds into one report per endpoint.

use serde::{Deserialize, Serialize};

use crate::core::budget;
use crate::core::verdicts::{EndpointReport, Outcome, Verdict};

/// One request of one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub url: String,
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub outcome: Outcome,
    pub reason: Option<String>,
    /// Not requested: the outbound rules refused where the name resolves.
    #[serde(skip)]
    pub refused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub verdict: Verdict,
    pub reason: String,
    pub rounds: usize,
    pub elapsed_ms: u64,
    pub endpoints: Vec<EndpointReport>,
}

impl HealthReport {
    /// The verdict of a check that could not start (a URL refused, a bad
    /// policy): Inconclusive, never a rollback, and said in the alert.
    pub fn not_started(reason: &CheckError) -> Self {
        Self {
            verdict: Verdict::Inconclusive,
            reason: budget::truncate_to(&format!("not checked: {}", reason.0), budget::REASON),
            rounds: 0,
            elapsed_ms: 0,
            endpoints: Vec::new(),
        }
    }
}

/// A check that cannot start: a bad URL or policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckError(pub String);

pub(super) fn reasons(round: Option<&Vec<Attempt>>) -> String {
    round
        .map(|r| {
            r.iter()
                .filter_map(|a| a.reason.as_ref().map(|why| format!("{}: {why}", a.url)))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

pub(super) fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) * p).div_ceil(100)]
}

pub(super) fn summarise(history: &[Vec<Attempt>]) -> Vec<EndpointReport> {
    let Some(last) = history.last() else {
        return Vec::new();
    };
    last.iter()
        .take(budget::ENDPOINTS)
        .enumerate()
        .map(|(i, a)| {
            let mut latencies: Vec<u64> = history
                .iter()
                .filter_map(|r| r.get(i))
                .map(|a| a.latency_ms)
                .collect();
            latencies.sort_unstable();
            EndpointReport {
                url: a.url.clone(),
                last_status: a.status,
                last_latency_ms: a.latency_ms,
                verdict: a.outcome,
                reason: a.reason.clone(),
                attempts: latencies.len(),
                p50_ms: percentile(&latencies, 50),
                p95_ms: percentile(&latencies, 95),
            }
        })
        .collect()
}
