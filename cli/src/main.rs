//! `sentinel`: the operator CLI. It reads the same table through the same
//! adapters as the functions.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use sentinel_shared::adapters::dynamodb::DynamoStore;
use sentinel_shared::aws;
use sentinel_shared::model::{AppId, BranchName, Environment};
use sentinel_shared::ports::{DeploymentFilter, DeploymentStore};

mod render;

#[derive(Parser)]
#[command(name = "sentinel", version, about = "Deploy Sentinel operator CLI")]
struct Cli {
    /// DynamoDB table of the stack.
    #[arg(long, env = "SENTINEL_TABLE", global = true)]
    table: Option<String>,
    /// Environment of the stack (dev, staging, prod).
    #[arg(long = "env", env = "SENTINEL_ENVIRONMENT", global = true)]
    environment: Option<Environment>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List recorded deployments, newest first.
    Deployments {
        #[arg(long)]
        app: Option<AppId>,
        #[arg(long)]
        branch: Option<BranchName>,
        /// At most this many.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// One JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let table = cli
        .table
        .context("no table: pass --table or set SENTINEL_TABLE")?;
    let environment = cli
        .environment
        .context("no environment: pass --env or set SENTINEL_ENVIRONMENT")?;
    let sdk = aws::load().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), table, 90);
    match cli.command {
        Command::Deployments {
            app,
            branch,
            limit,
            json,
        } => {
            let filter = DeploymentFilter {
                app_id: app,
                branch_name: branch,
                limit,
            };
            let found = store
                .list_deployments(environment, &filter)
                .await
                .context("reading deployments")?;
            if json {
                println!("{}", serde_json::to_string_pretty(&render::json(&found))?);
            } else {
                print!("{}", render::table(&found));
            }
        }
    }
    Ok(())
}
