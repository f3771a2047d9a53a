//! `sentinel report` against the local stack: the real CLI publishes on the
//! stack's bus, the template's ReportRule routes to the ingest queue, the
//! real functions record, check and recommend. The PM2 example
//! (`examples/pm2/deploy.sh`) runs with the real pm2 (`.tools`, installed by
//! `scripts/bootstrap.sh`) and a site on 127.0.0.1:$REPORT_SITE_PORT (the
//! origin the local health checker may request).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result};
use sentinel_shared::core::deployment::{Deployment, DeploymentKey};
use sentinel_shared::core::model::{AppId, BuildStatus, JobId};
use sentinel_shared::core::verdicts::Verdict;
use sentinel_shared::ports::DeploymentStore;
use serde_json::json;

use aws_sdk_dynamodb::types::AttributeValue as AttrValue;
use chrono::{DateTime, Utc};
use sentinel_shared::adapters::dynamodb::branch_pk;

use crate::helpers::{Stack, dead_letter_reason, env, eventually, unique_app_id};

mod checks;
mod pm2;
mod records;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn sentinel_bin() -> PathBuf {
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    PathBuf::from(format!("{target}/debug/sentinel"))
}

fn sentinel(args: &[&str]) -> Output {
    Command::new(sentinel_bin())
        .args(args)
        .output()
        .expect("the sentinel binary (cargo build --workspace --bins)")
}

/// A service name of its own per test (the `dit…` of a unique app id).
fn unique_service() -> String {
    format!("svc-{}", &unique_app_id().as_str()[1..])
}

fn commit(n: u8) -> String {
    format!("{:040x}", 0xabc0_0000_u64 + u64::from(n))
}

async fn record(stack: &Stack, service: &str, deploy_id: u64) -> Result<Option<Deployment>> {
    let key = DeploymentKey {
        app_id: AppId::service(service)?,
        branch_name: stack.environment().as_str().parse()?,
        job_id: JobId::new(deploy_id),
    };
    Ok(stack.store().get_deployment(&key).await?)
}
