//! The rollback function: takes "Deployment Unhealthy" (roll back to the
//! last known good job), the rollback job's own events (to conclude it) and
//! "Build Diagnosed" (retry a transient failure) from its queue
//! (`sentinel_shared::rollback::reaction`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::core::error::Error;
use sentinel_shared::lambda::runtime::{self, Ports};
use sentinel_shared::ports::{
    AmplifyApi, DeadLetterSink, DeploymentStore, EventPublisher, PolicyStore, RollbackStore,
};
use sentinel_shared::rollback::AutoRollback;
use sentinel_shared::rollback::reaction::{Action, Rollbacker};
use serde_json::{Value, json};
use std::future::Future;
use tracing::Instrument;

/// The shared ports, plus the stack's `AutoRollback` parameter.
pub struct Deps<S, A, P, D> {
    pub ports: Ports<S, A, P, D>,
    pub auto_rollback: AutoRollback,
}

/// The rollback reactions as a method of the function's ports.
pub trait RollbackExt {
    fn on_raw(&self, request_id: &str, raw: &str) -> impl Future<Output = Result<Action, Error>>;
}

impl<S, A, P, D> RollbackExt for Deps<S, A, P, D>
where
    S: DeploymentStore + PolicyStore + RollbackStore,
    A: AmplifyApi,
    P: EventPublisher,
    D: DeadLetterSink,
{
    async fn on_raw(&self, request_id: &str, raw: &str) -> Result<Action, Error> {
        let rollbacker = Rollbacker {
            store: &self.ports.store,
            amplify: &self.ports.amplify,
            publisher: &self.ports.publisher,
            environment: self.ports.environment,
            auto_rollback: self.auto_rollback,
            holder: request_id.to_owned(),
        };
        let span = tracing::info_span!("rollback", request_id);
        rollbacker.on_raw(raw).instrument(span).await
    }
}

/// The action as the invocation's answer.
pub fn describe(action: &Action) -> Value {
    match action {
        Action::Started {
            rollback_job,
            target_job,
        } => {
            json!({"action": "started", "rollbackJob": rollback_job, "targetJob": target_job})
        }
        Action::Refused { why, recommended } => {
            json!({"action": "refused", "why": why, "recommended": recommended})
        }
        Action::RollbackSucceeded => json!({"action": "rollback-succeeded"}),
        Action::RollbackFailed(why) => json!({"action": "rollback-failed", "why": why}),
        Action::Waiting => json!({"action": "waiting"}),
        Action::Retried { retry_job } => json!({"action": "retried", "retryJob": retry_job}),
        Action::NotRetried(why) => json!({"action": "not-retried", "why": why}),
        Action::Ignored(why) => json!({"action": "ignored", "why": why}),
    }
}

pub async fn handle<S, A, P, D>(
    deps: &Deps<S, A, P, D>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error>
where
    S: DeploymentStore + PolicyStore + RollbackStore,
    A: AmplifyApi,
    P: EventPublisher,
    D: DeadLetterSink,
{
    runtime::handle(
        event,
        deps.ports.dead_letter.as_ref(),
        async |request_id: &str, raw: String| Ok(describe(&deps.on_raw(request_id, &raw).await?)),
    )
    .await
}
