//! Deploy Sentinel's domain crate: the model, the state machine, the ports
//! and their adapters, configuration and telemetry, shared by every function
//! and the operator CLI.

pub mod adapters;
pub mod alert;
pub mod alerter;
pub mod amplify_event;
pub mod aws;
pub mod cleanup;
pub mod collector;
pub mod config;
pub mod deployment;
pub mod diagnose;
pub mod error;
pub mod events;
pub mod health;
pub mod health_checker;
pub mod ingest;
pub mod measure;
pub mod metrics;
pub mod model;
pub mod outbox;
pub mod ports;
pub mod rollback;
pub mod rollbacker;
pub mod runtime;
pub mod sqs_batch;
pub mod telemetry;
pub mod validate;
pub mod validator;
