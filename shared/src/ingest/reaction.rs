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

use crate::core::deployment::{Applied, Deployment, DeploymentKey, JobDetails};
use crate::core::error::{AmplifyError, Error};
use crate::core::events::OWNER_INGEST;
use crate::core::model::{BuildStatus, Environment};
use crate::effects::{self, Decided, read_decide_write};
use crate::ingest::amplify_event::AmplifyStatusEvent;
use crate::ports::{AmplifyApi, BranchPointer, DeploymentStore, Stack};

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
        // The first attempt decides on the record read above; a conflict
        // re-reads it (no second GetJob).
        let mut first = Some(stored);
        let (record, applied) = read_decide_write(
            async || {
                let current = match first.take() {
                    Some(stored) => stored,
                    None => self.store.get_deployment(&key).await?,
                };
                Ok(current.unwrap_or_else(|| Deployment::new(key.clone(), self.environment)))
            },
            |record| {
                if let Some(d) = &details {
                    record.details.merge(d.clone());
                }
                Ok(match record.apply(event.observation()) {
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
