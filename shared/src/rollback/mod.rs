//! Rollback and retry: a branch's rollback state and the guards over it
//! ([`state`]), the policy section and the stack's switch ([`policy`]), the
//! reactions to domain events ([`reaction`]) and the operator's commands
//! ([`operator`]: rollback, unlock, show).

pub mod operator;
pub mod policy;
pub mod reaction;
pub mod state;

pub use policy::{AutoRollback, RollbackPolicy};
pub use state::{BranchLock, Lease, Outcome, Refusal, RetryRecord, RollbackRecord, RollbackState};
