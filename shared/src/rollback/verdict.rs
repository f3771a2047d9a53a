//! What a job's record says of its health, which is what a rollback acts
//! on: never what the event that names the job says (`rollbackAllowed`,
//! `isRollback`, `scheduled`, `reason`). Any role allowed to put events on
//! the bus could have sent it; the health checker records its verdict
//! before it publishes it (the outbox, in the same write), so an event whose
//! job's record holds no such verdict did not come from it.

use crate::core::deployment::Deployment;
use crate::core::model::JobId;
use crate::core::verdicts::Verdict;

/// The check that found the job unhealthy, as its record says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unhealthy {
    /// The check after the deploy: may always lead to a rollback.
    Deploy { reason: String },
    /// Only the scheduled check of the live deployment: a rollback only
    /// with the policy's `health.rollback_on_live_failure`.
    Live { reason: String },
}

impl Unhealthy {
    /// The record's unhealthy verdict, or why there is none to act on.
    ///
    /// The deploy check's verdict comes first and stays: a later scheduled
    /// check that found the site up again does not undo a rollback
    /// decided on it (its redelivery must still take it over).
    pub fn recorded(record: Option<&Deployment>, job: JobId) -> Result<Self, String> {
        let Some(d) = record else {
            return Err(format!("job {job} has no record: {NOT_OURS}"));
        };
        if let Some(h) = d
            .health
            .as_ref()
            .filter(|h| h.verdict == Verdict::Unhealthy)
        {
            return Ok(Self::Deploy {
                reason: h.reason.clone(),
            });
        }
        // A bake that failed (the deploy's real traffic, after its probes
        // passed: health.bake) counts as the check after the deploy.
        if let Some(b) = d
            .bake
            .as_ref()
            .filter(|b| b.outcome == Some(crate::core::bake::BakeOutcome::Failed))
        {
            return Ok(Self::Deploy {
                reason: b.reason.clone().unwrap_or_else(|| "bake failed".into()),
            });
        }
        if let Some(c) = d
            .live_check
            .as_ref()
            .filter(|c| c.verdict == Verdict::Unhealthy)
        {
            return Ok(Self::Live {
                reason: c.reason.clone(),
            });
        }
        Err(format!(
            "job {job}'s record holds no unhealthy verdict (deploy check: {}, scheduled check: {}): {NOT_OURS}",
            shown(d.health.as_ref().map(|h| h.verdict)),
            shown(d.live_check.as_ref().map(|c| c.verdict)),
        ))
    }

    /// Whether it may lead to a rollback, given the branch policy's
    /// `health.rollback_on_live_failure`.
    pub fn allows_rollback(&self, rollback_on_live_failure: bool) -> bool {
        match self {
            Self::Deploy { .. } => true,
            Self::Live { .. } => rollback_on_live_failure,
        }
    }

    /// The health checker's reason, as recorded.
    pub fn reason(&self) -> &str {
        match self {
            Self::Deploy { reason } | Self::Live { reason } => reason,
        }
    }
}

/// Whether the record holds a healthy verdict (the deploy check's or a
/// scheduled one), or why it does not: a rollback job is concluded on it.
pub fn recorded_healthy(record: Option<&Deployment>, job: JobId) -> Result<(), String> {
    let Some(d) = record else {
        return Err(format!("job {job} has no record: {NOT_OURS}"));
    };
    let healthy = d.health.as_ref().map(|h| h.verdict) == Some(Verdict::Healthy)
        || d.live_check.as_ref().map(|c| c.verdict) == Some(Verdict::Healthy);
    if healthy {
        return Ok(());
    }
    Err(format!(
        "job {job}'s record holds no healthy verdict (deploy check: {}, scheduled check: {}): {NOT_OURS}",
        shown(d.health.as_ref().map(|h| h.verdict)),
        shown(d.live_check.as_ref().map(|c| c.verdict)),
    ))
}

const NOT_OURS: &str = "the event did not come from Sentinel's health checker; not acted on";

