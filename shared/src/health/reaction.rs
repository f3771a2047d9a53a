//! The health checker's reaction to "Build Succeeded": check the deployed
//! site against the branch's policy, record the verdict on the deployment,
//! move the branch's last known good on Healthy, and publish the verdict —
//! once per job, whatever the number of deliveries.

use chrono::{DateTime, Utc};
use futures::StreamExt;
use tracing::{error, info, warn};

use crate::core::deployment::{Deployment, DeploymentKey, HealthRecord, LiveCheck};
use crate::core::error::{AmplifyError, Error, StoreError};
use crate::core::events::{BuildEvent, HealthEvent, OWNER_HEALTH, detail_type};
use crate::core::model::{AppId, BranchName, Environment, Source};
use crate::core::scope::Scope;
use crate::effects;
use crate::health::{CheckError, Checker, HealthPolicy, HealthReport, SiteChoice, Verdict, site};
use crate::outbound::Outbound;
use crate::ports::{
    AmplifyApi, BasicAuth, BranchPointer, DeploymentFilter, DeploymentStore, PolicyStore, Stack,
};

/// The detail type the health checker takes (besides its schedule).
pub const ACCEPTED: &[&str] = &[detail_type::BUILD_SUCCEEDED];

/// The URL recorded when the branch has no site URL that may be requested.
pub const NO_URL: &str = "(no valid site URL)";

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

    /// The scheduled check of round `round` (the time the schedule fired;
    /// a redelivery of the round carries the same): every branch of the
    /// environment with a live deployment (found through the
    /// environment-and-time index, recent deployments first) is checked on
    /// its own, [`LIVE_CHECKS_AT_ONCE`] at a time; a verdict is published
    /// when it differs from that job's previous scheduled verdict.
    /// Only branches of `scope` are checked: a branch left out of the watch
    /// scope keeps its records but is no longer checked.
    ///
    /// One branch never stops the others:
    /// - a branch Amplify no longer knows (GetBranch or GetApp NotFound) is
    ///   skipped (the daily cleanup removes its records);
    /// - a branch whose check fails for good (e.g. a policy URL that is no
    ///   URL) is logged as an error and counted, and the run goes on: the
    ///   schedule's message is not dead-lettered for it every round;
    /// - a branch whose check fails for now (throttled, unavailable) fails
    ///   the run once every branch has had its turn, so that the queue
    ///   redelivers it; the redelivery skips the branches whose live job
    ///   was checked in this round already (their `live_check` is newer
    ///   than `round`), so only what failed is checked again.
    pub async fn on_schedule(
        &self,
        environment: Environment,
        scope: &Scope,
        round: DateTime<Utc>,
    ) -> Result<ScheduleOutcome, Error> {
        // Each Amplify branch with a live job, from its own pointer: what
        // else the table holds (reports, future-dated or not; a busy CI's
        // records) cannot push it out of the list.
        let mut branches = self
            .store
            .live_branches(Source::Amplify, MAX_LIVE_BRANCHES)
            .await?;
        // Pointers written before the live-branch list existed are listed
        // from the newest records, as before, until their branch deploys
        // again (docs/policy.md, "Scheduled checks").
        let recent = self
            .store
            .list_deployments(
                environment,
                &DeploymentFilter {
                    limit: LEGACY_RECENT,
                    ..Default::default()
                },
            )
            .await?;
        branches.extend(
            recent
                .into_iter()
                .map(|d| (d.key.app_id, d.key.branch_name)),
        );
        branches.retain(|(app, branch)| app.is_amplify() && scope.covers(app, branch));
        branches.sort();
        branches.dedup();
        let results: Vec<_> =
            futures::stream::iter(&branches)
                .map(|(app, branch)| async move {
                    (app, branch, self.check_live(app, branch, round).await)
                })
                .buffer_unordered(LIVE_CHECKS_AT_ONCE)
                .collect()
                .await;
        let mut outcome = ScheduleOutcome::default();
        let mut retry = None;
        for (app, branch, result) in results {
            match result {
                Ok(Live::Checked(published)) => {
                    outcome.checked += 1;
                    outcome.published += published;
                }
                Ok(Live::NoLiveJob) => {}
                Ok(Live::AlreadyChecked) => outcome.already_checked += 1,
                Ok(Live::Gone) => outcome.gone += 1,
                // A dead letter is retried by the queue, then kept: here, a
                // branch that cannot be checked (no site, no URL) for good.
                Err(e) if e.is_retryable() && !matches!(e, Error::DeadLetter(_)) => {
                    warn!(app = %app, branch = %branch, error = %e, "live check failed; retried");
                    outcome.failed += 1;
                    retry.get_or_insert(e);
                }
                Err(e) => {
                    error!(app = %app, branch = %branch, error = %e, "live check failed; not retried");
                    outcome.failed += 1;
                }
            }
        }
        info!(?outcome, "live checks");
        match retry {
            Some(e) => Err(e),
            None => Ok(outcome),
        }
    }

    /// Checks one branch's live job, unless it was checked in `round`
    /// already or Amplify no longer knows the branch.
    async fn check_live(
        &self,
        app: &AppId,
        branch: &BranchName,
        round: DateTime<Utc>,
    ) -> Result<Live, Error> {
        let state = self.store.get_branch_state(app, branch).await?;
        let Some(job_id) = state.live_job else {
            return Ok(Live::NoLiveJob);
        };
        let key = DeploymentKey {
            app_id: app.clone(),
            branch_name: branch.clone(),
            job_id,
        };
        let Some(record) = self.store.get_deployment(&key).await? else {
            return Ok(Live::NoLiveJob);
        };
        if record
            .live_check
            .as_ref()
            .is_some_and(|c| c.checked_at >= round)
        {
            return Ok(Live::AlreadyChecked);
        }
        let policy = match self.store.get_policy(app, branch).await? {
            Some(stored) => stored.policy.health,
            None => HealthPolicy::default(),
        };
        let rollback_allowed = policy.rollback_on_live_failure;
        if !app.is_amplify() && reported_site(&record, &policy).is_none() {
            return Ok(Live::NoLiveJob);
        }
        let (url, checker) = match self.checker_for(&record, policy).await {
            Ok(site) => site,
            Err(Error::Amplify(AmplifyError::NotFound(what))) => {
                info!(app = %app, branch = %branch, %what, "gone from Amplify; not checked");
                return Ok(Live::Gone);
            }
            Err(e) => return Err(e),
        };
        let report = match checker {
            Ok(checker) => checker.run(expected_version(&record)).await,
            Err(refused) => HealthReport::not_started(&refused),
        };
        info!(app = %app, branch = %branch, job = %job_id, verdict = ?report.verdict, "live check");
        let record = effects::update(self.store, &key, |d| {
            Ok(decide_live(d, &report, &url, rollback_allowed))
        })
        .await?;
        Ok(Live::Checked(
            effects::flush(self.store, self.publisher, &record, OWNER_HEALTH).await?,
        ))
    }

    /// [`Self::checker`] for a deployment: a reported deploy is checked at
    /// the policy's URL, else the URL it reported, never through Amplify.
    async fn checker_for(
        &self,
        record: &Deployment,
        policy: HealthPolicy,
    ) -> Result<(String, Result<Checker, CheckError>), Error> {
        if record.key.app_id.is_amplify() {
            return self.checker(&record.key, policy).await;
        }
        let Some(url) = reported_site(record, &policy) else {
            return Ok((NO_URL.to_owned(), Err(CheckError("no URL reported".into()))));
        };
        let policy = HealthPolicy {
            deadline_ms: policy.deadline_ms.min(REPORTED_DEADLINE_MS),
            ..policy
        };
        // The team's own server: refusing connections is it being down.
        let checker =
            Checker::new(&url, policy, self.outbound).map(|c| c.refused_connection_fails(true));
        Ok((url, checker))
    }

    /// The site's URL (as recorded) and its checker, or why no check can
    /// start there (a URL the outbound rules refuse, a branch name that
    /// makes no host): that is recorded as an Inconclusive verdict and
    /// alerted, not dead-lettered.
    async fn checker(
        &self,
        key: &DeploymentKey,
        policy: HealthPolicy,
    ) -> Result<(String, Result<Checker, CheckError>), Error> {
        Ok(match self.site(key, &policy).await? {
            Ok((url, basic_auth)) => {
                let checker = Checker::new(&url, policy, self.outbound)
                    .map(|c| c.with_basic_auth(basic_auth));
                (url, checker)
            }
            Err(refused) => (NO_URL.to_owned(), Err(refused)),
        })
    }

    /// Where the site is, and the basic auth to check it with: the policy's
    /// URL (a host the team names: no credentials go there), else the
    /// stack's template (with `{appId}`, `{branch}`, `{displayName}` and
    /// `{host}` filled in), else where the branch's users reach it — its
    /// custom domain when Amplify serves one for it and the policy's `site`
    /// allows, else Amplify's `https://{displayName}.{defaultDomain}` (see
    /// [`crate::health::site`]). The branch's own site, on either host, is
    /// checked with the branch's (else the app's) basic auth when it is
    /// password-protected.
    async fn site(
        &self,
        key: &DeploymentKey,
        policy: &HealthPolicy,
    ) -> Result<Result<(String, Option<BasicAuth>), CheckError>, Error> {
        if let Some(url) = policy.url.as_deref() {
            return Ok(Ok((
                site::fill(url, &key.app_id, &key.branch_name, None),
                None,
            )));
        }
        let branch = match self.amplify.get_branch(&key.app_id, &key.branch_name).await {
            Ok(branch) => Some(branch),
            // Gone from Amplify: its site, if any, is not protected by it.
            Err(AmplifyError::NotFound(_)) if self.site_url_template.is_some() => None,
            Err(e) => return Err(e.into()),
        };
        let own_auth = branch.as_ref().and_then(|b| b.basic_auth.clone());
        let needs_app = own_auth.is_none() || self.site_url_template.is_none();
        let app = match needs_app {
            false => None,
            true => match self.amplify.get_app(&key.app_id).await {
                Ok(app) => Some(app),
                Err(AmplifyError::NotFound(_)) if self.site_url_template.is_some() => None,
                Err(e) => return Err(e.into()),
            },
        };
        let basic_auth = own_auth.or_else(|| app.as_ref().and_then(|a| a.basic_auth.clone()));
        let custom = match &branch {
            Some(_) => self.custom_domain(key, policy).await?,
            None => None,
        };
        let display = branch.as_ref().map_or_else(
            || key.branch_name.display_name(),
            |b| b.display_name.clone(),
        );
        // Without a template, Amplify answered for both the branch and the
        // app (a NotFound returned above): there is a host to build on.
        if self.site_url_template.is_none() && (branch.is_none() || app.is_none()) {
            return Err(Error::DeadLetter(format!(
                "no site for {}/{}: Amplify has no such app or branch",
                key.app_id, key.branch_name
            )));
        }
        let url = site::branch_url(
            self.site_url_template,
            &key.app_id,
            &key.branch_name,
            &display,
            app.as_ref().map(|a| a.default_domain.as_str()),
            custom.as_deref(),
        );
        Ok(url
            .map(|url| (url, basic_auth))
            .map_err(|e| CheckError(e.to_string())))
    }

    /// The branch's custom-domain host, when the policy wants it checked
    /// there (and a template, if any, has a `{host}` to put it in). Custom
    /// domains Amplify refuses to list (e.g. a role without
    /// `amplify:ListDomainAssociations`) leave Amplify's domain, with a
    /// warning; an unavailable Amplify is retried.
    async fn custom_domain(
        &self,
        key: &DeploymentKey,
        policy: &HealthPolicy,
    ) -> Result<Option<String>, Error> {
        let wanted = policy.site == SiteChoice::CustomDomain
            && self.site_url_template.is_none_or(|t| t.contains("{host}"));
        if !wanted {
            return Ok(None);
        }
        match self.amplify.list_domain_associations(&key.app_id).await {
            Ok(domains) => Ok(site::custom_domain_host(&domains, &key.branch_name)),
            Err(e @ AmplifyError::Unavailable(_)) => Err(e.into()),
            Err(e) => {
                warn!(error = %e, "custom domains not listed; checking Amplify's domain");
                Ok(None)
            }
        }
    }
}

