//! The alerter's reactions: diagnose a failed build (GetJob → the failed
//! step's log → the diagnosis engine), record it, publish "Build Diagnosed",
//! and alert; alert on validation failures, unhealthy deploys, rollbacks and
//! degradation; send a resolve notice when a branch recovers.
//!
//! Every message goes through the branch's alert state (`crate::alert`):
//! the conditional write that records the event also queues the message,
//! claimed by this invocation, before anything is published — so the same
//! event delivered twice (or concurrently) sends one message.

use chrono::{DateTime, Duration, Utc};
use tracing::{info, warn};

use crate::alert::message::{Content, Context, console_url, render};
use crate::alert::{AlertPolicy, AlertState, Decision, Severity, Signal};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{AmplifyError, Error, StoreError};
use crate::core::events::{
    BuildEvent, DegradationEvent, DiagnosisEvent, Envelope, HealthEvent, OWNER_ALERTER,
    RollbackEvent, ValidationEvent, detail_type as dt,
};
use crate::core::model::{AppId, BranchName, Environment, JobId};
use crate::diagnose::{Diagnoser, Diagnosis};
use crate::effects::{self, Decided, read_decide_write};
use crate::ports::{
    AlertStore, AmplifyApi, DeploymentStore, EventPublisher, LogSource, Notifier, PolicyStore,
};

/// Every detail type the alerter takes.
pub const ACCEPTED: &[&str] = &[
    dt::BUILD_FAILED,
    dt::BUILD_SUCCEEDED,
    dt::VALIDATION_FAILED,
    dt::DEPLOYMENT_UNHEALTHY,
    dt::DEPLOYMENT_HEALTHY,
    dt::ROLLBACK_STARTED,
    dt::ROLLBACK_SUCCEEDED,
    dt::ROLLBACK_FAILED,
    dt::ROLLBACK_RECOMMENDED,
    dt::DEGRADATION_DETECTED,
];

/// How long an invocation owns a queued message before another delivery of
/// the same event may send it.
const CLAIM: Duration = Duration::seconds(60);

pub struct Alerter<'a, S, A, P, N, L> {
    pub store: &'a S,
    pub amplify: &'a A,
    pub publisher: &'a P,
    pub notifier: &'a N,
    pub logs: &'a L,
    /// For links to the Amplify console.
    pub region: &'a str,
    /// See `Config::site_url_template`.
    pub site_url_template: Option<&'a str>,
}

/// What one delivery led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertOutcome {
    /// `opened`, `reminder`, `joined`, `resolved`, `notice`, `duplicate`,
    /// `stale`, `nothing-open`, or `held-back` (over the hourly budget).
    pub decision: String,
    pub sent: usize,
    /// The diagnosis category, for a failed build.
    pub category: Option<String>,
}

fn name(decision: &Decision) -> &'static str {
    match decision {
        Decision::Duplicate => "duplicate",
        Decision::Stale => "stale",
        Decision::Opened(_) => "opened",
        Decision::Reminder(_) => "reminder",
        Decision::Joined(_) => "joined",
        Decision::Resolved(_) => "resolved",
        Decision::NothingOpen => "nothing-open",
        Decision::Notice => "notice",
    }
}

