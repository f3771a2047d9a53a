//! The alerter's GitHub side: keeps a job's check run (or, with a token,
//! its commit status), its deployment and its pull request's comment in
//! step with the job's record, without ever delaying or failing Sentinel's
//! own work (`docs/github.md`, "When GitHub fails").
//!
//! **Reconcile, not replay.** Each update reads the job's record as it is
//! now, renders what GitHub should show (`render::desired`) and applies only
//! what differs from what the job's GitHub state item says was last
//! applied. A late "Build Started" renders from a record that already says
//! "failed", so it never overwrites "completed"; the same event twice finds
//! nothing to apply; a retry converges on the record of its time.
//!
//! **One writer per job.** A short lease on the state item (a conditional
//! write) keeps two reconcilers of one job from creating two check runs; a
//! reconciler that finds the lease held schedules its own retry.
//!
//! **Never blocking.** The alerter calls this after the alert went out, and
//! nothing here returns an error: a retryable failure schedules a delayed
//! message to the alerter's own queue ([`RetryRequest`]) and opens the
//! per-process [`Breaker`], so that the next events of the batch skip GitHub
//! (and schedule their retries) instead of waiting on it; after
//! [`MAX_ATTEMPTS`], or on an error retrying cannot mend, the update is
//! logged (masked) and counted ([`DROPPED_METRIC`]), never dead-lettered.
//!
//! Here: the reporter, its entry points and why an update fails. Beside
//! it: the jobs an event is about (`jobs`), the lease and the state item's
//! writes (`lease`), applying what differs (`apply`), retries and the
//! breaker (`retry`), an update given up (`failed`), and the alert's
//! extras (`extras`).

mod apply;
mod extras;
mod failed;
mod jobs;
mod lease;
mod retry;

pub use extras::{AUTHOR_TIMEOUT, AlertExtras};
pub use failed::{DROPPED_METRIC, dropped_line};
pub use jobs::{GITHUB_ONLY, JobRef};
pub use retry::{
    Breaker, FIRST_BACKOFF_SECONDS, MAX_ATTEMPTS, MAX_DELAY_SECONDS, RetryRequest, backoff,
    retry_delay,
};

use std::time::Duration;

use serde::Serialize;

use crate::core::deployment::DeploymentKey;
use crate::core::error::Error;
use crate::core::events::Envelope;
use crate::core::model::Environment;
use crate::github::api::GitHubError;
use crate::ports::RetryQueue;
use crate::stack::Stack;
use jobs::{jobs_of, replacement};

// What the tests (`use super::*`) name through this module.
#[cfg(test)]
use {
    crate::core::model::{AppId, BranchName, JobId},
    crate::github::api::{AuthKind, CommitInfo},
    crate::github::render::COMMENT_MARKER,
    crate::github::state::GitHubState,
    crate::ports::DeploymentStore,
    chrono::Utc,
    serde_json::Value,
};

/// When a reconciler finds the job leased by another: try again after it.
const BUSY_RETRY: Duration = Duration::from_secs(5);

/// The longest one job's update may take (each request is bounded by the
/// client too): a GitHub that hangs costs the batch this once, then the
/// breaker is open. Well within the lease and the alerter's 90 s timeout.
pub const UPDATE_TIMEOUT: Duration = Duration::from_secs(15);

/// What the GitHub side of one delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitHubOutcome {
    /// Objects created or changed on GitHub.
    pub applied: usize,
    /// Retries sent to the alerter's queue.
    pub scheduled: usize,
    /// Updates given up (logged and counted).
    pub dropped: usize,
    /// The EMF lines written for the dropped ones.
    #[serde(skip)]
    pub metric_lines: Vec<String>,
}

impl GitHubOutcome {
    fn add(&mut self, other: GitHubOutcome) {
        self.applied += other.applied;
        self.scheduled += other.scheduled;
        self.dropped += other.dropped;
        self.metric_lines.extend(other.metric_lines);
    }
}

/// Why an update did not complete.
#[derive(Debug, Clone)]
struct Failure {
    reason: String,
    retryable: bool,
    retry_after: Option<Duration>,
    /// GitHub's own failure (opens the breaker).
    github: bool,
}

