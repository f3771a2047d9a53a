//! Ingest: Amplify's status events ([`amplify_event`], the parser) become
//! recorded transitions and domain events ([`reaction`]).

pub mod amplify_event;
pub mod reaction;
pub mod stack_event;
#[cfg(test)]
mod stack_guards_tests;
pub mod stack_operation;