impl<S, A, P, N, L> Alerter<'_, S, A, P, N, L>
where
    S: DeploymentStore + PolicyStore + AlertStore,
    A: AmplifyApi,
    P: EventPublisher,
    N: Notifier,
    L: LogSource,
{
    /// Handles one domain event of the [`ACCEPTED`] types.
    pub async fn on_event(&self, envelope: &Envelope) -> Result<AlertOutcome, Error> {
        match envelope.detail_type.as_str() {
            dt::BUILD_FAILED => self.on_build_failed(&envelope.detail()?).await,
            dt::BUILD_SUCCEEDED => {
                let e: BuildEvent = envelope.detail()?;
                let ctx = self.context(
                    e.environment,
                    &e.app_id,
                    &e.branch_name,
                    Some(e.job_id),
                    e.commit_id,
                    e.commit_message,
                    None,
                );
                let content = plain(
                    dt::BUILD_SUCCEEDED,
                    "Build succeeded",
                    "resolved",
                    Severity::Info,
                    String::new(),
                );
                self.alert(
                    &e.event_id,
                    ctx,
                    content,
                    Signal::Recovery {
                        job: e.job_id,
                        healthy: false,
                    },
                    None,
                )
                .await
            }
            dt::DEPLOYMENT_HEALTHY => {
                let e: HealthEvent = envelope.detail()?;
                let ctx = self.context(
                    e.environment,
                    &e.app_id,
                    &e.branch_name,
                    Some(e.job_id),
                    e.commit_id,
                    None,
                    Some(e.url),
                );
                let content = plain(
                    dt::DEPLOYMENT_HEALTHY,
                    "Deployment healthy",
                    "resolved",
                    Severity::Info,
                    e.reason,
                );
                self.alert(
                    &e.event_id,
                    ctx,
                    content,
                    Signal::Recovery {
                        job: e.job_id,
                        healthy: true,
                    },
                    None,
                )
                .await
            }
            dt::DEPLOYMENT_UNHEALTHY => self.on_unhealthy(envelope.detail()?).await,
            dt::VALIDATION_FAILED => self.on_validation_failed(envelope.detail()?).await,
            dt::DEGRADATION_DETECTED => {
                let e: DegradationEvent = envelope.detail()?;
                let ctx = self.context(
                    e.environment,
                    &e.app_id,
                    &e.branch_name,
                    None,
                    None,
                    None,
                    None,
                );
                let mut content = plain(
                    dt::DEGRADATION_DETECTED,
                    "Degradation detected",
                    &e.condition,
                    Severity::Warning,
                    e.summary,
                );
                content.details = e.evidence;
                let signal = Signal::Failure {
                    key: format!("degradation:{}", e.condition),
                    job: None,
                    severity: Severity::Warning,
                };
                self.alert(&e.event_id, ctx, content, signal, None).await
            }
            rollback => self.on_rollback(rollback, envelope.detail()?).await,
        }
    }

    async fn on_build_failed(&self, event: &BuildEvent) -> Result<AlertOutcome, Error> {
        let key = DeploymentKey {
            app_id: event.app_id.clone(),
            branch_name: event.branch_name.clone(),
            job_id: event.job_id,
        };
        let record = self.store.get_deployment(&key).await?.ok_or_else(|| {
            Error::from(StoreError::Unavailable(format!(
                "deployment {} is not recorded yet",
                event.event_id
            )))
        })?;
        let record = if record.diagnosis.is_none() {
            let diagnosis = self.diagnose(&key).await?;
            info!(category = %diagnosis.category, transient = diagnosis.transient, lines = diagnosis.lines, bytes = diagnosis.bytes, "diagnosed");
            effects::update(self.store, &key, |d| Ok(record_diagnosis(d, &diagnosis))).await?
        } else {
            record
        };
        effects::flush(self.store, self.publisher, &record, OWNER_ALERTER).await?;
        let Some(diagnosis) = record.diagnosis.clone() else {
            return Err(Error::DeadLetter(
                "diagnosis vanished from the record".into(),
            ));
        };
        let ctx = self.context(
            event.environment,
            &event.app_id,
            &event.branch_name,
            Some(event.job_id),
            record.details.commit_id.clone().or(event.commit_id.clone()),
            record
                .details
                .commit_message
                .clone()
                .or(event.commit_message.clone()),
            None,
        );
        let content = failure_content(event, &diagnosis);
        let signal = Signal::Failure {
            key: format!("build:{}", diagnosis.category),
            job: Some(event.job_id),
            severity: Severity::Error,
        };
        self.alert(
            &event.event_id,
            ctx,
            content,
            signal,
            Some(diagnosis.category),
        )
        .await
    }

    /// The diagnosis of a job's failure; an unreadable log still gives one.
    async fn diagnose(&self, key: &DeploymentKey) -> Result<Diagnosis, Error> {
        let step = match self.amplify.get_log_url(key).await {
            Ok(step) => step,
            Err(AmplifyError::NotFound(m)) => {
                return Ok(Diagnosis::log_unavailable(&format!("the job is gone: {m}")));
            }
            Err(e) => return Err(e.into()),
        };
        let Some(step) = step else {
            return Ok(Diagnosis::log_unavailable("the job has no step with a log"));
        };
        let mut diagnoser = Diagnoser::new();
        match self.logs.read_log(&step.url, &mut diagnoser).await {
            Ok(()) => Ok(diagnoser.finish()),
            Err(e) => {
                warn!(step = %step.step, error = %e, "build log unreadable");
                Ok(Diagnosis::log_unavailable(&e.to_string()))
            }
        }
    }

    async fn on_unhealthy(&self, e: HealthEvent) -> Result<AlertOutcome, Error> {
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            Some(e.job_id),
            e.commit_id.clone(),
            None,
            Some(e.url.clone()),
        );
        let what = if e.scheduled {
            "the scheduled check of the live deployment"
        } else {
            "the check after the deploy"
        };
        let mut content = plain(
            dt::DEPLOYMENT_UNHEALTHY,
            if e.is_rollback {
                "Rollback deployment unhealthy"
            } else {
                "Deployment unhealthy"
            },
            "unhealthy",
            Severity::Critical,
            format!("Job {} at {} failed {what}: {}", e.job_id, e.url, e.reason),
        );
        content.details = e
            .endpoints
            .iter()
            .map(|p| {
                format!(
                    "{} -> {:?}{}{} after {} attempt(s), p95 {} ms",
                    p.url,
                    p.verdict,
                    p.last_status
                        .map_or(String::new(), |s| format!(" (HTTP {s})")),
                    p.reason
                        .as_deref()
                        .map_or(String::new(), |r| format!(": {r}")),
                    p.attempts,
                    p.p95_ms
                )
            })
            .collect();
        if e.rollback_allowed {
            content
                .details
                .push("An automatic rollback may follow, as the policy allows.".into());
        }
        let signal = Signal::Failure {
            key: "unhealthy".into(),
            job: Some(e.job_id),
            severity: Severity::Critical,
        };
        self.alert(&e.event_id, ctx, content, signal, None).await
    }

    async fn on_validation_failed(&self, e: ValidationEvent) -> Result<AlertOutcome, Error> {
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            Some(e.job_id),
            e.commit_id.clone(),
            None,
            None,
        );
        let stopped = if e.stop_requested {
            " The build was stopped."
        } else {
            ""
        };
        let mut content = plain(
            dt::VALIDATION_FAILED,
            "Validation failed",
            "validation",
            Severity::Warning,
            format!(
                "Job {}: {} error(s), {} warning(s) in the build's configuration (policy: {}).{stopped}",
                e.job_id, e.errors, e.warnings, e.policy
            ),
        );
        content.details = e
            .findings
            .iter()
            .map(|f| {
                format!(
                    "[{:?}] {}{}: {} Fix: {}",
                    f.severity,
                    f.rule,
                    f.location
                        .as_deref()
                        .map_or(String::new(), |l| format!(" ({l})")),
                    f.message,
                    f.fix
                )
            })
            .collect();
        content.fix = e.findings.first().map(|f| f.fix.clone());
        let signal = Signal::Failure {
            key: "validation".into(),
            job: Some(e.job_id),
            severity: Severity::Warning,
        };
        self.alert(&e.event_id, ctx, content, signal, None).await
    }

    async fn on_rollback(
        &self,
        detail_type: &str,
        e: RollbackEvent,
    ) -> Result<AlertOutcome, Error> {
        let (headline, severity) = match detail_type {
            dt::ROLLBACK_STARTED => ("Rollback started", Severity::Warning),
            dt::ROLLBACK_SUCCEEDED => ("Rollback succeeded", Severity::Info),
            dt::ROLLBACK_FAILED => ("Rollback failed", Severity::Critical),
            _ => ("Rollback recommended", Severity::Warning),
        };
        let job = e.rollback_job_id.or(e.from_job_id);
        let ctx = self.context(
            e.environment,
            &e.app_id,
            &e.branch_name,
            job,
            e.target_commit_id.clone(),
            None,
            None,
        );
        let target = match (e.target_job_id, e.target_commit_id.as_deref()) {
            (Some(j), Some(c)) => format!(" to job {j} (commit {})", &c[..c.len().min(12)]),
            (Some(j), None) => format!(" to job {j}"),
            _ => String::new(),
        };
        let mut content = plain(
            detail_type,
            headline,
            "rollback",
            severity,
            format!("{headline}{target}: {}", e.reason),
        );
        if let Some(by) = &e.requested_by {
            content.details.push(format!("Requested by {by}."));
        }
        if let Some(secs) = e.time_to_restore_seconds {
            content.details.push(format!("Time to restore: {secs} s."));
        }
        content.fix = e.command.clone().map(|c| format!("Run: {c}"));
        self.alert(&e.event_id, ctx, content, Signal::Notice { severity }, None)
            .await
    }

    #[allow(clippy::too_many_arguments)]
    fn context(
        &self,
        environment: Environment,
        app_id: &AppId,
        branch_name: &BranchName,
        job_id: Option<JobId>,
        commit_id: Option<String>,
        commit_message: Option<String>,
        site_url: Option<String>,
    ) -> Context {
        let site_url = site_url.or_else(|| {
            let display = branch_name.display_name();
            Some(match self.site_url_template {
                Some(t) => t
                    .replace("{appId}", app_id.as_str())
                    .replace("{branch}", branch_name.as_str())
                    .replace("{displayName}", &display),
                None => format!("https://{display}.{app_id}.amplifyapp.com/"),
            })
        });
        Context {
            environment,
            app_id: app_id.clone(),
            branch_name: branch_name.clone(),
            job_id,
            commit_id,
            commit_message,
            console_url: job_id.map(|j| console_url(self.region, app_id, branch_name, j)),
            site_url,
        }
    }

    async fn policy(&self, app: &AppId, branch: &BranchName) -> Result<AlertPolicy, Error> {
        Ok(match self.store.get_policy(app, branch).await? {
            Some(stored) => stored.policy.alerts,
            None => AlertPolicy::default(),
        })
    }

    /// Decides, queues (claimed) and publishes the message for one event.
    async fn alert(
        &self,
        event_id: &str,
        ctx: Context,
        content: Content,
        signal: Signal,
        category: Option<String>,
    ) -> Result<AlertOutcome, Error> {
        let policy = self.policy(&ctx.app_id, &ctx.branch_name).await?;
        let now = Utc::now();
        let claimer = claimer_id();
        let (mut state, decided) = read_decide_write(
            async || {
                Ok(self
                    .store
                    .get_alert_state(&ctx.app_id, &ctx.branch_name)
                    .await?
                    .unwrap_or_else(|| {
                        AlertState::new(
                            ctx.app_id.clone(),
                            ctx.branch_name.clone(),
                            ctx.environment,
                        )
                    }))
            },
            |state| {
                let decision = state.decide(event_id, &signal, now, &policy);
                let mut to_send = Vec::new();
                let mut held_back = false;
                if decision == Decision::Duplicate {
                    // An earlier delivery may have queued its message and died.
                    to_send = orphans(state, event_id, now, &claimer);
                    if to_send.is_empty() {
                        return Ok(Decided::Keep(None));
                    }
                } else if decision.sends() {
                    let severity = if matches!(decision, Decision::Resolved(_)) {
                        Severity::Info
                    } else {
                        content.severity
                    };
                    let resolved_muted =
                        matches!(decision, Decision::Resolved(_)) && !policy.send_resolved;
                    if !resolved_muted {
                        if state.admit(severity, now, &policy) {
                            if let Some(n) =
                                render(event_id, &ctx, &content, &decision, state.suppressed)
                            {
                                to_send.push(n.id.clone());
                                state.enqueue(n, now + CLAIM, &claimer);
                            }
                        } else {
                            held_back = true;
                        }
                    }
                }
                for id in &to_send {
                    if let Some(p) = state.outbox.get_mut(id) {
                        p.claimed_until = Some(now + CLAIM);
                        p.claimed_by = Some(claimer.clone());
                    }
                }
                let decision = if held_back { None } else { Some(decision) };
                Ok(Decided::Write(Some((decision, to_send))))
            },
            async |state| self.store.save_alert_state(state).await,
        )
        .await?;
        let Some((decision, to_send)) = decided else {
            return Ok(AlertOutcome {
                decision: "duplicate".into(),
                sent: 0,
                category,
            });
        };
        let decision_name = decision.as_ref().map_or("held-back", name).to_owned();
        let mut sent = Vec::new();
        for id in &to_send {
            let Some(pending) = state.outbox.get(id) else {
                continue;
            };
            match self.notifier.notify(&pending.notification).await {
                Ok(()) => {
                    info!(id = %id, subject = %pending.notification.subject, "alert sent");
                    sent.push(id.clone());
                }
                Err(e) => {
                    // Release the claim so that the retry sends it at once.
                    self.settle(&mut state, &sent, to_send.as_slice()).await?;
                    return Err(e.into());
                }
            }
        }
        self.settle(&mut state, &sent, &[]).await?;
        Ok(AlertOutcome {
            decision: decision_name,
            sent: sent.len(),
            category,
        })
    }

    /// Removes sent messages from the outbox and releases `unclaim`'s claims.
    async fn settle(
        &self,
        state: &mut AlertState,
        sent: &[String],
        unclaim: &[String],
    ) -> Result<(), Error> {
        if sent.is_empty() && unclaim.is_empty() {
            return Ok(());
        }
        // The first attempt writes the state this delivery holds; a conflict
        // re-reads it.
        let mut held = Some(state.clone());
        let (app, branch) = (state.app_id.clone(), state.branch_name.clone());
        let (settled, ()) = read_decide_write(
            async || match held.take() {
                Some(state) => Ok(state),
                None => Ok(self
                    .store
                    .get_alert_state(&app, &branch)
                    .await?
                    .ok_or_else(|| StoreError::Unavailable("alert state vanished".into()))?),
            },
            |state| {
                for id in sent {
                    state.outbox.remove(id);
                }
                for id in unclaim {
                    if let Some(p) = state.outbox.get_mut(id) {
                        p.claimed_until = None;
                        p.claimed_by = None;
                    }
                }
                Ok(Decided::Write(()))
            },
            async |state| self.store.save_alert_state(state).await,
        )
        .await?;
        *state = settled;
        Ok(())
    }
}

