//! `sentinel`: the operator CLI. It uses the same engine and the same table,
//! through the same adapters, as the functions.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sentinel_shared::adapters::Aws;
use sentinel_shared::adapters::amplify::AmplifyClient;
use sentinel_shared::adapters::dynamodb::DynamoStore;
use sentinel_shared::adapters::eventbridge::EventBridgePublisher;
use sentinel_shared::core::model::{AppId, BranchName, Environment, Source};
use sentinel_shared::lambda::aws;
use sentinel_shared::policy::BranchPolicy;
use sentinel_shared::ports::{DeploymentFilter, DeploymentStore, PolicyStore};
use sentinel_shared::validate::{self, Platform, local};

mod alert_test;
mod dlq;
mod doctor;
mod exit;
mod github;
mod render;
mod report;
mod stack;
mod term;

#[derive(Parser)]
#[command(
    name = "sentinel",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SENTINEL_COMMIT"), ")"),
    about = "Deploy Sentinel operator CLI",
    after_help = exit::HELP
)]
struct Cli {
    /// DynamoDB table of the stack.
    #[arg(long, env = "SENTINEL_TABLE", global = true)]
    table: Option<String>,
    /// Environment (dev, staging, prod): the stack's, or the build's for `validate`.
    #[arg(long = "env", env = "SENTINEL_ENVIRONMENT", global = true)]
    environment: Option<Environment>,
    /// The deployed stack (`deploy-sentinel-prod`): its table, bus,
    /// environment, retention and watch scope are read from CloudFormation
    /// (outputs and parameters); a flag that disagrees is refused.
    #[arg(long, env = "SENTINEL_STACK", global = true)]
    stack: Option<String>,
    /// Show times in this machine's time zone instead of UTC.
    #[arg(long, global = true)]
    local: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Report a deploy Sentinel cannot see (a PM2 script, a CI job):
    /// started, succeeded (with --url: health-checked; --wait for the
    /// verdict) or failed (with --log: its diagnosis, never the log).
    /// Prints the deploy id. The environment is --env (the stack's).
    Report(report::ReportArgs),
    /// List recorded deployments, newest first.
    Deployments {
        /// Only this app's deployments.
        #[arg(long)]
        app: Option<AppId>,
        /// Only this branch's deployments.
        #[arg(long)]
        branch: Option<BranchName>,
        /// Only deployments of this source: amplify, cloudformation or
        /// report (every source by default, side by side).
        #[arg(long)]
        source: Option<Source>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Validate a build's configuration: exit 0 when no error (warnings
    /// allowed), 1 on errors, 2 on bad usage or unreadable input.
    Validate {
        /// Directory holding amplify.yml, package.json, package-lock.json.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Read variables from this file (KEY=VALUE) instead of the process environment.
        #[arg(long)]
        env_file: Option<PathBuf>,
        /// WEB (static) or WEB_COMPUTE (SSR).
        #[arg(long, default_value = "WEB_COMPUTE", value_parser = parse_platform)]
        platform: Platform,
        /// Policy file (YAML or JSON); the built-in Next.js policy otherwise.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Memory of the build instance in GiB (8, 16 or 72).
        #[arg(long, default_value_t = 8)]
        memory_gib: u32,
        /// Findings as JSON, with their rule ids.
        #[arg(long)]
        json: bool,
    },
    /// Check a site like the health checker does: exit 0 healthy, 1
    /// unhealthy, 3 inconclusive, 2 bad usage.
    Check {
        /// The site's root URL.
        url: String,
        /// The commit the site must report (a prefix of 7+ characters counts).
        #[arg(long)]
        expect_commit: Option<String>,
        /// Paths to check (GET, expecting 2xx); default: the policy's, else `/`.
        #[arg(long = "path")]
        paths: Vec<String>,
        /// Seconds to reach a verdict.
        #[arg(long, default_value_t = 60)]
        deadline: u64,
        /// Hosts requests and redirects may also go to (the URL's own always may).
        #[arg(long = "allow-host")]
        allow_hosts: Vec<String>,
        /// Seconds an old version may still be served before it counts as a
        /// failure (by hand: 0, you check now; the health checker waits).
        #[arg(long, default_value_t = 0)]
        grace: u64,
        /// A policy file whose `health` section to use.
        #[arg(long)]
        policy: Option<PathBuf>,
        /// The report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Read or write the validation policy of an app or branch.
    Policy {
        #[command(subcommand)]
        action: PolicyAction,
    },
    /// Roll a branch back to its last known good job (or --to JOB): the same
    /// path and guards as the automatic rollback; locks the branch.
    Rollback {
        /// The app whose branch to roll back.
        #[arg(long)]
        app: AppId,
        /// The branch to roll back.
        #[arg(long)]
        branch: BranchName,
        /// The job to go back to (default: the branch's last known good).
        #[arg(long)]
        to: Option<sentinel_shared::core::model::JobId>,
        /// Why (recorded with the rollback and told in its alert).
        #[arg(long, default_value = "requested by an operator")]
        reason: String,
        /// Who asks (recorded; default: $USER).
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        /// The stack's event bus (or --stack).
        #[arg(long, env = "SENTINEL_EVENT_BUS")]
        bus: Option<String>,
        /// The stack's watched apps: a branch outside the watch scope is
        /// never rolled back (none: every app).
        #[arg(long = "watched", env = "SENTINEL_APP_IDS", value_delimiter = ',')]
        watched_apps: Vec<AppId>,
        /// The stack's watched branch patterns (none: every branch).
        #[arg(long = "branches", env = "SENTINEL_BRANCHES")]
        watched_branches: Option<String>,
        /// What happened as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Release a branch's lock: auto-build as it was before the lock (a manual
    /// branch stays manual), recorded with who. Without a lock, nothing changes.
    Unlock {
        /// The app whose branch to unlock.
        #[arg(long)]
        app: AppId,
        /// The branch to unlock.
        #[arg(long)]
        branch: BranchName,
        /// Who releases it (recorded; default: $USER).
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        /// What happened as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Delivery figures of the environment (--env) over a window: build
    /// success rate and durations, and the four DORA keys with their tier.
    /// Computed from the table like the metrics collector does; --app and
    /// --branch narrow it to an app's or a branch's deployments.
    Metrics {
        /// 1d, 7d or 30d.
        #[arg(long, default_value = "7d", value_parser = parse_window)]
        window: u32,
        /// The end of the window (RFC 3339); default now.
        #[arg(long)]
        at: Option<chrono::DateTime<chrono::Utc>>,
        /// Only this app's deployments.
        #[arg(long)]
        app: Option<AppId>,
        /// Only this branch's deployments (of every app, or of --app);
        /// `previews` stands for the pull-request previews (`pr-N`).
        #[arg(long)]
        branch: Option<BranchName>,
        /// Only deployments of this source: amplify, cloudformation or
        /// report (a reported service's branch is its environment).
        #[arg(long)]
        source: Option<Source>,
        /// The figures as JSON (the collector's snapshot shape, with `app`
        /// and `branch` when given).
        #[arg(long)]
        json: bool,
    },
    /// Cleanup and reconciliation, as the daily run does: retention, state of
    /// deleted branches, stuck and missed jobs. --dry-run prints what would be
    /// done and changes nothing.
    Cleanup {
        /// Say what it would do, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Limit the run to this app's items and branches (repeatable;
        /// default: the whole table).
        #[arg(long = "app")]
        only_apps: Vec<AppId>,
        /// The apps whose branches are reconciled: the stack's watched apps
        /// (none: every app).
        #[arg(long = "watched", env = "SENTINEL_APP_IDS", value_delimiter = ',')]
        watched_apps: Vec<AppId>,
        /// The watched branch patterns: the stack's WatchedBranches
        /// (`main,release/*`, `!` excludes; none: every branch).
        #[arg(long = "branches", env = "SENTINEL_BRANCHES")]
        watched_branches: Option<String>,
        /// The watched CloudFormation stacks: the stack's WatchedStacks
        /// (names or `shop-*` patterns; none: no stack is reconciled).
        #[arg(long = "stacks", env = "SENTINEL_STACKS")]
        watched_stacks: Option<String>,
        /// Days deployment records are kept: the stack's RetentionDays
        /// (required: a command that deletes never guesses it).
        #[arg(long, env = "SENTINEL_RETENTION_DAYS")]
        retention_days: Option<u32>,
        /// The stack's event bus (for "Cleanup Completed" and reconciled
        /// events); a dry run publishes nothing and does not need it.
        #[arg(long, env = "SENTINEL_EVENT_BUS")]
        bus: Option<String>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The dead-letter queue: what is in it and why (`show`), and the
    /// redrive that sends each message back to its own source queue.
    Dlq {
        #[command(subcommand)]
        action: DlqAction,
        /// The stack's dead-letter queue URL (or --stack).
        #[arg(long, env = "SENTINEL_DLQ_URL", global = true)]
        dlq: Option<String>,
        /// The messages, or what the redrive did, as JSON.
        #[arg(long, global = true)]
        json: bool,
    },
    /// Print a shell completion script: `sentinel completions bash >
    /// /etc/bash_completion.d/sentinel` (zsh: into a directory of
    /// `$fpath` as `_sentinel`; fish: `~/.config/fish/completions/`).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Explain a failed build's log: the root cause, the fix, the evidence.
    Diagnose {
        /// The log file, or `-` for standard input. Streamed: any size.
        file: String,
        /// Print JSON: {"category","title","transient","fix","evidence":[{"line","text"}],"secondary":[…],"exitCode",…}.
        #[arg(long)]
        json: bool,
        /// Print the catalogue's trigger literals as `grep -E -f` patterns.
        #[arg(long, hide = true)]
        print_patterns: bool,
    },
    /// Check the deployed stack (--stack) end to end: ✓ or ✗ with the fix
    /// for each piece; exit 0 when every check passes, 1 otherwise.
    Doctor {
        /// The checklist as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Alerts of the stack (--stack).
    Alert {
        #[command(subcommand)]
        action: AlertAction,
    },
    /// GitHub: the App that writes verdicts where developers look.
    Github {
        #[command(subcommand)]
        action: GithubAction,
    },
}

#[derive(Subcommand)]
enum GithubAction {
    /// Print the GitHub App's manifest (its exact permissions, no webhook)
    /// and the steps: create the App, install it, store its key in SSM,
    /// deploy with GitHubAppId and GitHubPrivateKeyParameter; and the
    /// token fallback's. Makes no call: --stack only names the App and
    /// the parameter.
    Setup {
        /// The GitHub organisation that owns the App (default: your account).
        #[arg(long)]
        org: Option<String>,
        /// Only the manifest, as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AlertAction {
    /// Send a test alert through the real path (bus, alerter, SNS, e-mail
    /// and Chatbot), marked [test]: it opens no incident, no metric counts it.
    Test {
        /// The app it is about (routes it; default: the stack's first watched app).
        #[arg(long)]
        app: Option<AppId>,
        /// The branch it is about (routes it; must be watched).
        #[arg(long, default_value = "main")]
        branch: BranchName,
        /// Who sends it (shown in the alert; default: $USER).
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        /// What was sent, as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum DlqAction {
    /// Every message with its error, source queue and what a redrive does.
    Show,
    /// Each message back to the queue it came from; malformed ones and
    /// those of unknown source are kept. --dry-run only says what it would do.
    Redrive {
        /// Say where each message would go, and move nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
enum PolicyAction {
    /// Store FILE as the policy of --app (and --branch, if given).
    Push {
        /// The policy file (YAML or JSON, `docs/policy.md`).
        file: PathBuf,
        /// The app it applies to.
        #[arg(long)]
        app: AppId,
        /// The branch it applies to (none: the whole app).
        #[arg(long)]
        branch: Option<BranchName>,
        /// What was stored, as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the policy that applies to --app/--branch, and where it comes from.
    Show {
        /// The app.
        #[arg(long)]
        app: AppId,
        /// The branch (its policy, else the app's, else the built-in one).
        #[arg(long, default_value = "main")]
        branch: BranchName,
        /// One JSON document: app, branch, where it comes from, the policy.
        #[arg(long)]
        json: bool,
    },
}

fn parse_window(raw: &str) -> Result<u32, String> {
    let days = raw.strip_suffix('d').and_then(|d| d.parse::<u32>().ok());
    match days {
        Some(d) if sentinel_shared::metrics::dora::WINDOWS.contains(&d) => Ok(d),
        _ => Err(format!("{raw:?} is not a window: 1d, 7d or 30d")),
    }
}

fn parse_platform(raw: &str) -> Result<Platform, String> {
    Platform::parse(raw).ok_or_else(|| format!("{raw:?} is not WEB or WEB_COMPUTE"))
}

/// The watch scope a command applies: the flags (or their variables), the
/// stack's, or both when they agree; `None` when neither says.
fn watch_scope(
    from_stack: Option<&stack::StackSettings>,
    apps: Vec<AppId>,
    branches: Option<String>,
    stacks: Option<String>,
) -> Result<Option<sentinel_shared::core::scope::Scope>> {
    let stacks = stack::settle(
        stacks,
        from_stack.map(|s| s.watched_stacks.clone()),
        "--stacks (SENTINEL_STACKS)",
        "WatchedStacks",
    )?;
    let apps = if apps.is_empty() { None } else { Some(apps) };
    let joined = |ids: &[AppId]| {
        let mut ids: Vec<String> = ids.iter().map(AppId::to_string).collect();
        ids.sort();
        ids.join(",")
    };
    let apps = stack::settle(
        apps.map(|a| joined(&a)),
        from_stack.map(|s| joined(&s.watched_apps)),
        "--watched (SENTINEL_APP_IDS)",
        "AmplifyAppIds",
    )?;
    let branches = stack::settle(
        branches,
        from_stack.map(|s| s.watched_branches.clone()),
        "--branches (SENTINEL_BRANCHES)",
        "WatchedBranches",
    )?;
    let Some(branches) = branches else {
        return Ok(None);
    };
    let apps = apps
        .unwrap_or_default()
        .split(',')
        .filter(|a| !a.is_empty())
        .map(|a| a.parse().map_err(|e| anyhow::anyhow!("--watched: {e}")))
        .collect::<Result<Vec<AppId>>>()?;
    let scope = sentinel_shared::core::scope::Scope::new(apps, &branches)
        .map_err(|e| anyhow::anyhow!("--branches: {}", e.reason))?;
    scope
        .with_stacks(&stacks.unwrap_or_default())
        .map(Some)
        .map_err(|e| anyhow::anyhow!("--stacks: {}", e.reason))
}

fn main() -> ExitCode {
    term::default_sigpipe();
    let cli = Cli::parse();
    term::use_local_time(cli.local);
    // A diagnosis reads a file and needs neither AWS nor a runtime, whose
    // start-up would be a good part of a small log's time.
    let result = match &cli.command {
        Command::Diagnose {
            file,
            json,
            print_patterns,
        } => diagnose(file, *json, *print_patterns),
        _ => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
            .and_then(|runtime| runtime.block_on(run(cli))),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let (code, hint) = exit::classify(&e);
            eprintln!("sentinel: {e:#}");
            if let Some(hint) = hint {
                eprintln!("sentinel: {hint}");
            }
            ExitCode::from(code)
        }
    }
}

/// `sentinel diagnose`: synchronous, without the runtime.
fn diagnose(file: &str, json: bool, print_patterns: bool) -> Result<ExitCode> {
    if print_patterns {
        for p in sentinel_shared::diagnose::trigger_patterns() {
            println!("{p}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let progress = term::Progress::start(&format!("reading {file}"));
    let diagnosis = if file == "-" {
        sentinel_shared::diagnose::diagnose_reader(std::io::stdin().lock())
            .context("reading standard input")?
    } else {
        let f = std::fs::File::open(file).with_context(|| file.to_owned())?;
        sentinel_shared::diagnose::diagnose_reader(f).with_context(|| file.to_owned())?
    };
    drop(progress);
    if json {
        println!("{}", serde_json::to_string_pretty(&diagnosis)?);
    } else {
        print!("{}", render::diagnosis(&diagnosis));
    }
    Ok(ExitCode::SUCCESS)
}

async fn store(cli_table: Option<String>) -> Result<DynamoStore> {
    let table = cli_table.context("no table: pass --table or set SENTINEL_TABLE")?;
    let sdk = aws::load().await;
    Ok(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        table,
        90,
    ))
}

/// What `rollback` and `unlock` act through: the stack's table, Amplify and
/// the stack's bus.
/// The clients a command that acts needs. Without a bus (a command that
/// publishes nothing), the publisher refuses every event: nothing can go to
/// a bus nobody named.
async fn operator(
    table: Option<String>,
    bus: Option<&str>,
) -> Result<(DynamoStore, AmplifyClient, EventBridgePublisher)> {
    let store = store(table).await?;
    let sdk = aws::load().await;
    let events = aws_sdk_eventbridge::Client::new(&sdk);
    Ok((
        store,
        AmplifyClient::new(aws_sdk_amplify::Client::new(&sdk)),
        match bus {
            Some(bus) => EventBridgePublisher::new(events, bus),
            None => EventBridgePublisher::unnamed(events),
        },
    ))
}

async fn run(mut cli: Cli) -> Result<ExitCode> {
    let stack = match (cli.stack.as_deref(), &cli.command) {
        // `github setup` makes no call: the stack may not be deployed yet.
        (_, Command::Github { .. }) | (None, _) => None,
        (Some(name), _) => Some(stack::read(&aws::load().await, name).await?),
    };
    let from_stack = stack.as_ref();
    cli.table = stack::settle(
        cli.table.take(),
        from_stack.map(|s| s.table.clone()),
        "--table (SENTINEL_TABLE)",
        "TableName",
    )?;
    cli.environment = stack::settle(
        cli.environment.take(),
        from_stack.map(|s| s.environment),
        "--env (SENTINEL_ENVIRONMENT)",
        "Environment",
    )?;
    match cli.command {
        Command::Report(args) => {
            let environment = cli
                .environment
                .context("no environment: pass --env (the stack's: dev, staging or prod) or set SENTINEL_ENVIRONMENT")?;
            let bus = stack::settle(
                args.bus.clone(),
                from_stack.map(|s| s.bus.clone()),
                "--bus (SENTINEL_EVENT_BUS)",
                "EventBusName",
            )?
            .context(
                "report publishes on the stack's bus: pass --stack, or --bus (SENTINEL_EVENT_BUS)",
            )?;
            let outbound = sentinel_shared::outbound::Outbound::from_env("SENTINEL_SITE_ORIGINS")
                .map_err(|e| anyhow::anyhow!("SENTINEL_SITE_ORIGINS: {e}"))?;
            let prepared = report::prepare(
                &args,
                environment,
                &outbound,
                |name| std::env::var(name).ok(),
                chrono::Utc::now(),
            )?;
            if args.wait && cli.table.is_none() {
                anyhow::bail!(
                    "--wait reads the verdict from the stack's table: pass --stack, or --table (SENTINEL_TABLE)"
                );
            }
            let sdk = aws::load().await;
            report::send(&sdk, &bus, &prepared).await?;
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
            let waited = report::wait(
                &store(cli.table).await?,
                key,
                std::time::Duration::from_secs(args.timeout),
            )
            .await?;
            drop(progress);
            eprintln!("sentinel: {}", report::render_waited(&waited, args.timeout));
            Ok(ExitCode::from(waited.exit_code()))
        }
        Command::Deployments {
            app,
            branch,
            source,
            limit,
            json,
        } => {
            let environment = cli
                .environment
                .context("no environment: pass --env or set SENTINEL_ENVIRONMENT")?;
            // The index is by environment and time, not by source: a
            // source filter reads more and keeps the newest `limit`.
            let filter = DeploymentFilter {
                app_id: app,
                branch_name: branch,
                limit: if source.is_some() {
                    limit.saturating_mul(10).max(500)
                } else {
                    limit
                },
            };
            let progress = term::Progress::start("reading deployments");
            let mut found = store(cli.table)
                .await?
                .list_deployments(environment, &filter)
                .await
                .context("reading deployments")?;
            if let Some(source) = source {
                found.retain(|d| d.key.app_id.source() == source);
                found.truncate(limit);
            }
            drop(progress);
            if json {
                println!("{}", serde_json::to_string_pretty(&render::json(&found))?);
            } else {
                print!("{}", render::table(&found));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            dir,
            env_file,
            platform,
            policy,
            memory_gib,
            json,
        } => {
            let policy = match &policy {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("{}", path.display()))?;
                    BranchPolicy::parse(&text, &path.display().to_string())?
                }
                None => BranchPolicy::default(),
            };
            let input = local::input_from_dir(
                &dir,
                env_file.as_deref(),
                std::env::vars(),
                cli.environment.unwrap_or(Environment::Dev),
                Some(platform),
                memory_gib,
            )?;
            let mut input = input;
            if env_file.is_none() {
                // A shell's environment holds far more than the app's
                // variables: only those the policy names count as declared.
                input.declared = policy
                    .required
                    .values()
                    .flatten()
                    .chain(&policy.optional)
                    .filter(|name| input.variables.contains_key(*name))
                    .cloned()
                    .collect();
            }
            let report = validate::validate(&input, &policy)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render::report(&report));
            }
            Ok(ExitCode::from(if report.has_errors() {
                exit::FINDING
            } else {
                exit::SUCCESS
            }))
        }
        Command::Check {
            url,
            expect_commit,
            paths,
            deadline,
            grace,
            allow_hosts,
            policy,
            json,
        } => {
            let mut health = match &policy {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("{}", path.display()))?;
                    BranchPolicy::parse(&text, &path.display().to_string())?.health
                }
                None => sentinel_shared::health::HealthPolicy::default(),
            };
            if !paths.is_empty() {
                health.endpoints = paths
                    .into_iter()
                    .map(|path| sentinel_shared::health::EndpointCheck {
                        path,
                        ..Default::default()
                    })
                    .collect();
            }
            health.deadline_ms = deadline * 1000;
            health.version_grace_ms = grace * 1000;
            health.allowed_hosts.extend(allow_hosts);
            // The user named this URL: its origin may be a dev server on
            // 127.0.0.1 or plain http. Every other host, and every redirect
            // (scheme and port pinned), is held to the functions' rules.
            let rules = sentinel_shared::outbound::Outbound::named_by_a_person(&url);
            let checker = sentinel_shared::health::Checker::new(&url, health, &rules)?;
            let progress = term::Progress::start(&format!("checking {url}"));
            let report = checker.run(expect_commit.as_deref()).await;
            drop(progress);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", render::health(&report));
            }
            Ok(ExitCode::from(match report.verdict {
                sentinel_shared::health::Verdict::Healthy => exit::SUCCESS,
                sentinel_shared::health::Verdict::Unhealthy => exit::FINDING,
                sentinel_shared::health::Verdict::Inconclusive => exit::INCONCLUSIVE,
            }))
        }
        Command::Policy {
            action:
                PolicyAction::Push {
                    file,
                    app,
                    branch,
                    json,
                },
        } => {
            let text =
                std::fs::read_to_string(&file).with_context(|| format!("{}", file.display()))?;
            let policy = BranchPolicy::parse(&text, &file.display().to_string())?;
            store(cli.table)
                .await?
                .put_policy(&app, branch.as_ref(), &policy)
                .await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "stored": true,
                        "app": app.as_str(),
                        "branch": branch.as_ref().map(|b| b.as_str()),
                        "policy": policy,
                    }))?
                );
            } else {
                let scope = branch.map_or_else(
                    || format!("app {app}"),
                    |b| format!("branch {b} of app {app}"),
                );
                println!("policy stored for {scope}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Rollback {
            app,
            branch,
            to,
            reason,
            by,
            bus,
            watched_apps,
            watched_branches,
            json,
        } => {
            let bus = stack::settle(
                bus,
                from_stack.map(|s| s.bus.clone()),
                "--bus (SENTINEL_EVENT_BUS)",
                "EventBusName",
            )?
            .context("rollback publishes \"Rollback Started\": pass --stack, or --bus (SENTINEL_EVENT_BUS)")?;
            let scope =
                watch_scope(from_stack, watched_apps, watched_branches, None)?.unwrap_or_default();
            anyhow::ensure!(
                scope.covers(&app, &branch),
                "{app}/{branch} is outside the stack's watch scope ({scope}): not rolled back"
            );
            let (store, amplify, publisher) = operator(cli.table, Some(&bus)).await?;
            let rollbacker = sentinel_shared::rollback::reaction::Rollbacker::<Aws> {
                store: &store,
                amplify: &amplify,
                publisher: &publisher,
                environment: cli
                    .environment
                    .context("no environment: pass --env or set SENTINEL_ENVIRONMENT")?,
                auto_rollback: sentinel_shared::rollback::AutoRollback::Auto,
                // The operator asked for it: it acts in either mode.
                enforcement: sentinel_shared::core::enforcement::Enforcement::Enforce,
                holder: by,
            };
            let action = rollbacker
                .rollback(&app, &branch, to, None, &reason, false)
                .await?;
            use sentinel_shared::rollback::reaction::RollbackAction;
            let (code, text, value) = match action {
                RollbackAction::Started {
                    rollback_job,
                    target_job,
                } => (
                    exit::SUCCESS,
                    format!(
                        "rollback started: job {rollback_job} rebuilds job {target_job}; auto-build is off for {branch} until `sentinel unlock --app {app} --branch {branch}`"
                    ),
                    serde_json::json!({"started": true, "rollbackJobId": rollback_job, "targetJobId": target_job}),
                ),
                RollbackAction::RollbackFailed(why) => (
                    exit::FINDING,
                    format!("rollback failed: {why}"),
                    serde_json::json!({"started": false, "failed": why}),
                ),
                RollbackAction::Refused { why, recommended } => (
                    exit::FINDING,
                    format!("no rollback: {why}"),
                    serde_json::json!({"started": false, "refused": why, "recommended": recommended}),
                ),
                other => {
                    let why = format!("{other:?}");
                    (
                        exit::FINDING,
                        format!("no rollback: {why}"),
                        serde_json::json!({"started": false, "refused": why}),
                    )
                }
            };
            if json {
                let mut value = value;
                value["app"] = serde_json::json!(app.as_str());
                value["branch"] = serde_json::json!(branch.as_str());
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("{text}");
            }
            Ok(ExitCode::from(code))
        }
        Command::Unlock {
            app,
            branch,
            by,
            json,
        } => {
            // Unlock publishes nothing: it needs no bus.
            let (store, amplify, publisher) = operator(cli.table, None).await?;
            let rollbacker = sentinel_shared::rollback::reaction::Rollbacker::<Aws> {
                store: &store,
                amplify: &amplify,
                publisher: &publisher,
                environment: cli.environment.unwrap_or(Environment::Dev),
                auto_rollback: sentinel_shared::rollback::AutoRollback::Auto,
                enforcement: sentinel_shared::core::enforcement::Enforcement::Enforce,
                holder: by.clone(),
            };
            let released = rollbacker.unlock(&app, &branch).await?;
            if json {
                let value = serde_json::json!({
                    "app": app.as_str(),
                    "branch": branch.as_str(),
                    "unlocked": released.is_some(),
                    "by": by,
                    "autoBuild": released.as_ref().map(|l| l.auto_build_before != Some(false)),
                    "lock": released,
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(ExitCode::SUCCESS);
            }
            match released {
                Some(lock) if lock.auto_build_before == Some(false) => println!(
                    "unlocked by {by}: auto-build stays off, as it was before the lock (was {})",
                    lock.describe()
                ),
                Some(lock) => println!(
                    "unlocked by {by}: auto-build is on again (was {})",
                    lock.describe()
                ),
                None => println!("{branch} has no lock; nothing changed"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Diagnose {
            file,
            json,
            print_patterns,
        } => diagnose(&file, json, print_patterns),
        Command::Cleanup {
            dry_run,
            only_apps,
            watched_apps,
            watched_branches,
            watched_stacks,
            retention_days,
            bus,
            json,
        } => {
            let environment = cli
                .environment
                .context("no environment: pass --env or set SENTINEL_ENVIRONMENT")?;
            let retention_days = stack::settle(
                retention_days,
                from_stack.map(|s| s.retention_days),
                "--retention-days (SENTINEL_RETENTION_DAYS)",
                "RetentionDays",
            )?
            .context(
                "cleanup needs the stack's retention: pass --stack, or --retention-days N \
                 (SENTINEL_RETENTION_DAYS, the stack's RetentionDays parameter); it never guesses",
            )?;
            let bus = stack::settle(
                bus,
                from_stack.map(|s| s.bus.clone()),
                "--bus (SENTINEL_EVENT_BUS)",
                "EventBusName",
            )?;
            let bus = match (bus, dry_run) {
                (Some(bus), _) => Some(bus),
                (None, true) => None,
                (None, false) => anyhow::bail!(
                    "cleanup publishes \"Cleanup Completed\" and reconciled events: pass --bus \
                     or set SENTINEL_EVENT_BUS (a --dry-run needs neither)"
                ),
            };
            let scope = match watch_scope(
                from_stack,
                watched_apps,
                watched_branches,
                watched_stacks,
            )? {
                Some(scope) => scope,
                // A dry run changes nothing: it may look at every branch.
                None if dry_run => sentinel_shared::core::scope::Scope::default(),
                None => anyhow::bail!(
                    "cleanup acts only on the stack's watch scope: pass --stack, or --branches \
                     (SENTINEL_BRANCHES, the stack's WatchedBranches) and --watched; it never guesses"
                ),
            };
            let (store, amplify, publisher) = operator(cli.table, bus.as_deref()).await?;
            let cloudformation =
                sentinel_shared::adapters::cloudformation::CloudFormationClient::new(
                    aws_sdk_cloudformation::Client::new(&aws::load().await),
                );
            let cleanup = sentinel_shared::cleanup::Cleanup::<Aws> {
                store: &store,
                amplify: &amplify,
                cloudformation: &cloudformation,
                publisher: &publisher,
                environment,
                retention: sentinel_shared::cleanup::Retention {
                    deployment_days: retention_days,
                    ..Default::default()
                },
                scope: &scope,
                only_apps: &only_apps,
                dry_run,
            };
            let progress = term::Progress::start(if dry_run {
                "planning the cleanup: reading the table and Amplify"
            } else {
                "cleaning up: reading the table and Amplify, then changing"
            });
            let report = cleanup.run(chrono::Utc::now()).await?;
            drop(progress);
            if json {
                println!("{}", serde_json::to_string_pretty(&report.detailed_json())?);
            } else {
                print!("{}", render::cleanup(&report));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq { action, dlq, json } => {
            let dlq = stack::settle(
                dlq,
                from_stack.and_then(|s| s.dlq_url.clone()),
                "--dlq (SENTINEL_DLQ_URL)",
                "DeadLetterQueueUrl",
            )?
            .context("no dead-letter queue: pass --stack, or --dlq (SENTINEL_DLQ_URL)")?;
            let sqs = aws_sdk_sqs::Client::new(&aws::load().await);
            match action {
                DlqAction::Show => {
                    let held = dlq::show(&sqs, &dlq).await?;
                    if json {
                        println!("{}", serde_json::to_string_pretty(&dlq::held_json(&held))?);
                    } else {
                        print!("{}", dlq::render_held(&held));
                        if let Some(n) = dlq::depth(&sqs, &dlq).await? {
                            println!("({n} message(s) in the queue by SQS's count)");
                        }
                    }
                }
                DlqAction::Redrive { dry_run } => {
                    let outcome = dlq::redrive(&sqs, &dlq, dry_run).await?;
                    if json {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&serde_json::json!({
                                "dryRun": outcome.dry_run,
                                "moved": outcome.moved,
                                "kept": dlq::held_json(&outcome.kept),
                            }))?
                        );
                    } else {
                        print!("{}", dlq::render_outcome(&outcome));
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Metrics {
            window,
            at,
            app,
            branch,
            source,
            json,
        } => {
            use sentinel_shared::metrics::reaction::branch_dimension;
            use sentinel_shared::ports::MetricsStore;
            let environment = cli
                .environment
                .context("no environment: pass --env or set SENTINEL_ENVIRONMENT")?;
            let (from, to) =
                sentinel_shared::metrics::dora::window(at.unwrap_or_else(chrono::Utc::now), window);
            let progress = term::Progress::start("reading the window's deployments");
            let read = store(cli.table)
                .await?
                .deployments_between(environment, from, to)
                .await
                .context("reading the window")?;
            drop(progress);
            // The same read; the figures of the matching deployments (each
            // key's incidents and recoveries are per branch anyway).
            let matching: Vec<_> = read
                .deployments
                .into_iter()
                .filter(|d| app.as_ref().is_none_or(|a| d.key.app_id == *a))
                .filter(|d| source.is_none_or(|s| d.key.app_id.source() == s))
                .filter(|d| {
                    branch.as_ref().is_none_or(|b| {
                        d.key.branch_name == *b
                            || branch_dimension(&d.key.branch_name) == b.as_str()
                    })
                })
                .collect();
            let figures = sentinel_shared::metrics::dora::compute(environment, from, to, &matching);
            // Every source present, side by side (one source: nothing to add).
            let by_source: Vec<_> = Source::ALL
                .into_iter()
                .map(|s| {
                    let of: Vec<_> = matching
                        .iter()
                        .filter(|d| d.key.app_id.source() == s)
                        .cloned()
                        .collect();
                    (s, of)
                })
                .filter(|(_, of)| !of.is_empty())
                .map(|(s, of)| {
                    (
                        s,
                        sentinel_shared::metrics::dora::compute(environment, from, to, &of),
                    )
                })
                .collect();
            let scope = match (&app, &branch) {
                (None, None) => None,
                (Some(a), None) => Some(format!("app {a}")),
                (None, Some(b)) => Some(format!("branch {b} of every app")),
                (Some(a), Some(b)) => Some(format!("{a}/{b}")),
            };
            let scope = match (scope, source) {
                (scope, None) => scope,
                (None, Some(s)) => Some(format!("source {s}")),
                (Some(scope), Some(s)) => Some(format!("{scope}, source {s}")),
            };
            if json {
                let mut v = serde_json::to_value(&figures)?;
                if let Some(a) = &app {
                    v["app"] = serde_json::json!(a.as_str());
                }
                if let Some(b) = &branch {
                    v["branch"] = serde_json::json!(b.as_str());
                }
                if let Some(s) = source {
                    v["source"] = serde_json::json!(s.as_str());
                }
                v["bySource"] = by_source
                    .iter()
                    .map(|(s, f)| Ok((s.as_str().to_owned(), serde_json::to_value(f)?)))
                    .collect::<Result<serde_json::Map<_, _>>>()?
                    .into();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print!(
                    "{}",
                    render::metrics(&figures, read.items_read, scope.as_deref())
                );
                print!("{}", render::metrics_by_source(&by_source));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor { json } => {
            let stack = from_stack.context("doctor checks a deployed stack: pass --stack NAME")?;
            let sdk = aws::load().await;
            let progress = term::Progress::start(&format!("checking {}", stack.name));
            let report = doctor::assess(&doctor::gather(&sdk, stack).await?);
            drop(progress);
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", doctor::render(&report));
            }
            Ok(ExitCode::from(if report.passed {
                exit::SUCCESS
            } else {
                exit::FINDING
            }))
        }
        Command::Alert {
            action:
                AlertAction::Test {
                    app,
                    branch,
                    by,
                    json,
                },
        } => {
            let stack = from_stack
                .context("alert test goes through a deployed stack: pass --stack NAME")?;
            let app = alert_test::choose_app(app, stack)?;
            let test = alert_test::event(stack, app, branch, &by, chrono::Utc::now())?;
            let sent = alert_test::send(&aws::load().await, stack, test).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&sent)?);
            } else {
                print!("{}", alert_test::render(&sent));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy {
            action: PolicyAction::Show { app, branch, json },
        } => {
            let found = store(cli.table).await?.get_policy(&app, &branch).await?;
            let (policy, scope) = found.map_or_else(
                || (BranchPolicy::default(), "default".to_owned()),
                |s| (s.policy, s.scope),
            );
            if json {
                let value = serde_json::json!({
                    "app": app.as_str(),
                    "branch": branch.as_str(),
                    "from": scope,
                    "policy": policy,
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
            } else {
                println!("# policy for {app}/{branch} (from: {scope})");
                println!("{}", serde_json::to_string_pretty(&policy)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Github {
            action: GithubAction::Setup { org, json },
        } => {
            let stack = cli.stack.as_deref();
            match json {
                true => println!(
                    "{}",
                    serde_json::to_string_pretty(&github::manifest(stack))?
                ),
                false => print!("{}", github::setup_text(stack, org.as_deref())),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "sentinel",
                &mut std::io::stdout(),
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn stack_with(watched_stacks: &str) -> stack::StackSettings {
        let map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        stack::StackSettings::from_parts(
            "deploy-sentinel-prod",
            &map(&[
                ("TableName", "deploy-sentinel-prod"),
                ("EventBusName", "sentinel-prod"),
            ]),
            &map(&[
                ("Environment", "prod"),
                ("RetentionDays", "30"),
                ("AmplifyAppIds", "d1shop"),
                ("WatchedBranches", "main"),
                ("WatchedStacks", watched_stacks),
            ]),
        )
        .unwrap()
    }

    #[test]
    fn the_watch_scope_takes_the_stacks_from_the_stack_or_the_flag_never_guessing() {
        let env: BranchName = "prod".parse().unwrap();
        let shop = AppId::stack("shop-api").unwrap();
        let stack = stack_with("shop-*");
        let scope = watch_scope(Some(&stack), vec![], None, None)
            .unwrap()
            .unwrap();
        assert!(scope.covers(&shop, &env), "{scope}");
        let scope = watch_scope(None, vec![], Some("*".into()), Some("shop-api".into()))
            .unwrap()
            .unwrap();
        assert!(scope.covers(&shop, &env), "{scope}");
        let scope = watch_scope(None, vec![], Some("*".into()), None)
            .unwrap()
            .unwrap();
        assert!(!scope.covers(&shop, &env), "no stack unless named: {scope}");
        let err = watch_scope(Some(&stack), vec![], None, Some("billing".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--stacks (SENTINEL_STACKS) is billing"),
            "{err}"
        );
        let err = watch_scope(None, vec![], Some("*".into()), Some("a b".into()))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--stacks:"), "{err}");
    }
}
