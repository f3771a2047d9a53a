//! Rollback and retry: a branch's rollback state and the guards over it
//! ([`state`]), the policy section and the stack's switch ([`policy`]), the
//! verdict a job's record holds, which is what is acted on ([`verdict`]),
//! the reactions to domain events ([`reaction`]) and the operator's
//! commands ([`operator`]: rollback, unlock, show).

pub mod operator;
pub mod policy;
pub mod ports;
pub mod reaction;
pub mod state;
pub mod verdict;

pub use policy::{AutoRollback, RollbackPolicy};
pub use state::{BranchLock, Lease, Outcome, Refusal, RetryRecord, RollbackRecord, RollbackState};
