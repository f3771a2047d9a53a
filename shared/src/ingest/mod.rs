//! Ingest: Amplify's status events ([`amplify_event`], the parser) and the
//! reports of deploys that report themselves ([`report_event`]) become
//! recorded transitions and domain events ([`reaction`]).

pub mod amplify_event;
mod envelope;
pub mod reaction;
pub mod report_conflict;
pub mod report_event;
pub mod stack_event;
#[cfg(test)]
mod stack_guards_tests;
pub mod stack_operation;
