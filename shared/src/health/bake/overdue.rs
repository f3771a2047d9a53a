//! A bake whose step never came back (its delayed message was lost, or
//! dead-lettered after its retries) would stay "running" for ever, and no
//! one would hear of it. The daily reconciliation (`crate::cleanup`)
//! concludes such a bake Inconclusive once every delivery its step could
//! still get has had its time, with its "Deployment Check Inconclusive" in
//! the record's outbox: alerted as any inconclusive bake, never rolled back
//! on its own, never made the last known good (only "Bake Passed" is).

use chrono::{DateTime, Duration, Utc};

use super::BakePolicy;
use super::analysis;
use super::reaction::{SETTLE_SECONDS, queue_bake_event};
use crate::core::bake::{BakeOutcome, BakeRecord};
use crate::core::budget;
use crate::core::deployment::Deployment;

/// How long after its last window settled a running bake is overdue:
/// longer than the health checker's queue keeps retrying a step (its
/// `maxReceiveCount` × `VisibilityTimeout` in template.yaml: 5 × 36 min;
/// a test holds it so).
pub const OVERDUE_AFTER: Duration = Duration::hours(4);

/// Whether `bake` still runs past its end: its last window settled more
/// than [`OVERDUE_AFTER`] ago. A bake within its window is never overdue.
pub fn overdue(bake: &BakeRecord, now: DateTime<Utc>) -> bool {
    let (_, end) = bake.window(bake.steps_total.max(1));
    bake.running() && now > end + Duration::seconds(SETTLE_SECONDS) + OVERDUE_AFTER
}

/// Ends the record's overdue bake Inconclusive, saying which step never
/// came back; false (nothing changed) when there is no bake, it ended, or
/// it is not overdue, so a second run changes nothing.
pub fn conclude(d: &mut Deployment, policy: &BakePolicy, now: DateTime<Utc>) -> bool {
    let Some(bake) = d.bake.as_mut() else {
        return false;
    };
    if !overdue(bake, now) {
        return false;
    }
    let judged = bake.steps.len() as u32;
    let reason = format!(
        "bake: {judged} of {} intervals judged; step {} never came back (its message was lost or dead-lettered: `sentinel dlq show`), so the reconciliation ended the bake without a verdict",
        bake.steps_total,
        judged + 1
    );
    bake.outcome = Some(BakeOutcome::Inconclusive);
    bake.reason = Some(budget::truncate_to(&reason, budget::REASON));
    bake.decided_at = Some(now);
    let evidence = analysis::evidence(policy, bake);
    queue_bake_event(d, BakeOutcome::Inconclusive, &reason, evidence);
    true
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::core::deployment::DeploymentKey;
    use crate::core::model::{Environment, JobId};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap()
    }

    /// A bake of 3 × 5 min from t0 (ends 10:15), one step judged.
    fn baking() -> Deployment {
        let key = DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: "main".parse().unwrap(),
            job_id: JobId::new(8),
        };
        let mut d = Deployment::new(key, Environment::Prod);
        let mut bake = super::super::reaction::plan(
            &BakePolicy {
                enabled: true,
                ..BakePolicy::default()
            },
            None,
            t0() - Duration::minutes(1),
        );
        bake.interval_minutes = 5;
        bake.steps_total = 3;
        d.bake = Some(bake);
        d
    }

    /// Issue #28 item 5: a bake whose step dead-lettered stayed running.
    #[test]
    fn a_bake_long_past_its_end_is_concluded_inconclusive_once_with_its_event() {
        let mut d = baking();
        let late = t0() + Duration::minutes(15) + Duration::seconds(SETTLE_SECONDS) + OVERDUE_AFTER;
        assert!(!conclude(&mut d, &BakePolicy::default(), late), "not yet");
        let later = late + Duration::minutes(1);
        assert!(conclude(&mut d, &BakePolicy::default(), later));
        let bake = d.bake.clone().unwrap();
        assert_eq!(bake.outcome, Some(BakeOutcome::Inconclusive));
        assert_eq!(bake.decided_at, Some(later));
        assert!(bake.reason.unwrap().contains("step 1 never came back"));
        let events: Vec<&str> = d.outbox.values().map(|e| e.detail_type.as_str()).collect();
        assert_eq!(events, vec!["Deployment Check Inconclusive"]);
        // Again: nothing changes, no second event.
        let before = d.clone();
        assert!(!conclude(
            &mut d,
            &BakePolicy::default(),
            later + Duration::days(1)
        ));
        assert_eq!(d, before);
    }

    #[test]
    fn a_bake_within_its_window_or_ended_is_left_alone() {
        let mut d = baking();
        assert!(!conclude(
            &mut d,
            &BakePolicy::default(),
            t0() + Duration::minutes(7)
        ));
        assert!(d.bake.as_ref().unwrap().running());
        let mut ended = baking();
        if let Some(b) = ended.bake.as_mut() {
            b.outcome = Some(BakeOutcome::Passed);
        }
        let before = ended.clone();
        assert!(!conclude(
            &mut ended,
            &BakePolicy::default(),
            t0() + Duration::days(2)
        ));
        assert_eq!(ended, before);
    }

    /// The margin outlasts every delivery the health checker's queue still
    /// gives a step (template.yaml's HealthCheckQueue).
    #[test]
    fn a_bake_is_overdue_only_after_its_step_s_queue_gave_up() {
        let queue = crate::template_text::resource(
            include_str!("../../../../template.yaml"),
            "HealthCheckQueue",
        );
        let visibility = crate::template_text::number(&queue, "VisibilityTimeout").unwrap();
        let receives = crate::template_text::number(&queue, "maxReceiveCount").unwrap();
        assert!(
            OVERDUE_AFTER > Duration::seconds((visibility * receives) as i64),
            "{OVERDUE_AFTER} vs {receives} × {visibility} s"
        );
    }
}
