//! One file per command (or family of subcommands): its clap `Args` and its
//! `run`. `main.rs` lists them in `Command` and dispatches; what every
//! command shares is here: [`Ctx`], the global flags settled with the
//! stack's settings, and the clients a command that reads or acts needs.

use anyhow::{Context, Result};
use sentinel_shared::adapters::amplify::AmplifyClient;
use sentinel_shared::adapters::dynamodb::DynamoStore;
use sentinel_shared::adapters::eventbridge::EventBridgePublisher;
use sentinel_shared::core::model::Environment;
use sentinel_shared::lambda::aws;

use crate::stack::{self, StackSettings};

pub mod alert;
pub mod check;
pub mod cleanup;
pub mod completions;
pub mod deployments;
pub mod diagnose;
pub mod dlq;
pub mod doctor;
pub mod github;
pub mod metrics;
pub mod policy;
pub mod report;
pub mod rollback;
pub mod validate;

/// The global flags, each settled with the stack's setting (`--stack`):
/// the same value, or a refusal naming both.
pub struct Ctx {
    pub table: Option<String>,
    pub environment: Option<Environment>,
    /// The stack's settings, read with `--stack`.
    pub stack: Option<StackSettings>,
    /// `--stack` as given (`github setup` only names the App with it).
    pub stack_name: Option<String>,
}

impl Ctx {
    /// Reads the stack (unless `read_stack` is false: a command that makes
    /// no call, the stack may not be deployed yet) and settles the flags.
    pub async fn settle(
        table: Option<String>,
        environment: Option<Environment>,
        stack_name: Option<String>,
        read_stack: bool,
    ) -> Result<Self> {
        let stack = match stack_name.as_deref() {
            Some(name) if read_stack => Some(stack::read(&aws::load().await, name).await?),
            _ => None,
        };
        let from_stack = stack.as_ref();
        let table = stack::settle(
            table,
            from_stack.map(|s| s.table.clone()),
            "--table (SENTINEL_TABLE)",
            "TableName",
        )?;
        let environment = stack::settle(
            environment,
            from_stack.map(|s| s.environment),
            "--env (SENTINEL_ENVIRONMENT)",
            "Environment",
        )?;
        Ok(Self {
            table,
            environment,
            stack,
            stack_name,
        })
    }

    /// The environment a command that reads or acts on the stack's records
    /// needs.
    pub fn environment(&self) -> Result<Environment> {
        self.environment
            .context("no environment: pass --env or set SENTINEL_ENVIRONMENT")
    }

    /// The stack's event bus: `--bus` (SENTINEL_EVENT_BUS), the stack's, or
    /// both when they agree.
    pub fn bus(&self, flag: Option<String>) -> Result<Option<String>> {
        stack::settle(
            flag,
            self.stack.as_ref().map(|s| s.bus.clone()),
            "--bus (SENTINEL_EVENT_BUS)",
            "EventBusName",
        )
    }

    /// The stack's table.
    pub async fn store(&self) -> Result<DynamoStore> {
        let table = self
            .table
            .clone()
            .context("no table: pass --table or set SENTINEL_TABLE")?;
        let sdk = aws::load().await;
        Ok(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            table,
            90,
        ))
    }

    /// The clients a command that acts needs: the stack's table, Amplify and
    /// the stack's bus. Without a bus (a command that publishes nothing),
    /// the publisher refuses every event: nothing can go to a bus nobody
    /// named.
    pub async fn operator(
        &self,
        bus: Option<&str>,
    ) -> Result<(DynamoStore, AmplifyClient, EventBridgePublisher)> {
        let store = self.store().await?;
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
}
