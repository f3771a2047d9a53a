//! The state machine that applies status observations to a deployment
//! record ([`Deployment`]).
//!
//! EventBridge delivers at least once and in no particular order, so the record
//! is built to be a function of the *set* of observations, not of their order:
//!
//! * every delivery id is remembered; the same id twice is a no-op;
//! * the history keeps one transition per distinct status, the earliest
//!   observation of it (ties broken by event id), so repeats with new ids do not
//!   grow it;
//! * the resolved status is computed from the history by [`resolve_status`],
//!   never from "the last event that arrived".

use chrono::{DateTime, Utc};

use crate::core::deployment::{Deployment, Transition};
use crate::core::events::BuildEvent;
use crate::core::model::BuildStatus;

/// One status observation: an Amplify event, or a status learnt by
/// reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    pub event_id: String,
    pub status: BuildStatus,
    pub at: DateTime<Utc>,
}

/// The result of applying one observation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The event id was already applied: nothing changed.
    Duplicate,
    /// Recorded in the history; `new_status` is set when the resolved status
    /// changed because of it.
    Recorded { new_status: Option<BuildStatus> },
}

impl Deployment {
    /// Applies an observation. When the resolved status changes to one the
    /// rest of the stack reacts to, the matching domain event is put in the
    /// outbox (its id is deterministic, so deciding it twice keeps one entry).
    pub fn apply(&mut self, obs: Observation) -> Applied {
        if !self.event_ids.insert(obs.event_id.clone()) {
            return Applied::Duplicate;
        }
        let candidate = Transition {
            status: obs.status,
            at: obs.at,
            event_id: obs.event_id,
        };
        match self
            .transitions
            .iter_mut()
            .find(|t| t.status == candidate.status)
        {
            Some(existing) => {
                if (candidate.at, &candidate.event_id) < (existing.at, &existing.event_id) {
                    *existing = candidate;
                }
            }
            None => self.transitions.push(candidate),
        }
        // Events of one second are common (EventBridge's `time` has second
        // resolution): within a second, a job starts before it ends.
        self.transitions.sort_by(|a, b| {
            (a.at, phase(&a.status), &a.event_id).cmp(&(b.at, phase(&b.status), &b.event_id))
        });

        let resolved = resolve_status(&self.transitions);
        if resolved == self.status {
            return Applied::Recorded { new_status: None };
        }
        self.status = resolved.clone();
        let seq = self.event_ids.len() as u64;
        if let Some(entry) = BuildEvent::from_deployment(self).and_then(|e| e.to_outbox(seq)) {
            self.outbox.insert(entry.id.clone(), entry);
        }
        Applied::Recorded {
            new_status: Some(resolved),
        }
    }
}

fn phase(status: &BuildStatus) -> u8 {
    match status {
        BuildStatus::Started => 0,
        BuildStatus::Unknown(_) => 1,
        _ => 2,
    }
}

