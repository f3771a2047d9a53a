//! What every function's binary shares: the AWS clients built once from the
//! configuration, the dispatch of an invocation (an SQS batch from the
//! function's queue, or one event invoked directly), and the one parser of a
//! delivery (a domain event's envelope, or the schedule).

use aws_lambda_events::event::sqs::SqsEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::LambdaEvent;
use serde_json::{Value, json};

use crate::adapters::Aws;
use crate::adapters::amplify::AmplifyClient;
use crate::adapters::cloudformation::CloudFormationClient;
use crate::adapters::dynamodb::DynamoStore;
use crate::adapters::eventbridge::EventBridgePublisher;
use crate::adapters::sqs::SqsDeadLetter;
use crate::core::error::Error;
use crate::core::error::MalformedEvent;
use crate::core::events::Envelope;
use crate::core::model::Environment;
use crate::core::scope::Scope;
use crate::lambda::config::Config;
use crate::lambda::sqs_batch;
use crate::stack::Stack;

/// The adapters every function's handler works with (one per port), and the
/// stack's environment. Generic over the [`Stack`] so that unit tests pass
/// in-memory adapters.
pub struct Clients<K: Stack> {
    pub store: K::Store,
    pub amplify: K::Amplify,
    /// Watched stacks' status and events (`WatchedStacks`).
    pub cloudformation: K::CloudFormation,
    pub publisher: K::Publisher,
    pub dead_letter: Option<K::DeadLetter>,
    pub environment: Environment,
    /// See [`Config::site_url_template`].
    pub site_url_template: Option<String>,
    /// What the stack watches: every delivery outside it is skipped.
    pub scope: Scope,
    /// The stack's default mode (`Config::enforcement`).
    pub enforcement: crate::core::enforcement::Enforcement,
}

/// The AWS adapters, built once per process.
pub type AwsClients = Clients<Aws>;

impl AwsClients {
    pub async fn from_config(config: &Config) -> Self {
        Self::from_sdk(config, &crate::lambda::aws::load().await)
    }

    /// From an SDK configuration the caller also uses for other clients.
    pub fn from_sdk(config: &Config, sdk: &aws_config::SdkConfig) -> Self {
        Self {
            environment: config.environment,
            site_url_template: config.site_url_template.clone(),
            scope: config.scope.clone(),
            enforcement: config.enforcement,
            store: DynamoStore::new(
                aws_sdk_dynamodb::Client::new(sdk),
                &config.table,
                config.retention_days,
            ),
            amplify: AmplifyClient::new(aws_sdk_amplify::Client::new(sdk)),
            cloudformation: CloudFormationClient::new(aws_sdk_cloudformation::Client::new(sdk)),
            publisher: EventBridgePublisher::new(
                aws_sdk_eventbridge::Client::new(sdk),
                &config.event_bus,
            ),
            dead_letter: config
                .dlq_url
                .as_ref()
                .map(|url| SqsDeadLetter::new(aws_sdk_sqs::Client::new(sdk), url)),
        }
    }
}

/// The entry point every function shares: runs `handle_one(request_id,
/// raw event)` on each record of an SQS batch (answering with
/// `batchItemFailures`), or on the payload itself when invoked directly
/// (answering with its result or its error). An event about an app or
/// branch outside the stack's watch scope is skipped here, for every
/// function alike: it is never recorded, checked, alerted or rolled back.
pub async fn handle<K, F>(
    event: LambdaEvent<Value>,
    clients: &Clients<K>,
    handle_one: F,
) -> Result<Value, Error>
where
    K: Stack,
    F: AsyncFn(&str, String) -> Result<Value, Error>,
{
    handle_received(event, clients, async |request_id: &str, raw: String, _| {
        handle_one(request_id, raw).await
    })
    .await
}

