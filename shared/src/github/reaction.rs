//! The alerter's GitHub side: keeps a job's check run (or, with a token,
//! its commit status), its deployment and its pull request's comment in
//! step with the job's record, without ever delaying or failing Sentinel's
//! own work (`docs/github.md`, "When GitHub fails").
//!
//! **Reconcile, not replay.** Each update reads the job's record as it is
//! now, renders what GitHub should show (`render::desired`) and applies only
//! what differs from what the job's GitHub state item says was last
//! applied. A late "Build Started" renders from a record that already says
//! "failed", so it never overwrites "completed"; the same event twice finds
//! nothing to apply; a retry converges on the record of its time.
//!
//! **One writer per job.** A short lease on the state item (a conditional
//! write) keeps two reconcilers of one job from creating two check runs; a
//! reconciler that finds the lease held schedules its own retry.
//!
//! **Never blocking.** The alerter calls this after the alert went out, and
//! nothing here returns an error: a retryable failure schedules a delayed
//! message to the alerter's own queue ([`RetryRequest`]) and opens the
//! per-process [`Breaker`], so that the next events of the batch skip GitHub
//! (and schedule their retries) instead of waiting on it; after
//! [`MAX_ATTEMPTS`], or on an error retrying cannot mend, the update is
//! logged (masked) and counted ([`DROPPED_METRIC`]), never dead-lettered.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::deployment::DeploymentKey;
use crate::core::error::{Error, MalformedEvent};
use crate::core::events::{Envelope, detail_type as dt};
use crate::core::model::{AppId, BranchName, Environment, JobId};
use crate::effects::MAX_WRITE_ATTEMPTS;
use crate::github::api::{AuthKind, CommitInfo, GitHubApi, GitHubError, Repo};
use crate::github::render::{self, COMMENT_MARKER, PrComment, RenderContext};
use crate::github::state::{GitHubState, LEASE, fingerprint, goes_back};
use crate::metrics::emf::{self, Unit};
use crate::ports::{
    AmplifyApi, AppInfo, DeploymentStore, GitHubStateStore, PolicyStore, RetryQueue, Stack,
    StoredPolicy,
};

/// Attempts of one update before it is dropped: with [`backoff`] they
/// cover about 90 minutes, longer than an hour-long GitHub outage.
pub const MAX_ATTEMPTS: u32 = 10;

/// The first retry's delay without a `retry-after`; each next one doubles,
/// up to SQS's 900 s.
pub const FIRST_BACKOFF_SECONDS: u32 = 30;

/// SQS's longest `DelaySeconds`
/// (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SendMessage.html>).
pub const MAX_DELAY_SECONDS: u32 = 900;

/// The EMF metric counting GitHub updates given up.
pub const DROPPED_METRIC: &str = "GitHubUpdatesDropped";

/// How long an alert waits at most for the commit's author.
pub const AUTHOR_TIMEOUT: Duration = Duration::from_secs(2);

/// Amplify's monorepo app root variable.
const MONOREPO_APP_ROOT: &str = "AMPLIFY_MONOREPO_APP_ROOT";

/// When a reconciler finds the job leased by another: try again after it.
const BUSY_RETRY: Duration = Duration::from_secs(5);

/// The longest one job's update may take (each request is bounded by the
/// client too): a GitHub that hangs costs the batch this once, then the
/// breaker is open. Well within the lease and the alerter's 90 s timeout.
pub const UPDATE_TIMEOUT: Duration = Duration::from_secs(15);

/// The detail types that make no alert, only a GitHub update: their
/// only consumer in the alerter is this module.
pub const GITHUB_ONLY: &[&str] = &[dt::BUILD_STARTED, dt::BUILD_CANCELLED, dt::BUILD_SKIPPED];

/// The job a GitHub-only event names ("Build Started", "Build Cancelled",
/// "Build Skipped"): what the alerter checks of their detail.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRef {
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
}

/// The delay of attempt `attempt` (1 for the first retry): GitHub's
/// `retry-after` when it said one, never shorter than the backoff (so that
/// [`MAX_ATTEMPTS`] always cover more than an hour), within SQS's 1..=900 s.
pub fn retry_delay(attempt: u32, retry_after: Option<Duration>) -> u32 {
    let backoff = backoff(attempt);
    let asked = retry_after.map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    asked.max(backoff).clamp(1, MAX_DELAY_SECONDS)
}

