//! Adapters: the ports implemented over the AWS SDK, and in memory for unit
//! tests. No SDK type leaves this module.

pub mod amplify;
pub mod dynamodb;
pub mod eventbridge;
pub mod memory;
pub mod sqs;

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
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "TransactionConflictException",
];

pub(crate) fn classify<E, R>(err: &SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let text = DisplayErrorContext(err).to_string();
    match err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or_default();
            if code == "ConditionalCheckFailedException" {
                Failure::ConditionFailed
            } else if code == "NotFoundException" || code == "ResourceNotFoundException" {
                Failure::NotFound(text)
            } else if TRANSIENT_CODES.contains(&code) {
                Failure::Transient(text)
            } else {
                Failure::Rejected(text)
            }
        }
        SdkError::ConstructionFailure(_) => Failure::Rejected(text),
        _ => Failure::Transient(text),
    }
}

/// Converts SDK timestamps to the domain's.
pub(crate) fn to_chrono(t: &aws_smithy_types::DateTime) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}
