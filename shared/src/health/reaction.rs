//! The health checker's reaction to "Build Succeeded": check the deployed
//! site against the branch's policy, record the verdict on the deployment,
//! move the branch's last known good on Healthy, and publish the verdict —
//! once per job, whatever the number of deliveries.
//!
//! Here: the health checker and what it takes. Beside it: the check after
//! a deploy (`deploy`), the scheduled check of live deployments (`live`),
//! and where a deploy is checked (`checker`).

mod checker;
mod deploy;
mod live;

pub use checker::{NO_URL, REPORTED_DEADLINE_MS};
pub use deploy::DeployCheckOutcome;
pub use live::{LEGACY_RECENT, LIVE_CHECKS_AT_ONCE, MAX_LIVE_BRANCHES, ScheduleOutcome};

use crate::core::events::detail_type;
use crate::outbound::Outbound;
use crate::stack::Stack;

/// The detail type the health checker takes (besides its schedule).
pub const ACCEPTED: &[&str] = &[detail_type::BUILD_SUCCEEDED];

pub struct HealthChecker<'a, K: Stack> {
    pub store: &'a K::Store,
    pub amplify: &'a K::Amplify,
    pub publisher: &'a K::Publisher,
    /// Where sites are when neither the policy nor Amplify's default applies
    /// (see `Config::site_url_template`).
    pub site_url_template: Option<&'a str>,
    /// What every request is held to ([`Outbound::public`] when deployed).
    pub outbound: &'a Outbound,
}