/// 30 s, doubled each attempt, capped at 900 s.
pub fn backoff(attempt: u32) -> u32 {
    let doublings = attempt.saturating_sub(1).min(10);
    FIRST_BACKOFF_SECONDS
        .saturating_mul(1 << doublings)
        .min(MAX_DELAY_SECONDS)
}

/// A GitHub update to try again: the body the alerter sends to its own
/// queue, `{"githubRetry":{"app":…,"branch":…,"job":…,"attempt":n}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryRequest {
    pub app: AppId,
    pub branch: BranchName,
    pub job: JobId,
    /// 1 for the first retry.
    pub attempt: u32,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryBody {
    #[serde(rename = "githubRetry")]
    github_retry: RetryRequest,
}

impl RetryRequest {
    /// `None` for anything that is not a retry (a domain event); an error
    /// naming what is wrong for a `githubRetry` body that does not parse.
    pub fn parse(raw: &str) -> Option<Result<Self, MalformedEvent>> {
        let v: Value = serde_json::from_str(raw).ok()?;
        v.get("githubRetry")?;
        Some(
            serde_json::from_value::<RetryBody>(v)
                .map(|b| b.github_retry)
                .map_err(|e| MalformedEvent::new("<githubRetry>", format!("githubRetry: {e}"))),
        )
    }

    pub fn to_body(&self) -> String {
        serde_json::json!({"githubRetry": self}).to_string()
    }

    pub fn key(&self) -> DeploymentKey {
        DeploymentKey {
            app_id: self.app.clone(),
            branch_name: self.branch.clone(),
            job_id: self.job,
        }
    }
}

/// Per process and per app (one app, one repository): after a retryable
/// GitHub failure, GitHub is left alone for that app until its
/// `retry-after` (or the backoff), so that a hanging GitHub does not slow
/// a batch of alerts. Per app, not global: a repository GitHub refuses
/// (or one whose installation is rate limited) does not hold back the
/// others' updates; in a real outage every app trips its own after one
/// failed request.
#[derive(Debug, Default)]
pub struct Breaker {
    open_until: Mutex<std::collections::HashMap<AppId, Instant>>,
}

impl Breaker {
    /// How long it stays open for `app`, if it is.
    pub fn remaining(&self, app: &AppId) -> Option<Duration> {
        let until = *self
            .open_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(app)?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Opens it for `app` for `wait` (never shortening an opening in force).
    pub fn trip(&self, app: &AppId, wait: Duration) {
        let mut open = self.open_until.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        open.retain(|_, u| *u > now);
        let next = now + wait;
        let until = open.entry(app.clone()).or_insert(next);
        if *until < next {
            *until = next;
        }
    }

    /// Closes it for `app` (GitHub is known to answer again).
    pub fn close(&self, app: &AppId) {
        self.open_until
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(app);
    }
}

/// What the GitHub side of one delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GitHubOutcome {
    /// Objects created or changed on GitHub.
    pub applied: usize,
    /// Retries sent to the alerter's queue.
    pub scheduled: usize,
    /// Updates given up (logged and counted).
    pub dropped: usize,
    /// The EMF lines written for the dropped ones.
    #[serde(skip)]
    pub metric_lines: Vec<String>,
}

impl GitHubOutcome {
    fn add(&mut self, other: GitHubOutcome) {
        self.applied += other.applied;
        self.scheduled += other.scheduled;
        self.dropped += other.dropped;
        self.metric_lines.extend(other.metric_lines);
    }
}

/// Why an update did not complete.
#[derive(Debug, Clone)]
struct Failure {
    reason: String,
    retryable: bool,
    retry_after: Option<Duration>,
    /// GitHub's own failure (opens the breaker).
    github: bool,
}

impl From<GitHubError> for Failure {
    fn from(e: GitHubError) -> Self {
        Self {
            retryable: e.is_retryable(),
            retry_after: e.retry_after(),
            reason: e.to_string(),
            github: true,
        }
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self {
            retryable: e.is_retryable(),
            retry_after: None,
            reason: e.to_string(),
            github: false,
        }
    }
}

impl Failure {
    fn busy() -> Self {
        Self {
            reason: "another reconciler holds the job".into(),
            retryable: true,
            retry_after: Some(BUSY_RETRY),
            github: false,
        }
    }
}

