//! The scheduled run (hourly): the delivery figures of 1, 7 and 30 days
//! stored as snapshots and printed as log lines, the day's roll-up stored
//! and, once a day, emitted as metrics, and early warnings published once
//! per condition, branch and day as "Degradation Detected".

use chrono::{DateTime, Duration, DurationRound, Utc};

use super::Collector;
use super::figures::{figures_line, figures_record};
use crate::core::error::Error;
use crate::core::events::{DegradationEvent, detail_type};
use crate::core::model::{AppId, BranchName};
use crate::metrics::dora::{self, Figures};
use crate::metrics::warnings::{self, Warning};
use crate::ports::{AmplifyApi, EventPublisher, MetricsStore};
use crate::stack::Stack;

/// Who publishes "Degradation Detected".
pub const OWNER_METRICS: &str = "metrics";

/// The windows whose daily roll-up becomes metrics (once a day: a metric
/// is billed for each hour it receives data, so 17 figures a window cost
/// 1/24 of what hourly points would).
pub const METRIC_WINDOWS: [u32; 3] = [1, 7, 30];

/// What one scheduled run did.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// The rolling windows' figures (1, 7 and 30 days up to now).
    pub figures: Vec<Figures>,
    /// The lines to print: the rolling figures as log lines (no metric),
    /// and the first run of a day also the day's roll-up as EMF.
    pub lines: Vec<String>,
    /// Whether this run emitted the day's roll-up as metrics.
    pub daily_metrics: bool,
    /// Items read from the table (the one window read).
    pub items_read: usize,
    /// Warnings published now (each once per condition, branch and day).
    pub warnings_published: Vec<Warning>,
    /// Warnings holding but already published today.
    pub warnings_known: usize,
}

