//! Process plumbing shared by the seven function binaries: the entry point
//! and delivery parsing ([`runtime`]), SQS batch handling ([`sqs_batch`]),
//! AWS client set-up ([`aws`]), typed configuration ([`config`]) and logs
//! ([`telemetry`]).

pub mod aws;
pub mod config;
pub mod runtime;
pub mod sqs_batch;
pub mod telemetry;