impl From<GitHubError> for Failure {
    fn from(e: GitHubError) -> Self {
        Self {
            retryable: e.is_retryable(),
            retry_after: e.retry_after(),
            reason: e.to_string(),
            github: true,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self {
            retryable: e.is_retryable(),
            retry_after: None,
            reason: e.to_string(),
            github: false,
        }
    }
}

impl Failure {
    fn busy() -> Self {
        Self {
            reason: "another reconciler holds the job".into(),
            retryable: true,
            retry_after: Some(BUSY_RETRY),
            github: false,
        }
    }
}

/// The GitHub side of the alerter, over one [`Stack`] and its retry queue.
pub struct GitHubReporter<'a, K: Stack, Q: RetryQueue> {
    pub store: &'a K::Store,
    pub amplify: &'a K::Amplify,
    pub github: &'a K::GitHub,
    pub retries: &'a Q,
    pub breaker: &'a Breaker,
    pub environment: Environment,
    /// For links to the Amplify console.
    pub region: &'a str,
    /// See `Config::site_url_template`.
    pub site_url_template: Option<&'a str>,
    /// Where [`DROPPED_METRIC`] is counted.
    pub metrics_namespace: &'a str,
    /// Who holds a lease (the invocation's request id, made unique per
    /// reconciliation).
    pub owner: &'a str,
}

impl<K: Stack, Q: RetryQueue> GitHubReporter<'_, K, Q> {
    /// After the alert: brings GitHub in step with each job the event is
    /// about. A rollback first records on the replaced job what replaced
    /// it, so that every later rendering of that job (retries included)
    /// says so.
    pub async fn after_event(&self, envelope: &Envelope) -> GitHubOutcome {
        let mut outcome = GitHubOutcome::default();
        let Some(jobs) = jobs_of(envelope) else {
            return outcome;
        };
        if let Some((replaced, by, to)) = replacement(envelope) {
            let recorded = self
                .modify(&replaced, |s| {
                    s.replaced_by = Some(by);
                    s.rolled_back_to = to;
                    Ok(())
                })
                .await;
            if let Err(f) = recorded {
                // The store, not GitHub: the retry records it again.
                outcome.add(self.retry_or_drop(&replaced, 0, f).await);
            }
        }
        for key in jobs {
            outcome.add(self.update(&key, 0).await);
        }
        outcome
    }

    /// A retry from the alerter's queue.
    pub async fn on_retry(&self, request: &RetryRequest) -> GitHubOutcome {
        self.update(&request.key(), request.attempt).await
    }

    /// One attempt (`attempt` 0 for the first) at bringing GitHub in step
    /// with the job; never fails.
    pub async fn update(&self, key: &DeploymentKey, attempt: u32) -> GitHubOutcome {
        if !key.app_id.is_amplify() {
            return GitHubOutcome::default();
        }
        if let Some(wait) = self.breaker.remaining(&key.app_id) {
            let skipped = Failure {
                reason: "GitHub failed a moment ago (breaker open)".into(),
                retryable: true,
                retry_after: Some(wait),
                github: false,
            };
            return self.retry_or_drop(key, attempt, skipped).await;
        }
        let reconciled = tokio::time::timeout(UPDATE_TIMEOUT, self.reconcile(key))
            .await
            .unwrap_or_else(|_| {
                Err(Failure {
                    reason: format!("GitHub did not answer within {UPDATE_TIMEOUT:?}"),
                    retryable: true,
                    retry_after: None,
                    github: true,
                })
            });
        match reconciled {
            Ok(applied) => GitHubOutcome {
                applied,
                ..GitHubOutcome::default()
            },
            Err(f) => {
                if f.github && f.retryable {
                    self.breaker.trip(
                        &key.app_id,
                        Duration::from_secs(u64::from(retry_delay(attempt + 1, f.retry_after))),
                    );
                }
                self.retry_or_drop(key, attempt, f).await
            }
        }
    }
}

#[cfg(test)]
mod tests;
