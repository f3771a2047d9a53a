//! The validator's reaction to "Build Started": validate the app's and
//! branch's configuration against the policy, record the report on the
//! deployment, publish "Validation Completed" (and "Validation Failed" on
//! errors), and stop a build that cannot succeed.
//!
//! Then the builds that should not run (issue #29 items 8, 9): with GitHub
//! on, one comparison of the commit with the branch's last deployed one
//! gives the lead time's first commit and, for a monorepo app, skips a
//! build that changed nothing under its paths (`validate::paths`); and a
//! newer build supersedes the branch's older ones still running
//! (`validate::skip`). A skip is recorded on the skipped job's record and
//! announced as "Build Skipped" once StopJob stopped it (observe mode:
//! "would have skipped", "Action Observed").
//!
//! Idempotent: the report, the comparison and each skip are decided once
//! per job (the first delivery to write it wins); a redelivery only
//! completes what is left — the StopJobs and the publications.

use std::collections::BTreeMap;

use chrono::Utc;
use tracing::{info, warn};

use crate::core::deployment::{
    CompareRecord, Deployment, DeploymentKey, Observation, Skip, SkipKind, ValidationRecord,
};
use crate::core::enforcement::{self, Enforcement, ObservedAction, ObservedKind};
use crate::core::error::{AmplifyError, Error};
use crate::core::events::{
    BuildEvent, OWNER_VALIDATOR, ObservedEvent, SkipEvent, ValidationEvent, detail_type,
};
use crate::core::model::{BuildStatus, Environment, JobId, is_git_commit};
use crate::effects::{self, Decided};
use crate::github::api::{GitHubApi, Repo};
use crate::policy::BranchPolicy;
use crate::ports::{
    AmplifyApi, AppInfo, BranchInfo, DeploymentStore, PolicyStore, RollbackStore, SecretNames,
    SecretsError, Stack,
};
use crate::validate::paths::{AppPaths, PathVerdict};
use crate::validate::rules::buildspec::BuildSpec;
use crate::validate::skip::{self, BranchJob};
use crate::validate::{self, Platform, Report, Secrets, SourceFile, ValidationInput};

/// The validation input Amplify's configuration gives: variables of app and
/// branch merged as Amplify merges them (branch wins), the branch's build
/// spec over the app's, platform, framework and build instance.
pub fn input_from_amplify(
    environment: Environment,
    app: &AppInfo,
    branch: &BranchInfo,
) -> ValidationInput {
    let mut input = ValidationInput::new(environment);
    input.variables = app.environment_variables.clone();
    input.variables.extend(branch.environment_variables.clone());
    input.declared = input.variables.keys().cloned().collect();
    input.platform = app.platform.as_deref().and_then(Platform::parse);
    input.framework = branch.framework.clone();
    input.build_spec = branch
        .build_spec
        .clone()
        .map(|text| SourceFile {
            name: "build spec (branch)".into(),
            text,
        })
        .or_else(|| {
            app.build_spec.clone().map(|text| SourceFile {
                name: "build spec (app)".into(),
                text,
            })
        });
    input.build_memory_gib =
        ValidationInput::memory_for_compute_type(app.build_compute_type.as_deref().unwrap_or(""));
    input
}

/// What the validator did with one "Build Started".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationOutcome {
    pub passed: bool,
    pub stopped: bool,
    /// Observe mode: the build would have been stopped.
    pub would_stop: bool,
    pub published: usize,
    /// This build was stopped because it should not run (superseded, or no
    /// change under the app's paths).
    pub skipped: bool,
    /// Observe mode: it would have been skipped.
    pub would_skip: bool,
    /// Older builds of the branch this one superseded (stopped, or in
    /// observe mode recorded as would have been).
    pub superseded: Vec<JobId>,
}

impl ValidationOutcome {
    /// A deploy that is not an Amplify job: nothing checked, nothing sent.
    pub fn not_amplify() -> Self {
        Self {
            passed: true,
            stopped: false,
            would_stop: false,
            published: 0,
            skipped: false,
            would_skip: false,
            superseded: Vec::new(),
        }
    }
}