/// Messages of this event left queued by a delivery that did not finish
/// (its claim has run out), or claimed by this very delivery in a write
/// whose answer was lost (the retried write then conflicts with itself).
fn orphans(state: &AlertState, event_id: &str, now: DateTime<Utc>, claimer: &str) -> Vec<String> {
    state
        .outbox
        .iter()
        .filter(|(id, p)| {
            (id.as_str() == event_id || id.starts_with(&format!("{event_id}/")))
                && (p.claimed_until.is_none_or(|until| until <= now)
                    || p.claimed_by.as_deref() == Some(claimer))
        })
        .map(|(id, _)| id.clone())
        .collect()
}

/// Unique per call of `alert` in this process and across processes.
fn claimer_id() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

fn plain(
    event_type: &str,
    headline: &str,
    category: &str,
    severity: Severity,
    summary: String,
) -> Content {
    Content {
        event_type: event_type.into(),
        headline: headline.into(),
        category: category.into(),
        severity,
        summary,
        diagnosis: None,
        fix: None,
        evidence: Vec::new(),
        details: Vec::new(),
    }
}

fn failure_content(event: &BuildEvent, d: &Diagnosis) -> Content {
    let mut summary = format!("Job {} failed", event.job_id);
    if let Some(phase) = &d.phase {
        summary.push_str(&format!(" in phase {phase}"));
    }
    if let Some(command) = &d.command {
        summary.push_str(&format!(", command `{command}`"));
    }
    if let Some(code) = d.exit_code {
        summary.push_str(&format!(", exit code {code}"));
    }
    if let Some(secs) = event.duration_seconds {
        summary.push_str(&format!(", after {secs} s"));
    }
    summary.push('.');
    if event.is_rollback {
        summary.push_str(" This job was a rollback.");
    }
    let mut details: Vec<String> = d
        .secondary
        .iter()
        .map(|s| format!("Also seen: {} ({}) at line {}", s.title, s.category, s.line))
        .collect();
    if d.lines > 0 {
        details.push(format!("{} log lines ({} bytes) read.", d.lines, d.bytes));
    }
    Content {
        event_type: dt::BUILD_FAILED.into(),
        headline: if event.is_rollback {
            "Rollback build failed".into()
        } else {
            "Build failed".into()
        },
        category: d.category.clone(),
        severity: Severity::Error,
        summary,
        diagnosis: Some((d.title.clone(), d.transient)),
        fix: Some(d.fix.clone()),
        evidence: d.evidence.clone(),
        details,
    }
}

/// Records the diagnosis and queues "Build Diagnosed"; false when the
/// record already has one.
fn record_diagnosis(d: &mut Deployment, diagnosis: &Diagnosis) -> bool {
    if d.diagnosis.is_some() {
        return false;
    }
    d.diagnosis = Some(diagnosis.clone());
    let event = DiagnosisEvent {
        event_id: format!(
            "{}/{}/{}/diagnosed",
            d.key.app_id,
            d.key.branch_name,
            d.key.job_id.padded()
        ),
        environment: d.environment,
        app_id: d.key.app_id.clone(),
        branch_name: d.key.branch_name.clone(),
        job_id: d.key.job_id,
        commit_id: d.details.commit_id.clone(),
        category: diagnosis.category.clone(),
        title: diagnosis.title.clone(),
        transient: diagnosis.transient,
        fix: diagnosis.fix.clone(),
        is_rollback: d.is_rollback(),
        rollback_of: d.rollback_of,
    };
    if let Some(entry) = event.to_outbox(d.event_ids.len() as u64 + 400) {
        d.outbox.insert(entry.id.clone(), entry);
    }
    true
}

#[cfg(test)]
mod tests;
