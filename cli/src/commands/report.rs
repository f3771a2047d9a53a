//! `sentinel report`: a deploy Sentinel cannot see (a PM2 script, a CI
//! job) reports itself — one "Deployment Reported" event (source
//! `sentinel.report.<service>`) on the stack's bus, recorded by the build-event
//! handler like any deployment. With `--wait`, the CLI then reads the
//! deployment's record until the health checker's verdict is on it.
//! `docs/reporting.md`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use chrono::{DateTime, Utc};
use clap::ValueEnum;
use sentinel_shared::core::budget;
use sentinel_shared::core::deployment::{Deployment, DeploymentKey};
use sentinel_shared::core::model::{AppId, Environment, JobId};
use sentinel_shared::core::verdicts::Verdict;
use sentinel_shared::diagnose::Diagnosis;
use sentinel_shared::ingest::report_event::{
    self, ReportDetail, ReportStatus, check_commit, check_url, check_version, clean_diagnosis,
};
use sentinel_shared::lambda::aws;
use sentinel_shared::outbound::Outbound;
use sentinel_shared::ports::DeploymentStore;

use crate::commands::Ctx;
use crate::exit::{self, AwsFailure};
use crate::term;

/// What a deploy reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Status {
    Started,
    Succeeded,
    Failed,
}

impl Status {
    fn report(self) -> ReportStatus {
        match self {
            Status::Started => ReportStatus::Started,
            Status::Succeeded => ReportStatus::Succeeded,
            Status::Failed => ReportStatus::Failed,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// started, succeeded or failed.
    pub status: Status,
    /// The service deployed (letters, digits, '-', '_', '.'; at most 64).
    #[arg(long)]
    pub service: String,
    /// The commit deployed (7-40 hex digits).
    #[arg(long)]
    pub commit: String,
    /// Where the deployed service answers (https): on `succeeded`, the
    /// health checker checks it with the service's policy.
    #[arg(long)]
    pub url: Option<String>,
    /// What the service serves once deployed (else the commit is looked for).
    #[arg(long)]
    pub version: Option<String>,
    /// On `failed`: the deploy's log, diagnosed here; only the diagnosis
    /// (category, fix, masked evidence lines) is sent, never the log.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// The deploy's id (a number), the same for each report of one deploy:
    /// else SENTINEL_DEPLOY_ID, else the CI run (GITHUB_RUN_ID and
    /// GITHUB_RUN_ATTEMPT), else, for `started`, the time in milliseconds
    /// (printed: pass it to the later reports).
    #[arg(long)]
    pub deploy_id: Option<u64>,
    /// On `succeeded` with --url: wait for the health checker's verdict and
    /// exit 0 healthy, 1 unhealthy, 3 inconclusive, 5 no verdict in time.
    #[arg(long)]
    pub wait: bool,
    /// How long --wait waits, in seconds.
    #[arg(long, default_value_t = 300, requires = "wait")]
    pub timeout: u64,
    /// The stack's event bus (or --stack).
    #[arg(long, env = "SENTINEL_EVENT_BUS")]
    pub bus: Option<String>,
    /// The report as JSON on stdout instead of the deploy id alone.
    #[arg(long)]
    pub json: bool,
}

/// Sends the report; with `--wait`, waits for the health checker's verdict.
pub async fn run(args: Args, ctx: &Ctx) -> Result<ExitCode> {
    let environment = ctx
        .environment
        .context("no environment: pass --env (the stack's: dev, staging or prod) or set SENTINEL_ENVIRONMENT")?;
    let bus = ctx.bus(args.bus.clone())?.context(
        "report publishes on the stack's bus: pass --stack, or --bus (SENTINEL_EVENT_BUS)",
    )?;
    let outbound = sentinel_shared::outbound::Outbound::from_env("SENTINEL_SITE_ORIGINS")
        .map_err(|e| anyhow::anyhow!("SENTINEL_SITE_ORIGINS: {e}"))?;
    let prepared = prepare(
        &args,
        environment,
        &outbound,
        |name| std::env::var(name).ok(),
        chrono::Utc::now(),
    )?;
    if args.wait && ctx.table.is_none() {
        anyhow::bail!(
            "--wait reads the verdict from the stack's table: pass --stack, or --table (SENTINEL_TABLE)"
        );
    }
    let sdk = aws::load().await;
    send(&sdk, &bus, &prepared).await?;
    let key = &prepared.key;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "deployId": key.job_id.to_string(),
                "deployIdFrom": prepared.id_from,
                "app": key.app_id.as_str(),
                "environment": key.branch_name.as_str(),
                "status": prepared.detail.status.as_str(),
                "bus": bus,
            })
        );
    } else {
        println!("{}", key.job_id);
    }
    eprintln!(
        "sentinel: reported {} of {} in {} (deploy id {}, from {}) on {bus}",
        prepared.detail.status.as_str(),
        key.app_id,
        key.branch_name,
        key.job_id,
        prepared.id_from
    );
    if !args.wait {
        return Ok(ExitCode::SUCCESS);
    }
    let progress = term::Progress::start("waiting for the health checker's verdict");
    let waited = wait(
        &ctx.store().await?,
        key,
        std::time::Duration::from_secs(args.timeout),
    )
    .await?;
    drop(progress);
    eprintln!("sentinel: {}", render_waited(&waited, args.timeout));
    Ok(ExitCode::from(waited.exit_code()))
}