/// [`handle`], also telling `handle_one` when each event was received: the
/// SQS message's `SentTimestamp`, or for a direct invocation the function's
/// clock (never later than that). A time the sender of the event cannot
/// set (`ingest::report_event` bounds a report's date by it).
pub async fn handle_received<K, F>(
    event: LambdaEvent<Value>,
    clients: &Clients<K>,
    handle_one: F,
) -> Result<Value, Error>
where
    K: Stack,
    F: AsyncFn(&str, String, DateTime<Utc>) -> Result<Value, Error>,
{
    let scoped = async |request_id: &str,
                        raw: String,
                        received: Option<DateTime<Utc>>|
           -> Result<Value, Error> {
        if let Some(skipped) = outside(&raw, &clients.scope) {
            tracing::info!(request_id, %skipped, "outside the watch scope; skipped");
            return Ok(skipped);
        }
        // The message cannot have been received after it is handled.
        let now = Utc::now();
        let received = received.map_or(now, |at| at.min(now));
        handle_one(request_id, raw, received).await
    };
    let request_id = event.context.request_id;
    let payload = event.payload;
    if payload.get("Records").is_none() {
        return scoped(&request_id, payload.to_string(), None).await;
    }
    let batch: SqsEvent = serde_json::from_value(payload).map_err(|e| {
        Error::from(MalformedEvent::new(
            "<sqs batch>",
            format!("not an SQS batch: {e}"),
        ))
    })?;
    let request_id = request_id.as_str();
    let response = sqs_batch::process(batch, clients.dead_letter.as_ref(), |body, received| {
        let one = &scoped;
        async move { one(request_id, body, received).await.map(|_| ()) }
    })
    .await;
    Ok(serde_json::to_value(response).unwrap_or_else(|_| json!({})))
}

/// The answer for an event (Amplify's or a domain event: both carry
/// `detail.appId` and `detail.branchName`) about an app or branch the scope
/// does not cover; `None` for everything else, malformed events included
/// (their parser names what is wrong).
fn outside(raw: &str, scope: &Scope) -> Option<Value> {
    let v: Value = serde_json::from_str(raw).ok()?;
    let detail = v.get("detail")?;
    let app = detail.get("appId").and_then(Value::as_str);
    let branch = detail.get("branchName").and_then(Value::as_str);
    // A stack's or service's deployment: its own part of the scope (the
    // branch patterns are Amplify's).
    let other_source = app
        .and_then(|a| a.parse::<crate::core::model::AppId>().ok())
        .filter(|a| !a.is_amplify());
    let covered = match other_source {
        Some(app) => scope.covers_app(&app),
        None => {
            app.is_none_or(|a| scope.covers_app_name(a))
                && branch.is_none_or(|b| scope.covers_branch_name(b))
        }
    };
    // Names from the event go into the answer and a log line: bounded and
    // masked like any other quoted value.
    let shown = |v: Option<&str>| v.map(crate::core::model::preview);
    (!covered).then(|| {
        json!({"skipped": "outside the watch scope", "appId": shown(app), "branchName": shown(branch)})
    })
}

/// EventBridge's scheduled event (`source aws.events`, `Scheduled Event`),
/// and the time it was scheduled for.
pub fn scheduled_time(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let v: Value = serde_json::from_str(raw).ok()?;
    if v["source"] != "aws.events" || v["detail-type"] != "Scheduled Event" {
        return None;
    }
    Some(
        v["time"]
            .as_str()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(chrono::Utc::now),
    )
}

/// One delivery to a function that reacts to domain events: the stack's
/// schedule, or a domain event from its bus.
#[derive(Debug, Clone)]
pub enum Delivery {
    Scheduled(chrono::DateTime<chrono::Utc>),
    Event(Envelope),
}

