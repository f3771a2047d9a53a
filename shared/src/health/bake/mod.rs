//! The bake: after a deploy's probes passed, its real traffic is watched
//! for a while — Amplify Hosting's CloudWatch metrics of the app against a
//! baseline, and the team's own alarms — and a deploy that turns bad is
//! rolled back through the usual path ("Deployment Unhealthy", reason
//! bake). Amplify has no traffic split: the analysis runs after promotion.
//!
//! * [`analysis`]: the pure rules (limits from the baseline, one interval's
//!   judgement, the bake's outcome, the alert's evidence).
//! * [`reaction`]: one step per delayed message to the health checker's own
//!   queue; a step delivered twice is decided once.
//! * [`overdue`]: a bake whose step never came back, concluded by the
//!   reconciliation.

pub mod analysis;
pub mod overdue;
mod policy;
pub mod reaction;
#[cfg(test)]
mod tests;

pub use policy::{BakePolicy, MAX_ALARMS, MAX_STEPS, Number};