/// What an alert adds with GitHub on: who pushed, and the site on its
/// custom domain when Amplify has one available.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertExtras {
    /// The commit as GitHub knows it (its author's name and login).
    pub author: Option<CommitInfo>,
    /// `health::site::branch_url` with the custom domain's host; `None`
    /// when the branch has no custom domain available.
    pub custom_site_url: Option<String>,
}

impl AlertExtras {
    /// "Jane Doe (@jane)", "Jane Doe" or "@jane" (bounded; the message
    /// escapes it as any free text).
    pub fn author_line(&self) -> Option<String> {
        self.author.as_ref().and_then(author_text)
    }
}

/// The GitHub side of the alerter, over one [`Stack`] and its retry queue.
pub struct GitHubReporter<'a, K: Stack, Q: RetryQueue> {
    pub store: &'a K::Store,
    pub amplify: &'a K::Amplify,
    pub github: &'a K::GitHub,
    pub retries: &'a Q,
    pub breaker: &'a Breaker,
    pub environment: Environment,
    /// For links to the Amplify console.
    pub region: &'a str,
    /// See `Config::site_url_template`.
    pub site_url_template: Option<&'a str>,
    /// Where [`DROPPED_METRIC`] is counted.
    pub metrics_namespace: &'a str,
    /// Who holds a lease (the invocation's request id, made unique per
    /// reconciliation).
    pub owner: &'a str,
}

