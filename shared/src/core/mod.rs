//! The I/O-free kernel every feature builds on: ids and newtypes
//! ([`model`]), the deployment record and its order-independent state
//! machine ([`deployment`]), what a reaction concludes about a build
//! ([`verdicts`]), the domain events and their envelope ([`events`]),
//! errors ([`error`]) and secret masking ([`redact`]). It imports no feature.

pub mod deployment;
pub mod error;
pub mod events;
pub mod model;
pub mod redact;
pub mod verdicts;
