//! The cleanup function: on its daily schedule (from its queue), or invoked
//! with `{"dryRun": true}`, runs cleanup and reconciliation
//! (`sentinel_shared::cleanup`) and prints the report's metrics line.

use std::io::Write;

use lambda_runtime::LambdaEvent;
use sentinel_shared::cleanup::ports::CleanupStore;
use sentinel_shared::cleanup::{Cleanup, Report, Retention};
use sentinel_shared::core::error::Error;
use sentinel_shared::core::error::MalformedEvent;
use sentinel_shared::core::model::AppId;
use sentinel_shared::lambda::runtime::{self, Clients};
use sentinel_shared::stack::Stack;
use serde_json::Value;
use tracing::Instrument;

pub struct Deps<K: Stack> {
    pub clients: Clients<K>,
    pub namespace: String,
    pub retention: Retention,
}

/// What an invocation asks.
#[derive(Debug, PartialEq)]
struct Request {
    dry_run: bool,
    at: chrono::DateTime<chrono::Utc>,
    only_apps: Vec<AppId>,
}

/// The schedule's event (a real run at its time), or by hand
/// `{"dryRun": bool?, "at": time?, "apps": [app id…]?}`.
fn request(raw: &str) -> Result<Request, Error> {
    if let Some(at) = runtime::scheduled_time(raw) {
        return Ok(Request {
            dry_run: false,
            at,
            only_apps: vec![],
        });
    }
    let malformed = |reason: String| Error::from(MalformedEvent::new("<cleanup request>", reason));
    let v: Value = serde_json::from_str(raw).map_err(|e| malformed(format!("not JSON: {e}")))?;
    let dry_run = match v.get("dryRun") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(malformed(format!(
                "dryRun must be true or false, got {other}"
            )));
        }
    };
    let at = match v.get("at") {
        None => chrono::Utc::now(),
        Some(Value::String(s)) => s
            .parse()
            .map_err(|e| malformed(format!("at must be an RFC 3339 time: {e}")))?,
        Some(other) => {
            return Err(malformed(format!(
                "at must be an RFC 3339 time, got {other}"
            )));
        }
    };
    let only_apps = match v.get("apps") {
        None => vec![],
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| {
                id.as_str()
                    .ok_or_else(|| malformed(format!("apps must hold app ids, got {id}")))?
                    .parse()
                    .map_err(|e: sentinel_shared::core::model::ParseError| {
                        malformed(format!("apps: {id}: {}", e.reason))
                    })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(malformed(format!(
                "apps must be a list of app ids, got {other}"
            )));
        }
    };
    Ok(Request {
        dry_run,
        at,
        only_apps,
    })
}

pub async fn on_raw<K: Stack>(deps: &Deps<K>, request_id: &str, raw: &str) -> Result<Report, Error>
where
    K::Store: CleanupStore,
{
    let Request {
        dry_run,
        at,
        only_apps,
    } = request(raw)?;
    let cleanup = Cleanup::<K> {
        store: &deps.clients.store,
        amplify: &deps.clients.amplify,
        cloudformation: &deps.clients.cloudformation,
        publisher: &deps.clients.publisher,
        environment: deps.clients.environment,
        retention: deps.retention,
        scope: &deps.clients.scope,
        only_apps: &only_apps,
        dry_run,
    };
    let span = tracing::info_span!("cleanup", request_id, dry_run, %at);
    let report = cleanup.run(at).instrument(span).await?;
    if !dry_run {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", report.emf_line(&deps.namespace, at));
    }
    Ok(report)
}

pub async fn handle<K: Stack>(deps: &Deps<K>, event: LambdaEvent<Value>) -> Result<Value, Error>
where
    K::Store: CleanupStore,
{
    runtime::handle(
        event,
        &deps.clients,
        async |request_id: &str, raw: String| {
            let report = on_raw(deps, request_id, &raw).await?;
            Ok(report.detailed_json())
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_read_and_bad_ones_named() {
        let r = request(r#"{"dryRun": true, "apps": ["d1abc"]}"#).unwrap();
        assert!(r.dry_run);
        assert_eq!(r.only_apps.len(), 1);
        let r = request(
            r#"{"source":"aws.events","detail-type":"Scheduled Event","time":"2026-11-20T03:00:00Z","detail":{}}"#,
        )
        .unwrap();
        assert!(!r.dry_run && r.only_apps.is_empty());
        assert_eq!(r.at.to_rfc3339(), "2026-11-20T03:00:00+00:00");
        for (bad, named) in [
            ("nope", "not JSON"),
            (r#"{"dryRun": "yes"}"#, "dryRun must be true or false"),
            (r#"{"at": "yesterday"}"#, "at must be an RFC 3339 time"),
            (r#"{"apps": "d1abc"}"#, "apps must be a list"),
            (r#"{"apps": ["Not An App"]}"#, "apps: "),
        ] {
            let err = request(bad).unwrap_err().to_string();
            assert!(err.contains(named), "{err} should name {named}");
        }
    }
}
