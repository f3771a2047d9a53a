//! The check after a deploy ("Build Succeeded"): the deployed site checked
//! against the branch's policy once per job (unless a newer deploy is live),
//! the verdict recorded and published, the bake planned on Healthy, and
//! the branch's last known good moved.

use chrono::Utc;
use tracing::{info, warn};

use super::HealthChecker;
use super::checker::{expected_version, reported_site};
use crate::core::deployment::{Deployment, DeploymentKey, HealthRecord};
use crate::core::error::{AmplifyError, Error, StoreError};
use crate::core::events::{BuildEvent, HealthEvent, OWNER_HEALTH};
use crate::effects;
use crate::health::{CheckError, HealthPolicy, HealthReport, Verdict};
use crate::policy::PolicyStore;
use crate::ports::{AmplifyApi, BranchPointer, DeploymentStore};
use crate::stack::Stack;

/// What one "Build Succeeded" led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployCheckOutcome {
    /// `None` when the job was superseded before it could be checked.
    pub verdict: Option<Verdict>,
    pub published: usize,
}

impl<K: Stack> HealthChecker<'_, K> {
    pub async fn on_build_succeeded(
        &self,
        event: &BuildEvent,
    ) -> Result<DeployCheckOutcome, Error> {
        if event.app_id.source() == crate::core::model::Source::CloudFormation {
            // A stack has no site URL to check (a reported service does:
            // its report's `--url`, below).
            info!(app = %event.app_id, "not an Amplify deployment; no site to check");
            return Ok(DeployCheckOutcome {
                verdict: None,
                published: 0,
            });
        }
        let key = DeploymentKey {
            app_id: event.app_id.clone(),
            branch_name: event.branch_name.clone(),
            job_id: event.job_id,
        };
        let mut record = self.store.get_deployment(&key).await?.ok_or_else(|| {
            Error::from(StoreError::Unavailable(format!(
                "deployment {} is not recorded yet",
                event.event_id
            )))
        })?;
        if record.health.is_none() {
            if self.superseded(&key).await? {
                // A newer deploy is live: this one is no longer served, and
                // checking it would only report the newer version as wrong.
                info!("superseded; not checked");
                return Ok(DeployCheckOutcome {
                    verdict: None,
                    published: 0,
                });
            }
            let policy = match self.store.get_policy(&key.app_id, &key.branch_name).await? {
                Some(stored) => stored.policy.health,
                None => HealthPolicy::default(),
            };
            if !key.app_id.is_amplify() && reported_site(&record, &policy).is_none() {
                // A reported deploy that named no URL (and no policy names
                // one): there is nothing to check; no verdict, no event.
                info!("reported without a URL; not checked");
                return Ok(DeployCheckOutcome {
                    verdict: None,
                    published: 0,
                });
            }
            let bake = self.bake_policy(&key, &policy.bake).await?;
            let (url, mut checker) = self.checker_for(&record, policy).await?;
            if !key.app_id.is_amplify() && checker.is_ok() {
                // A reported service's checks are rate limited (health::rate):
                // beyond the limit the deploy is Inconclusive at once.
                let slot = crate::health::rate::slot(&key, Utc::now());
                if !self.store.take_check_slot(&slot).await? {
                    checker = Err(CheckError(crate::health::rate::limited(&key)));
                }
            }
            let report = match checker {
                Ok(checker) => {
                    let commit = expected_version(&record);
                    let still_live = || async { !self.superseded(&key).await.unwrap_or(false) };
                    let Ok(report) = checker.run_while(commit, still_live).await else {
                        info!("superseded during the check; no verdict");
                        return Ok(DeployCheckOutcome {
                            verdict: None,
                            published: 0,
                        });
                    };
                    report
                }
                Err(refused) => {
                    warn!(reason = %refused, "the check cannot start");
                    HealthReport::not_started(&refused)
                }
            };
            info!(verdict = ?report.verdict, reason = %report.reason, %url, "checked");
            record = effects::update(self.store, &key, |d| {
                let changed = decide(d, &report, &url);
                if changed && report.verdict == Verdict::Healthy {
                    // Planned at the verdict: the first interval is the
                    // first whole minute after it.
                    d.bake = bake
                        .as_ref()
                        .map(|p| crate::health::bake::reaction::plan(p, d.ended_at(), Utc::now()));
                }
                Ok(changed)
            })
            .await?;
        }
        let Some(health) = record.health.clone() else {
            return Err(Error::DeadLetter("health vanished from the record".into()));
        };
        // A baking deploy becomes the last known good when its bake passes:
        // a rollback during the bake must not target the deploy itself.
        if health.verdict == Verdict::Healthy && record.bake.is_none() {
            self.store
                .advance_pointer(
                    &key,
                    record.details.commit_id.as_deref(),
                    BranchPointer::LastKnownGood,
                )
                .await?;
        }
        let published = effects::flush(self.store, self.publisher, &record, OWNER_HEALTH).await?;
        Ok(DeployCheckOutcome {
            verdict: Some(health.verdict),
            published,
        })
    }

    /// The bake policy this deploy is baked under if its probes pass: when the policy's
    /// `health.bake` is on, valid, and covers the branch (by default the
    /// app's production branch: Amplify's metrics are per app).
    async fn bake_policy(
        &self,
        key: &DeploymentKey,
        policy: &crate::health::bake::BakePolicy,
    ) -> Result<Option<crate::health::bake::BakePolicy>, Error> {
        // Amplify's hosting metrics are the bake's: only an Amplify app has them.
        if !policy.enabled || !key.app_id.is_amplify() {
            return Ok(None);
        }
        let problems = policy.problems();
        if !problems.is_empty() {
            warn!(?problems, "health.bake is on but unusable; no bake");
            return Ok(None);
        }
        let stage = if policy.branches.is_empty() {
            match self.amplify.get_branch(&key.app_id, &key.branch_name).await {
                Ok(b) => b.stage,
                Err(AmplifyError::NotFound(_)) => None,
                Err(e) => return Err(e.into()),
            }
        } else {
            None
        };
        if !policy.covers(key.branch_name.as_str(), stage.as_deref()) {
            info!(stage = ?stage, "not baked: not the production branch (Amplify's metrics are per app)");
            return Ok(None);
        }
        Ok(Some(policy.clone()))
    }

    /// Whether a newer job of the branch is live.
    async fn superseded(&self, key: &DeploymentKey) -> Result<bool, Error> {
        let state = self
            .store
            .get_branch_state(&key.app_id, &key.branch_name)
            .await?;
        Ok(state.live_job.is_some_and(|live| live > key.job_id))
    }
}