impl<K: Stack, Q: RetryQueue> GitHubReporter<'_, K, Q> {
    /// After the alert: brings GitHub in step with each job the event is
    /// about. A rollback first records on the replaced job what replaced
    /// it, so that every later rendering of that job (retries included)
    /// says so.
    pub async fn after_event(&self, envelope: &Envelope) -> GitHubOutcome {
        let mut outcome = GitHubOutcome::default();
        let Some(jobs) = jobs_of(envelope) else {
            return outcome;
        };
        if let Some((replaced, by, to)) = replacement(envelope) {
            let recorded = self
                .modify(&replaced, |s| {
                    s.replaced_by = Some(by);
                    s.rolled_back_to = to;
                    Ok(())
                })
                .await;
            if let Err(f) = recorded {
                // The store, not GitHub: the retry records it again.
                outcome.add(self.retry_or_drop(&replaced, 0, f).await);
            }
        }
        for key in jobs {
            outcome.add(self.update(&key, 0).await);
        }
        outcome
    }

    /// A retry from the alerter's queue.
    pub async fn on_retry(&self, request: &RetryRequest) -> GitHubOutcome {
        self.update(&request.key(), request.attempt).await
    }

    /// One attempt (`attempt` 0 for the first) at bringing GitHub in step
    /// with the job; never fails.
    pub async fn update(&self, key: &DeploymentKey, attempt: u32) -> GitHubOutcome {
        if !key.app_id.is_amplify() {
            return GitHubOutcome::default();
        }
        if let Some(wait) = self.breaker.remaining(&key.app_id) {
            let skipped = Failure {
                reason: "GitHub failed a moment ago (breaker open)".into(),
                retryable: true,
                retry_after: Some(wait),
                github: false,
            };
            return self.retry_or_drop(key, attempt, skipped).await;
        }
        let reconciled = tokio::time::timeout(UPDATE_TIMEOUT, self.reconcile(key))
            .await
            .unwrap_or_else(|_| {
                Err(Failure {
                    reason: format!("GitHub did not answer within {UPDATE_TIMEOUT:?}"),
                    retryable: true,
                    retry_after: None,
                    github: true,
                })
            });
        match reconciled {
            Ok(applied) => GitHubOutcome {
                applied,
                ..GitHubOutcome::default()
            },
            Err(f) => {
                if f.github && f.retryable {
                    self.breaker.trip(
                        &key.app_id,
                        Duration::from_secs(u64::from(retry_delay(attempt + 1, f.retry_after))),
                    );
                }
                self.retry_or_drop(key, attempt, f).await
            }
        }
    }

    async fn retry_or_drop(&self, key: &DeploymentKey, attempt: u32, f: Failure) -> GitHubOutcome {
        let next = attempt + 1;
        if f.retryable && next <= MAX_ATTEMPTS {
            let delay = retry_delay(next, f.retry_after);
            let request = RetryRequest {
                app: key.app_id.clone(),
                branch: key.branch_name.clone(),
                job: key.job_id,
                attempt: next,
            };
            match self.retries.send_retry(&request.to_body(), delay).await {
                Ok(()) => {
                    tracing::info!(
                        app = %key.app_id, branch = %key.branch_name, job = %key.job_id,
                        attempt = next, delay, reason = %crate::core::redact::mask_in_text(&f.reason),
                        "GitHub update scheduled for retry"
                    );
                    return GitHubOutcome {
                        scheduled: 1,
                        ..GitHubOutcome::default()
                    };
                }
                Err(e) => {
                    return self.drop_update(
                        key,
                        attempt,
                        &format!("{}; and its retry could not be queued: {e}", f.reason),
                    );
                }
            }
        }
        let why = if f.retryable {
            format!("{} (after {attempt} retries)", f.reason)
        } else {
            f.reason
        };
        self.drop_update(key, attempt, &why)
    }

    fn drop_update(&self, key: &DeploymentKey, attempt: u32, reason: &str) -> GitHubOutcome {
        let reason = crate::core::redact::mask_in_text(reason);
        let reason: String = reason.chars().take(500).collect();
        tracing::warn!(
            app = %key.app_id, branch = %key.branch_name, job = %key.job_id, attempt,
            reason = %reason, "GitHub update dropped"
        );
        let line = dropped_line(
            self.metrics_namespace,
            self.environment,
            key,
            &reason,
            Utc::now(),
        );
        println!("{line}");
        GitHubOutcome {
            dropped: 1,
            metric_lines: vec![line],
            ..GitHubOutcome::default()
        }
    }

    /// Under the job's lease: render and apply what differs. The number of
    /// objects written.
    async fn reconcile(&self, key: &DeploymentKey) -> Result<usize, Failure> {
        // Unique per reconciliation: two messages of one batch share the
        // invocation's request id, and must not share a lease.
        static SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let owner = format!(
            "{}#{}",
            self.owner,
            SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let now = Utc::now();
        let mut state = self
            .modify(key, |s| {
                if s.leased_by_other(&owner, now) {
                    return Err(Failure::busy());
                }
                s.lease_owner = Some(owner.clone());
                s.lease_until = Some(now + LEASE);
                Ok(())
            })
            .await?;
        let result = self.apply(key, &mut state).await;
        let released = self
            .modify(key, |s| {
                if s.lease_owner.as_deref() == Some(owner.as_str()) {
                    s.lease_owner = None;
                    s.lease_until = None;
                }
                Ok(())
            })
            .await;
        if let Err(f) = released {
            // It expires on its own within LEASE.
            tracing::warn!(reason = %f.reason, "the GitHub lease was not released");
        }
        result
    }

    async fn apply(&self, key: &DeploymentKey, state: &mut GitHubState) -> Result<usize, Failure> {
        let Some(record) = self.store.get_deployment(key).await.map_err(Error::from)? else {
            return Ok(0);
        };
        let app = self
            .amplify
            .get_app(&key.app_id)
            .await
            .map_err(Error::from)?;
        let Some(repo) = app.repository.as_deref().and_then(Repo::from_amplify) else {
            // Not connected to GitHub: nothing to show there.
            return Ok(0);
        };
        let branch = self
            .amplify
            .get_branch(&key.app_id, &key.branch_name)
            .await
            .ok();
        let site = self
            .site_url(
                &app,
                &key.branch_name,
                branch.as_ref().map(|b| b.display_name.as_str()),
            )
            .await;
        let sha = record.details.commit_id.clone().unwrap_or_default();
        if state.author.is_none() && !sha.is_empty() {
            // Decoration only: a failure here is the next call's to report.
            if let Ok(author) = self.github.commit(&repo, &sha).await {
                *state = self
                    .modify(key, |s| {
                        s.author = Some(author.clone());
                        Ok(())
                    })
                    .await?;
            }
        }
        let policy = self
            .store
            .get_policy(&key.app_id, &key.branch_name)
            .await
            .map_err(Error::from)?;
        // A monorepo's app root, the branch's setting over the app's.
        let app_root = branch
            .as_ref()
            .and_then(|b| b.environment_variables.get(MONOREPO_APP_ROOT))
            .or_else(|| app.environment_variables.get(MONOREPO_APP_ROOT))
            .cloned();
        let ctx = RenderContext {
            region: self.region,
            site_url: site.as_deref(),
            branch_stage: branch.as_ref().and_then(|b| b.stage.as_deref()),
            author: state.author.as_ref(),
            rolled_back_to: state.rolled_back_to,
            replaced: state.replaced_by.is_some(),
            repo_root_hints: &[],
            app_root: app_root.as_deref(),
        };
        let desired = render::desired(&record, &ctx, pr_comment(policy.as_ref()));
        let mut written = 0;

        // The check run (App) or the commit status (token).
        if !sha.is_empty() {
            match self.github.auth() {
                AuthKind::App => {
                    let fp = fingerprint(&desired.check_run);
                    if state.check_applied.as_deref() != Some(fp.as_str()) {
                        let id = match state.check_run_id {
                            Some(id) => match self
                                .github
                                .update_check_run(&repo, id, &desired.check_run)
                                .await
                            {
                                Ok(()) => id,
                                // Deleted on GitHub's side: a new one.
                                Err(GitHubError::NotFound(_)) => {
                                    self.github
                                        .create_check_run(&repo, &desired.check_run)
                                        .await?
                                }
                                Err(e) => return Err(e.into()),
                            },
                            None => {
                                self.github
                                    .create_check_run(&repo, &desired.check_run)
                                    .await?
                            }
                        };
                        *state = self
                            .modify(key, |s| {
                                s.check_run_id = Some(id);
                                s.check_applied = Some(fp.clone());
                                Ok(())
                            })
                            .await?;
                        written += 1;
                    }
                }
                AuthKind::Token => {
                    let fp = fingerprint(&desired.commit_status);
                    if state.check_applied.as_deref() != Some(fp.as_str()) {
                        self.github
                            .create_commit_status(&repo, &sha, &desired.commit_status)
                            .await?;
                        *state = self
                            .modify(key, |s| {
                                s.check_applied = Some(fp.clone());
                                Ok(())
                            })
                            .await?;
                        written += 1;
                    }
                }
            }
        }

        // The deployment: created once, its status posted when it changed
        // and does not go back.
        if let Some(deployment) = &desired.deployment {
            let fp = fingerprint(&deployment.status);
            let next = deployment.status.state;
            let wanted = state.deployment_applied.as_deref() != Some(fp.as_str())
                && !goes_back(state.deployment_state, next);
            if wanted {
                let id = match state.deployment_id {
                    Some(id) => id,
                    None => {
                        let id = self
                            .github
                            .create_deployment(&repo, &deployment.new)
                            .await?;
                        *state = self
                            .modify(key, |s| {
                                s.deployment_id = Some(id);
                                Ok(())
                            })
                            .await?;
                        written += 1;
                        id
                    }
                };
                self.github
                    .create_deployment_status(&repo, id, &deployment.status)
                    .await?;
                *state = self
                    .modify(key, |s| {
                        s.deployment_state = Some(next);
                        s.deployment_applied = Some(fp.clone());
                        Ok(())
                    })
                    .await?;
                written += 1;
            }
        }

        // The pull request's one comment: found by its marker (another
        // job of the same PR may have written it), edited in place.
        if let (Some(body), Some(number)) =
            (&desired.pr_comment, render::pr_number(&key.branch_name))
        {
            let fp = fingerprint(body);
            if state.comment_applied.as_deref() != Some(fp.as_str()) {
                let found = match state.comment_id {
                    Some(id) => Some(id),
                    None => {
                        self.github
                            .find_issue_comment(&repo, number, COMMENT_MARKER)
                            .await?
                    }
                };
                let id = match found {
                    Some(id) => match self.github.update_issue_comment(&repo, id, body).await {
                        Ok(()) => Some(id),
                        Err(GitHubError::NotFound(_)) if desired.pr_comment_may_create => Some(
                            self.github
                                .create_issue_comment(&repo, number, body)
                                .await?,
                        ),
                        Err(GitHubError::NotFound(_)) => None,
                        Err(e) => return Err(e.into()),
                    },
                    None if desired.pr_comment_may_create => Some(
                        self.github
                            .create_issue_comment(&repo, number, body)
                            .await?,
                    ),
                    // Nothing to edit, and the policy posts none for this
                    // outcome (`failures`, a build that is fine).
                    None => None,
                };
                if id.is_some() {
                    written += 1;
                }
                *state = self
                    .modify(key, |s| {
                        s.comment_id = s.comment_id.or(id);
                        s.comment_applied = Some(fp.clone());
                        Ok(())
                    })
                    .await?;
            }
        }
        Ok(written)
    }

    /// Reads the job's state item (a new one if none), changes it, and
    /// writes it under its version; on a conflict, reads and changes again.
    async fn modify(
        &self,
        key: &DeploymentKey,
        change: impl Fn(&mut GitHubState) -> Result<(), Failure>,
    ) -> Result<GitHubState, Failure> {
        let mut last = None;
        for _ in 0..MAX_WRITE_ATTEMPTS {
            let mut state = self
                .store
                .get_github_state(key)
                .await
                .map_err(Error::from)?
                .unwrap_or_else(|| GitHubState::new(key.clone()));
            change(&mut state)?;
            match self.store.save_github_state(&state).await {
                Ok(()) => {
                    state.version += 1;
                    return Ok(state);
                }
                Err(e @ crate::core::error::StoreError::Conflict) => last = Some(e),
                Err(e) => return Err(Error::from(e).into()),
            }
        }
        Err(Error::from(last.unwrap_or(crate::core::error::StoreError::Conflict)).into())
    }

    /// The branch's site as the health checker resolves it: the custom
    /// domain when Amplify reports one available, else Amplify's.
    async fn site_url(
        &self,
        app: &AppInfo,
        branch: &BranchName,
        display_name: Option<&str>,
    ) -> Option<String> {
        let domains = self
            .amplify
            .list_domain_associations(&app.app_id)
            .await
            .unwrap_or_default();
        let custom = crate::health::site::custom_domain_host(&domains, branch);
        let display = display_name.map_or_else(|| branch.display_name(), str::to_owned);
        crate::health::site::branch_url(
            self.site_url_template,
            &app.app_id,
            branch,
            &display,
            Some(app.default_domain.as_str()).filter(|d| !d.is_empty()),
            custom.as_deref(),
        )
        .ok()
    }

    /// The branch's site on its custom domain, if one is available.
    async fn custom_site_url(&self, app: &AppInfo, branch: &BranchName) -> Option<String> {
        let domains = self
            .amplify
            .list_domain_associations(&app.app_id)
            .await
            .ok()?;
        let custom = crate::health::site::custom_domain_host(&domains, branch)?;
        crate::health::site::branch_url(
            self.site_url_template,
            &app.app_id,
            branch,
            &branch.display_name(),
            Some(app.default_domain.as_str()).filter(|d| !d.is_empty()),
            Some(custom.as_str()),
        )
        .ok()
    }

    /// Who pushed the job's commit and where its site is, for the alert.
    /// Bounded by [`AUTHOR_TIMEOUT`]; the author is skipped on any error,
    /// when the app is not on GitHub, or while the breaker is open: an
    /// alert never waits on GitHub.
    pub async fn alert_extras(
        &self,
        app_id: &AppId,
        branch: &BranchName,
        job: Option<JobId>,
        commit: Option<&str>,
    ) -> AlertExtras {
        if !app_id.is_amplify() {
            return AlertExtras::default();
        }
        let work = async {
            let Ok(app) = self.amplify.get_app(app_id).await else {
                return AlertExtras::default();
            };
            let custom_site_url = self.custom_site_url(&app, branch).await;
            let author = self.author(&app, branch, job, commit).await;
            AlertExtras {
                author,
                custom_site_url,
            }
        };
        tokio::time::timeout(AUTHOR_TIMEOUT, work)
            .await
            .unwrap_or_default()
    }

    async fn author(
        &self,
        app: &AppInfo,
        branch: &BranchName,
        job: Option<JobId>,
        commit: Option<&str>,
    ) -> Option<CommitInfo> {
        let repo = app.repository.as_deref().and_then(Repo::from_amplify)?;
        let sha = commit.filter(|c| !c.is_empty())?;
        if let Some(job) = job {
            let key = DeploymentKey {
                app_id: app.app_id.clone(),
                branch_name: branch.clone(),
                job_id: job,
            };
            if let Ok(Some(known)) = self.store.get_github_state(&key).await
                && let Some(author) = known.author.filter(|a| a.sha == sha)
            {
                return Some(author);
            }
        }
        if self.breaker.remaining(&app.app_id).is_some() {
            return None;
        }
        match self.github.commit(&repo, sha).await {
            Ok(c) => Some(c),
            Err(e) => {
                if e.is_retryable() {
                    self.breaker.trip(
                        &app.app_id,
                        Duration::from_secs(u64::from(retry_delay(1, e.retry_after()))),
                    );
                }
                tracing::info!(error = %e, "the alert names no author");
                None
            }
        }
    }
}

