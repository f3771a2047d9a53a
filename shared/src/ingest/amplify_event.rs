//! Amplify's "Amplify Deployment Status Change" event, parsed strictly.
//!
//! This is the only place that knows Amplify's event format. Parsing reports
//! the first problem with the field it concerns, so that a malformed delivery
//! in the dead-letter queue explains itself.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::core::deployment::DeploymentKey;
use crate::core::error::MalformedEvent;
use crate::core::model::{AppId, BranchName, BuildStatus, JobId, preview};
use crate::core::transitions::Observation;
use crate::ingest::envelope::{self, Envelope, malformed, string_field};

pub const SOURCE: &str = "aws.amplify";
pub const DETAIL_TYPE: &str = "Amplify Deployment Status Change";

const MAX_STATUS_LEN: usize = 64;

/// A parsed status change of one Amplify job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmplifyStatusEvent {
    pub id: String,
    pub time: DateTime<Utc>,
    pub app_id: AppId,
    pub branch_name: BranchName,
    pub job_id: JobId,
    pub status: BuildStatus,
    pub job_step: Option<String>,
}

impl AmplifyStatusEvent {
    pub fn key(&self) -> DeploymentKey {
        DeploymentKey {
            app_id: self.app_id.clone(),
            branch_name: self.branch_name.clone(),
            job_id: self.job_id,
        }
    }

    pub fn observation(&self) -> Observation {
        Observation {
            event_id: self.id.clone(),
            status: self.status.clone(),
            at: self.time,
        }
    }

    /// Parses raw bytes (an SQS body, a file).
    pub fn parse_str(raw: &str) -> Result<Self, MalformedEvent> {
        Self::parse(&envelope::json(raw)?)
    }

    /// Parses an EventBridge envelope carrying Amplify's detail.
    pub fn parse(value: &Value) -> Result<Self, MalformedEvent> {
        let Envelope { id, time, detail } = envelope::open(value, SOURCE, DETAIL_TYPE)?;
        let detail_field = |name: &str| -> Result<&str, MalformedEvent> {
            string_field(detail, name, &id)
                .map_err(|e| MalformedEvent::new(&e.event_id, format!("detail.{}", e.reason)))
        };
        let parse_err = |e: crate::core::model::ParseError| malformed(&id, format!("detail.{e}"));
        let app_id = AppId::amplify(detail_field("appId")?).map_err(parse_err)?;
        let branch_name: BranchName = detail_field("branchName")?.parse().map_err(parse_err)?;
        let job_id: JobId = detail_field("jobId")?.parse().map_err(parse_err)?;
        let raw_status = detail_field("jobStatus")?;
        let status_ok = !raw_status.is_empty()
            && raw_status.len() <= MAX_STATUS_LEN
            && raw_status
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !status_ok {
            return Err(malformed(
                &id,
                format!(
                    "detail.jobStatus {} is not a status (1-{MAX_STATUS_LEN} of A-Z, 0-9, _)",
                    preview(raw_status)
                ),
            ));
        }
        let job_step = match detail.get("jobStep") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.len() <= MAX_STATUS_LEN => Some(s.clone()),
            Some(_) => {
                return Err(malformed(
                    &id,
                    format!("detail.jobStep must be a string of at most {MAX_STATUS_LEN} bytes"),
                ));
            }
        };
        Ok(Self {
            id,
            time,
            app_id,
            branch_name,
            job_id,
            status: BuildStatus::from_amplify(raw_status),
            job_step,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "version": "0",
            "id": "7f1c0c3e-0000-4000-8000-000000000001",
            "detail-type": "Amplify Deployment Status Change",
            "source": "aws.amplify",
            "account": "123456789012",
            "time": "2026-11-22T10:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:amplify:us-east-1:123456789012:apps/dsentinel0001/branches/main/jobs/0000000004"],
            "detail": {"appId": "dsentinel0001", "branchName": "main", "jobId": "4", "jobStatus": "SUCCEED"}
        })
    }

    fn reason_for(mutate: impl FnOnce(&mut Value)) -> String {
        let mut v = event();
        mutate(&mut v);
        AmplifyStatusEvent::parse(&v).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_real_shape() {
        let e = AmplifyStatusEvent::parse(&event()).unwrap();
        assert_eq!(e.job_id, JobId::new(4));
        assert_eq!(e.status, BuildStatus::Succeeded);
        assert_eq!(e.branch_name.as_str(), "main");
    }

    #[test]
    fn each_malformation_is_named() {
        type Mutation = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|v| v["detail"] = Value::Null),
                "detail must be an object",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("detail");
                }),
                "detail is missing",
            ),
            (
                Box::new(|v| v["detail"]["jobId"] = json!(4)),
                "detail.jobId must be a string, got a number",
            ),
            (
                Box::new(|v| v["detail"]["jobId"] = json!("four")),
                "detail.jobId",
            ),
            (
                Box::new(|v| v["detail"]["appId"] = json!("not-an-app")),
                "detail.appId",
            ),
            (
                // A stack's or service's id is never an Amplify event's.
                Box::new(|v| v["detail"]["appId"] = json!("cfn:shop-api")),
                "detail.appId",
            ),
            (
                Box::new(|v| v["detail"]["branchName"] = json!("b".repeat(300))),
                "detail.branchName: is 300 bytes",
            ),
            (
                Box::new(|v| v["detail"]["jobStatus"] = json!("<script>")),
                "detail.jobStatus",
            ),
            (Box::new(|v| v["source"] = json!("aws.s3")), "source is"),
            (Box::new(|v| v["time"] = json!("yesterday")), "time"),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("id");
                }),
                "id is missing",
            ),
        ];
        for (mutate, expected) in cases {
            let reason = reason_for(mutate);
            assert!(
                reason.contains(expected),
                "{reason:?} should contain {expected:?}"
            );
        }
    }

    #[test]
    fn errors_carry_the_event_id() {
        let reason = reason_for(|v| v["detail"]["jobId"] = json!(null));
        assert!(
            reason.contains("7f1c0c3e-0000-4000-8000-000000000001"),
            "{reason}"
        );
    }

    #[test]
    fn not_json_is_malformed() {
        let err = AmplifyStatusEvent::parse_str("hello {").unwrap_err();
        assert!(err.reason.starts_with("not JSON"), "{err}");
        assert_eq!(err.event_id, "<unknown>");
    }

    #[test]
    fn unknown_status_is_accepted() {
        let mut v = event();
        v["detail"]["jobStatus"] = json!("PROVISIONING_V2");
        let e = AmplifyStatusEvent::parse(&v).unwrap();
        assert_eq!(e.status, BuildStatus::Unknown("PROVISIONING_V2".into()));
    }
}
