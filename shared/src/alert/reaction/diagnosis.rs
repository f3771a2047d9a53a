//! A failed build: GetJob → the failed step's log → the diagnosis engine;
//! the diagnosis is recorded on the deployment, published as "Build
//! Diagnosed" and alerted with its fix.

use tracing::{info, warn};

use crate::alert::message::Content;
use crate::alert::{Severity, Signal};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{AmplifyError, Error, StoreError};
use crate::core::events::{BuildEvent, DiagnosisEvent, OWNER_ALERTER, detail_type as dt};
use crate::diagnose::ports::LogSource;
use crate::diagnose::{Diagnoser, Diagnosis};
use crate::effects::{self};
use crate::ports::{AmplifyApi, DeploymentStore};
use crate::stack::Stack;

use super::alerter::{AlertOutcome, Alerter};

impl<K: Stack> Alerter<'_, K> {
    pub(super) async fn on_build_failed(&self, event: &BuildEvent) -> Result<AlertOutcome, Error> {
        if event.app_id.source() == crate::core::model::Source::CloudFormation {
            return self.on_stack_failed(event).await;
        }
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
        if !key.app_id.is_amplify() {
            return Ok(not_amplify_diagnosis(key));
        }
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
}

/// A failed deploy that is not an Amplify job and has no diagnosis on its
/// record: a reported one sent none (no `--log`); there is no Amplify log
/// to fetch.
fn not_amplify_diagnosis(key: &DeploymentKey) -> Diagnosis {
    Diagnosis::log_unavailable(&format!(
        "{} reported its failure without a log: run `sentinel report failed --log FILE` to send its diagnosis",
        key.app_id
    ))
}

fn failure_content(event: &BuildEvent, d: &Diagnosis) -> Content {
    let mut summary = format!("Job {} failed", event.job_id);
    if let Some(phase) = &d.phase {
        summary.push_str(&format!(" in phase {phase}"));
    }
    if let Some(command) = &d.command {
        summary.push_str(&format!(", command \"{command}\""));
    }
    if let Some(code) = d.exit_code {
        summary.push_str(&format!(", exit code {code}"));
    }
    if let Some(secs) = event.duration_seconds {
        summary.push_str(&format!(", after {secs} s"));
    }
    summary.push('.');
    if let Some(cut) = &d.cut {
        summary.push_str(&format!(" Note: {cut}."));
    }
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
    if d.from_report {
        // Its text is the reporter's (masked and bounded on arrival): say
        // so where a reader weighs it.
        summary.push_str(
            " Diagnosed by the deploy script (sentinel report failed --log), not by Sentinel.",
        );
        details.insert(
            0,
            "The diagnosis below was sent by the deploy script with its report: Sentinel checked its category against the catalogue and took whether a retry can help from there, but did not read the log.".into(),
        );
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
pub(super) fn record_diagnosis(d: &mut Deployment, diagnosis: &Diagnosis) -> bool {
    if d.diagnosis.is_some() {
        return false;
    }
    d.diagnosis = Some(diagnosis.clone());
    let event = DiagnosisEvent {
        event_id: d.key.event_id("diagnosed"),
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
