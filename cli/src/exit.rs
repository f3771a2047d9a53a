//! Exit codes, the same for every command (`sentinel --help` lists them):
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | a finding: validation errors, an unhealthy site, a refused rollback, a failed doctor check |
//! | 2 | bad usage: a flag, a file, a setting missing or wrong |
//! | 3 | inconclusive: the check could not decide |
//! | 4 | a failure talking to AWS: the service, the operation and what to check |
//! | 5 | no verdict in time: `sentinel report --wait` reached its `--timeout` |
//!
//! A site that fails a check is a finding (1), never 4: only AWS's own APIs
//! count as "talking to AWS".

use sentinel_shared::core::error::{AmplifyError, Error, PublishError, SecretsError, StoreError};

pub const SUCCESS: u8 = 0;
pub const FINDING: u8 = 1;
pub const USAGE: u8 = 2;
pub const INCONCLUSIVE: u8 = 3;
pub const AWS: u8 = 4;
/// `sentinel report --wait`: the health checker gave no verdict within
/// `--timeout` (distinct from 3: the check may still be running).
pub const TIMEOUT: u8 = 5;

/// What `sentinel --help` says about them.
pub const HELP: &str = "Exit codes: 0 success; 1 a finding (validation errors, unhealthy, \
a refused rollback, a failed doctor check); 2 bad usage; 3 inconclusive; 4 a failure \
talking to AWS (credentials, region, endpoint); 5 no verdict within `report --wait --timeout`.\n\
Times are shown in UTC unless --local. Progress goes to stderr on a terminal only; \
colour never with NO_COLOR set.";

/// A call to an AWS API that failed: which service and operation.
#[derive(Debug, thiserror::Error)]
#[error("{service} {operation}: {detail}")]
pub struct AwsFailure {
    pub service: &'static str,
    pub operation: &'static str,
    pub detail: String,
}

impl AwsFailure {
    /// Maps an SDK error of `service`'s `operation`, with its whole cause.
    pub fn of<E: std::error::Error>(
        service: &'static str,
        operation: &'static str,
    ) -> impl FnOnce(E) -> anyhow::Error {
        move |e| {
            anyhow::Error::new(AwsFailure {
                service,
                operation,
                detail: DisplayChain(&e).to_string(),
            })
        }
    }
}

/// An error and its sources on one line (what the SDK's
/// `DisplayErrorContext` prints).
struct DisplayChain<'a, E>(&'a E);

impl<E: std::error::Error> std::fmt::Display for DisplayChain<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// The exit code of an error, and a hint to print after it (if any).
pub fn classify(e: &anyhow::Error) -> (u8, Option<String>) {
    for cause in e.chain() {
        if let Some(f) = cause.downcast_ref::<AwsFailure>() {
            return (AWS, Some(hint(f.service, Some(f.operation))));
        }
        if let Some(service) = aws_service(cause) {
            return (AWS, Some(hint(service, None)));
        }
        if let Some(Error::DeadLetter(_)) = cause.downcast_ref::<Error>() {
            // A reaction's refusal (a job that cannot be rolled back to).
            return (FINDING, None);
        }
    }
    (USAGE, None)
}

/// The AWS service behind one of the shared crate's errors, when it is a
/// failure to talk to it (not a refusal of what was asked).
fn aws_service(cause: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    if let Some(e) = cause.downcast_ref::<Error>() {
        return match e {
            Error::Store(s) => store(s),
            Error::Amplify(a) => amplify(a),
            Error::Publish(p) => publish(p),
            Error::Secrets(s) => secrets(s),
            Error::Metrics(m) => matches!(
                m,
                sentinel_shared::core::error::MetricsError::Unavailable(_)
            )
            .then_some("CloudWatch"),
            Error::CloudFormation(c) => matches!(
                c,
                sentinel_shared::core::error::CloudFormationError::Unavailable(_)
            )
            .then_some("CloudFormation"),
            Error::Malformed(_) | Error::DeadLetter(_) => None,
        };
    }
    cause
        .downcast_ref::<StoreError>()
        .and_then(store)
        .or_else(|| cause.downcast_ref::<AmplifyError>().and_then(amplify))
        .or_else(|| cause.downcast_ref::<PublishError>().and_then(publish))
        .or_else(|| cause.downcast_ref::<SecretsError>().and_then(secrets))
}

fn store(e: &StoreError) -> Option<&'static str> {
    match e {
        StoreError::Corrupt(_) => None,
        _ => Some("DynamoDB"),
    }
}

fn amplify(e: &AmplifyError) -> Option<&'static str> {
    match e {
        AmplifyError::NotFound(_) => None,
        _ => Some("Amplify"),
    }
}

fn publish(_: &PublishError) -> Option<&'static str> {
    Some("EventBridge")
}

fn secrets(_: &SecretsError) -> Option<&'static str> {
    Some("SSM")
}

fn hint(service: &str, operation: Option<&str>) -> String {
    let call = operation.map_or_else(|| service.to_owned(), |op| format!("{service} {op}"));
    let bus = match service {
        // The stack's bus policy denies every publisher it does not name.
        "EventBridge" => {
            "; to publish on the stack's bus the identity must also be listed in the \
             stack's OperatorArns parameter (docs/security.md, \"The event bus\")"
        }
        _ => "",
    };
    format!(
        "a failure talking to AWS ({call}): check the credentials (AWS_PROFILE, or \
         AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), the region (AWS_REGION) and the \
         endpoint (AWS_ENDPOINT_URL, if set), and that the identity may call it \
         (docs/iam/operator.json){bus}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_error_has_its_code() {
        let usage = anyhow::anyhow!("no table: pass --table");
        assert_eq!(classify(&usage).0, USAGE);
        let store = anyhow::Error::new(Error::Store(StoreError::Unavailable("timeout".into())))
            .context("reading deployments");
        let (code, hint) = classify(&store);
        assert_eq!(code, AWS);
        assert!(hint.unwrap().contains("(DynamoDB)"));
        let sdk = AwsFailure::of::<std::io::Error>("SQS", "ReceiveMessage")(std::io::Error::other(
            "connection refused",
        ));
        let (code, hint) = classify(&sdk);
        assert_eq!(code, AWS);
        assert!(hint.unwrap().contains("SQS ReceiveMessage"));
        assert!(sdk.to_string().contains("connection refused"));
        let denied = anyhow::Error::new(Error::Publish(PublishError::Rejected(
            "AccessDeniedException: explicit deny in a resource-based policy".into(),
        )));
        let (code, hint) = classify(&denied);
        assert_eq!(code, AWS);
        assert!(hint.unwrap().contains("OperatorArns"));
        let refused = anyhow::Error::new(Error::DeadLetter("job 3 did not succeed".into()));
        assert_eq!(classify(&refused).0, FINDING);
        let missing = anyhow::Error::new(Error::Amplify(AmplifyError::NotFound("app".into())));
        assert_eq!(classify(&missing).0, USAGE);
    }
}
