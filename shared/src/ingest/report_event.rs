//! A deploy that reports itself (`sentinel report`): the "Deployment
//! Reported" event (source `sentinel.report.<service>`) on the stack's own
//! bus, parsed strictly. `docs/reporting.md`, `docs/events.md`.
//!
//! The detail is written by the CLI ([`ReportDetail`]) but read from a bus
//! any principal with the reporter policy may publish to, so every field is
//! checked here again, and a bad one is a [`MalformedEvent`] naming it (the
//! delivery goes to the dead-letter queue without retry). Free text (the
//! diagnosis) is masked and cut to the budgets whatever the sender did.
//!
//! Two things are taken from what the sender cannot choose rather than
//! from the detail: the service, from the `source` (the one field IAM holds
//! a reporter to: `ReporterPolicy` allows only the source its principal
//! tag names), and the upper bound of `reportedAt`, the time the event was
//! received (the sender chooses the envelope's `time` too).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::budget;
use crate::core::deployment::DeploymentKey;
pub use crate::core::deployment::Reported;
use crate::core::error::MalformedEvent;
use crate::core::model::{AppId, BranchName, BuildStatus, Environment, JobId, preview};
use crate::core::redact::mask_in_text;
use crate::core::transitions::Observation;
use crate::core::verdicts::{Diagnosis, Evidence, Secondary};
use crate::diagnose::catalogue;

/// What every report's `source` begins with; the service follows
/// (`sentinel.report.shop-api`), so that IAM can hold a reporter to its own
/// service (`events:source`, `docs/reporting.md`, "Permissions").
pub const SOURCE_PREFIX: &str = "sentinel.report.";
/// The source of reports before the service was part of it (a CLI older
/// than this stack): refused, naming the fix.
pub const LEGACY_SOURCE: &str = "sentinel.report";

/// The `source` a report of `service` is published with.
pub fn source_for(service: &str) -> String {
    format!("{SOURCE_PREFIX}{service}")
}

/// Whether an event's `source` is a report's (well formed or not: the
/// parser names what is wrong).
pub fn is_report_source(source: &str) -> bool {
    source == LEGACY_SOURCE || source.starts_with(SOURCE_PREFIX)
}
/// The `detail-type` of a report: the only one a reporter may publish.
pub const DETAIL_TYPE: &str = "Deployment Reported";

/// The detail's shape version; a change that old readers cannot take
/// raises it.
pub const SCHEMA: u32 = 1;

/// How far a report's own `reportedAt` may be from the event's `time`: a
/// clock that is off by more is a mistake, and the time orders the
/// deployment's transitions. The sender can set `time` too (PutEvents'
/// `Time`), so this catches a wrong clock, not a forger: the clamp to the
/// received time ([`ReportEvent::parse`]) is what bounds a forged date.
pub const MAX_CLOCK_SKEW_MINUTES: i64 = 15;

const MAX_EVENT_BYTES: usize = 256 * 1024;
const MAX_ID_LEN: usize = 128;
const MAX_URL_LEN: usize = 2048;
const MAX_VERSION_LEN: usize = 128;
const MAX_PHASE_LEN: usize = 64;
const MAX_TITLE_LEN: usize = 200;

/// What the deploy reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportStatus {
    Started,
    Succeeded,
    Failed,
}

impl ReportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportStatus::Started => "started",
            ReportStatus::Succeeded => "succeeded",
            ReportStatus::Failed => "failed",
        }
    }

    pub fn build_status(self) -> BuildStatus {
        match self {
            ReportStatus::Started => BuildStatus::Started,
            ReportStatus::Succeeded => BuildStatus::Succeeded,
            ReportStatus::Failed => BuildStatus::Failed,
        }
    }
}

/// The detail of "Deployment Reported", as the CLI writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportDetail {
    pub schema: u32,
    /// The service's name (the record's app is `svc:<service>`).
    pub service: String,
    /// The stack's environment; the record's branch is its name.
    pub environment: Environment,
    /// The deploy id (the record's job id), decimal.
    pub deploy_id: String,
    pub status: ReportStatus,
    /// The commit deployed: 7-40 hex digits.
    pub commit: String,
    /// Where the deployed service answers (https; checked on `succeeded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The version the service should serve once deployed (else the commit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the reporter saw the deploy reach `status`.
    pub reported_at: DateTime<Utc>,
    /// On `failed`: the reporter's diagnosis of its log (never the log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
}

/// A parsed report.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportEvent {
    /// EventBridge's id of this delivery (for logs and the DLQ).
    pub id: String,
    pub key: DeploymentKey,
    pub environment: Environment,
    pub status: ReportStatus,
    pub commit: String,
    pub reported: Reported,
    /// The reporter's `reportedAt`, clamped to the time the event was
    /// received (never later).
    pub reported_at: DateTime<Utc>,
    /// The `reportedAt` the reporter sent, when it was later than the
    /// received time and clamped (for the log).
    pub clamped_from: Option<DateTime<Utc>>,
    pub diagnosis: Option<Diagnosis>,
}