/// "Jane Doe (@jane)", "Jane Doe" or "@jane": bounded, as free text from
/// the commit.
fn author_text(c: &CommitInfo) -> Option<String> {
    let name = c
        .author_name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let login = c
        .author_login
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let text = match (name, login) {
        (Some(n), Some(l)) => format!("{n} (@{l})"),
        (Some(n), None) => n.to_owned(),
        (None, Some(l)) => format!("@{l}"),
        (None, None) => return None,
    };
    Some(text.chars().take(120).collect())
}

/// The policy's `github.pr_comment` (the default without a policy).
fn pr_comment(policy: Option<&StoredPolicy>) -> PrComment {
    policy
        .map(|p| p.policy.github.pr_comment)
        .unwrap_or_default()
}

/// The jobs an event is about (`None` when it names none: degradation, a
/// test alert, a report conflict).
fn jobs_of(envelope: &Envelope) -> Option<Vec<DeploymentKey>> {
    let d = &envelope.detail;
    let app: AppId = d.get("appId")?.as_str()?.parse().ok()?;
    if !app.is_amplify() {
        return None;
    }
    let branch: BranchName = d.get("branchName")?.as_str()?.parse().ok()?;
    let job = |field: &str| -> Option<JobId> { serde_json::from_value(d.get(field)?.clone()).ok() };
    let jobs: Vec<JobId> = match envelope.detail_type.as_str() {
        dt::ROLLBACK_STARTED
        | dt::ROLLBACK_SUCCEEDED
        | dt::ROLLBACK_FAILED
        | dt::ROLLBACK_RECOMMENDED => [job("fromJobId"), job("rollbackJobId")]
            .into_iter()
            .flatten()
            .collect(),
        dt::DEGRADATION_DETECTED | dt::ALERT_TEST | dt::REPORT_CONFLICT => Vec::new(),
        _ => job("jobId").into_iter().collect(),
    };
    Some(
        jobs.into_iter()
            .map(|job_id| DeploymentKey {
                app_id: app.clone(),
                branch_name: branch.clone(),
                job_id,
            })
            .collect(),
    )
}