/// A checked report, ready to send.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub key: DeploymentKey,
    pub detail: ReportDetail,
    /// Where the deploy id came from (for the message).
    pub id_from: &'static str,
}

impl Prepared {
    /// The event's `source`: it names the service, so that the stack's IAM
    /// can hold the caller to the service its principal is tagged with.
    pub fn source(&self) -> String {
        report_event::source_for(&self.detail.service)
    }
}

/// Where the deploy id comes from (pure: the environment is passed in).
pub fn deploy_id(
    flag: Option<u64>,
    status: Status,
    var: impl Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
) -> Result<(u64, &'static str)> {
    if let Some(id) = flag {
        return Ok((id, "--deploy-id"));
    }
    if let Some(raw) = var("SENTINEL_DEPLOY_ID").filter(|v| !v.trim().is_empty()) {
        let id = raw
            .trim()
            .parse::<JobId>()
            .map_err(|e| anyhow::anyhow!("SENTINEL_DEPLOY_ID: {}", e.reason))?;
        return Ok((id.number(), "SENTINEL_DEPLOY_ID"));
    }
    if let Some(run) = var("GITHUB_RUN_ID").filter(|v| !v.trim().is_empty()) {
        let run: u64 = run
            .trim()
            .parse()
            .ok()
            .filter(|r| *r < 10_000_000_000_000_000)
            .context("GITHUB_RUN_ID is not a run id")?;
        let attempt: u64 = match var("GITHUB_RUN_ATTEMPT") {
            Some(a) => a
                .trim()
                .parse()
                .ok()
                .filter(|a| (1..1000).contains(a))
                .context("GITHUB_RUN_ATTEMPT is not an attempt number (1-999)")?,
            None => 1,
        };
        return Ok((
            run * 1000 + attempt,
            "GITHUB_RUN_ID*1000+GITHUB_RUN_ATTEMPT",
        ));
    }
    match status {
        Status::Started => Ok((now.timestamp_millis().max(1) as u64, "the time (ms)")),
        _ => bail!(
            "no deploy id: pass --deploy-id N (the number `sentinel report started` printed) \
             or set SENTINEL_DEPLOY_ID; in GitHub Actions the run's id is used"
        ),
    }
}

/// Checks every argument and builds the report (pure but for reading the
/// log file).
pub fn prepare(
    args: &Args,
    environment: Environment,
    outbound: &Outbound,
    var: impl Fn(&str) -> Option<String>,
    now: DateTime<Utc>,
) -> Result<Prepared> {
    let app =
        AppId::service(&args.service).map_err(|e| anyhow::anyhow!("--service: {}", e.reason))?;
    let commit = check_commit(&args.commit).map_err(|e| anyhow::anyhow!("--commit: {e}"))?;
    let url = match &args.url {
        None => None,
        Some(raw) => {
            let url = check_url(raw).map_err(|e| anyhow::anyhow!("--url: {e}"))?;
            let parsed = url::Url::parse(&url).map_err(|e| anyhow::anyhow!("--url: {e}"))?;
            outbound
                .check(&parsed)
                .map_err(|e| anyhow::anyhow!("--url: {e} (the health checker would refuse it)"))?;
            Some(url)
        }
    };
    let version = args
        .version
        .as_deref()
        .map(check_version)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--version: {e}"))?;
    if args.log.is_some() && args.status != Status::Failed {
        bail!("--log: only a failed deploy sends its log's diagnosis");
    }
    if args.url.is_some() && args.status == Status::Failed {
        bail!("--url: a failed deploy is not checked; report `succeeded` with its URL");
    }
    if args.wait && args.status != Status::Succeeded {
        bail!("--wait: only `succeeded` gets a verdict to wait for");
    }
    if args.wait && url.is_none() {
        bail!("--wait needs --url: without a URL there is no health check to wait for");
    }
    let diagnosis = match &args.log {
        None => None,
        Some(path) => Some(diagnose(path)?),
    };
    let (id, id_from) = deploy_id(args.deploy_id, args.status, var, now)?;
    let job_id: JobId =
        id.to_string()
            .parse()
            .map_err(|e: sentinel_shared::core::model::ParseError| {
                anyhow::anyhow!("deploy id: {}", e.reason)
            })?;
    let detail = ReportDetail {
        schema: report_event::SCHEMA,
        service: args.service.clone(),
        environment,
        deploy_id: job_id.to_string(),
        status: args.status.report(),
        commit,
        url,
        version,
        reported_at: now,
        diagnosis,
    };
    let key = DeploymentKey {
        app_id: app,
        branch_name: environment
            .as_str()
            .parse()
            .map_err(|e: sentinel_shared::core::model::ParseError| anyhow::anyhow!("{e}"))?,
        job_id,
    };
    Ok(Prepared {
        key,
        detail,
        id_from,
    })
}