/// The documented rule that turns a history into one status:
///
/// 1. If any terminal status (SUCCEED, FAILED, CANCELLED) was observed, the one
///    observed latest wins. Amplify never reports two different terminal
///    statuses for one job on purpose, so when it happens the later report is
///    taken as the correction; on equal times the more severe one wins
///    (FAILED over CANCELLED over SUCCEED), so that a failure is never hidden
///    by a tie.
/// 2. Otherwise, if STARTED was observed, the job is STARTED.
/// 3. Otherwise the latest unknown status (ties: the greatest spelling).
///
/// Every step depends only on the set of transitions, never on arrival order.
pub fn resolve_status(transitions: &[Transition]) -> BuildStatus {
    fn severity(s: &BuildStatus) -> u8 {
        match s {
            BuildStatus::Failed => 3,
            BuildStatus::Cancelled => 2,
            BuildStatus::Succeeded => 1,
            _ => 0,
        }
    }
    if let Some(t) = transitions
        .iter()
        .filter(|t| t.status.is_terminal())
        .max_by_key(|t| (t.at, severity(&t.status)))
    {
        return t.status.clone();
    }
    if transitions.iter().any(|t| t.status == BuildStatus::Started) {
        return BuildStatus::Started;
    }
    transitions
        .iter()
        .max_by(|a, b| (a.at, a.status.as_str()).cmp(&(b.at, b.status.as_str())))
        .map(|t| t.status.clone())
        .unwrap_or_else(|| BuildStatus::Unknown("NONE".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::deployment::tests::key;
    use crate::core::model::Environment;
    use chrono::TimeZone;

    fn obs(id: &str, status: &str, secs: i64) -> Observation {
        Observation {
            event_id: id.into(),
            status: BuildStatus::from_amplify(status),
            at: Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap(),
        }
    }

    fn run(observations: &[Observation]) -> Deployment {
        let mut d = Deployment::new(key(), Environment::Staging);
        for o in observations {
            d.apply(o.clone());
        }
        d
    }

    #[test]
    fn same_event_twice_is_a_no_op() {
        let mut d = Deployment::new(key(), Environment::Dev);
        assert_eq!(
            d.apply(obs("e1", "STARTED", 0)),
            Applied::Recorded {
                new_status: Some(BuildStatus::Started)
            }
        );
        let before = d.clone();
        assert_eq!(d.apply(obs("e1", "STARTED", 0)), Applied::Duplicate);
        assert_eq!(d, before);
    }

    #[test]
    fn started_and_terminal_in_either_order_end_in_the_same_record() {
        let started = obs("e1", "STARTED", 0);
        let done = obs("e2", "SUCCEED", 90);
        let a = run(&[started.clone(), done.clone()]);
        let b = run(&[done.clone(), started.clone()]);
        let c = run(&[done.clone(), started.clone(), done.clone(), started]);
        assert!(a.same_state(&b));
        assert!(a.same_state(&c));
        assert_eq!(a.status, BuildStatus::Succeeded);
        assert_eq!(a.transitions.len(), 2);
    }

    #[test]
    fn within_one_second_started_is_listed_before_the_end() {
        let d = run(&[obs("zzz", "STARTED", 0), obs("aaa", "SUCCEED", 0)]);
        assert_eq!(d.transitions[0].status, BuildStatus::Started);
        assert_eq!(d.status, BuildStatus::Succeeded);
    }

    #[test]
    fn terminal_status_never_falls_back_to_started() {
        let d = run(&[obs("e2", "FAILED", 60), obs("e1", "STARTED", 0)]);
        assert_eq!(d.status, BuildStatus::Failed);
        assert_eq!(d.transitions[0].status, BuildStatus::Started);
    }

    #[test]
    fn repeated_status_with_new_ids_keeps_the_earliest_transition() {
        let d = run(&[obs("e3", "STARTED", 5), obs("e1", "STARTED", 0)]);
        assert_eq!(d.transitions.len(), 1);
        assert_eq!(d.transitions[0].event_id, "e1");
        assert_eq!(d.event_ids.len(), 2);
    }

    #[test]
    fn conflicting_terminal_statuses_are_both_kept_and_the_later_wins() {
        let a = run(&[obs("s", "SUCCEED", 10), obs("f", "FAILED", 20)]);
        let b = run(&[obs("f", "FAILED", 20), obs("s", "SUCCEED", 10)]);
        assert_eq!(a.status, BuildStatus::Failed);
        assert!(a.same_state(&b));
        assert_eq!(a.transitions.len(), 2);
    }

    #[test]
    fn conflicting_terminal_statuses_at_the_same_time_resolve_to_the_failure() {
        let d = run(&[obs("f", "FAILED", 10), obs("s", "SUCCEED", 10)]);
        assert_eq!(d.status, BuildStatus::Failed);
    }

    #[test]
    fn unknown_status_is_recorded_without_overriding_started() {
        let d = run(&[obs("e1", "STARTED", 0), obs("e2", "PAUSED", 5)]);
        assert_eq!(d.status, BuildStatus::Started);
        assert_eq!(d.transitions.len(), 2);
        let only_unknown = run(&[obs("e2", "PAUSED", 5)]);
        assert_eq!(only_unknown.status, BuildStatus::Unknown("PAUSED".into()));
    }

    #[test]
    fn a_status_change_queues_one_domain_event_per_status() {
        let d = run(&[
            obs("e1", "STARTED", 0),
            obs("e2", "SUCCEED", 90),
            obs("e2", "SUCCEED", 90),
        ]);
        let types: Vec<_> = d.outbox.values().map(|e| e.detail_type.as_str()).collect();
        assert_eq!(types, vec!["Build Started", "Build Succeeded"]);
    }

    #[test]
    fn a_late_started_queues_nothing() {
        let d = run(&[obs("e2", "FAILED", 90), obs("e1", "STARTED", 0)]);
        let types: Vec<_> = d.outbox.values().map(|e| e.detail_type.as_str()).collect();
        assert_eq!(types, vec!["Build Failed"]);
    }

    #[test]
    fn duration_comes_from_amplify_times_when_known() {
        let mut d = run(&[obs("e1", "STARTED", 0), obs("e2", "SUCCEED", 90)]);
        assert_eq!(d.duration_seconds(), Some(90));
        d.details.start_time = Some(Utc.timestamp_opt(1_700_000_010, 0).unwrap());
        d.details.end_time = Some(Utc.timestamp_opt(1_700_000_070, 0).unwrap());
        assert_eq!(d.duration_seconds(), Some(60));
    }

    #[test]
    fn a_job_seen_only_at_its_end_has_no_duration() {
        let d = run(&[obs("e2", "SUCCEED", 90)]);
        assert_eq!(d.duration_seconds(), None);
    }
}