/// For a rollback that started or succeeded: the job it replaced, the
/// rollback job, and the job rolled back to.
fn replacement(envelope: &Envelope) -> Option<(DeploymentKey, JobId, Option<JobId>)> {
    if !matches!(
        envelope.detail_type.as_str(),
        dt::ROLLBACK_STARTED | dt::ROLLBACK_SUCCEEDED
    ) {
        return None;
    }
    let e: crate::core::events::RollbackEvent = envelope.detail().ok()?;
    let from = e.from_job_id?;
    let by = e.rollback_job_id?;
    if !e.app_id.is_amplify() {
        return None;
    }
    Some((
        DeploymentKey {
            app_id: e.app_id,
            branch_name: e.branch_name,
            job_id: from,
        },
        by,
        e.target_job_id,
    ))
}

/// The EMF line counting one dropped update.
pub fn dropped_line(
    namespace: &str,
    environment: Environment,
    key: &DeploymentKey,
    reason: &str,
    at: chrono::DateTime<Utc>,
) -> String {
    emf::line(
        namespace,
        &[("Environment", environment.as_str())],
        &[&["Environment"]],
        &[(DROPPED_METRIC, 1.0, Unit::Count)],
        &[
            ("app", Value::from(key.app_id.to_string())),
            (
                "branch",
                Value::from(crate::core::model::preview(key.branch_name.as_str())),
            ),
            ("job", Value::from(key.job_id.to_string())),
            ("reason", Value::from(reason)),
        ],
        at,
    )
}

#[cfg(test)]
mod tests;
