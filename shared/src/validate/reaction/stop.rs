//! What a stop and a skip write on a job's record (pure writes, each done
//! once): the validation's StopJob answer, a skip decided (enforce: to be
//! stopped; observe: "would have skipped" and its "Action Observed"), and
//! a skip's StopJob answer with its "Build Skipped".

use chrono::Utc;

use crate::core::deployment::{Deployment, Skip, SkipKind};
use crate::core::enforcement::{self, Enforcement, ObservedAction, ObservedKind};
use crate::core::events::{OWNER_VALIDATOR, ObservedEvent, SkipEvent};
use crate::core::model::{BuildStatus, JobId};
use crate::core::transitions::Observation;

/// The summary a skip records: bounded, secrets masked.
fn bounded(reason: &str) -> String {
    crate::core::redact::mask_in_text(reason)
        .chars()
        .take(crate::core::enforcement::SUMMARY_MAX)
        .collect()
}

/// Decides the skip of `d` (a pure write): enforce records the skip, to be
/// stopped; observe records "would have skipped" and its "Action
/// Observed". Answers whether anything changed.
pub(super) fn decide_skip(
    d: &mut Deployment,
    kind: SkipKind,
    why: &str,
    by_job: JobId,
    enforcement: Enforcement,
) -> bool {
    if d.skipped.is_some() || d.status.is_terminal() || d.is_rollback() {
        return false;
    }
    let now = Utc::now();
    if enforcement.acts() {
        d.skipped = Some(Skip {
            kind,
            reason: bounded(why),
            by_job,
            at: now,
            stop_result: None,
        });
        return true;
    }
    if d.observed.iter().any(|a| a.action == ObservedKind::Skip) {
        return false;
    }
    let action = ObservedAction::new(ObservedKind::Skip, why, now);
    let seq = d.event_ids.len() as u64 + 200;
    if let Some(entry) = ObservedEvent::outbox_entry(d, &action, OWNER_VALIDATOR, seq) {
        d.outbox.insert(entry.id.clone(), entry);
    }
    enforcement::record(&mut d.observed, action)
}

/// Records what StopJob did to a skipped job. Once stopped, the job is
/// cancelled through the state machine (Amplify emits no event for it) and
/// "Build Skipped" joins the outbox. A "stopped" answer wins over another
/// delivery's "not stopped" (two reactions raced to stop one job).
pub(super) fn record_skip_stop(d: &mut Deployment, result: &str) -> bool {
    let Some(skip) = d.skipped.as_mut() else {
        return false;
    };
    let stopped = result == "stopped";
    match skip.stop_result.as_deref() {
        Some("stopped") => return false,
        Some(_) if !stopped => return false,
        _ => {}
    }
    skip.stop_result = Some(result.to_owned());
    if stopped {
        let before: Vec<String> = d.outbox.keys().cloned().collect();
        d.apply(Observation {
            event_id: format!("sentinel-validator/{}", d.key.job_id.padded()),
            status: BuildStatus::Cancelled,
            at: Utc::now(),
        });
        for (id, entry) in d.outbox.iter_mut() {
            if !before.contains(id) {
                entry.owner = OWNER_VALIDATOR.to_owned();
            }
        }
        let seq = d.event_ids.len() as u64 + 300;
        if let Some(entry) = SkipEvent::outbox_entry(d, seq) {
            d.outbox.insert(entry.id.clone(), entry);
        }
    }
    true
}

/// Records what StopJob did; a stopped job is also recorded as cancelled
/// through the state machine (Amplify emits no event for a cancellation).
pub(super) fn record_stop(d: &mut Deployment, result: &str) -> bool {
    let Some(v) = d.validation.as_mut() else {
        return false;
    };
    if v.stop_result.is_some() {
        return false;
    }
    v.stop_result = Some(result.to_owned());
    if result == "stopped" {
        let before: Vec<String> = d.outbox.keys().cloned().collect();
        d.apply(Observation {
            event_id: format!("sentinel-validator/{}", d.key.job_id.padded()),
            status: BuildStatus::Cancelled,
            at: Utc::now(),
        });
        // The cancellation this reaction caused is its own to publish.
        for (id, entry) in d.outbox.iter_mut() {
            if !before.contains(id) {
                entry.owner = OWNER_VALIDATOR.to_owned();
            }
        }
    }
    true
}