/// The longest a reported service's check runs, whatever its policy says:
/// anyone with the reporter policy can send a URL that never gives a
/// verdict, and each such check holds one of the health checker's
/// invocations until its deadline (`docs/reporting.md`, "Health of a
/// reported service").
pub const REPORTED_DEADLINE_MS: u64 = 120_000;

/// Where a reported deploy is checked: the policy's URL (`{appId}`,
/// `{branch}` filled in) when it names one, else the URL the report gave.
fn reported_site(record: &Deployment, policy: &HealthPolicy) -> Option<String> {
    let key = &record.key;
    policy
        .url
        .as_deref()
        .map(|url| site::fill(url, &key.app_id, &key.branch_name, None))
        .or_else(|| record.reported.as_ref().and_then(|r| r.url.clone()))
}

/// What the site must serve: a reported `--version`, else the commit.
fn expected_version(record: &Deployment) -> Option<&str> {
    record
        .reported
        .as_ref()
        .and_then(|r| r.version.as_deref())
        .or(record.details.commit_id.as_deref())
}

/// The most Amplify branches one scheduled run lists: Amplify allows 50
/// branches per app, so this covers 40 watched apps' every branch.
pub const MAX_LIVE_BRANCHES: usize = 2_000;

/// How many of the newest records a scheduled run also reads, for live
/// pointers written before they were listed (they are listed from their
/// branch's next deploy on).
pub const LEGACY_RECENT: usize = 500;

