//! What every AWS adapter does with an SDK failure: its class ([`Failure`]:
//! retry later, refused, not found, a condition that failed), read from the
//! error code and the HTTP status ([`classify`]), and SDK timestamps as the
//! domain's ([`to_chrono`]).

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::error::display::DisplayErrorContext;

/// How an SDK failure should be treated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Throttling, timeouts, connection errors, 5xx: retry later.
    Transient(String),
    /// The request itself was refused: retrying will not help.
    Rejected(String),
    NotFound(String),
    ConditionFailed,
}

const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "LimitExceededException",
    "InternalServerError",
    "InternalServerException",
    "InternalFailure",
    // Amplify's own 5xx: an internal failure, a service it depends on.
    "InternalFailureException",
    "DependentServiceFailureException",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "TransactionConflictException",
];

pub(crate) fn classify<E, R>(err: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + HasStatus,
{
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            // Code and message only: the full error would carry the raw
            // response (headers, body) into logs.
            let text = format!(
                "{} ({}): {}",
                code,
                service.raw().status().as_u16(),
                service.err().message().unwrap_or("no message")
            );
            if code == "ConditionalCheckFailedException" {
                Failure::ConditionFailed
            } else if code == "NotFoundException" || code == "ResourceNotFoundException" {
                Failure::NotFound(text)
            } else if TRANSIENT_CODES.contains(&code) || service.raw().status().is_server_error() {
                Failure::Transient(text)
            } else {
                Failure::Rejected(text)
            }
        }
        SdkError::ConstructionFailure(_) => Failure::Rejected(DisplayErrorContext(err).to_string()),
        _ => Failure::Transient(DisplayErrorContext(err).to_string()),
    }
}

/// The HTTP status of a raw response, for error messages.
pub(crate) trait HasStatus {
    fn status(&self) -> aws_smithy_runtime_api::http::StatusCode;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status(&self) -> aws_smithy_runtime_api::http::StatusCode {
        aws_smithy_runtime_api::http::Response::status(self)
    }
}

/// Converts SDK timestamps to the domain's.
pub(crate) fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}
