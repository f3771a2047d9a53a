//! Errors of the domain and its ports, and how Lambda sees them.
//!
//! Every error says whether retrying can help. A retryable one fails the
//! invocation (or the SQS record) so that it is delivered again; a
//! non-retryable one goes to the dead-letter queue with its reason.

/// A delivery that cannot be understood. Never retried: the same bytes would
/// fail the same way.
///
/// Its text reaches logs and the dead-letter queue's `errorMessage`, and a
/// parse error (serde's above all) quotes the offending value: build it
/// with [`MalformedEvent::new`], which masks secrets in both fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed event {event_id}: {reason}")]
pub struct MalformedEvent {
    /// The event's `id` when it could be read, else `<unknown>`.
    pub event_id: String,
    pub reason: String,
}

impl MalformedEvent {
    /// The error, with every secret in the id and the reason masked
    /// ([`crate::core::redact::mask_in_text`]).
    pub fn new(event_id: impl AsRef<str>, reason: impl AsRef<str>) -> Self {
        use crate::core::redact::mask_in_text;
        Self {
            event_id: mask_in_text(event_id.as_ref()),
            reason: mask_in_text(reason.as_ref()),
        }
    }
}

/// A failure of the deployment store.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer changed the item since it was read (optimistic
    /// concurrency); read again and re-apply.
    #[error("the item changed since it was read")]
    Conflict,
    /// Throttling, a timeout, a 5xx: worth retrying.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The request was refused (validation, permissions, missing table):
    /// retrying the same request will not help.
    #[error("store refused the request: {0}")]
    Rejected(String),
    /// An item that cannot be decoded into the domain model.
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
}

/// A failure of Amplify's API.
#[derive(Debug, thiserror::Error)]
pub enum AmplifyError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("Amplify unavailable: {0}")]
    Unavailable(String),
    #[error("Amplify refused the request: {0}")]
    Rejected(String),
}

/// Why Amplify's secrets (SSM Parameter Store) could not be listed.
/// CloudFormation (DescribeStacks, DescribeStackEvents) for watched stacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudFormationError {
    #[error("not found: {0}")]
    NotFound(String),
    #[error("CloudFormation unavailable: {0}")]
    Unavailable(String),
    #[error("CloudFormation refused the request: {0}")]
    Rejected(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretsError {
    /// Throttling, a timeout, a 5xx: worth retrying.
    #[error("SSM unavailable: {0}")]
    Unavailable(String),
    /// Refused (access denied, validation): retrying will not help.
    #[error("SSM refused the request: {0}")]
    Rejected(String),
}

/// Why CloudWatch (Amplify Hosting's metrics, the team's alarms) could not
/// be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricsError {
    /// Throttling, a timeout, a 5xx: worth retrying.
    #[error("CloudWatch unavailable: {0}")]
    Unavailable(String),
    /// Refused (access denied, validation): retrying will not help.
    #[error("CloudWatch refused the request: {0}")]
    Rejected(String),
}

/// A failure to publish domain events.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{failed} of {total} entries rejected: {reason}")]
    Partial {
        failed: usize,
        total: usize,
        reason: String,
    },
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("the request was refused: {0}")]
    Rejected(String),
}