/// The detail type the validator takes.
pub const ACCEPTED: &[&str] = &[detail_type::BUILD_STARTED];

/// How many of the branch's newest jobs are read to find the ones a start
/// supersedes: jobs still running are among the newest. ListJobs answers
/// newest first, each with its status (PENDING, PROVISIONING, RUNNING,
/// FAILED, SUCCEED, CANCELLING, CANCELLED) and job type (RELEASE, RETRY,
/// MANUAL, WEB_HOOK):
/// <https://docs.aws.amazon.com/amplify/latest/APIReference/API_JobSummary.html>.
pub const SUPERSEDE_WINDOW: usize = 20;

pub struct Validator<'a, K: Stack> {
    pub store: &'a K::Store,
    pub amplify: &'a K::Amplify,
    /// The names of Amplify's secrets (SSM), for required variables kept there.
    pub secrets: &'a K::Secrets,
    pub publisher: &'a K::Publisher,
    /// GitHub, when the stack connects it (`GitHubSettings`): the compare
    /// of the monorepo filter and the lead time's first commit. `None`:
    /// no GitHub call is made.
    pub github: Option<&'a K::GitHub>,
    pub environment: Environment,
    /// The stack's mode; a policy may override it per app or branch.
    pub enforcement: Enforcement,
}

/// What the policy says about one job, beside the report.
struct Decision {
    scope: String,
    stop_on_error: bool,
    enforcement: Enforcement,
}

/// What one delivery reads once: the app, the branch and their policy.
struct Context {
    app: AppInfo,
    branch: BranchInfo,
    policy: BranchPolicy,
    scope: String,
    enforcement: Enforcement,
}

