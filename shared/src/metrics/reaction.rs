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
//!
//! Here: the collector and what it takes. Beside it: one event's metrics
//! (`event`), the scheduled run (`schedule`), and a window's figures as
//! lines (`figures`).

mod event;
mod figures;
mod schedule;

pub use event::{EventOutcome, branch_dimension};
pub use figures::{figures_line, figures_record};
pub use schedule::{METRIC_WINDOWS, OWNER_METRICS, RunOutcome, started_between};

use crate::core::events::detail_type;
use crate::core::model::Environment;
use crate::metrics::event_metrics::EventMetrics;
use crate::stack::Stack;

// What the tests (`use super::*`) name through this module.
#[cfg(test)]
use {
    crate::core::error::Error, crate::core::events::Envelope, crate::metrics::emf,
    crate::ports::MetricsStore, chrono::DateTime,
};

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

#[cfg(test)]
mod tests;
