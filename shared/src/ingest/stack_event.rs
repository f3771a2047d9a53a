//! CloudFormation's "CloudFormation Stack Status Change" event, parsed
//! strictly, and the rule that says what a stack status means for the
//! deployment of a watched stack (`docs/stacks.md`).
//!
//! The event carries the stack's ARN, its new status and reason, and the
//! `client-request-token` of the operation; the rest (which operation, the
//! environment) comes from DescribeStacks and DescribeStackEvents
//! ([`super::stack_operation`]).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::core::error::MalformedEvent;
use crate::core::model::{AppId, BuildStatus, preview};
use crate::ingest::envelope::{self, Envelope, kind, malformed, object_field, string_field};

pub const SOURCE: &str = "aws.cloudformation";
pub const DETAIL_TYPE: &str = "CloudFormation Stack Status Change";

const MAX_STATUS_LEN: usize = 64;
/// A stack ARN: `arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>`.
const MAX_ARN_LEN: usize = 512;
/// CloudFormation's reasons are at most a few KB; the rest is not kept.
const MAX_REASON_LEN: usize = 4096;
/// ClientRequestToken: 1-128 characters (`[a-zA-Z0-9][-a-zA-Z0-9]*` for the
/// API; the console's are `Console-CreateStack-<uuid>`).
const MAX_TOKEN_LEN: usize = 128;

/// A parsed status change of one watched stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackStatusEvent {
    pub id: String,
    pub time: DateTime<Utc>,
    /// The stack's ARN.
    pub stack_id: String,
    pub stack_name: String,
    /// The stack as a deployment's app id (`cfn:<name>`).
    pub app_id: AppId,
    /// CloudFormation's spelling (`UPDATE_ROLLBACK_COMPLETE`).
    pub status: String,
    pub status_reason: Option<String>,
    /// The operation's token; `None` when the operation had none.
    pub client_request_token: Option<String>,
}

/// What a stack status means for the deployment of the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StackStatusMeaning {
    /// Recorded as this build status.
    Record(BuildStatus),
    /// Not a deployment: nothing is recorded (the reason is logged).
    NotADeployment(&'static str),
}

/// The reason CloudFormation gives when an update changes nothing.
pub const NO_UPDATES: &str = "No updates are to be performed";

/// The status rule (`docs/stacks.md#status`): in progress → started;
/// `CREATE_COMPLETE`, `UPDATE_COMPLETE`, `IMPORT_COMPLETE` → succeeded;
/// `*_ROLLBACK_COMPLETE` and `*_FAILED` → failed; a deletion, a stack
/// waiting for its change set (`REVIEW_IN_PROGRESS`) and an update that
/// changes nothing are not deployments; anything else is recorded as
/// itself (an open set, like Amplify's statuses).
pub fn meaning(status: &str, reason: Option<&str>) -> StackStatusMeaning {
    use StackStatusMeaning::*;
    if reason.is_some_and(|r| r.contains(NO_UPDATES)) {
        return NotADeployment("no updates were to be performed");
    }
    if status.starts_with("DELETE_") {
        return NotADeployment("a deletion is not a deployment");
    }
    match status {
        "REVIEW_IN_PROGRESS" => NotADeployment("a change set waiting for execution"),
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" => Record(BuildStatus::Succeeded),
        s if s.ends_with("_FAILED") || s.ends_with("ROLLBACK_COMPLETE") => {
            Record(BuildStatus::Failed)
        }
        s if s.ends_with("_IN_PROGRESS") => Record(BuildStatus::Started),
        other => Record(BuildStatus::Unknown(other.to_owned())),
    }
}

/// A failure that leaves the stack for a person: the rollback itself
/// failed, and CloudFormation waits for `continue-update-rollback` (or a
/// deletion, for `ROLLBACK_FAILED`).
pub fn needs_a_human(status: &str) -> bool {
    matches!(status, "UPDATE_ROLLBACK_FAILED" | "ROLLBACK_FAILED")
}

