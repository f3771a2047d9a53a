//! [`CloudFormationApi`] over the SDK: DescribeStacks and
//! DescribeStackEvents of a watched stack, read only.

use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::error::{ProvideErrorMetadata, SdkError};

use super::sdk::{Failure, classify, to_chrono};
use crate::core::error::CloudFormationError;
use crate::ports::{CloudFormationApi, StackEvent, StackEventsPage, StackInfo};

pub struct CloudFormationClient {
    client: Client,
}

impl CloudFormationClient {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

/// CloudFormation says "Stack with id X does not exist" as a
/// `ValidationError` (400), not a not-found code.
fn cfn_error<E, R>(err: &SdkError<E, R>) -> CloudFormationError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + super::sdk::HasStatus,
{
    if let SdkError::ServiceError(service) = err {
        let e = service.err();
        if e.code() == Some("ValidationError")
            && e.message().is_some_and(|m| m.contains("does not exist"))
        {
            return CloudFormationError::NotFound(e.message().unwrap_or_default().to_owned());
        }
    }
    match classify(err) {
        Failure::Transient(m) => CloudFormationError::Unavailable(m),
        Failure::NotFound(m) => CloudFormationError::NotFound(m),
        Failure::Rejected(m) => CloudFormationError::Rejected(m),
        Failure::ConditionFailed => CloudFormationError::Rejected("condition failed".into()),
    }
}

impl CloudFormationApi for CloudFormationClient {
    async fn describe_stack(&self, stack: &str) -> Result<StackInfo, CloudFormationError> {
        let out = self
            .client
            .describe_stacks()
            .stack_name(stack)
            .send()
            .await
            .map_err(|e| cfn_error(&e))?;
        let s = out
            .stacks()
            .first()
            .ok_or_else(|| CloudFormationError::NotFound(format!("stack {stack}")))?;
        Ok(StackInfo {
            stack_id: s.stack_id().unwrap_or(stack).to_owned(),
            stack_name: s.stack_name().unwrap_or_default().to_owned(),
            status: s
                .stack_status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            status_reason: s.stack_status_reason().map(str::to_owned),
            tags: s
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
                .collect(),
            parent_id: s.parent_id().map(str::to_owned),
        })
    }

    async fn stack_events(
        &self,
        stack: &str,
        next_token: Option<&str>,
    ) -> Result<StackEventsPage, CloudFormationError> {
        let out = self
            .client
            .describe_stack_events()
            .stack_name(stack)
            .set_next_token(next_token.map(str::to_owned))
            .send()
            .await
            .map_err(|e| cfn_error(&e))?;
        let events = out
            .stack_events()
            .iter()
            .filter_map(|e| {
                Some(StackEvent {
                    event_id: e.event_id()?.to_owned(),
                    stack_id: e.stack_id()?.to_owned(),
                    stack_name: e.stack_name()?.to_owned(),
                    logical_resource_id: e.logical_resource_id().unwrap_or_default().to_owned(),
                    physical_resource_id: e
                        .physical_resource_id()
                        .filter(|p| !p.is_empty())
                        .map(str::to_owned),
                    resource_type: e.resource_type().unwrap_or_default().to_owned(),
                    timestamp: to_chrono(e.timestamp()?)?,
                    resource_status: e
                        .resource_status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    resource_status_reason: e.resource_status_reason().map(str::to_owned),
                    client_request_token: e
                        .client_request_token()
                        .filter(|t| !t.is_empty())
                        .map(str::to_owned),
                })
            })
            .collect();
        Ok(StackEventsPage {
            events,
            next_token: out.next_token().map(str::to_owned),
        })
    }
}