fn decide(d: &mut Deployment, report: &HealthReport, url: &str) -> bool {
    if d.health.is_some() {
        return false;
    }
    d.health = Some(HealthRecord {
        verdict: report.verdict,
        reason: report.reason.clone(),
        url: url.to_owned(),
        checked_at: Utc::now(),
        rounds: report.rounds,
        endpoints: report.endpoints.clone(),
    });
    let allowed = report.verdict == Verdict::Unhealthy;
    queue_event(d, report, url, "health", false, allowed, 200);
    true
}

/// Puts the verdict's domain event in the record's outbox.
pub(super) fn queue_event(
    d: &mut Deployment,
    report: &HealthReport,
    url: &str,
    suffix: &str,
    scheduled: bool,
    rollback_allowed: bool,
    seq_base: u64,
) {
    let event = HealthEvent {
        event_id: d.key.event_id(suffix),
        environment: d.environment,
        app_id: d.key.app_id.clone(),
        branch_name: d.key.branch_name.clone(),
        job_id: d.key.job_id,
        commit_id: d.details.commit_id.clone(),
        verdict: report.verdict,
        reason: report.reason.clone(),
        url: url.to_owned(),
        endpoints: report.endpoints.clone(),
        is_rollback: d.is_rollback(),
        rollback_of: d.rollback_of,
        scheduled,
        rollback_allowed,
        bake: None,
    };
    if let Some(entry) = event.to_outbox(d.event_ids.len() as u64 + seq_base) {
        d.outbox.insert(entry.id.clone(), entry);
    }
}
