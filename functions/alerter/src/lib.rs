//! The alerter function: takes the stack's domain events from its queue
//! (build failed or succeeded, validation failed, deployment healthy or
//! unhealthy, rollbacks, degradation), diagnoses failed builds, and alerts
//! through SNS once per incident (`sentinel_shared::alert`). With GitHub on,
//! it then brings the job's check run, deployment and pull request comment
//! in step (`sentinel_shared::github::reaction`), after the alert and
//! without ever failing its message: GitHub's failures are retried as
//! delayed messages to this function's own queue.

use lambda_runtime::LambdaEvent;
use sentinel_shared::adapters::sqs::SqsRetryQueue;
use sentinel_shared::alert::reaction::{ACCEPTED, AlertOutcome, Alerter};
use sentinel_shared::core::error::Error;
use sentinel_shared::core::events::Envelope;
use sentinel_shared::github::reaction::{
    Breaker, GITHUB_ONLY, GitHubOutcome, GitHubReporter, RetryRequest,
};
use sentinel_shared::lambda::runtime::{self, Clients};
use sentinel_shared::ports::RetryQueue;
use sentinel_shared::stack::Stack;
use serde_json::{Value, json};
use tracing::Instrument;

/// The variable naming the alerter's own queue (its URL), where GitHub
/// updates that failed are sent delayed. Set by the template when GitHub is
/// on, and required then.
pub const ALERTER_QUEUE_URL: &str = "SENTINEL_ALERTER_QUEUE_URL";

/// The stack's clients, plus where alerts go and how logs are read.
pub struct Deps<K: Stack, Q = SqsRetryQueue> {
    pub clients: Clients<K>,
    pub notifier: K::Notifier,
    pub logs: K::Logs,
    /// For links to the Amplify console.
    pub region: String,
    /// `None` when GitHub is off: no GitHub call is made.
    pub github: Option<GitHubDeps<K, Q>>,
}

/// What the GitHub side needs, built once per process.
pub struct GitHubDeps<K: Stack, Q> {
    pub client: K::GitHub,
    pub retries: Q,
    /// Shared by every event the process handles.
    pub breaker: Breaker,
    /// Where dropped updates are counted.
    pub metrics_namespace: String,
}

/// What one delivery led to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handled {
    /// The alert's side (none for a GitHub retry).
    pub alert: Option<AlertOutcome>,
    /// The GitHub side (none with GitHub off).
    pub github: Option<GitHubOutcome>,
}

fn reporter<'a, K: Stack, Q: RetryQueue>(
    deps: &'a Deps<K, Q>,
    g: &'a GitHubDeps<K, Q>,
    request_id: &'a str,
) -> GitHubReporter<'a, K, Q> {
    let c = &deps.clients;
    GitHubReporter {
        store: &c.store,
        amplify: &c.amplify,
        github: &g.client,
        retries: &g.retries,
        breaker: &g.breaker,
        environment: c.environment,
        region: &deps.region,
        site_url_template: c.site_url_template.as_deref(),
        metrics_namespace: &g.metrics_namespace,
        owner: request_id,
    }
}

/// Handles one delivery given as JSON text: a GitHub retry (its own body,
/// not a domain event), or a domain event: the alert first, then GitHub.
pub async fn on_raw<K: Stack, Q: RetryQueue>(
    deps: &Deps<K, Q>,
    request_id: &str,
    raw: &str,
) -> Result<Handled, Error> {
    if let Some(request) = RetryRequest::parse(raw) {
        let request = request?;
        let Some(g) = &deps.github else {
            // GitHub was turned off since: nothing to retry.
            tracing::info!("GitHub is off; the retry is dropped");
            return Ok(Handled::default());
        };
        let span = tracing::info_span!("github-retry", request_id, job = %request.job, attempt = request.attempt);
        let outcome = reporter(deps, g, request_id)
            .on_retry(&request)
            .instrument(span)
            .await;
        return Ok(Handled {
            alert: None,
            github: Some(outcome),
        });
    }
    let envelope = Envelope::parse(raw, ACCEPTED)?;
    let span = tracing::info_span!("alert", request_id, event_id = %envelope.id);
    let extras = match &deps.github {
        Some(g) if !GITHUB_ONLY.contains(&envelope.detail_type.as_str()) => {
            let (app, branch, job, commit) = about(&envelope);
            match (app, branch) {
                (Some(app), Some(branch)) => Some(
                    reporter(deps, g, request_id)
                        .alert_extras(&app, &branch, job, commit.as_deref())
                        .await,
                ),
                _ => None,
            }
        }
        _ => None,
    };
    let c = &deps.clients;
    let alerter = Alerter::<K> {
        store: &c.store,
        amplify: &c.amplify,
        cloudformation: &c.cloudformation,
        publisher: &c.publisher,
        notifier: &deps.notifier,
        logs: &deps.logs,
        region: &deps.region,
        site_url_template: c.site_url_template.as_deref(),
        extras,
    };
    // The alert is decided and sent first; its failure fails the message
    // (and the retry comes back here), GitHub's never does.
    let alert = alerter.on_event(&envelope).instrument(span.clone()).await?;
    let github = match &deps.github {
        Some(g) => Some(
            reporter(deps, g, request_id)
                .after_event(&envelope)
                .instrument(span)
                .await,
        ),
        None => None,
    };
    Ok(Handled {
        alert: Some(alert),
        github,
    })
}

/// The app, branch, job and commit an event names (as far as it does).
fn about(
    envelope: &Envelope,
) -> (
    Option<sentinel_shared::core::model::AppId>,
    Option<sentinel_shared::core::model::BranchName>,
    Option<sentinel_shared::core::model::JobId>,
    Option<String>,
) {
    let d = &envelope.detail;
    let field = |name: &str| d.get(name).and_then(Value::as_str);
    let job = ["jobId", "rollbackJobId", "fromJobId"]
        .iter()
        .find_map(|name| serde_json::from_value(d.get(*name)?.clone()).ok());
    (
        field("appId").and_then(|a| a.parse().ok()),
        field("branchName").and_then(|b| b.parse().ok()),
        job,
        field("commitId")
            .or_else(|| field("targetCommitId"))
            .map(str::to_owned),
    )
}

pub async fn handle<K: Stack, Q: RetryQueue>(
    deps: &Deps<K, Q>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    runtime::handle(
        event,
        &deps.clients,
        async |request_id: &str, raw: String| {
            let h = on_raw(deps, request_id, &raw).await?;
            let mut answer = match &h.alert {
                Some(o) => json!({"decision": o.decision, "sent": o.sent, "category": o.category}),
                None => json!({}),
            };
            if let Some(g) = &h.github {
                answer["github"] = json!(g);
            }
            Ok(answer)
        },
    )
    .await
}

#[cfg(test)]
mod tests;
