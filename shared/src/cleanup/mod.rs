//! Cleanup and reconciliation: nothing piles up, nothing is missed.
//!
//! Once a day (and on demand, `sentinel cleanup [--dry-run]`):
//!
//! 1. **Reconcile stuck jobs**: a deployment still Started past the build
//!    timeout plus a margin is looked up with GetJob; an ended job's status
//!    goes through ingest — the same state machine, outbox and domain events
//!    as an Amplify event, so the other functions run — and a job Amplify no
//!    longer has is marked timed out.
//! 2. **Ingest missed jobs**: each watched branch's recent jobs (ListJobs)
//!    that no event reported are ingested the same way.
//! 3. **Conclude unfinished bakes**: a bake still running hours past its
//!    end (a step's message lost or dead-lettered) is ended Inconclusive,
//!    and its "Deployment Check Inconclusive" alerted
//!    ([`crate::health::bake::overdue`]).
//! 4. **Retention** ([`plan()`]): what TTL cannot do — items written before a
//!    retention change, state of deleted branches and apps (ListApps,
//!    ListBranches), stale leases and locks of deleted branches, and TTL
//!    pushed back on what must never go (a branch's live job and last known
//!    good, the last 10 successful production deployments of a branch, any
//!    job an open incident or a lock refers to).
//! 5. **Report**: counts per kind of change, published as "Cleanup
//!    Completed" and emitted as metrics.
//!
//! A dry run calls only read APIs and changes nothing. Every step is
//! idempotent: reconciliation events have deterministic ids, deletions and
//! expiry changes converge, so two runs in a row do what one run does.
//!
//! - [`plan`](mod@plan): the pure planner — retention, protected jobs, which
//!   jobs are stuck, the reconciliation event.
//! - [`report`]: the counts of a run, its event and its metrics line.
//! - [`reaction`]: [`Cleanup`], the run itself; the only file that talks to
//!   ports.

pub mod plan;
pub mod ports;
pub mod reaction;
pub mod report;

pub use plan::{AmplifyView, Change, ChangeKind, Plan, Retention, plan};
pub use reaction::Cleanup;
pub use report::{CLEANUP_COMPLETED, OWNER_CLEANUP, Report};

#[cfg(test)]
mod tests;
