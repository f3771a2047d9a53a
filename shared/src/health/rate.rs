//! The per-service rate limit on reported services' checks: at most
//! [`CHECKS_PER_WINDOW`] checks of one service start in a window of
//! [`WINDOW_SECONDS`]; beyond it the deploy's check ends Inconclusive at
//! once, with a reason naming the limit (and is alerted, as every
//! Inconclusive verdict is).
//!
//! Why 5 per 10 minutes: a reported check runs at most 120 s
//! (`REPORTED_DEADLINE_MS`), so 5 of them hold at most 600 s of check time
//! per 600 s window: one service alone can keep at most one of the reported
//! queue's two invocations busy, and another service always has the other.
//! A team's pipeline rarely deploys one service more than 5 times in ten
//! minutes. The windows are fixed (a burst across a window's end can start
//! 10 in a short time), which the cap of 2 invocations still bounds.

use chrono::{DateTime, Utc};

use crate::core::deployment::DeploymentKey;
use crate::ports::CheckSlot;

pub const CHECKS_PER_WINDOW: usize = 5;
pub const WINDOW_SECONDS: i64 = 600;

/// The place `key`'s check asks for at `now`: in the window `now` falls in,
/// held by the job itself (so a redelivery within the window takes none),
/// kept a day past the window's end.
pub fn slot(key: &DeploymentKey, now: DateTime<Utc>) -> CheckSlot {
    let t = now.timestamp();
    let window_start = t - t.rem_euclid(WINDOW_SECONDS);
    CheckSlot {
        app_id: key.app_id.clone(),
        window_start,
        job: format!("{}#{}", key.branch_name, key.job_id.padded()),
        max: CHECKS_PER_WINDOW,
        expires_at: window_start + WINDOW_SECONDS + 86_400,
    }
}

/// Why a check was not started: the limit, said so that the team knows
/// what happened and what to change.
pub fn limited(key: &DeploymentKey) -> String {
    format!(
        "rate limit: {} checks of {} already started in this {}-minute window \
         (at most {CHECKS_PER_WINDOW}); this deploy was not checked",
        CHECKS_PER_WINDOW,
        key.app_id,
        WINDOW_SECONDS / 60
    )
}