impl<K: Stack> Validator<'_, K> {
    pub async fn on_build_started(&self, event: &BuildEvent) -> Result<ValidationOutcome, Error> {
        if !event.app_id.is_amplify() {
            // A stack or a reporting service: there is no Amplify app or
            // branch configuration to validate, and nothing to stop.
            info!(app = %event.app_id, "not an Amplify app; not validated");
            return Ok(ValidationOutcome::not_amplify());
        }
        let key = DeploymentKey {
            app_id: event.app_id.clone(),
            branch_name: event.branch_name.clone(),
            job_id: event.job_id,
        };
        let ctx = self.context(&key).await?;
        let mut record = match self.store.get_deployment(&key).await? {
            Some(d) if d.validation.is_some() => d,
            _ => {
                let (report, decision) = self.validate(&key, &ctx).await?;
                info!(passed = report.passed, errors = report.errors, warnings = report.warnings, policy = %decision.scope, enforcement = %decision.enforcement, "validated");
                effects::update(self.store, &key, |d| Ok(decide(d, &report, &decision))).await?
            }
        };
        let Some(validation) = record.validation.clone() else {
            return Err(Error::DeadLetter(
                "validation vanished from the record".into(),
            ));
        };
        if validation.stop_requested && validation.stop_result.is_none() {
            let result = match self.amplify.stop_job(&key).await {
                Ok(_) => "stopped".to_owned(),
                // Too late: the job ended (or is gone) before we could stop it.
                Err(AmplifyError::Rejected(why) | AmplifyError::NotFound(why)) => {
                    warn!(%why, "the build could not be stopped");
                    format!("not stopped: {why}")
                }
                Err(e) => return Err(e.into()),
            };
            record = effects::update(self.store, &key, |d| Ok(record_stop(d, &result))).await?;
        }
        record = self.compare_once(&key, &ctx, record).await?;
        record = self.complete_skip(&key, record).await?;
        let (superseded, mut published) = self.supersede(&key, &ctx, &record).await?;
        // The supersession may have skipped this very job: read it again.
        if let Some(fresh) = self.store.get_deployment(&key).await? {
            record = fresh;
        }
        published += effects::flush(self.store, self.publisher, &record, OWNER_VALIDATOR).await?;
        let stopped = record
            .validation
            .as_ref()
            .and_then(|v| v.stop_result.as_deref())
            == Some("stopped");
        let would_stop = record
            .observed
            .iter()
            .any(|a| a.action == ObservedKind::StopBuild);
        Ok(ValidationOutcome {
            passed: validation.report.passed,
            stopped,
            would_stop,
            published,
            skipped: record
                .skipped
                .as_ref()
                .is_some_and(|s| s.stop_result.as_deref() == Some("stopped")),
            would_skip: record
                .observed
                .iter()
                .any(|a| a.action == ObservedKind::Skip),
            superseded,
        })
    }

    async fn context(&self, key: &DeploymentKey) -> Result<Context, Error> {
        let app = self.amplify.get_app(&key.app_id).await?;
        let branch = self
            .amplify
            .get_branch(&key.app_id, &key.branch_name)
            .await?;
        let (policy, scope) = match self.store.get_policy(&key.app_id, &key.branch_name).await? {
            Some(stored) => (stored.policy, stored.scope),
            None => (BranchPolicy::default(), "default".to_owned()),
        };
        let enforcement = Enforcement::for_branch(self.enforcement, policy.enforcement);
        Ok(Context {
            app,
            branch,
            policy,
            scope,
            enforcement,
        })
    }

    async fn validate(
        &self,
        key: &DeploymentKey,
        ctx: &Context,
    ) -> Result<(Report, Decision), Error> {
        let mut input = input_from_amplify(self.environment, &ctx.app, &ctx.branch);
        input.secrets = self.secrets_of(key, &ctx.policy, &input).await?;
        // No package files in this input, so the engine cannot fail to read them.
        let report = validate::validate(&input, &ctx.policy)
            .map_err(|e| Error::DeadLetter(format!("validation input: {e}")))?;
        let decision = Decision {
            scope: ctx.scope.clone(),
            stop_on_error: ctx.policy.stop_on_error,
            enforcement: ctx.enforcement,
        };
        Ok((report, decision))
    }

    /// Whether `job` is a rollback's: its record says so, or the branch's
    /// rollback in progress names it, or (its StartJob answer lost) that
    /// rollback's job is not known yet and `job` is a RETRY.
    fn is_rollback_job(
        record: Option<&Deployment>,
        state: Option<&crate::rollback::RollbackState>,
        job: JobId,
        retry: bool,
    ) -> bool {
        record.is_some_and(Deployment::is_rollback)
            || state.is_some_and(|s| {
                s.is_rollback_job(job)
                    || (retry && s.in_progress().is_some_and(|a| a.rollback_job.is_none()))
            })
    }

    /// The comparison of this build's commit with the branch's last
    /// deployed one, once per build (GitHub on, both git commits): the lead
    /// time's first commit, and the monorepo filter's verdict. A failed
    /// comparison is recorded and logged, never retried, and never stops
    /// the build.
    async fn compare_once(
        &self,
        key: &DeploymentKey,
        ctx: &Context,
        record: Deployment,
    ) -> Result<Deployment, Error> {
        if record.compare.is_some() {
            return Ok(record);
        }
        let Some(github) = self.github else {
            return Ok(record);
        };
        let Some(repo) = ctx.app.repository.as_deref().and_then(Repo::from_amplify) else {
            return Ok(record);
        };
        let Some(head) = record
            .details
            .commit_id
            .clone()
            .filter(|c| is_git_commit(c))
        else {
            return Ok(record);
        };
        let state = self
            .store
            .get_branch_state(&key.app_id, &key.branch_name)
            .await?;
        let Some(base) = state.live_commit.filter(|c| is_git_commit(c)) else {
            return Ok(record);
        };
        let input = input_from_amplify(self.environment, &ctx.app, &ctx.branch);
        let spec = BuildSpec::read(input.build_spec.as_ref());
        let filter = match AppPaths::new(
            AppPaths::roots_of(&input.variables, &spec),
            &ctx.policy.paths,
            &ctx.policy.shared_paths,
        ) {
            Ok(filter) => filter,
            Err(why) => {
                // A stored policy is checked when it is put; never stop on doubt.
                warn!(%why, "the policy's paths do not compile; not filtered");
                None
            }
        };
        let rollback = record.is_rollback() || {
            let rollbacks = self
                .store
                .get_rollback_state(&key.app_id, &key.branch_name)
                .await?;
            Self::is_rollback_job(
                Some(&record),
                rollbacks.as_ref(),
                key.job_id,
                record.details.job_type.as_deref() == Some("RETRY"),
            )
        };
        let mut compared = CompareRecord {
            base: base.clone(),
            head: head.clone(),
            status: None,
            commits: 0,
            files: 0,
            truncated: false,
            outcome: String::new(),
            error: None,
        };
        let mut first_commit_at = None;
        let mut skip_reason = None;
        if base == head {
            compared.status = Some("identical".into());
            compared.outcome = "the deployed commit rebuilt: built".into();
        } else {
            match github.compare(&repo, &base, &head).await {
                Err(e) => {
                    let why = crate::core::redact::mask_in_text(&e.to_string());
                    warn!(%why, retryable = e.is_retryable(), "GitHub's compare failed: the build is not filtered, lead time runs from the head commit");
                    compared.error = Some(why.chars().take(500).collect());
                    compared.outcome = "compare failed: built".into();
                }
                Ok(cmp) => {
                    compared.status = Some(cmp.status.chars().take(20).collect());
                    compared.commits = cmp.total_commits;
                    compared.files = cmp.files.len();
                    compared.truncated = cmp.truncated;
                    // Oldest first; when truncated, the first listed may be
                    // later than the true first (docs/metrics.md).
                    first_commit_at = cmp
                        .commits
                        .first()
                        .and_then(|c| c.authored_at.or(c.committed_at));
                    compared.outcome = match (&filter, rollback) {
                        (None, _) => "no app root nor paths: not filtered".into(),
                        (Some(_), true) => "a rollback: never skipped".into(),
                        (Some(f), false) => match f.judge(&cmp) {
                            PathVerdict::Build(why) => format!("built: {why}"),
                            PathVerdict::Skip(why) => {
                                skip_reason = Some(why.clone());
                                why
                            }
                        },
                    };
                }
            }
        }
        info!(base = %compared.base, head = %compared.head, outcome = %compared.outcome, "compared with the deployed commit");
        let enforcement = ctx.enforcement;
        effects::update(self.store, key, |d| {
            Ok(record_compare(
                d,
                &compared,
                first_commit_at,
                skip_reason.as_deref(),
                enforcement,
            ))
        })
        .await
    }

    /// StopJob of a skip recorded on `record` and not yet tried. Amplify
    /// refuses to stop a job that ended (a BadRequest, our `Rejected`) and
    /// answers the stopped job's summary otherwise
    /// (<https://docs.aws.amazon.com/amplify/latest/APIReference/API_StopJob.html>):
    /// either way the answer is recorded, never retried.
    async fn complete_skip(
        &self,
        key: &DeploymentKey,
        record: Deployment,
    ) -> Result<Deployment, Error> {
        if record
            .skipped
            .as_ref()
            .is_none_or(|s| s.stop_result.is_some())
        {
            return Ok(record);
        }
        let result = match self.amplify.stop_job(key).await {
            Ok(status) if status.is_terminal() && status != BuildStatus::Cancelled => {
                format!("not stopped: the job had ended ({status})")
            }
            Ok(_) => "stopped".to_owned(),
            // The job ended (or is gone) before it could be stopped.
            Err(AmplifyError::Rejected(why) | AmplifyError::NotFound(why)) => {
                info!(job = %key.job_id, %why, "the skipped build could not be stopped");
                format!("not stopped: {why}")
            }
            Err(e) => return Err(e.into()),
        };
        info!(job = %key.job_id, %result, "StopJob of a build that should not run");
        effects::update(self.store, key, |d| Ok(record_skip_stop(d, &result))).await
    }

    /// The branch's older builds this one supersedes, and whether a newer
    /// one supersedes it (`validate::skip`): each is skipped on its own
    /// record. Answers the older jobs skipped and the events published.
    async fn supersede(
        &self,
        key: &DeploymentKey,
        ctx: &Context,
        record: &Deployment,
    ) -> Result<(Vec<JobId>, usize), Error> {
        if !ctx.policy.cancel_superseded {
            return Ok((Vec::new(), 0));
        }
        let listed = match self
            .amplify
            .list_jobs(&key.app_id, &key.branch_name, SUPERSEDE_WINDOW)
            .await
        {
            Ok(jobs) => jobs,
            Err(e @ AmplifyError::Unavailable(_)) => return Err(e.into()),
            Err(e) => {
                warn!(error = %e, "ListJobs refused: superseded builds not looked for");
                return Ok((Vec::new(), 0));
            }
        };
        let rollbacks = self
            .store
            .get_rollback_state(&key.app_id, &key.branch_name)
            .await?;
        let mut jobs = Vec::with_capacity(listed.len());
        for row in &listed {
            let retry = row.job_type.as_deref() == Some("RETRY");
            // An older job that ended plays no part: its record is not read.
            if row.job_id < key.job_id && row.status.is_terminal() {
                continue;
            }
            let other = if row.job_id == key.job_id {
                Some(record.clone())
            } else {
                self.store
                    .get_deployment(&DeploymentKey {
                        job_id: row.job_id,
                        ..key.clone()
                    })
                    .await?
            };
            jobs.push(BranchJob {
                id: row.job_id,
                active: !row.status.is_terminal(),
                // A job being stopped (or that would be, in observe mode)
                // supersedes nothing, as if it were cancelled already.
                cancelled: row.status == BuildStatus::Cancelled
                    || (row.job_id != key.job_id && other.as_ref().is_some_and(is_stopping)),
                retry,
                rollback: Self::is_rollback_job(
                    other.as_ref(),
                    rollbacks.as_ref(),
                    row.job_id,
                    retry,
                ),
            });
        }
        let me = match jobs.iter().find(|j| j.id == key.job_id) {
            Some(me) => me.clone(),
            // Not listed yet (ListJobs lags): as the record knows it.
            None => {
                let retry = record.details.job_type.as_deref() == Some("RETRY");
                BranchJob {
                    id: key.job_id,
                    active: !record.status.is_terminal(),
                    cancelled: record.status == BuildStatus::Cancelled,
                    retry,
                    rollback: Self::is_rollback_job(
                        Some(record),
                        rollbacks.as_ref(),
                        key.job_id,
                        retry,
                    ),
                }
            }
        };
        let stopping = is_stopping(record);
        let found = skip::supersession(&me, !stopping && !record.status.is_terminal(), &jobs);
        let mut published = 0;
        let mut superseded = Vec::new();
        for old in &found.older {
            let target = DeploymentKey {
                job_id: *old,
                ..key.clone()
            };
            let why = skip::reason(key.job_id, key.branch_name.as_str());
            if self
                .skip(
                    &target,
                    SkipKind::Superseded,
                    &why,
                    key.job_id,
                    ctx.enforcement,
                )
                .await?
            {
                superseded.push(*old);
            }
            published += self.flush_other(&target).await?;
        }
        if let Some(newer) = found.by_newer {
            let why = skip::reason(newer, key.branch_name.as_str());
            self.skip(key, SkipKind::Superseded, &why, newer, ctx.enforcement)
                .await?;
        }
        if !found.older.is_empty() || found.by_newer.is_some() {
            info!(older = ?found.older, newer = ?found.by_newer, enforcement = %ctx.enforcement, "superseded builds");
        }
        Ok((superseded, published))
    }

    /// Records the skip of `target` (creating its record when ingest has
    /// not yet: a pending job has no Amplify event) and, in enforce mode,
    /// stops it. A job that ended, a rollback, or a job already skipped is
    /// left as it is. Answers whether the job is (or would have been)
    /// skipped for this reason.
    async fn skip(
        &self,
        target: &DeploymentKey,
        kind: SkipKind,
        why: &str,
        by_job: JobId,
        enforcement: Enforcement,
    ) -> Result<bool, Error> {
        let environment = self.environment;
        let (record, ()) = effects::read_decide_write(
            async || Ok(self.store.get_deployment(target).await?),
            |record: &mut Option<Deployment>| {
                let d = record.get_or_insert_with(|| Deployment::new(target.clone(), environment));
                Ok(if decide_skip(d, kind, why, by_job, enforcement) {
                    d.fit_budget();
                    Decided::Write(())
                } else {
                    Decided::Keep(())
                })
            },
            async |record| match record {
                Some(d) => self.store.save_deployment(d).await,
                None => Ok(()),
            },
        )
        .await?;
        let Some(record) = record else {
            return Ok(false);
        };
        let skipped = record
            .skipped
            .as_ref()
            .is_some_and(|s| s.kind == kind && s.by_job == by_job)
            || record
                .observed
                .iter()
                .any(|a| a.action == ObservedKind::Skip);
        if record.skipped.is_some() {
            self.complete_skip(target, record).await?;
        }
        Ok(skipped)
    }

    /// Publishes what the validator put in another job's outbox.
    async fn flush_other(&self, key: &DeploymentKey) -> Result<usize, Error> {
        match self.store.get_deployment(key).await? {
            Some(d) => effects::flush(self.store, self.publisher, &d, OWNER_VALIDATOR).await,
            None => Ok(0),
        }
    }
}

