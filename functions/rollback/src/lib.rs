//! The rollback function: takes "Deployment Unhealthy" (roll back to the
//! last known good job), the rollback job's own events (to conclude it) and
//! "Build Diagnosed" (retry a transient failure) from its queue
//! (`sentinel_shared::rollback`).

use lambda_runtime::LambdaEvent;
use sentinel_shared::core::error::Error;
use sentinel_shared::core::events::Envelope;
use sentinel_shared::lambda::runtime::{self, Clients};
use sentinel_shared::rollback::AutoRollback;
use sentinel_shared::rollback::reaction::{ACCEPTED, RollbackAction, Rollbacker};
use sentinel_shared::stack::Stack;
use serde_json::{Value, json};
use tracing::Instrument;

/// The stack's clients, plus the stack's `AutoRollback` parameter.
pub struct Deps<K: Stack> {
    pub clients: Clients<K>,
    pub auto_rollback: AutoRollback,
}

/// Handles one domain event given as JSON text.
pub async fn on_raw<K: Stack>(
    deps: &Deps<K>,
    request_id: &str,
    raw: &str,
) -> Result<RollbackAction, Error> {
    let envelope = Envelope::parse(raw, ACCEPTED)?;
    let c = &deps.clients;
    let rollbacker = Rollbacker::<K> {
        store: &c.store,
        amplify: &c.amplify,
        publisher: &c.publisher,
        environment: c.environment,
        auto_rollback: deps.auto_rollback,
        enforcement: c.enforcement,
        holder: request_id.to_owned(),
    };
    let span = tracing::info_span!("rollback", request_id, event_id = %envelope.id);
    rollbacker.on_event(&envelope).instrument(span).await
}

/// The action as the invocation's answer.
pub fn describe(action: &RollbackAction) -> Value {
    match action {
        RollbackAction::Started {
            rollback_job,
            target_job,
        } => {
            json!({"action": "started", "rollbackJob": rollback_job, "targetJob": target_job})
        }
        RollbackAction::Refused { why, recommended } => {
            json!({"action": "refused", "why": why, "recommended": recommended})
        }
        RollbackAction::RollbackSucceeded => json!({"action": "rollback-succeeded"}),
        RollbackAction::RollbackFailed(why) => json!({"action": "rollback-failed", "why": why}),
        RollbackAction::Waiting => json!({"action": "waiting"}),
        RollbackAction::Retried { retry_job } => {
            json!({"action": "retried", "retryJob": retry_job})
        }
        RollbackAction::NotRetried(why) => json!({"action": "not-retried", "why": why}),
        RollbackAction::Observed(would) => json!({"action": "observed", "wouldHave": would}),
        RollbackAction::Ignored(why) => json!({"action": "ignored", "why": why}),
    }
}

pub async fn handle<K: Stack>(deps: &Deps<K>, event: LambdaEvent<Value>) -> Result<Value, Error> {
    runtime::handle(
        event,
        &deps.clients,
        async |request_id: &str, raw: String| Ok(describe(&on_raw(deps, request_id, &raw).await?)),
    )
    .await
}
