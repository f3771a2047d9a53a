//! Ingest: turn one Amplify status event into a recorded transition and the
//! domain events it implies — idempotently.
//!
//! The steps, and why in this order:
//! 1. read the record; a delivery already applied only flushes what is left in
//!    its outbox (a publish that failed last time), then stops;
//! 2. enrich with `GetJob` (before writing, so the record and the domain
//!    event carry commit and times); a job Amplify no longer has is recorded
//!    with what the event carries; a transient error fails the delivery so it
//!    comes again;
//! 3. apply the observation and write conditionally on the version read; on
//!    a conflict, read again and re-apply (no second `GetJob`);
//! 4. move the branch's live job forward (conditional, order-independent);
//! 5. publish the outbox, then remove what was published. A failure in 4 or 5
//!    fails the delivery; its retry finds the event applied and repeats 4 and
//!    5 — the event is never dropped as a duplicate.

use tracing::{info, warn};

use crate::core::deployment::JobStep;
use crate::core::deployment::{Deployment, DeploymentKey, JobDetails};
use crate::core::error::{AmplifyError, CloudFormationError, Error};
use crate::core::events::OWNER_INGEST;
use crate::core::model::{BuildStatus, Environment};
use crate::core::transitions::{Applied, Observation};
use crate::effects::{self, Decided, read_decide_write};
use crate::ingest::amplify_event::AmplifyStatusEvent;
use crate::ingest::report_conflict;
use crate::ingest::report_event::ReportEvent;
use crate::ingest::stack_event::{self, StackStatusEvent, StackStatusMeaning};
use crate::ingest::stack_operation::{self, Operation, environment_label, read_operation};
use crate::ports::{AmplifyApi, BranchPointer, CloudFormationApi, DeploymentStore, StackEvent};
use crate::stack::Stack;

/// What ingest did with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestOutcome {
    /// Recorded; `published` domain events went out.
    Recorded {
        status: BuildStatus,
        status_changed: bool,
        published: usize,
    },
    /// Already applied; `published` left-over events went out.
    Duplicate { published: usize },
    /// Not a deployment (a stack's deletion, an update that changed
    /// nothing, a nested stack): nothing recorded.
    Skipped { why: String },
}

pub struct Ingest<'a, K: Stack> {
    pub store: &'a K::Store,
    pub amplify: &'a K::Amplify,
    pub publisher: &'a K::Publisher,
    pub environment: Environment,
}

