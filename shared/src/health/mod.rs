//! The health check engine: checks a deployed site the way a careful
//! engineer would, in rounds, and decides Healthy, Unhealthy or
//! Inconclusive.
//!
//! * Each round runs every endpoint concurrently: a round takes as long as
//!   its slowest endpoint, not their sum.
//! * Healthy after `healthy_after` consecutive passing rounds; Unhealthy
//!   after `unhealthy_after` consecutive rounds with a failure on the site's
//!   side; Inconclusive when only our side failed (DNS, connection refused,
//!   TLS) or the deadline came first. Only Unhealthy may lead to a rollback.
//! * A team's own server ([`Checker::refused_connection_fails`], a reported
//!   service) refusing connections is the site failing, not our side.
//! * An address the outbound rules refuse ends the check at once,
//!   Inconclusive: no later round would be let through either.
//! * Flapping is Unhealthy, in bounded time: `unhealthy_after` site-side
//!   failures among the last `2 × unhealthy_after` judged rounds (a URL
//!   answering 200 and 500 in turn fails every other user) — without it,
//!   such a site never gives consecutive rounds and holds its check, and a
//!   slot of the health checker's queue, until the deadline.
//! * A wrong version is "not yet" during `version_grace` (the CDN can serve
//!   the old deployment for a while), then a failure.
//! * Requests go only to allowed hosts, follow at most 5 redirects within
//!   them, read at most 1 MB of body, verify TLS, and send no credentials
//!   but a protected site's own basic auth, to its own origin only.
//! * Every request, every redirect hop, is held to [`crate::outbound`]:
//!   https, public addresses only (checked where the connection is made),
//!   and the site URL's scheme and port pinned across redirects.

pub mod bake;
mod checker;
pub mod policy;
mod probe;
pub mod rate;
pub mod reaction;
mod report;
pub mod site;
#[cfg(test)]
mod tests;
mod version;

pub use crate::core::verdicts::{EndpointReport, Outcome, Verdict};
pub use checker::Checker;
pub use policy::{EndpointCheck, HealthPolicy, SiteChoice, VersionCheck};
pub use report::{Attempt, CheckError, HealthReport};
pub use version::{commit_matches, mentions_commit};
