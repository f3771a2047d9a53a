//! Integration tests against the local stack (`make test` starts it).

mod alert;
mod amplify_emulator;
mod bake;
mod check;
mod cleanup;
mod doctor;
mod end_to_end;
mod github;
mod github_report;
mod health;
mod helpers;
mod ingest;
mod metrics;
mod observe;
mod operator;
mod report;
mod rollback;
mod scope;
mod skip;
mod stacks;
mod validator;
