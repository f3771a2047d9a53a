//! The metrics collector: per domain event, CloudWatch Embedded Metric
//! Format lines (no API call) with the dimensions `EventMetrics` asks
//! for; per schedule (hourly), the delivery figures of 1, 7 and 30 days
//! stored as snapshots and printed as log lines, the day's roll-up stored
//! and — once a day — emitted as metrics, and early warnings published as
//! "Degradation Detected".
//!
//! Everything it does is idempotent: an event's metrics are emitted once
//! (a claim on its id), snapshots are overwritten with the same figures,
//! and a warning is published once per condition, branch and day.

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde_json::{Value, json};

use crate::core::error::Error;
use crate::core::events::{
    BuildEvent, DegradationEvent, DiagnosisEvent, Envelope, HealthEvent, RetryEvent, RollbackEvent,
    ValidationEvent, detail_type,
};
use crate::core::model::{AppId, BranchName, Environment};
use crate::metrics::dora::{self, Figures, Tier};
use crate::metrics::emf::{self, Unit};
use crate::metrics::event_metrics::EventMetrics;
use crate::metrics::warnings::{self, Warning};
use crate::ports::{AmplifyApi, EventPublisher, MetricsStore, Stack};

/// Who publishes "Degradation Detected".
pub const OWNER_METRICS: &str = "metrics";

/// The events the collector takes from its queue.
pub const ACCEPTED: &[&str] = &[
    detail_type::BUILD_SUCCEEDED,
    detail_type::BUILD_FAILED,
    detail_type::DEPLOYMENT_HEALTHY,
    detail_type::DEPLOYMENT_UNHEALTHY,
    detail_type::DEPLOYMENT_CHECK_INCONCLUSIVE,
    detail_type::BUILD_DIAGNOSED,
    detail_type::VALIDATION_FAILED,
    detail_type::ROLLBACK_STARTED,
    detail_type::ROLLBACK_SUCCEEDED,
    detail_type::ROLLBACK_FAILED,
    detail_type::BUILD_RETRIED,
];

/// Days a per-event claim is kept (redeliveries come within minutes).
const EVENT_CLAIM_DAYS: u32 = 2;

/// The windows whose daily roll-up becomes metrics (once a day: a metric
/// is billed for each hour it receives data, so 17 figures a window cost
/// 1/24 of what hourly points would).
pub const METRIC_WINDOWS: [u32; 3] = [1, 7, 30];

/// The branch as a metric dimension. Amplify's pull-request previews
/// (`pr-123`) would make a new metric per pull request, so they share one
/// value, `previews`: the cardinality stays that of the long-lived branches.
pub fn branch_dimension(branch: &BranchName) -> &str {
    let name = branch.as_str();
    match name.strip_prefix("pr-") {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => "previews",
        _ => name,
    }
}

/// What one event led to.
#[derive(Debug, Clone, PartialEq)]
pub struct EventOutcome {
    /// The EMF lines to print (empty for a redelivery).
    pub lines: Vec<String>,
    pub duplicate: bool,
}

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

pub struct Collector<'a, K: Stack> {
    pub store: &'a K::Store,
    /// For the branches' `_BUILD_TIMEOUT` (GetBranch, GetApp).
    pub amplify: &'a K::Amplify,
    pub publisher: &'a K::Publisher,
    pub namespace: &'a str,
    pub environment: Environment,
    /// The per-event metrics' dimension sets.
    pub dimensions: EventMetrics,
}

