//! The metrics of one domain event: its values (counts, durations, lead
//! time, time to restore) as one EMF line with the dimension sets
//! `EventMetrics` asks for, emitted once per event (a claim on its id).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::Collector;
use crate::core::error::Error;
use crate::core::events::{
    BuildEvent, DiagnosisEvent, Envelope, HealthEvent, RetryEvent, RollbackEvent, ValidationEvent,
    detail_type,
};
use crate::core::model::{BranchName, Environment};
use crate::metrics::emf::{self, Unit};
use crate::metrics::event_metrics::EventMetrics;
use crate::ports::MetricsStore;
use crate::stack::Stack;

/// Days a per-event claim is kept (redeliveries come within minutes).
const EVENT_CLAIM_DAYS: u32 = 2;

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