impl ReportEvent {
    /// The observation's id is the report's, not EventBridge's: the same
    /// report sent twice (a retried script) is one observation.
    pub fn observation(&self) -> Observation {
        Observation {
            event_id: self
                .key
                .event_id(&format!("report-{}", self.status.as_str())),
            status: self.status.build_status(),
            at: self.reported_at,
        }
    }

    /// `received`: when the event reached the stack (the SQS message's
    /// `SentTimestamp`, else the function's clock): see [`Self::parse`].
    pub fn parse_str(raw: &str, received: DateTime<Utc>) -> Result<Self, MalformedEvent> {
        if raw.len() > MAX_EVENT_BYTES {
            return Err(MalformedEvent::new(
                "<unknown>",
                format!("event is {} bytes; at most {MAX_EVENT_BYTES}", raw.len()),
            ));
        }
        let value: Value = serde_json::from_str(raw).map_err(|e| {
            MalformedEvent::new(
                "<unknown>",
                format!("not JSON: {e} (body starts {})", preview(raw)),
            )
        })?;
        Self::parse(&value, received)
    }

    /// The report in `value`, received at `received`. Its `reportedAt` is
    /// clamped to `received` from above: a reporter stamps its report before
    /// it calls PutEvents, so an honest `reportedAt` is never later than
    /// the report's arrival, and a later one is a fast clock or a forged
    /// date (2099) that would sort the record above every live deploy and
    /// keep it past the retention. No tolerance is added: a fast clock's
    /// reports are dated by their arrival instead, which keeps their order.
    /// Earlier dates are kept: a delivery EventBridge retried, or an
    /// archive's replay, arrives late with its true time.
    pub fn parse(value: &Value, received: DateTime<Utc>) -> Result<Self, MalformedEvent> {
        let id = match value.get("id") {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_LEN => s.clone(),
            _ => {
                return Err(MalformedEvent::new(
                    "<unknown>",
                    format!("id must be a string of 1-{MAX_ID_LEN} characters"),
                ));
            }
        };
        let bad = |field: &str, why: String| MalformedEvent::new(&id, format!("{field}: {why}"));
        let text = |field: &'static str| -> Result<&str, MalformedEvent> {
            value
                .get(field)
                .and_then(Value::as_str)
                .ok_or_else(|| bad(field, "missing, or not a string".into()))
        };
        let source = text("source")?;
        let Some(source_service) = source.strip_prefix(SOURCE_PREFIX) else {
            let why = if source == LEGACY_SOURCE {
                format!(
                    "{LEGACY_SOURCE:?} names no service: a `sentinel` CLI older than this stack sent it (update the CLI; reports are sent as {SOURCE_PREFIX}<service>)"
                )
            } else {
                format!("{} is not {SOURCE_PREFIX}<service>", preview(source))
            };
            return Err(bad("source", why));
        };
        let app_id = AppId::service(source_service).map_err(|e| bad("source", e.reason))?;
        let detail_type = text("detail-type")?;
        if detail_type != DETAIL_TYPE {
            return Err(bad(
                "detail-type",
                format!("{} is not {DETAIL_TYPE:?}", preview(detail_type)),
            ));
        }
        let time = text("time")?;
        let event_time = DateTime::parse_from_rfc3339(time)
            .map_err(|e| bad("time", format!("{} is not RFC 3339: {e}", preview(time))))?
            .with_timezone(&Utc);
        let detail = value
            .get("detail")
            .filter(|d| d.is_object())
            .ok_or_else(|| bad("detail", "missing, or not an object".into()))?;
        let d: ReportDetail =
            serde_json::from_value(detail.clone()).map_err(|e| bad("detail", e.to_string()))?;
        if d.schema != SCHEMA {
            return Err(bad(
                "detail.schema",
                format!("{} is not {SCHEMA}: a newer CLI than this stack", d.schema),
            ));
        }
        let named = AppId::service(&d.service).map_err(|e| bad("detail.service", e.reason))?;
        if named != app_id {
            return Err(bad(
                "detail.service",
                format!(
                    "{} is not {}, the service this report was sent as (source {}): a reporter may report only the service its IAM principal is tagged with",
                    preview(&d.service),
                    preview(source_service),
                    preview(source)
                ),
            ));
        }
        let branch_name: BranchName = d
            .environment
            .as_str()
            .parse()
            .map_err(|e: crate::core::model::ParseError| bad("detail.environment", e.reason))?;
        let job_id: JobId = d
            .deploy_id
            .parse()
            .map_err(|e: crate::core::model::ParseError| bad("detail.deployId", e.reason))?;
        let commit = check_commit(&d.commit).map_err(|why| bad("detail.commit", why))?;
        let url = d
            .url
            .as_deref()
            .map(check_url)
            .transpose()
            .map_err(|why| bad("detail.url", why))?;
        let version = d
            .version
            .as_deref()
            .map(check_version)
            .transpose()
            .map_err(|why| bad("detail.version", why))?;
        let skew = (d.reported_at - event_time).abs();
        if skew > Duration::minutes(MAX_CLOCK_SKEW_MINUTES) {
            return Err(bad(
                "detail.reportedAt",
                format!(
                    "{} is {} min from the event's time {}: check the reporter's clock",
                    d.reported_at.to_rfc3339(),
                    skew.num_minutes(),
                    event_time.to_rfc3339()
                ),
            ));
        }
        let diagnosis = match (d.status, d.diagnosis) {
            (_, None) => None,
            (ReportStatus::Failed, Some(diagnosis)) => {
                let mut diagnosis =
                    clean_diagnosis(diagnosis).map_err(|why| bad("detail.diagnosis", why))?;
                // Whatever the sender said: this text is the deploy
                // script's, not Sentinel's reading of a log.
                diagnosis.from_report = true;
                Some(diagnosis)
            }
            (status, Some(_)) => {
                return Err(bad(
                    "detail.diagnosis",
                    format!("only a failed report carries one, not {}", status.as_str()),
                ));
            }
        };
        Ok(Self {
            id: id.clone(),
            key: DeploymentKey {
                app_id,
                branch_name,
                job_id,
            },
            environment: d.environment,
            status: d.status,
            commit,
            reported: Reported { url, version },
            reported_at: d.reported_at.min(received),
            clamped_from: (d.reported_at > received).then_some(d.reported_at),
            diagnosis,
        })
    }
}

