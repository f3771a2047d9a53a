//! An update that did not complete: its retry queued on the alerter's own
//! queue, or, past [`MAX_ATTEMPTS`] or on an error retrying cannot mend,
//! given up: logged (masked) and counted ([`DROPPED_METRIC`]).

use chrono::Utc;
use serde_json::Value;

use super::retry::{MAX_ATTEMPTS, RetryRequest, retry_delay};
use super::{Failure, GitHubOutcome, GitHubReporter};
use crate::core::deployment::DeploymentKey;
use crate::core::model::Environment;
use crate::metrics::emf::{self, Unit};
use crate::ports::RetryQueue;
use crate::stack::Stack;

/// The EMF metric counting GitHub updates given up.
pub const DROPPED_METRIC: &str = "GitHubUpdatesDropped";

impl<K: Stack, Q: RetryQueue> GitHubReporter<'_, K, Q> {
    pub(super) async fn retry_or_drop(
        &self,
        key: &DeploymentKey,
        attempt: u32,
        f: Failure,
    ) -> GitHubOutcome {
        let next = attempt + 1;
        if f.retryable && next <= MAX_ATTEMPTS {
            let delay = retry_delay(next, f.retry_after);
            let request = RetryRequest {
                app: key.app_id.clone(),
                branch: key.branch_name.clone(),
                job: key.job_id,
                attempt: next,
            };
            match self.retries.send_retry(&request.to_body(), delay).await {
                Ok(()) => {
                    tracing::info!(
                        app = %key.app_id, branch = %key.branch_name, job = %key.job_id,
                        attempt = next, delay, reason = %crate::core::redact::mask_in_text(&f.reason),
                        "GitHub update scheduled for retry"
                    );
                    return GitHubOutcome {
                        scheduled: 1,
                        ..GitHubOutcome::default()
                    };
                }
                Err(e) => {
                    return self.drop_update(
                        key,
                        attempt,
                        &format!("{}; and its retry could not be queued: {e}", f.reason),
                    );
                }
            }
        }
        let why = if f.retryable {
            format!("{} (after {attempt} retries)", f.reason)
        } else {
            f.reason
        };
        self.drop_update(key, attempt, &why)
    }

    fn drop_update(&self, key: &DeploymentKey, attempt: u32, reason: &str) -> GitHubOutcome {
        let reason = crate::core::redact::mask_in_text(reason);
        let reason: String = reason.chars().take(500).collect();
        tracing::warn!(
            app = %key.app_id, branch = %key.branch_name, job = %key.job_id, attempt,
            reason = %reason, "GitHub update dropped"
        );
        let line = dropped_line(
            self.metrics_namespace,
            self.environment,
            key,
            &reason,
            Utc::now(),
        );
        println!("{line}");
        GitHubOutcome {
            dropped: 1,
            metric_lines: vec![line],
            ..GitHubOutcome::default()
        }
    }
}

/// The EMF line counting one dropped update.
pub fn dropped_line(
    namespace: &str,
    environment: Environment,
    key: &DeploymentKey,
    reason: &str,
    at: chrono::DateTime<Utc>,
) -> String {
    emf::line(
        namespace,
        &[("Environment", environment.as_str())],
        &[&["Environment"]],
        &[(DROPPED_METRIC, 1.0, Unit::Count)],
        &[
            ("app", Value::from(key.app_id.to_string())),
            (
                "branch",
                Value::from(crate::core::model::preview(key.branch_name.as_str())),
            ),
            ("job", Value::from(key.job_id.to_string())),
            ("reason", Value::from(reason)),
        ],
        at,
    )
}