impl<K: Stack> Ingest<'_, K> {
    pub async fn ingest(&self, event: &AmplifyStatusEvent) -> Result<IngestOutcome, Error> {
        let key = event.key();
        let stored = self.store.get_deployment(&key).await?;
        if let Some(existing) = stored.as_ref().filter(|d| d.has_seen(&event.id)) {
            let published = self.finish(existing).await?;
            info!(published, "duplicate delivery");
            return Ok(IngestOutcome::Duplicate { published });
        }
        let details = self.enrich(&key).await?;
        self.record(&key, stored, event.observation(), details)
            .await
    }

    /// Applies one observation to the record of `key` (`stored`, as read)
    /// with what is known of the job, writes it conditionally, and finishes
    /// (pointer, outbox). Shared by every source.
    pub(crate) async fn record(
        &self,
        key: &DeploymentKey,
        stored: Option<Deployment>,
        observation: Observation,
        details: Option<JobDetails>,
    ) -> Result<IngestOutcome, Error> {
        // The first attempt decides on the record read by the caller; a
        // conflict re-reads it (no second enrichment).
        let mut first = Some(stored);
        let (record, applied) = read_decide_write(
            async || {
                let current = match first.take() {
                    Some(stored) => stored,
                    None => self.store.get_deployment(key).await?,
                };
                Ok(current.unwrap_or_else(|| Deployment::new(key.clone(), self.environment)))
            },
            |record| {
                if let Some(d) = &details {
                    record.details.merge(d.clone());
                }
                Ok(match record.apply(observation.clone()) {
                    Applied::Duplicate => Decided::Keep(Applied::Duplicate),
                    applied => Decided::Write(applied),
                })
            },
            async |record| self.store.save_deployment(record).await,
        )
        .await?;
        if applied == Applied::Duplicate {
            // A concurrent delivery of the same event won the race.
            let published = self.finish(&record).await?;
            return Ok(IngestOutcome::Duplicate { published });
        }

        let published = self.finish(&record).await?;
        let status_changed = matches!(
            applied,
            Applied::Recorded {
                new_status: Some(_)
            }
        );
        info!(
            status = %record.status,
            status_changed,
            published,
            "recorded"
        );
        Ok(IngestOutcome::Recorded {
            status: record.status,
            status_changed,
            published,
        })
    }

    /// A deploy's own report (`sentinel report`): recorded like an Amplify
    /// event, without `GetJob` (nothing to ask: the report carries its
    /// commit, URL, version and, on a failure, its diagnosis). The report's
    /// values are merged by [`merge_report`], so the same report twice, or
    /// the reports of one deploy in any order, leave the same record.
    pub async fn ingest_report(&self, report: &ReportEvent) -> Result<IngestOutcome, Error> {
        if report.environment != self.environment {
            return Err(crate::core::error::MalformedEvent::new(
                &report.id,
                format!(
                    "detail.environment: the report is for {}, this stack serves {}",
                    report.environment.as_str(),
                    self.environment.as_str()
                ),
            )
            .into());
        }
        let key = &report.key;
        let observation = report.observation();
        let (record, applied) = read_decide_write(
            async || {
                Ok(self
                    .store
                    .get_deployment(key)
                    .await?
                    .unwrap_or_else(|| Deployment::new(key.clone(), self.environment)))
            },
            |record| {
                // Decided on the record before this report is merged into it.
                let conflict = report_conflict::detect(record, report);
                if record.has_seen(&observation.event_id) {
                    // The same report again is a duplicate; the same status
                    // saying something else is alerted, and changes nothing.
                    return Ok(match conflict {
                        Some(c) if c.record(record) => {
                            Decided::Write(Applied::Recorded { new_status: None })
                        }
                        _ => Decided::Keep(Applied::Duplicate),
                    });
                }
                if let Some(c) = conflict {
                    c.record(record);
                }
                merge_report(record, report);
                Ok(match record.apply(observation.clone()) {
                    Applied::Duplicate => Decided::Keep(Applied::Duplicate),
                    applied => Decided::Write(applied),
                })
            },
            async |record| self.store.save_deployment(record).await,
        )
        .await?;
        let published = self.finish(&record).await?;
        let outcome = match applied {
            Applied::Duplicate => IngestOutcome::Duplicate { published },
            Applied::Recorded { new_status } => IngestOutcome::Recorded {
                status: record.status.clone(),
                status_changed: new_status.is_some(),
                published,
            },
        };
        info!(status = %record.status, ?outcome, "report recorded");
        Ok(outcome)
    }

    async fn enrich(&self, key: &DeploymentKey) -> Result<Option<JobDetails>, Error> {
        match self.amplify.get_job(key).await {
            Ok(details) => Ok(Some(details)),
            Err(AmplifyError::NotFound(what)) => {
                warn!(%what, "job not found in Amplify; recording what the event carries");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The effects that follow a recorded state, repeated on every delivery
    /// so that a retry completes what a failed attempt left undone. Both are
    /// idempotent.
    async fn finish(&self, record: &Deployment) -> Result<usize, Error> {
        if record.status == BuildStatus::Succeeded {
            self.store
                .advance_pointer(
                    &record.key,
                    record.details.commit_id.as_deref(),
                    BranchPointer::Live,
                )
                .await?;
        }
        effects::flush(self.store, self.publisher, record, OWNER_INGEST).await
    }
}

/// Ingest of a watched stack's "CloudFormation Stack Status Change": the
/// operation found with DescribeStackEvents becomes the deployment's key
/// (`stack_operation`), the status its observation; then the same record,
/// pointer and outbox as an Amplify job.
pub struct StackIngest<'a, K: Stack> {
    pub ingest: Ingest<'a, K>,
    pub cloudformation: &'a K::CloudFormation,
}

impl<K: Stack> StackIngest<'_, K> {
    pub async fn ingest_stack(&self, event: &StackStatusEvent) -> Result<IngestOutcome, Error> {
        let status = match event.meaning() {
            StackStatusMeaning::Record(status) => status,
            StackStatusMeaning::NotADeployment(why) => {
                info!(why, status = %event.status, "not a deployment");
                return Ok(IngestOutcome::Skipped { why: why.into() });
            }
        };
        let stack = match self.cloudformation.describe_stack(&event.stack_id).await {
            Ok(stack) => Some(stack),
            // Gone (DescribeStacks by id finds a deleted stack for 90
            // days): the name alone tells the environment.
            Err(CloudFormationError::NotFound(what)) => {
                warn!(%what, "stack not found; environment from its name");
                None
            }
            Err(e) => return Err(e.into()),
        };
        if let Some(parent) = stack.as_ref().and_then(|s| s.parent_id.as_deref()) {
            info!(%parent, "a nested stack: its operation is its root stack's");
            return Ok(IngestOutcome::Skipped {
                why: "a nested stack: recorded and diagnosed through its root stack".into(),
            });
        }
        let op = match &event.client_request_token {
            Some(token) => Operation::Token(token),
            None => Operation::At(event.time),
        };
        let Some((first, events)) =
            read_operation(self.cloudformation, &event.stack_id, op).await?
        else {
            // CloudFormation lists an event before it emits it; one not
            // listed yet is listed on a retry.
            return Err(CloudFormationError::Unavailable(format!(
                "the operation of event {} is not in the stack's events yet",
                event.id
            ))
            .into());
        };
        let tags = stack.map(|s| s.tags).unwrap_or_default();
        let key = DeploymentKey {
            app_id: event.app_id.clone(),
            branch_name: environment_label(&tags, &event.stack_name),
            job_id: stack_operation::job_id(&first),
        };
        let stored = self.ingest.store.get_deployment(&key).await?;
        if let Some(existing) = stored.as_ref().filter(|d| d.has_seen(&event.id)) {
            let published = self.ingest.finish(existing).await?;
            info!(published, "duplicate delivery");
            return Ok(IngestOutcome::Duplicate { published });
        }
        let details = operation_details(event, &first, &events, &status);
        let observation = Observation {
            event_id: event.id.clone(),
            status,
            at: event.time,
        };
        self.ingest
            .record(&key, stored, observation, Some(details))
            .await
    }
}