impl Delivery {
    /// The one place a domain event's envelope is parsed: a scheduled event,
    /// or an envelope from Sentinel's bus whose detail type is one of
    /// `accepted` (anything else is malformed: never retried). The detail is
    /// left to the reaction ([`Envelope::detail`]).
    pub fn parse(raw: &str, accepted: &[&str]) -> Result<Self, MalformedEvent> {
        if let Some(at) = scheduled_time(raw) {
            return Ok(Self::Scheduled(at));
        }
        Envelope::parse(raw, accepted).map(Self::Event)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::core::events::{BuildEvent, detail_type};

    const ACCEPTED: &[&str] = &[detail_type::BUILD_SUCCEEDED];

    fn envelope(detail_type: &str, source: &str, detail: Value) -> String {
        json!({"id": "eb-1", "source": source, "detail-type": detail_type, "detail": detail})
            .to_string()
    }

    #[test]
    fn the_schedule_is_a_delivery_at_its_time() {
        let raw = json!({"id": "s", "source": "aws.events", "detail-type": "Scheduled Event",
            "time": "2026-11-27T03:00:00Z", "detail": {}})
        .to_string();
        let Ok(Delivery::Scheduled(at)) = Delivery::parse(&raw, ACCEPTED) else {
            panic!("not a scheduled delivery");
        };
        assert_eq!(at.to_rfc3339(), "2026-11-27T03:00:00+00:00");
    }

    #[test]
    fn an_accepted_domain_event_is_delivered_with_its_detail_unread() {
        let raw = envelope("Build Succeeded", "sentinel", json!({"anything": 1}));
        let Ok(Delivery::Event(e)) = Delivery::parse(&raw, ACCEPTED) else {
            panic!("not an event delivery");
        };
        assert_eq!(
            (e.id.as_str(), e.detail_type.as_str()),
            ("eb-1", "Build Succeeded")
        );
        // The detail is the reaction's to read, and a bad one is named.
        let err = e.detail::<BuildEvent>().unwrap_err();
        assert_eq!(err.event_id, "eb-1");
        assert!(err.reason.starts_with("Build Succeeded detail: "), "{err}");
    }

    #[test]
    fn events_outside_the_watch_scope_are_skipped_and_the_rest_pass() {
        let scope = Scope::new(vec!["d1abc".parse().unwrap()], "main,release/*")
            .unwrap()
            .with_stacks("shop-*")
            .unwrap();
        let event = |app: &str, branch: &str| {
            json!({"source": "aws.amplify", "detail": {"appId": app, "branchName": branch}})
                .to_string()
        };
        for (raw, skipped) in [
            (event("d1abc", "main"), false),
            (event("d1abc", "release/2"), false),
            (event("d1abc", "develop"), true),
            (event("d2other", "main"), true),
            (
                envelope("Build Succeeded", "sentinel", json!({"appId": "d2other"})),
                true,
            ),
            // A watched stack's deployment: its environment is no git branch.
            (
                envelope(
                    "Build Failed",
                    "sentinel",
                    json!({"appId": "cfn:shop-api", "branchName": "prod"}),
                ),
                false,
            ),
            (
                envelope(
                    "Build Failed",
                    "sentinel",
                    json!({"appId": "cfn:other", "branchName": "main"}),
                ),
                true,
            ),
            // No app or branch to judge by: the reaction decides (schedules,
            // requests, malformed events).
            (
                json!({"source": "aws.events", "detail": {}}).to_string(),
                false,
            ),
            ("not json".to_owned(), false),
        ] {
            let out = outside(&raw, &scope);
            assert_eq!(out.is_some(), skipped, "{raw}: {out:?}");
            if let Some(answer) = out {
                assert_eq!(answer["skipped"], "outside the watch scope");
            }
        }
        // A name from the event is bounded before it reaches the log.
        let long = event("d1abc", &"x".repeat(100_000));
        let answer = outside(&long, &scope).unwrap();
        assert!(
            answer["branchName"].as_str().unwrap().len() < 100,
            "{answer}"
        );
    }

    #[test]
    fn anything_else_is_malformed_and_named() {
        for (raw, named) in [
            ("not json".to_owned(), "not a domain event"),
            (
                envelope("Build Started", "sentinel", json!({})),
                "unexpected \"Build Started\"",
            ),
            (
                envelope("Build Succeeded", "aws.amplify", json!({})),
                "from \"aws.amplify\"",
            ),
            (
                json!({"source": "aws.events", "detail-type": "Not Scheduled"}).to_string(),
                "not a domain event",
            ),
        ] {
            let err = Delivery::parse(&raw, ACCEPTED).unwrap_err();
            assert!(err.reason.contains(named), "{raw}: {err}");
            assert!(!Error::from(err).is_retryable());
        }
    }
}
