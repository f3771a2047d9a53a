//! Deploy Sentinel's domain crate, shared by the seven functions and the
//! operator CLI. One folder per feature (`docs/architecture.md`):
//!
//! - [`core`]: the I/O-free kernel (ids, the deployment record and its state
//!   machine, domain events, errors, masking); imports no feature.
//! - [`ports`] and [`adapters`]: the traits features talk to, and their AWS
//!   and in-memory implementations; [`effects`]: the read-decide-write loop
//!   and the outbox flush every reaction shares.
//! - [`policy`]: the branch policy, one section per feature.
//! - [`lambda`]: process plumbing (entry point, SQS batches, clients,
//!   configuration, logs); [`outbound`]: the rules every outbound HTTP
//!   request is held to (https, public addresses, pinned redirects).
//! - the features, each with its pure files and one `reaction.rs`:
//!   [`ingest`], [`validate`], [`health`], [`diagnose`], [`alert`],
//!   [`rollback`], [`metrics`], [`cleanup`].

pub mod adapters;
pub mod core;
pub mod effects;
pub mod github;
pub mod lambda;
pub mod measure;
pub mod outbound;
pub mod policy;
pub mod ports;
pub mod stack;
#[doc(hidden)]
pub mod template_text;

pub mod alert;
pub mod cleanup;
pub mod diagnose;
pub mod health;
pub mod ingest;
pub mod metrics;
pub mod rollback;
pub mod validate;
