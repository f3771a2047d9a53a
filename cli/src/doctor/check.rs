//! A check's verdict ([`Check`], [`Status`]) and what the areas' checks
//! share to build one: its constructor, the fix "redeploy", whether an
//! error is a "not found", an SQS error as text.

use serde::Serialize;

use super::seen::Seen;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Pass,
    Fail,
    /// What the stack at hand cannot answer (said why); never a failure.
    Unchecked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    /// table, bus, rule, archive, queue, dlq, eventSource, alerts, app, mode.
    pub area: String,
    pub name: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub(super) fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

pub(super) fn check(
    area: &str,
    name: impl Into<String>,
    status: Status,
    detail: impl Into<String>,
) -> Check {
    Check {
        area: area.into(),
        name: name.into(),
        status,
        detail: detail.into(),
        fix: None,
    }
}

/// The fix of whatever the stack lacks.
pub(super) fn redeploy(seen: &Seen) -> String {
    let stack = &seen.stack;
    format!("redeploy the stack (sam deploy --stack-name {stack}): it creates what is missing")
}

pub(super) fn not_found(error: &str) -> bool {
    ["NotFound", "NonExistent", "does not exist", "not found"]
        .iter()
        .any(|n| error.contains(n))
}

/// A call's error in one line: the service's code and message, or the
/// whole cause (a connection or credentials failure).
pub(super) fn why<E, R>(e: aws_sdk_sqs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_sqs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or_default()
        ),
        None => aws_sdk_sqs::error::DisplayErrorContext(e).to_string(),
    }
}