impl<K: Stack> Collector<'_, K> {
    /// Emits the metrics of one domain event of the [`ACCEPTED`] types,
    /// once per event (the detail's `eventId`).
    pub async fn on_event(
        &self,
        envelope: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<EventOutcome, Error> {
        let detail = &envelope.detail;
        // The detail's own id: a domain event published twice (a PutEvents
        // retried after its answer was lost, a reaction repeating its
        // publish on a redelivery) has two EventBridge ids but one eventId.
        let id = detail
            .get("eventId")
            .and_then(Value::as_str)
            .unwrap_or(&envelope.id)
            .to_owned();
        let metrics = self.event_metrics(envelope)?;
        let key = format!("event#{id}");
        if !self
            .store
            .claim_once(self.environment, &key, EVENT_CLAIM_DAYS)
            .await?
        {
            return Ok(EventOutcome {
                lines: vec![],
                duplicate: true,
            });
        }
        Ok(EventOutcome {
            lines: metrics.into_lines(self.namespace, self.dimensions, now),
            duplicate: false,
        })
    }

    fn event_metrics(&self, envelope: &Envelope) -> Result<EventValues, Error> {
        let kind = envelope.detail_type.as_str();
        let mut m = EventValues::new(self.environment, &envelope.id, kind);
        match kind {
            detail_type::BUILD_SUCCEEDED | detail_type::BUILD_FAILED => {
                let e: BuildEvent = envelope.detail()?;
                m.branch(&e.app_id, &e.branch_name);
                let name = if kind == detail_type::BUILD_SUCCEEDED {
                    "BuildsSucceeded"
                } else {
                    "BuildsFailed"
                };
                m.count(name);
                if let Some(s) = e.duration_seconds.filter(|s| *s >= 0) {
                    m.push("BuildDuration", s as f64, Unit::Seconds);
                }
                if kind == detail_type::BUILD_SUCCEEDED
                    && !e.is_rollback
                    && let (Some(end), Some(commit)) =
                        (e.end_time, e.first_commit_time.or(e.commit_time))
                    && end > commit
                {
                    m.push(
                        "LeadTime",
                        (end - commit).num_seconds() as f64,
                        Unit::Seconds,
                    );
                }
            }
            detail_type::DEPLOYMENT_HEALTHY
            | detail_type::DEPLOYMENT_UNHEALTHY
            | detail_type::DEPLOYMENT_CHECK_INCONCLUSIVE => {
                let e: HealthEvent = envelope.detail()?;
                m.branch(&e.app_id, &e.branch_name);
                m.count(match kind {
                    detail_type::DEPLOYMENT_HEALTHY => "DeploymentsHealthy",
                    detail_type::DEPLOYMENT_UNHEALTHY => "DeploymentsUnhealthy",
                    _ => "HealthChecksInconclusive",
                });
                if let Some(p95) = e.endpoints.iter().map(|p| p.p95_ms).max() {
                    m.push("HealthCheckLatencyP95", p95 as f64, Unit::Milliseconds);
                }
            }
            detail_type::BUILD_DIAGNOSED => {
                let e: DiagnosisEvent = envelope.detail()?;
                m.branch(&e.app_id, &e.branch_name);
                m.count("FailuresDiagnosed");
                // Its own dimension set: failures per category (a bounded,
                // documented list of ids).
                m.category = Some(e.category);
            }
            detail_type::VALIDATION_FAILED => {
                let e: ValidationEvent = envelope.detail()?;
                m.branch(&e.app_id, &e.branch_name);
                m.count("ValidationFailures");
            }
            detail_type::BUILD_RETRIED => {
                let e: RetryEvent = envelope.detail()?;
                m.branch(&e.app_id, &e.branch_name);
                m.count("BuildsRetried");
            }
            _ => {
                let e: RollbackEvent = envelope.detail()?;
                m.branch(&e.app_id, &e.branch_name);
                m.count(match kind {
                    detail_type::ROLLBACK_STARTED => "RollbacksStarted",
                    detail_type::ROLLBACK_SUCCEEDED => "RollbacksSucceeded",
                    _ => "RollbacksFailed",
                });
                if let Some(s) = e.time_to_restore_seconds {
                    m.push("TimeToRestore", s as f64, Unit::Seconds);
                }
            }
        }
        Ok(m)
    }

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

fn tier_value(t: Option<Tier>) -> Option<f64> {
    // 4 elite … 1 low: a dashboard can graph the tier.
    t.map(|t| match t {
        Tier::Elite => 4.0,
        Tier::High => 3.0,
        Tier::Medium => 2.0,
        Tier::Low => 1.0,
    })
}

/// One EMF line with a window's figures (dimensions Environment, Window),
/// at `at` (the daily roll-up's: its midnight).
pub fn figures_line(namespace: &str, f: &Figures, at: DateTime<Utc>) -> String {
    let window = format!("{}d", f.window_days);
    emf::line(
        namespace,
        &[("Environment", f.environment.as_str()), ("Window", &window)],
        &[&["Environment", "Window"]],
        &figure_values(f),
        &[
            ("record", json!("daily-figures")),
            ("from", json!(f.from)),
            ("to", json!(f.to)),
        ],
        at,
    )
}

/// A window's rolling figures as a log line without metrics (the
/// dashboard's Logs Insights widgets read the latest): the same names as
/// [`figures_line`], `record` = `figures`.
pub fn figures_record(f: &Figures) -> String {
    let window = format!("{}d", f.window_days);
    let values: Vec<(&str, f64)> = figure_values(f)
        .into_iter()
        .map(|(name, value, _)| (name, value))
        .collect();
    emf::record(
        &[("Environment", f.environment.as_str()), ("Window", &window)],
        &values,
        &[
            ("record", json!("figures")),
            ("from", json!(f.from)),
            ("to", json!(f.to)),
        ],
    )
}

/// A window's figures by metric name; a figure without data is left out.
fn figure_values(f: &Figures) -> Vec<(&'static str, f64, Unit)> {
    let percent = |r: Option<f64>| r.map(|r| r * 100.0);
    let values: Vec<(&'static str, Option<f64>, Unit)> = vec![
        ("Builds", Some(f64::from(f.builds)), Unit::Count),
        (
            "BuildSuccessRate",
            percent(f.build_success_rate),
            Unit::Percent,
        ),
        (
            "BuildDurationP50",
            f.build_duration_p50_seconds,
            Unit::Seconds,
        ),
        (
            "BuildDurationP90",
            f.build_duration_p90_seconds,
            Unit::Seconds,
        ),
        (
            "BuildDurationP99",
            f.build_duration_p99_seconds,
            Unit::Seconds,
        ),
        ("Deployments", Some(f64::from(f.deployments)), Unit::Count),
        (
            "DeploymentFrequencyPerDay",
            Some(f.deployment_frequency_per_day),
            Unit::CountPerDay,
        ),
        ("LeadTimeMedian", f.lead_time_median_seconds, Unit::Seconds),
        ("LeadTimeP90", f.lead_time_p90_seconds, Unit::Seconds),
        (
            "ChangeFailureRate",
            percent(f.change_failure_rate),
            Unit::Percent,
        ),
        (
            "RecoveryTimeMedian",
            f.recovery_time_median_seconds,
            Unit::Seconds,
        ),
        (
            "OpenIncidents",
            Some(f64::from(f.open_incidents)),
            Unit::Count,
        ),
        ("Rollbacks", Some(f64::from(f.rollbacks)), Unit::Count),
        (
            "DeploymentFrequencyTier",
            tier_value(Some(f.tiers.deployment_frequency)),
            Unit::None,
        ),
        ("LeadTimeTier", tier_value(f.tiers.lead_time), Unit::None),
        (
            "ChangeFailureRateTier",
            tier_value(f.tiers.change_failure_rate),
            Unit::None,
        ),
        (
            "RecoveryTimeTier",
            tier_value(f.tiers.recovery_time),
            Unit::None,
        ),
    ];
    values
        .into_iter()
        .filter_map(|(n, v, u)| Some((n, v?, u)))
        .collect()
}

/// The metrics of one event, before they become EMF lines.
struct EventValues {
    environment: Environment,
    event_id: String,
    /// The event's detail-type, for Logs Insights (`event`).
    kind: String,
    app: Option<String>,
    branch: Option<String>,
    category: Option<String>,
    values: Vec<(&'static str, f64, Unit)>,
}

impl EventValues {
    fn new(environment: Environment, event_id: &str, kind: &str) -> Self {
        Self {
            environment,
            event_id: event_id.to_owned(),
            kind: kind.to_owned(),
            app: None,
            branch: None,
            category: None,
            values: vec![],
        }
    }

    fn branch(&mut self, app: &crate::core::model::AppId, branch: &BranchName) {
        self.app = Some(app.to_string());
        self.branch = Some(branch_dimension(branch).to_owned());
    }

    fn count(&mut self, name: &'static str) {
        self.push(name, 1.0, Unit::Count);
    }

    fn push(&mut self, name: &'static str, value: f64, unit: Unit) {
        self.values.push((name, value, unit));
    }

    /// The event's line: metrics with `dimensions`' sets (none: a log line
    /// without metrics); `App`, `Branch` (and `Category`) are always on it,
    /// as dimensions or as properties that Logs Insights groups by.
    fn into_lines(
        self,
        namespace: &str,
        dimensions: EventMetrics,
        now: DateTime<Utc>,
    ) -> Vec<String> {
        let env = self.environment.as_str();
        let app = self.app.unwrap_or_default();
        let branch = self.branch.unwrap_or_default();
        let properties = [
            ("eventId", json!(self.event_id)),
            ("event", json!(self.kind)),
        ];
        let mut root = vec![
            ("Environment", env),
            ("App", app.as_str()),
            ("Branch", branch.as_str()),
        ];
        if let Some(category) = &self.category {
            root.push(("Category", category.as_str()));
        }
        let mut lines = vec![if dimensions.event_sets().is_empty() {
            let values: Vec<(&str, f64)> = self.values.iter().map(|(n, v, _)| (*n, *v)).collect();
            emf::record(&root, &values, &properties)
        } else {
            emf::line(
                namespace,
                &root,
                dimensions.event_sets(),
                &self.values,
                &properties,
                now,
            )
        }];
        if let Some(category) = self
            .category
            .as_ref()
            .filter(|_| dimensions.failures_by_category())
        {
            lines.push(emf::line(
                namespace,
                &[("Environment", env), ("Category", category)],
                &[&["Environment", "Category"]],
                &[("FailuresByCategory", 1.0, Unit::Count)],
                &properties,
                now,
            ));
        }
        lines
    }
}

#[cfg(test)]
mod tests;
