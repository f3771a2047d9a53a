//! When and how an update is tried again: the backoff (GitHub's
//! `retry-after` honoured, never shorter), the retry request the alerter
//! sends to its own queue, and the per-app [`Breaker`].

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::deployment::DeploymentKey;
use crate::core::error::MalformedEvent;
use crate::core::model::{AppId, BranchName, JobId};

/// Attempts of one update before it is dropped: with [`backoff`] they
/// cover about 90 minutes, longer than an hour-long GitHub outage.
pub const MAX_ATTEMPTS: u32 = 10;

/// The first retry's delay without a `retry-after`; each next one doubles,
/// up to SQS's 900 s.
pub const FIRST_BACKOFF_SECONDS: u32 = 30;

/// SQS's longest `DelaySeconds`
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html>).
pub const MAX_DELAY_SECONDS: u32 = 900;

/// The delay of attempt `attempt` (1 for the first retry): GitHub's
/// `retry-after` when it said one, never shorter than the backoff (so that
/// [`MAX_ATTEMPTS`] always cover more than an hour), within SQS's 1..=900 s.
pub fn retry_delay(attempt: u32, retry_after: Option<Duration>) -> u32 {
    let backoff = backoff(attempt);
    let asked = retry_after.map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    asked.max(backoff).clamp(1, MAX_DELAY_SECONDS)
}

/// 30 s, doubled each attempt, capped at 900 s.
pub fn backoff(attempt: u32) -> u32 {
    let doublings = attempt.saturating_sub(1).min(10);
    FIRST_BACKOFF_SECONDS
        .saturating_mul(1 << doublings)
        .min(MAX_DELAY_SECONDS)
}

/// A GitHub update to try again: the body the alerter sends to its own
/// queue, `{"githubRetry":{"app":…,"branch":…,"job":…,"attempt":n}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    pub app: AppId,
    pub branch: BranchName,
    pub job: JobId,
    /// 1 for the first retry.
    pub attempt: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryBody {
    #[serde(rename = "githubRetry")]
    github_retry: RetryRequest,
}

impl RetryRequest {
    /// `None` for anything that is not a retry (a domain event); an error
    /// naming what is wrong for a `githubRetry` body that does not parse.
    pub fn parse(raw: &str) -> Option<Result<Self, MalformedEvent>> {
        let v: Value = serde_json::from_str(raw).ok()?;
        v.get("githubRetry")?;
        Some(
            serde_json::from_value::<RetryBody>(v)
                .map(|b| b.github_retry)
                .map_err(|e| MalformedEvent::new("<githubRetry>", format!("githubRetry: {e}"))),
        )
    }

    pub fn to_body(&self) -> String {
        serde_json::json!({"githubRetry": self}).to_string()
    }

    pub fn key(&self) -> DeploymentKey {
        DeploymentKey {
            app_id: self.app.clone(),
            branch_name: self.branch.clone(),
            job_id: self.job,
        }
    }
}

/// Per process and per app (one app, one repository): after a retryable
/// GitHub failure, GitHub is left alone for that app until its
/// `retry-after` (or the backoff), so that a hanging GitHub does not slow
/// a batch of alerts. Per app, not global: a repository GitHub refuses
/// (or one whose installation is rate limited) does not hold back the
/// others' updates; in a real outage every app trips its own after one
/// failed request.
#[derive(Debug, Default)]
pub struct Breaker {
    open_until: Mutex<std::collections::HashMap<AppId, Instant>>,
}

impl Breaker {
    /// How long it stays open for `app`, if it is.
    pub fn remaining(&self, app: &AppId) -> Option<Duration> {
        let until = *self
            .open_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(app)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Opens it for `app` for `wait` (never shortening an opening in force).
    pub fn trip(&self, app: &AppId, wait: Duration) {
        let mut open = self.open_until.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        open.retain(|_, u| *u > now);
        let next = now + wait;
        let until = open.entry(app.clone()).or_insert(next);
        if *until < next {
            *until = next;
        }
    }

    /// Closes it for `app` (GitHub is known to answer again).
    pub fn close(&self, app: &AppId) {
        self.open_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(app);
    }
}
