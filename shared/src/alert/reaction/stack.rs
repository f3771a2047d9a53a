//! A watched stack's failed operation ("Build Failed" of a `cfn:`
//! deployment): DescribeStackEvents of that operation, down nested stacks
//! to the failing resource (`crate::diagnose::stack`); the diagnosis is
//! recorded, published as "Build Diagnosed" and alerted once per incident,
//! like a build's. Amplify is never called for it.

use tracing::{info, warn};

use crate::alert::message::{Content, Context};
use crate::alert::{Severity, Signal};
use crate::core::deployment::DeploymentKey;
use crate::core::error::{CloudFormationError, Error, StoreError};
use crate::core::events::{BuildEvent, OWNER_ALERTER, detail_type as dt};
use crate::core::model::{AppId, BranchName, Environment, JobId};
use crate::diagnose::Diagnosis;
use crate::diagnose::stack::{self as stack_diagnosis, Trail};
use crate::effects;
use crate::ingest::stack_operation::{Operation, read_operation};
use crate::ports::DeploymentStore;
use crate::stack::Stack;

use super::alerter::{AlertOutcome, Alerter};
use super::diagnosis::record_diagnosis;

/// Nested stacks followed at most (CloudFormation allows deeper; a
/// failure five levels down is named at the fifth).
const MAX_DEPTH: usize = 5;

impl<K: Stack> Alerter<'_, K> {
    pub(super) async fn on_stack_failed(&self, event: &BuildEvent) -> Result<AlertOutcome, Error> {
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
            let diagnosis = self.diagnose_stack(&key).await?;
            info!(category = %diagnosis.category, resource = ?diagnosis.phase, "stack operation diagnosed");
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
            None,
            None,
            None,
        );
        let needs_a_human = record
            .details
            .steps
            .iter()
            .any(|s| crate::ingest::stack_event::needs_a_human(&s.name));
        let content = content(event, &record.details.job_type, &diagnosis, needs_a_human);
        let signal = Signal::Failure {
            key: format!("build:{}", diagnosis.category),
            job: Some(event.job_id),
            severity: if needs_a_human {
                Severity::Critical
            } else {
                Severity::Error
            },
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

    /// Reads the operation's events, then each failing nested stack's.
    async fn diagnose_stack(&self, key: &DeploymentKey) -> Result<Diagnosis, Error> {
        let stack = key.app_id.name();
        let started = i64::try_from(key.job_id.number()).unwrap_or(i64::MAX);
        let top =
            match read_operation(self.cloudformation, stack, Operation::StartedAt(started)).await {
                Ok(Some((_, events))) => events,
                Ok(None) => {
                    return Ok(stack_diagnosis::unavailable(
                        stack,
                        "the operation is no longer in the stack's events",
                    ));
                }
                Err(CloudFormationError::Unavailable(m)) => {
                    return Err(CloudFormationError::Unavailable(m).into());
                }
                Err(e) => return Ok(stack_diagnosis::unavailable(stack, &e.to_string())),
            };
        let token = top.first().and_then(|e| e.client_request_token.clone());
        let mut trail = Trail {
            levels: vec![top],
            cut: None,
        };
        while trail.levels.len() < MAX_DEPTH {
            let Some(last) = trail.levels.last() else {
                break;
            };
            let Some(root) = stack_diagnosis::root_cause(last) else {
                break;
            };
            let Some(child) = stack_diagnosis::nested_child(root).map(str::to_owned) else {
                break;
            };
            let at = root.timestamp;
            // A child's events carry the root operation's token; when they
            // do not, the child's operation under way when it failed.
            let by_token = match &token {
                Some(t) => read_operation(self.cloudformation, &child, Operation::Token(t)).await,
                None => Ok(None),
            };
            let found = match by_token {
                Ok(Some(found)) => Ok(Some(found)),
                Ok(None) => read_operation(self.cloudformation, &child, Operation::At(at)).await,
                Err(e) => Err(e),
            };
            match found {
                Ok(Some((_, events))) => trail.levels.push(events),
                Ok(None) => {
                    trail.cut = Some(format!("the nested stack {child} has no matching events"));
                    break;
                }
                Err(CloudFormationError::Unavailable(m)) => {
                    return Err(CloudFormationError::Unavailable(m).into());
                }
                Err(e) => {
                    warn!(error = %e, "nested stack unreadable");
                    trail.cut = Some(format!("the nested stack could not be read: {e}"));
                    break;
                }
            }
        }
        Ok(stack_diagnosis::diagnose(stack, &trail))
    }
}

fn content(
    event: &BuildEvent,
    kind: &Option<String>,
    d: &Diagnosis,
    needs_a_human: bool,
) -> Content {
    let operation = kind.as_deref().unwrap_or("stack").to_ascii_lowercase();
    let mut summary = format!(
        "The {operation} of stack {} ({}) failed",
        event.app_id.name(),
        event.branch_name
    );
    if let Some(resource) = &d.phase {
        summary.push_str(&format!(" on {resource}"));
        if let Some(kind) = &d.command {
            summary.push_str(&format!(" ({kind})"));
        }
    }
    if let Some(secs) = event.duration_seconds {
        summary.push_str(&format!(", after {secs} s"));
    }
    summary.push('.');
    if needs_a_human {
        summary.push_str(" The rollback failed too: the stack accepts no update until someone runs continue-update-rollback.");
    }
    if let Some(cut) = &d.cut {
        summary.push_str(&format!(" Note: {cut}."));
    }
    let details = d
        .secondary
        .iter()
        .map(|s| s.title.clone())
        .chain(std::iter::once(format!(
            "{} stack event(s) of the operation read.",
            d.lines
        )))
        .collect();
    Content {
        event_type: dt::BUILD_FAILED.into(),
        headline: "Stack deploy failed".into(),
        category: d.category.clone(),
        severity: if needs_a_human {
            Severity::Critical
        } else {
            Severity::Error
        },
        summary,
        diagnosis: Some((d.title.clone(), d.transient)),
        fix: Some(d.fix.clone()),
        evidence: d.evidence.clone(),
        details,
    }
}

/// The message context of a stack: no site, the stack's events in the
/// CloudFormation console.
#[allow(clippy::too_many_arguments)]
pub(super) fn context(
    region: &str,
    environment: Environment,
    app_id: &AppId,
    branch_name: &BranchName,
    job_id: Option<JobId>,
    commit_id: Option<String>,
    commit_message: Option<String>,
    site_url: Option<String>,
) -> Context {
    let stack: String = url::form_urlencoded::byte_serialize(app_id.name().as_bytes()).collect();
    Context {
        environment,
        app_id: app_id.clone(),
        branch_name: branch_name.clone(),
        job_id,
        commit_id,
        commit_message,
        console_url: Some(format!(
            "https://{region}.console.aws.amazon.com/cloudformation/home?region={region}#/stacks/events?stackId={stack}"
        )),
        site_url,
        author: None,
        custom_site_url: None,
    }
}