/// 7-40 hex digits, lowercased.
pub fn check_commit(commit: &str) -> Result<String, String> {
    let ok = (7..=40).contains(&commit.len()) && commit.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(commit.to_ascii_lowercase())
    } else {
        Err(format!(
            "{} is not a commit (7-40 hex digits)",
            preview(commit)
        ))
    }
}

/// An absolute http(s) URL with a host, no credentials, at most
/// [`MAX_URL_LEN`] bytes. Whether it may be requested (https, a public
/// address) is the health checker's outbound rules' to decide, where the
/// request is made: a refused URL gives an Inconclusive verdict there.
pub fn check_url(url: &str) -> Result<String, String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("is {} bytes; at most {MAX_URL_LEN}", url.len()));
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("{}: {e}", preview(url)))?;
    if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
        return Err(format!("{} is not an https URL", preview(url)));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("has credentials in it".into());
    }
    Ok(parsed.to_string())
}

/// 1-128 printable ASCII characters without spaces.
pub fn check_version(version: &str) -> Result<String, String> {
    let ok = !version.is_empty()
        && version.len() <= MAX_VERSION_LEN
        && version.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(version.to_owned())
    } else {
        Err(format!(
            "{} is not a version (1-{MAX_VERSION_LEN} printable characters, no spaces)",
            preview(version)
        ))
    }
}

/// A diagnosis from outside: its category one of the catalogue's, whether
/// a retry can help the catalogue's answer for that category (not the
/// sender's), its text masked and cut to the budgets (what the engine would
/// have produced at most).
pub fn clean_diagnosis(mut d: Diagnosis) -> Result<Diagnosis, String> {
    let Some(rule) = catalogue::by_id(&d.category) else {
        return Err(format!(
            "category {} is not one of the catalogue's (docs/diagnosis.md)",
            preview(&d.category)
        ));
    };
    d.transient = rule.transient;
    let known = |s: &str| catalogue::by_id(s).is_some();
    let clean = |s: &str, max: usize| budget::truncate_to(&mask_in_text(s), max);
    d.title = clean(&d.title, MAX_TITLE_LEN);
    d.fix = clean(&d.fix, budget::PARAGRAPH);
    d.evidence.truncate(budget::EVIDENCE_LINES);
    d.evidence = d
        .evidence
        .into_iter()
        .map(|e| Evidence {
            line: e.line,
            text: clean(&e.text, budget::EVIDENCE_LINE),
        })
        .collect();
    d.secondary.truncate(budget::EVIDENCE_LINES);
    d.secondary = d
        .secondary
        .into_iter()
        .filter(|s| known(&s.category))
        .map(|s| Secondary {
            category: s.category,
            title: clean(&s.title, MAX_TITLE_LEN),
            line: s.line,
        })
        .collect();
    d.command = d.command.map(|c| clean(&c, budget::QUOTED_VALUE));
    d.phase = d.phase.map(|p| clean(&p, MAX_PHASE_LEN));
    d.cut = d.cut.map(|c| clean(&c, budget::QUOTED_VALUE));
    Ok(d)
}

#[cfg(test)]
mod tests;
