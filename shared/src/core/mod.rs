//! The I/O-free kernel every feature builds on: ids and newtypes
//! ([`model`]), the deployment record ([`deployment`]) and its
//! order-independent state machine ([`transitions`]), what a reaction concludes about a build
//! ([`verdicts`]), the domain events and their envelope ([`events`]), the
//! outbox a record keeps until they are published ([`outbox`]), errors
//! ([`error`]), secret masking ([`redact`]), the watch scope ([`scope`])
//! and the version every stored item is written under ([`version`]). It imports no feature.

pub mod bake;
pub mod budget;
pub mod deployment;
pub mod enforcement;
pub mod error;
pub mod events;
pub mod figures;
pub mod model;
pub mod outbox;
pub mod redact;
pub mod scope;
pub mod transitions;
pub mod verdicts;
pub mod version;
