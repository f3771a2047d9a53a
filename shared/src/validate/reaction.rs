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
//!
//! Here: the validation run, its report and the stop of a build that
//! cannot succeed. Beside it: the comparison with the deployed commit
//! (`compare`), superseded builds (`supersede`), and what a stop or a skip
//! writes on a record (`stop`).

mod compare;
mod stop;
mod supersede;

pub use supersede::SUPERSEDE_WINDOW;

use std::collections::BTreeMap;

use chrono::Utc;
use tracing::{info, warn};

use crate::core::deployment::{Deployment, DeploymentKey, ValidationRecord};
use crate::core::enforcement::{self, Enforcement, ObservedAction, ObservedKind};
use crate::core::error::{AmplifyError, Error};
use crate::core::events::{
    BuildEvent, OWNER_VALIDATOR, ObservedEvent, ValidationEvent, detail_type,
};
use crate::core::model::{Environment, JobId};
use crate::effects;
use crate::policy::BranchPolicy;
use crate::policy::PolicyStore;
use crate::ports::{AmplifyApi, AppInfo, BranchInfo, DeploymentStore, SecretNames, SecretsError};
use crate::stack::Stack;
use crate::validate::{self, Platform, Report, Secrets, SourceFile, ValidationInput};
use stop::record_stop;

// What the tests (`use super::*`) name through this module.
#[cfg(test)]
use crate::core::{deployment::SkipKind, model::BuildStatus, transitions::Observation};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::{
        InMemory, MemoryAmplify, MemoryPublisher, MemorySecrets, MemoryStore,
    };

    struct World {
        store: MemoryStore,
        amplify: MemoryAmplify,
        publisher: MemoryPublisher,
        secrets: MemorySecrets,
    }

    fn key() -> DeploymentKey {
        DeploymentKey::of("main", 7)
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