impl<K: Stack> Validator<'_, K> {
    /// The names of the branch's Amplify secrets, looked up only when a
    /// required variable is not among Amplify's variables. A refusal (access
    /// denied) is reported in the report, never taken for a missing
    /// variable; unavailability that outlasts the SDK's own retries fails
    /// the delivery, which is retried (`core::error`).
    async fn secrets_of(
        &self,
        key: &DeploymentKey,
        policy: &BranchPolicy,
        input: &ValidationInput,
    ) -> Result<Secrets, Error> {
        let lacking = policy
            .required_in(self.environment)
            .into_iter()
            .any(|name| {
                input
                    .variables
                    .get(name)
                    .is_none_or(|v| v.trim().is_empty())
            });
        if !lacking {
            return Ok(Secrets::NotLooked);
        }
        let [branch_path, shared_path] = validate::secret_paths(&key.app_id, &key.branch_name);
        let listed = futures::future::try_join(
            self.secrets.names_under(&branch_path),
            self.secrets.names_under(&shared_path),
        )
        .await;
        match listed {
            Ok((branch, shared)) => {
                let mut found = BTreeMap::new();
                // The branch's own secret wins over the app's.
                for (names, path) in [(shared, &shared_path), (branch, &branch_path)] {
                    for name in names {
                        found.insert(name, path.clone());
                    }
                }
                Ok(Secrets::Found(found))
            }
            Err(SecretsError::Rejected(why)) => {
                warn!(%why, "could not list Amplify's secrets");
                Ok(Secrets::Unchecked(why))
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// Records the report and its events, once. In observe mode a build that
/// would be stopped is not: the "would have" is recorded and published.
fn decide(d: &mut Deployment, report: &Report, decision: &Decision) -> bool {
    if d.validation.is_some() {
        return false;
    }
    let scope = decision.scope.as_str();
    let stop = report.has_errors() && decision.stop_on_error && !d.status.is_terminal();
    let stop_requested = stop && decision.enforcement.acts();
    let would_stop = stop && !stop_requested;
    d.validation = Some(ValidationRecord {
        report: report.clone(),
        policy: scope.to_owned(),
        validated_at: Utc::now(),
        stop_requested,
        stop_result: None,
    });
    let event = |suffix: &str| ValidationEvent {
        event_id: d.key.event_id(suffix),
        environment: d.environment,
        app_id: d.key.app_id.clone(),
        branch_name: d.key.branch_name.clone(),
        job_id: d.key.job_id,
        commit_id: d.details.commit_id.clone(),
        passed: report.passed,
        errors: report.errors,
        warnings: report.warnings,
        findings: report.findings.clone(),
        policy: scope.to_owned(),
        stop_requested,
        would_stop,
    };
    let seq = d.event_ids.len() as u64 + 100;
    let mut entries = vec![event("validation").to_outbox(detail_type::VALIDATION_COMPLETED, seq)];
    if report.has_errors() {
        entries.push(event("validation-failed").to_outbox(detail_type::VALIDATION_FAILED, seq + 1));
    }
    if would_stop {
        let first = report
            .findings
            .iter()
            .find(|f| f.severity == crate::validate::Severity::Error)
            .map(|f| format!(" — first: {} ({})", f.message, f.rule))
            .unwrap_or_default();
        let why = format!(
            "{} error(s) in the build's configuration (policy: {scope}){first}",
            report.errors
        );
        let action = ObservedAction::new(ObservedKind::StopBuild, &why, Utc::now());
        entries.push(ObservedEvent::outbox_entry(
            d,
            &action,
            OWNER_VALIDATOR,
            seq + 2,
        ));
        enforcement::record(&mut d.observed, action);
    }
    for entry in entries.into_iter().flatten() {
        d.outbox.insert(entry.id.clone(), entry);
    }
    true
}

/// Whether the job is being stopped (or, in observe mode, would be) for its
/// configuration or because it should not run: such a job supersedes
/// nothing.
fn is_stopping(d: &Deployment) -> bool {
    d.validation.as_ref().is_some_and(|v| v.stop_requested)
        || d.skipped.is_some()
        || d.observed
            .iter()
            .any(|a| matches!(a.action, ObservedKind::StopBuild | ObservedKind::Skip))
}

/// The summary a skip records: bounded, secrets masked.
fn bounded(reason: &str) -> String {
    crate::core::redact::mask_in_text(reason)
        .chars()
        .take(crate::core::enforcement::SUMMARY_MAX)
        .collect()
}

/// Records the comparison once, the lead time's first commit, and the
/// monorepo filter's skip of this job (enforce: to be stopped; observe:
/// "would have skipped"). A job being stopped for its configuration, a job
/// that ended, or one already skipped is not skipped again.
fn record_compare(
    d: &mut Deployment,
    compared: &CompareRecord,
    first_commit_at: Option<chrono::DateTime<Utc>>,
    skip_reason: Option<&str>,
    enforcement: Enforcement,
) -> bool {
    if d.compare.is_some() {
        return false;
    }
    d.compare = Some(compared.clone());
    if first_commit_at.is_some() {
        d.details.first_commit_at = first_commit_at;
    }
    let stopping = d.validation.as_ref().is_some_and(|v| v.stop_requested)
        || d.observed
            .iter()
            .any(|a| a.action == ObservedKind::StopBuild);
    if let Some(why) = skip_reason
        && !stopping
    {
        let by = d.key.job_id;
        decide_skip(d, SkipKind::NoChange, why, by, enforcement);
    }
    true
}

/// Decides the skip of `d` (a pure write): enforce records the skip, to be
/// stopped; observe records "would have skipped" and its "Action
/// Observed". Answers whether anything changed.
fn decide_skip(
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
fn record_skip_stop(d: &mut Deployment, result: &str) -> bool {
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
fn record_stop(d: &mut Deployment, result: &str) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{
        InMemory, MemoryAmplify, MemoryPublisher, MemorySecrets, MemoryStore,
    };
    use crate::core::model::JobId;

    struct World {
        store: MemoryStore,
        amplify: MemoryAmplify,
        publisher: MemoryPublisher,
        secrets: MemorySecrets,
    }

    fn key() -> DeploymentKey {
        DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: "main".parse().unwrap(),
            job_id: JobId::new(7),
        }
    }

    /// A branch missing the DATABASE_URL its policy requires, a build started.
    async fn world(policy: &str) -> World {
        let k = key();
        let w = World {
            store: MemoryStore::default(),
            amplify: MemoryAmplify::with_branch(&k, |b| {
                b.stage = Some("PRODUCTION".into());
                b.framework = Some("Next.js - SSR".into());
            }),
            publisher: MemoryPublisher::default(),
            secrets: MemorySecrets::default(),
        };
        let policy = BranchPolicy::parse(policy, "p.yaml").unwrap();
        w.store
            .put_policy(&k.app_id, Some(&k.branch_name), &policy)
            .await
            .unwrap();
        let mut d = Deployment::new(k.clone(), Environment::Prod);
        d.apply(Observation {
            event_id: "amplify-1".into(),
            status: BuildStatus::Started,
            at: Utc::now(),
        });
        d.outbox.clear();
        w.store.save_deployment(&d).await.unwrap();
        w
    }

    impl World {
        async fn validate(&self, stack: Enforcement) -> ValidationOutcome {
            let d = self.store.get_deployment(&key()).await.unwrap().unwrap();
            let event = BuildEvent::from_deployment(&d).unwrap();
            Validator::<InMemory> {
                store: &self.store,
                amplify: &self.amplify,
                secrets: &self.secrets,
                publisher: &self.publisher,
                github: None,
                environment: Environment::Prod,
                enforcement: stack,
            }
            .on_build_started(&event)
            .await
            .unwrap()
        }
    }

    const MISSING: &str = "required:\n  all: [DATABASE_URL]\n";

    #[tokio::test]
    async fn in_enforce_mode_a_build_that_cannot_succeed_is_stopped() {
        let w = world(MISSING).await;
        let outcome = w.validate(Enforcement::Enforce).await;
        assert!(outcome.stopped && !outcome.would_stop && !outcome.passed);
        assert_eq!(w.amplify.stopped.lock().unwrap().as_slice(), &[key()]);
        let d = w.store.get_deployment(&key()).await.unwrap().unwrap();
        assert!(d.observed.is_empty());
        assert!(
            !w.publisher
                .detail_types()
                .contains(&"Action Observed".to_owned())
        );
    }

    #[tokio::test]
    async fn in_observe_mode_it_is_not_stopped_and_the_would_have_is_recorded_once() {
        for (policy, stack) in [
            (MISSING.to_owned(), Enforcement::Observe),
            (
                format!("{MISSING}enforcement: observe\n"),
                Enforcement::Enforce,
            ),
        ] {
            let w = world(&policy).await;
            let first = w.validate(stack).await;
            let again = w.validate(stack).await;
            assert!(!first.stopped && first.would_stop, "{policy}");
            assert_eq!(
                again,
                ValidationOutcome {
                    published: 0,
                    ..first.clone()
                }
            );
            assert!(w.amplify.stopped.lock().unwrap().is_empty(), "no StopJob");
            let d = w.store.get_deployment(&key()).await.unwrap().unwrap();
            assert_eq!(d.status, BuildStatus::Started, "not cancelled");
            assert_eq!(d.observed.len(), 1);
            assert!(
                d.observed[0]
                    .summary
                    .starts_with("would have stopped this build: 1 error(s)"),
                "{}",
                d.observed[0].summary
            );
            assert!(d.observed[0].summary.contains("DATABASE_URL"));
            let validation = d.validation.unwrap();
            assert!(!validation.stop_requested && validation.stop_result.is_none());
            let published = w.publisher.published.lock().unwrap().clone();
            let failed = published
                .iter()
                .find(|e| e.detail_type == "Validation Failed")
                .unwrap();
            let detail: serde_json::Value = serde_json::from_str(&failed.detail).unwrap();
            assert_eq!(
                (
                    detail["wouldStop"].as_bool(),
                    detail["stopRequested"].as_bool()
                ),
                (Some(true), Some(false))
            );
            let observed: Vec<_> = published
                .iter()
                .filter(|e| e.detail_type == "Action Observed")
                .collect();
            assert_eq!(observed.len(), 1, "published once");
            assert_eq!(observed[0].id, "d1abc/main/0000000007/observed-stop-build");
        }
    }

    #[tokio::test]
    async fn a_policy_of_enforce_stops_even_when_the_stack_observes() {
        let w = world(&format!("{MISSING}enforcement: enforce\n")).await;
        let outcome = w.validate(Enforcement::Observe).await;
        assert!(outcome.stopped && !outcome.would_stop);
        assert_eq!(w.amplify.stopped.lock().unwrap().len(), 1);
    }
}

#[cfg(test)]
#[path = "skip_tests/mod.rs"]
mod skip_tests;