/// The kind of operation a status belongs to (`job_type` of the record).
pub fn operation_kind(status: &str) -> &'static str {
    if status.starts_with("UPDATE_") {
        "UPDATE"
    } else if status.starts_with("IMPORT_") {
        "IMPORT"
    } else if status.starts_with("DELETE_") {
        "DELETE"
    } else {
        // CREATE_* and the create's own ROLLBACK_*.
        "CREATE"
    }
}

impl StackStatusEvent {
    pub fn meaning(&self) -> StackStatusMeaning {
        meaning(&self.status, self.status_reason.as_deref())
    }

    /// Parses raw bytes (an SQS body, a file).
    pub fn parse_str(raw: &str) -> Result<Self, MalformedEvent> {
        Self::parse(&envelope::json(raw)?)
    }

    /// Parses an EventBridge envelope carrying CloudFormation's detail.
    pub fn parse(value: &Value) -> Result<Self, MalformedEvent> {
        let Envelope { id, time, detail } = envelope::open(value, SOURCE, DETAIL_TYPE)?;
        let in_detail =
            |e: MalformedEvent| MalformedEvent::new(&e.event_id, format!("detail.{}", e.reason));

        let stack_id = string_field(detail, "stack-id", &id).map_err(in_detail)?;
        let stack_name = stack_name_of(stack_id).ok_or_else(|| {
            malformed(
                &id,
                format!(
                    "detail.stack-id {} is not a stack ARN (arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/ID)",
                    preview(stack_id)
                ),
            )
        })?;
        let app_id = AppId::stack(stack_name)
            .map_err(|e| malformed(&id, format!("detail.stack-id: {}", e.reason)))?;

        let details = object_field(detail, "status-details", &id, "detail.")?;
        let status = string_field(details, "status", &id).map_err(|e| {
            MalformedEvent::new(&e.event_id, format!("detail.status-details.{}", e.reason))
        })?;
        let status_ok = !status.is_empty()
            && status.len() <= MAX_STATUS_LEN
            && status
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !status_ok {
            return Err(malformed(
                &id,
                format!(
                    "detail.status-details.status {} is not a stack status (1-{MAX_STATUS_LEN} of A-Z, 0-9, _)",
                    preview(status)
                ),
            ));
        }
        let status_reason = match details.get("status-reason") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s)) => Some(crate::core::budget::truncate_to(
                &crate::core::redact::mask_in_text(s),
                MAX_REASON_LEN,
            )),
            Some(other) => {
                return Err(malformed(
                    &id,
                    format!(
                        "detail.status-details.status-reason must be a string, got {}",
                        kind(other)
                    ),
                ));
            }
        };
        let client_request_token = match detail.get("client-request-token") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.is_empty() => None,
            Some(Value::String(s))
                if s.len() <= MAX_TOKEN_LEN
                    && s.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(s.clone())
            }
            Some(Value::String(s)) => {
                return Err(malformed(
                    &id,
                    format!(
                        "detail.client-request-token {} is not a token (1-{MAX_TOKEN_LEN} of letters, digits, '-', '_')",
                        preview(s)
                    ),
                ));
            }
            Some(other) => {
                return Err(malformed(
                    &id,
                    format!(
                        "detail.client-request-token must be a string, got {}",
                        kind(other)
                    ),
                ));
            }
        };
        Ok(Self {
            id,
            time,
            stack_id: stack_id.to_owned(),
            stack_name: stack_name.to_owned(),
            app_id,
            status: status.to_owned(),
            status_reason,
            client_request_token,
        })
    }
}