/// The log's diagnosis, as the stack would store it (masked, bounded).
fn diagnose(path: &std::path::Path) -> Result<Diagnosis> {
    let file = std::fs::File::open(path).with_context(|| format!("--log {}", path.display()))?;
    let diagnosis = sentinel_shared::diagnose::diagnose_reader(file)
        .with_context(|| format!("--log {}", path.display()))?;
    clean_diagnosis(diagnosis).map_err(|e| anyhow::anyhow!("--log {}: {e}", path.display()))
}

/// Publishes the report on `bus`.
pub async fn send(sdk: &aws_config::SdkConfig, bus: &str, report: &Prepared) -> Result<()> {
    let detail = budget::json_detail(&report.detail, budget::EVENT_DETAIL)
        .context("the report does not fit in an event")?;
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(bus)
        .source(report.source())
        .detail_type(report_event::DETAIL_TYPE)
        .detail(detail)
        .build();
    let out = aws_sdk_eventbridge::Client::new(sdk)
        .put_events()
        .entries(entry)
        .send()
        .await
        .map_err(AwsFailure::of("EventBridge", "PutEvents"))?;
    if out.failed_entry_count() > 0 {
        let why = out
            .entries()
            .iter()
            .filter_map(|e| {
                Some(format!(
                    "{}: {}",
                    e.error_code()?,
                    e.error_message().unwrap_or_default()
                ))
            })
            .collect::<Vec<_>>()
            .join("; ");
        return Err(anyhow::Error::new(AwsFailure {
            service: "EventBridge",
            operation: "PutEvents",
            detail: format!("the report was refused on {bus}: {why}"),
        }));
    }
    Ok(())
}

/// What `--wait` ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited {
    Verdict {
        verdict: Verdict,
        reason: String,
        url: String,
    },
    TimedOut,
}

impl Waited {
    pub fn exit_code(&self) -> u8 {
        match self {
            Waited::Verdict {
                verdict: Verdict::Healthy,
                ..
            } => exit::SUCCESS,
            Waited::Verdict {
                verdict: Verdict::Unhealthy,
                ..
            } => exit::FINDING,
            Waited::Verdict {
                verdict: Verdict::Inconclusive,
                ..
            } => exit::INCONCLUSIVE,
            Waited::TimedOut => exit::TIMEOUT,
        }
    }
}

/// The verdict on the record, if any.
pub fn verdict_of(record: Option<&Deployment>) -> Option<Waited> {
    let health = record?.health.as_ref()?;
    Some(Waited::Verdict {
        verdict: health.verdict,
        reason: health.reason.clone(),
        url: health.url.clone(),
    })
}

/// Reads the record (GetItem) until its verdict is there, or `timeout`.
pub async fn wait<S: DeploymentStore>(
    store: &S,
    key: &DeploymentKey,
    timeout: Duration,
) -> Result<Waited> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(500);
    loop {
        let record = store
            .get_deployment(key)
            .await
            .context("reading the deployment's record")?;
        if let Some(waited) = verdict_of(record.as_ref()) {
            return Ok(waited);
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(Waited::TimedOut);
        }
        tokio::time::sleep(pause.min(deadline - now)).await;
        pause = (pause * 3 / 2).min(Duration::from_secs(5));
    }
}

pub fn render_waited(waited: &Waited, timeout: u64) -> String {
    match waited {
        Waited::Verdict {
            verdict,
            reason,
            url,
        } => format!("{verdict:?} at {url}: {reason}"),
        Waited::TimedOut => format!(
            "no verdict within {timeout} s: is the stack's health checker running? (`sentinel doctor`)"
        ),
    }
}

#[cfg(test)]
mod tests;