/// How many branches a scheduled run checks at once: enough to check a few
/// hundred branches well within a round, few enough not to burst Amplify's
/// API (GetBranch, GetApp) or the function's connections.
pub const LIVE_CHECKS_AT_ONCE: usize = 8;

/// What a scheduled run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleOutcome {
    /// Branches whose live job was checked.
    pub checked: usize,
    pub published: usize,
    /// Branches already checked in this round (by an earlier delivery).
    pub already_checked: usize,
    /// Branches Amplify no longer knows: skipped.
    pub gone: usize,
    /// Branches whose check failed (logged).
    pub failed: usize,
}

/// What became of one branch in a scheduled run.
enum Live {
    /// Checked; how many events were published.
    Checked(usize),
    /// No live job (or none recorded).
    NoLiveJob,
    AlreadyChecked,
    Gone,
}

/// Records a scheduled verdict; an event only when the verdict changed
/// (the first scheduled check of a job compares with its deploy verdict).
fn decide_live(
    d: &mut Deployment,
    report: &HealthReport,
    url: &str,
    rollback_on_live_failure: bool,
) -> bool {
    let previous = d
        .live_check
        .as_ref()
        .map(|c| c.verdict)
        .or_else(|| d.health.as_ref().map(|h| h.verdict));
    let changes = d.live_check.as_ref().map_or(0, |c| c.changes);
    let changed = previous != Some(report.verdict);
    let changes = if changed { changes + 1 } else { changes };
    d.live_check = Some(LiveCheck {
        verdict: report.verdict,
        reason: report.reason.clone(),
        checked_at: Utc::now(),
        changes,
    });
    if changed {
        let allowed = rollback_on_live_failure && report.verdict == Verdict::Unhealthy;
        queue_event(
            d,
            report,
            url,
            &format!("live/{changes}"),
            true,
            allowed,
            300 + u64::from(changes),
        );
    }
    true
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
fn queue_event(
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