/// What the operation's events say about the job: its kind, start and (for
/// this event's terminal status) end, and — for a rollback that failed —
/// a step that says a person must act. Each part depends only on the
/// operation, never on which event brought it.
fn operation_details(
    event: &StackStatusEvent,
    first: &StackEvent,
    events: &[StackEvent],
    status: &BuildStatus,
) -> JobDetails {
    let end_time = status.is_terminal().then(|| {
        events
            .iter()
            .find(|e| e.is_stack_level() && e.resource_status == event.status)
            .map_or(event.time, |e| e.timestamp)
    });
    let steps = if stack_event::needs_a_human(&event.status) {
        vec![JobStep {
            name: event.status.clone(),
            status: BuildStatus::Failed,
            status_reason: Some(format!(
                "the rollback failed: the stack waits for a person (aws cloudformation continue-update-rollback --stack-name {})",
                event.stack_name
            )),
        }]
    } else {
        Vec::new()
    };
    JobDetails {
        job_type: Some(stack_event::operation_kind(&first.resource_status).to_owned()),
        start_time: Some(first.timestamp),
        end_time,
        steps,
        ..JobDetails::default()
    }
}

/// What a report adds to its record besides the transition. A terminal
/// report's commit, URL and version win over the started report's; the
/// started one's only fill what is absent. The failed report's diagnosis
/// is the record's diagnosis (the alerter uses it and fetches no log).
/// Deciding on the phase, not on arrival, keeps the merge order-independent.
pub fn merge_report(record: &mut Deployment, report: &ReportEvent) {
    use crate::ingest::report_event::ReportStatus;
    let terminal = report.status != ReportStatus::Started;
    let reported = record.reported.get_or_insert_with(Default::default);
    let take = |old: &mut Option<String>, new: &Option<String>| {
        if new.is_some() && (terminal || old.is_none()) {
            old.clone_from(new);
        }
    };
    take(&mut reported.url, &report.reported.url);
    take(&mut reported.version, &report.reported.version);
    take(&mut record.details.commit_id, &Some(report.commit.clone()));
    if record.details.job_type.is_none() {
        record.details.job_type = Some("REPORT".into());
    }
    if report.status == ReportStatus::Failed && record.diagnosis.is_none() {
        record.diagnosis = report.diagnosis.clone();
    }
}