/// Everything a function's `handle` can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Malformed(#[from] MalformedEvent),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("amplify: {0}")]
    Amplify(#[from] AmplifyError),
    #[error("publish: {0}")]
    Publish(#[from] PublishError),
    /// Listing Amplify's secrets (SSM Parameter Store) failed.
    #[error("secrets: {0}")]
    Secrets(#[from] SecretsError),
    /// Reading CloudWatch (a bake's metrics and alarms) failed.
    #[error("metrics: {0}")]
    Metrics(#[from] MetricsError),
    #[error("cloudformation: {0}")]
    CloudFormation(#[from] CloudFormationError),
    /// A permanent failure of this delivery (the job cannot be rolled back
    /// to, the record lost what the reaction just wrote, no site to check):
    /// the same delivery would fail the same way, so it goes to the
    /// dead-letter queue at once, not after the queue's retries.
    #[error("dead-letter queue: {0}")]
    DeadLetter(String),
}

impl Error {
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Malformed(_) => false,
            Error::Store(e) => matches!(e, StoreError::Conflict | StoreError::Unavailable(_)),
            Error::Amplify(e) => matches!(e, AmplifyError::Unavailable(_)),
            Error::Publish(e) => !matches!(e, PublishError::Rejected(_)),
            Error::Secrets(e) => matches!(e, SecretsError::Unavailable(_)),
            Error::Metrics(e) => matches!(e, MetricsError::Unavailable(_)),
            Error::CloudFormation(e) => matches!(e, CloudFormationError::Unavailable(_)),
            Error::DeadLetter(_) => false,
        }
    }

    /// A stable `errorType` for Lambda and the dead-letter queue:
    /// `Retryable.<Part>` or `NonRetryable.<Part>`.
    pub fn error_type(&self) -> &'static str {
        let retryable = self.is_retryable();
        match (self, retryable) {
            (Error::Malformed(_), _) => "NonRetryable.Event",
            (Error::Store(StoreError::Corrupt(_)), _) => "NonRetryable.StoredItem",
            (Error::Store(_), true) => "Retryable.Store",
            (Error::Store(_), false) => "NonRetryable.Store",
            (Error::Amplify(_), true) => "Retryable.Amplify",
            (Error::Amplify(_), false) => "NonRetryable.Amplify",
            (Error::Publish(_), true) => "Retryable.Publish",
            (Error::Publish(_), false) => "NonRetryable.Publish",
            (Error::Secrets(_), true) => "Retryable.Secrets",
            (Error::Secrets(_), false) => "NonRetryable.Secrets",
            (Error::Metrics(_), true) => "Retryable.Metrics",
            (Error::Metrics(_), false) => "NonRetryable.Metrics",
            (Error::CloudFormation(_), true) => "Retryable.CloudFormation",
            (Error::CloudFormation(_), false) => "NonRetryable.CloudFormation",
            (Error::DeadLetter(_), _) => "NonRetryable.DeadLetter",
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(e: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.error_type().to_owned(),
            error_message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_events_are_not_retried() {
        let e = Error::from(MalformedEvent {
            event_id: "x".into(),
            reason: "detail is missing".into(),
        });
        assert!(!e.is_retryable());
        assert_eq!(e.error_type(), "NonRetryable.Event");
        let d = lambda_runtime::Diagnostic::from(e);
        assert!(d.error_message.contains("detail is missing"));
    }

    /// Issue #18 item 9: a permanent failure goes to the DLQ at once, not
    /// after the queue's retries (about 2.4 hours to the alarm).
    #[test]
    fn dead_letters_are_not_retried() {
        let e = Error::DeadLetter("job 3 did not succeed".into());
        assert!(!e.is_retryable());
        assert_eq!(e.error_type(), "NonRetryable.DeadLetter");
    }

    #[test]
    fn a_malformed_event_masks_the_secrets_it_quotes() {
        let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
        let e = MalformedEvent::new(
            "evt-1",
            format!("invalid type: string \"{token}\", expected u64"),
        );
        let d = lambda_runtime::Diagnostic::from(Error::from(e));
        assert!(!d.error_message.contains(token), "{}", d.error_message);
        assert!(
            d.error_message.contains("ghp_…(40 chars)"),
            "{}",
            d.error_message
        );
    }

    #[test]
    fn transient_failures_are_retried() {
        assert!(Error::from(StoreError::Conflict).is_retryable());
        assert!(Error::from(AmplifyError::Unavailable("503".into())).is_retryable());
        assert_eq!(
            Error::from(PublishError::Partial {
                failed: 1,
                total: 1,
                reason: "ThrottlingException".into()
            })
            .error_type(),
            "Retryable.Publish"
        );
        assert!(!Error::from(AmplifyError::Rejected("bad".into())).is_retryable());
        let throttled = Error::from(SecretsError::Unavailable("Throttling".into()));
        assert_eq!(throttled.error_type(), "Retryable.Secrets");
        let denied = Error::from(SecretsError::Rejected("AccessDenied".into()));
        assert_eq!(denied.error_type(), "NonRetryable.Secrets");
    }
}