impl<K: Stack> Collector<'_, K> {
    /// The scheduled run at `now`: one window read (30 days back from the
    /// start of today, so the day's roll-up is covered too), the rolling
    /// figures stored and printed, yesterday's roll-up stored dated (and
    /// emitted as metrics by the day's first run), and the early warnings
    /// published once.
    pub async fn on_schedule(&self, now: DateTime<Utc>) -> Result<RunOutcome, Error> {
        let midnight = now.duration_trunc(Duration::days(1)).unwrap_or(now);
        let longest = i64::from(*dora::WINDOWS.iter().max().unwrap_or(&30));
        let read = self
            .store
            .deployments_between(self.environment, midnight - Duration::days(longest), now)
            .await?;
        // Sorted by start once, every window is a slice of the read.
        let mut all = read.deployments;
        all.sort_by_key(crate::core::deployment::Deployment::started_at);
        let mut figures = Vec::new();
        let mut lines = Vec::new();
        let mut rollups = Vec::new();
        for days in dora::WINDOWS {
            let (from, to) = dora::window(now, days);
            let f = dora::compute(self.environment, from, to, started_between(&all, from, to));
            self.store.put_snapshot(&f, false).await?;
            lines.push(figures_record(&f));
            figures.push(f);
            // The day's roll-up: the window ending at midnight, stored
            // under its date (overwritten with the same figures each hour).
            let (from, to) = dora::window(midnight, days);
            let rollup = dora::compute(self.environment, from, to, started_between(&all, from, to));
            self.store.put_snapshot(&rollup, true).await?;
            rollups.push(rollup);
        }
        let recent = started_between(&all, now - Duration::days(8), now);
        let mut published = Vec::new();
        let mut known = 0;
        let timeouts = self.build_timeouts(recent, now).await;
        let timeout_of = |app: &AppId, branch: &BranchName| {
            timeouts
                .iter()
                .find(|(a, b, _)| a == app && b == branch)
                .map_or(warnings::BUILD_TIMEOUT_SECONDS, |t| t.2)
        };
        for w in warnings::detect_with(recent, now, timeout_of) {
            if self.publish_once(&w, now).await? {
                published.push(w);
            } else {
                known += 1;
            }
        }
        // Last, so that a run failing above leaves the day's metrics to the
        // next run: the roll-up as metrics, once a day (a claim on the date).
        let day = midnight.format("%Y-%m-%d");
        let daily_metrics = self
            .store
            .claim_once(self.environment, &format!("figures#{day}"), 2)
            .await?;
        if daily_metrics {
            lines.extend(
                rollups
                    .iter()
                    .filter(|f| METRIC_WINDOWS.contains(&f.window_days))
                    .map(|f| figures_line(self.namespace, f, f.to)),
            );
        }
        Ok(RunOutcome {
            figures,
            lines,
            daily_metrics,
            items_read: read.items_read,
            warnings_published: published,
            warnings_known: known,
        })
    }

    /// The build timeout of each branch with a build long enough to be near
    /// one: its `_BUILD_TIMEOUT` (branch, else app). A lookup that fails
    /// leaves Amplify's default and is logged; it never fails the run.
    async fn build_timeouts(
        &self,
        recent: &[crate::core::deployment::Deployment],
        now: DateTime<Utc>,
    ) -> Vec<(AppId, BranchName, f64)> {
        let mut out = Vec::new();
        // One GetApp per app, however many of its branches are looked up.
        let mut app_values: std::collections::HashMap<AppId, Option<String>> =
            std::collections::HashMap::new();
        for (app, branch) in warnings::timeout_candidates(recent, now) {
            // Only Amplify builds have Amplify's build timeout.
            if !app.is_amplify() {
                continue;
            }
            let variable = warnings::BUILD_TIMEOUT_VARIABLE;
            let branch_value = match self.amplify.get_branch(&app, &branch).await {
                Ok(b) => b.environment_variables.get(variable).cloned(),
                Err(e) => {
                    tracing::warn!(%app, %branch, error = %e, "GetBranch failed; build timeout from the app or the default");
                    None
                }
            };
            let app_value = match app_values.get(&app) {
                Some(known) => known.clone(),
                None => {
                    let value = match self.amplify.get_app(&app).await {
                        Ok(a) => a.environment_variables.get(variable).cloned(),
                        Err(e) => {
                            tracing::warn!(%app, error = %e, "GetApp failed; default build timeout");
                            None
                        }
                    };
                    app_values.insert(app.clone(), value.clone());
                    value
                }
            };
            let seconds =
                warnings::build_timeout_seconds(branch_value.as_deref(), app_value.as_deref());
            out.push((app, branch, seconds));
        }
        out
    }

    /// Publishes a warning unless it was today already: the claim first,
    /// released again when the publish fails (so the retry publishes).
    async fn publish_once(&self, w: &Warning, now: DateTime<Utc>) -> Result<bool, Error> {
        let day = now.format("%Y-%m-%d");
        let key = format!(
            "warning#{}#{}#{}#{day}",
            w.app_id, w.branch_name, w.condition
        );
        if !self.store.claim_once(self.environment, &key, 2).await? {
            return Ok(false);
        }
        let event = DegradationEvent {
            event_id: format!(
                "{}/{}/degradation/{}/{day}",
                w.app_id, w.branch_name, w.condition
            ),
            environment: self.environment,
            app_id: w.app_id.clone(),
            branch_name: w.branch_name.clone(),
            condition: w.condition.to_owned(),
            summary: w.summary.clone(),
            evidence: w.evidence.clone(),
        };
        let entry = crate::core::outbox::entry(
            &event.event_id,
            OWNER_METRICS,
            detail_type::DEGRADATION_DETECTED,
            &event,
        )
        .into_iter()
        .collect::<Vec<_>>();
        if let Err(e) = self.publisher.publish(&entry).await {
            self.store.release_claim(self.environment, &key).await?;
            return Err(e.into());
        }
        tracing::info!(
            app = %w.app_id,
            branch = %w.branch_name,
            condition = w.condition,
            "degradation detected"
        );
        Ok(true)
    }
}

/// The deployments whose job started in `[from, to)`, from deployments
/// sorted by start time (as the environment-and-time index returns them):
/// a slice, nothing copied.
pub fn started_between(
    sorted: &[crate::core::deployment::Deployment],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> &[crate::core::deployment::Deployment] {
    let lo = sorted.partition_point(|d| d.started_at() < Some(from));
    let hi = sorted.partition_point(|d| d.started_at() < Some(to));
    &sorted[lo..hi.max(lo)]
}