fn shown(verdict: Option<Verdict>) -> String {
    verdict.map_or_else(|| "none".to_owned(), |v| format!("{v:?}").to_lowercase())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::core::deployment::{DeploymentKey, HealthRecord, LiveCheck};
    use crate::core::model::Environment;

    fn record(deploy: Option<Verdict>, live: Option<Verdict>) -> Deployment {
        let key = DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: "main".parse().unwrap(),
            job_id: JobId::new(2),
        };
        let mut d = Deployment::new(key, Environment::Prod);
        d.health = deploy.map(|verdict| HealthRecord {
            verdict,
            reason: "deploy check".into(),
            url: "https://example.com/".into(),
            checked_at: Utc::now(),
            rounds: 3,
            endpoints: Vec::new(),
        });
        d.live_check = live.map(|verdict| LiveCheck {
            verdict,
            reason: "scheduled check".into(),
            checked_at: Utc::now(),
            changes: 1,
        });
        d
    }

    #[test]
    fn an_unhealthy_deploy_check_allows_a_rollback_whatever_came_after() {
        for live in [None, Some(Verdict::Healthy), Some(Verdict::Unhealthy)] {
            let d = record(Some(Verdict::Unhealthy), live);
            let found = Unhealthy::recorded(Some(&d), JobId::new(2)).unwrap();
            assert_eq!(
                found,
                Unhealthy::Deploy {
                    reason: "deploy check".into()
                }
            );
            assert!(found.allows_rollback(false));
        }
    }

    #[test]
    fn an_unhealthy_scheduled_check_allows_a_rollback_only_by_policy() {
        for deploy in [None, Some(Verdict::Healthy), Some(Verdict::Inconclusive)] {
            let d = record(deploy, Some(Verdict::Unhealthy));
            let found = Unhealthy::recorded(Some(&d), JobId::new(2)).unwrap();
            assert_eq!(found.reason(), "scheduled check");
            assert!(!found.allows_rollback(false));
            assert!(found.allows_rollback(true));
        }
    }

    #[test]
    fn a_record_without_an_unhealthy_verdict_is_not_acted_on() {
        let why = Unhealthy::recorded(None, JobId::new(2)).unwrap_err();
        assert!(why.contains("job 2 has no record"), "{why}");
        for (deploy, live) in [
            (None, None),
            (Some(Verdict::Healthy), None),
            (Some(Verdict::Inconclusive), Some(Verdict::Healthy)),
        ] {
            let why = Unhealthy::recorded(Some(&record(deploy, live)), JobId::new(2)).unwrap_err();
            assert!(why.contains("no unhealthy verdict"), "{why}");
            assert!(why.contains("not acted on"), "{why}");
        }
    }

    #[test]
    fn a_healthy_verdict_is_the_deploy_checks_or_a_scheduled_ones() {
        assert!(
            recorded_healthy(Some(&record(Some(Verdict::Healthy), None)), JobId::new(2)).is_ok()
        );
        assert!(
            recorded_healthy(Some(&record(None, Some(Verdict::Healthy))), JobId::new(2)).is_ok()
        );
        assert!(recorded_healthy(Some(&record(None, None)), JobId::new(2)).is_err());
        assert!(
            recorded_healthy(Some(&record(Some(Verdict::Unhealthy), None)), JobId::new(2)).is_err()
        );
        assert!(recorded_healthy(None, JobId::new(2)).is_err());
    }

    #[test]
    fn a_failed_bake_is_an_unhealthy_verdict_that_may_roll_back() {
        let mut d = record(Some(Verdict::Healthy), None);
        let mut bake = crate::health::bake::reaction::plan(
            &crate::health::bake::BakePolicy::default(),
            None,
            Utc::now(),
        );
        assert!(Unhealthy::recorded(Some(&d), JobId::new(2)).is_err());
        bake.outcome = Some(crate::core::bake::BakeOutcome::Inconclusive);
        d.bake = Some(bake.clone());
        assert!(
            Unhealthy::recorded(Some(&d), JobId::new(2)).is_err(),
            "an inconclusive bake never rolls back"
        );
        bake.outcome = Some(crate::core::bake::BakeOutcome::Failed);
        bake.reason = Some("bake: 2 of 3 intervals failed".into());
        d.bake = Some(bake);
        let u = Unhealthy::recorded(Some(&d), JobId::new(2)).unwrap();
        assert!(u.allows_rollback(false));
        assert_eq!(u.reason(), "bake: 2 of 3 intervals failed");
    }
}