/// The stack name in a stack ARN, if `arn` is one.
pub fn stack_name_of(arn: &str) -> Option<&str> {
    if arn.len() > MAX_ARN_LEN {
        return None;
    }
    let mut parts = arn.splitn(6, ':');
    let (arn_, partition, service, region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let ok = arn_ == "arn"
        && partition.starts_with("aws")
        && service == "cloudformation"
        && !region.is_empty()
        && account.len() == 12
        && account.bytes().all(|b| b.is_ascii_digit());
    let mut segments = resource.split('/');
    let (kind, name, uuid) = (segments.next()?, segments.next()?, segments.next()?);
    (ok && kind == "stack" && !name.is_empty() && !uuid.is_empty() && segments.next().is_none())
        .then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-api-prod/4a1b2c3d-0000-11ef-8000-0a1b2c3d4e5f";

    fn event() -> Value {
        json!({
            "version": "0",
            "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "CloudFormation Stack Status Change",
            "source": "aws.cloudformation",
            "account": "123456789012",
            "time": "2026-11-27T10:00:00Z",
            "region": "us-east-1",
            "resources": [ARN],
            "detail": {
                "stack-id": ARN,
                "status-details": {"status": "UPDATE_IN_PROGRESS", "status-reason": "User Initiated"},
                "client-request-token": "sam-deploy-0001"
            }
        })
    }

    fn reason_for(mutate: impl FnOnce(&mut Value)) -> String {
        let mut v = event();
        mutate(&mut v);
        StackStatusEvent::parse(&v).unwrap_err().to_string()
    }

    #[test]
    fn parses_the_real_shape() {
        let e = StackStatusEvent::parse(&event()).unwrap();
        assert_eq!(e.stack_name, "shop-api-prod");
        assert_eq!(e.app_id.as_str(), "cfn:shop-api-prod");
        assert_eq!(e.status, "UPDATE_IN_PROGRESS");
        assert_eq!(e.status_reason.as_deref(), Some("User Initiated"));
        assert_eq!(e.client_request_token.as_deref(), Some("sam-deploy-0001"));
        assert_eq!(
            e.meaning(),
            StackStatusMeaning::Record(BuildStatus::Started)
        );
    }

    #[test]
    fn an_operation_without_a_token_is_accepted() {
        for token in [json!(""), Value::Null] {
            let mut v = event();
            v["detail"]["client-request-token"] = token;
            assert_eq!(
                StackStatusEvent::parse(&v).unwrap().client_request_token,
                None
            );
        }
        let mut v = event();
        v["detail"]
            .as_object_mut()
            .unwrap()
            .remove("client-request-token");
        assert_eq!(
            StackStatusEvent::parse(&v).unwrap().client_request_token,
            None
        );
    }

    #[test]
    fn each_malformation_is_named() {
        type Mutation = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Mutation, &str)> = vec![
            (
                Box::new(|v| v["detail"] = json!([])),
                "detail must be an object",
            ),
            (
                Box::new(|v| {
                    v.as_object_mut().unwrap().remove("detail");
                }),
                "detail is missing",
            ),
            (
                Box::new(|v| {
                    v["detail"].as_object_mut().unwrap().remove("stack-id");
                }),
                "detail.stack-id is missing",
            ),
            (
                Box::new(|v| v["detail"]["stack-id"] = json!(42)),
                "detail.stack-id must be a string, got a number",
            ),
            (
                Box::new(|v| v["detail"]["stack-id"] = json!("shop-api-prod")),
                "detail.stack-id \"shop-api-prod\" is not a stack ARN",
            ),
            (
                Box::new(|v| {
                    v["detail"]["stack-id"] =
                        json!("arn:aws:cloudformation:us-east-1:123456789012:stack/1bad_name/x")
                }),
                "detail.stack-id: ",
            ),
            (
                Box::new(|v| v["detail"]["status-details"] = json!("UPDATE_COMPLETE")),
                "detail.status-details must be an object, got a string",
            ),
            (
                Box::new(|v| {
                    v["detail"]
                        .as_object_mut()
                        .unwrap()
                        .remove("status-details");
                }),
                "detail.status-details is missing",
            ),
            (
                Box::new(|v| {
                    v["detail"]["status-details"]
                        .as_object_mut()
                        .unwrap()
                        .remove("status");
                }),
                "detail.status-details.status is missing",
            ),
            (
                Box::new(|v| v["detail"]["status-details"]["status"] = json!("<b>done</b>")),
                "detail.status-details.status",
            ),
            (
                Box::new(|v| v["detail"]["status-details"]["status-reason"] = json!({"a": 1})),
                "detail.status-details.status-reason must be a string",
            ),
            (
                Box::new(|v| v["detail"]["client-request-token"] = json!(7)),
                "detail.client-request-token must be a string",
            ),
            (
                Box::new(|v| v["detail"]["client-request-token"] = json!("a b")),
                "detail.client-request-token",
            ),
            (
                Box::new(|v| v["source"] = json!("aws.amplify")),
                "source is",
            ),
            (
                Box::new(|v| v["detail-type"] = json!("CloudFormation Resource Status Change")),
                "detail-type is",
            ),
            (Box::new(|v| v["time"] = json!("today")), "time"),
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
    fn not_json_and_oversized_are_malformed() {
        let err = StackStatusEvent::parse_str("{nope").unwrap_err();
        assert!(err.reason.starts_with("not JSON"), "{err}");
        let err = StackStatusEvent::parse_str(&"x".repeat(300 * 1024)).unwrap_err();
        assert!(err.reason.contains("bytes"), "{err}");
    }

    #[test]
    fn a_secret_in_the_reason_is_masked() {
        let mut v = event();
        v["detail"]["status-details"]["status-reason"] =
            json!("Parameter value ghp_0123456789abcdefghijklmnopqrstuvwxyzAB is invalid");
        let e = StackStatusEvent::parse(&v).unwrap();
        assert!(
            !e.status_reason.unwrap().contains("0123456789abcdefghij"),
            "the token is masked"
        );
    }

    #[test]
    fn the_status_rule() {
        use BuildStatus::*;
        use StackStatusMeaning::*;
        for (status, expected) in [
            ("CREATE_IN_PROGRESS", Record(Started)),
            ("UPDATE_IN_PROGRESS", Record(Started)),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", Record(Started)),
            ("UPDATE_ROLLBACK_IN_PROGRESS", Record(Started)),
            ("ROLLBACK_IN_PROGRESS", Record(Started)),
            ("IMPORT_IN_PROGRESS", Record(Started)),
            ("CREATE_COMPLETE", Record(Succeeded)),
            ("UPDATE_COMPLETE", Record(Succeeded)),
            ("IMPORT_COMPLETE", Record(Succeeded)),
            ("ROLLBACK_COMPLETE", Record(Failed)),
            ("UPDATE_ROLLBACK_COMPLETE", Record(Failed)),
            ("IMPORT_ROLLBACK_COMPLETE", Record(Failed)),
            ("CREATE_FAILED", Record(Failed)),
            ("UPDATE_FAILED", Record(Failed)),
            ("ROLLBACK_FAILED", Record(Failed)),
            ("UPDATE_ROLLBACK_FAILED", Record(Failed)),
            ("IMPORT_ROLLBACK_FAILED", Record(Failed)),
            ("SOMETHING_NEW", Record(Unknown("SOMETHING_NEW".into()))),
        ] {
            assert_eq!(meaning(status, None), expected, "{status}");
        }
        for status in [
            "DELETE_IN_PROGRESS",
            "DELETE_COMPLETE",
            "DELETE_FAILED",
            "REVIEW_IN_PROGRESS",
        ] {
            assert!(
                matches!(meaning(status, None), NotADeployment(_)),
                "{status}"
            );
        }
        assert!(matches!(
            meaning("UPDATE_COMPLETE", Some("No updates are to be performed.")),
            NotADeployment(_)
        ));
        assert!(needs_a_human("UPDATE_ROLLBACK_FAILED"));
        assert!(!needs_a_human("UPDATE_ROLLBACK_COMPLETE"));
        assert_eq!(operation_kind("UPDATE_ROLLBACK_COMPLETE"), "UPDATE");
        assert_eq!(operation_kind("ROLLBACK_COMPLETE"), "CREATE");
        assert_eq!(operation_kind("IMPORT_COMPLETE"), "IMPORT");
    }

    #[test]
    fn stack_arns() {
        assert_eq!(stack_name_of(ARN), Some("shop-api-prod"));
        assert_eq!(
            stack_name_of("arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/a/b"),
            Some("a")
        );
        for bad in [
            "arn:aws:s3:::bucket",
            "arn:aws:cloudformation:us-east-1:123:stack/a/b",
            "arn:aws:cloudformation:us-east-1:123456789012:stackset/a/b",
            "arn:aws:cloudformation:us-east-1:123456789012:stack/a",
            "arn:aws:cloudformation:us-east-1:123456789012:stack//b",
        ] {
            assert_eq!(stack_name_of(bad), None, "{bad}");
        }
    }
}
