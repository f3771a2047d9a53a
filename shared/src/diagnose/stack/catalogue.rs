//! The catalogue of stack failures: each category with its fix (a table,
//! with `{resource}`, `{type}` and `{stack}` to fill in), and the category of
//! one failed resource event, from CloudFormation's handler error code, else
//! its reason's words.

use crate::ports::StackEvent;

/// One category of stack failure, with its fix. `{resource}`, `{type}`
/// and `{stack}` in the fix are filled in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StackCategory {
    pub id: &'static str,
    pub title: &'static str,
    pub transient: bool,
    pub fix: &'static str,
}

pub const PERMISSION_DENIED: StackCategory = StackCategory {
    id: "stack-permission-denied",
    title: "The deploy role is not allowed to change a resource",
    transient: false,
    fix: "Grant the role that deploys the stack (the pipeline's deploy role, or the CloudFormation service role passed with --role-arn) the action named in the evidence on {resource} ({type}), then deploy again. CloudFormation rolled the operation back: nothing else changed.",
};

pub const NAME_EXISTS: StackCategory = StackCategory {
    id: "stack-name-already-exists",
    title: "A resource's name is already taken",
    transient: false,
    fix: "{resource} ({type}) sets a physical name that already exists: another stack's, a resource created by hand, or one a deleted stack kept (DeletionPolicy: Retain). Remove the explicit name so CloudFormation generates one, make it unique per stack and environment (e.g. !Sub '${AWS::StackName}-…'), or delete or import the existing resource.",
};

pub const LIMIT_EXCEEDED: StackCategory = StackCategory {
    id: "stack-limit-exceeded",
    title: "An account limit or quota was reached",
    transient: false,
    fix: "Creating {resource} ({type}) hit a service quota of the account and region. Remove unused resources of that type, or request an increase in Service Quotas, then deploy again.",
};

pub const INVALID_PROPERTY: StackCategory = StackCategory {
    id: "stack-invalid-property",
    title: "A property or parameter is invalid",
    transient: false,
    fix: "Correct the value the evidence names on {resource} ({type}): check the property against the resource's reference (cfn-lint and `sam validate --lint` catch most of these before a deploy), and the parameter values passed to the stack (`--parameter-overrides`, samconfig.toml).",
};

pub const CUSTOM_RESOURCE: StackCategory = StackCategory {
    id: "stack-custom-resource-failed",
    title: "A custom resource failed or did not answer",
    transient: false,
    fix: "Read the logs of the function behind {resource}'s ServiceToken: it answered FAILED, or never answered (CloudFormation waits up to an hour). The handler must send SUCCESS or FAILED to the pre-signed ResponseURL on every path, errors and Delete included (cfn-response, or the provider framework, do it).",
};

pub const NOT_STABILIZED: StackCategory = StackCategory {
    id: "stack-resource-not-stabilized",
    title: "A resource did not stabilise",
    transient: true,
    fix: "{resource} ({type}) was changed but never became ready in time: an ECS service whose tasks fail their health checks, a function whose provisioned concurrency or image cannot start, a resource waiting on DNS or a certificate. Look at the resource's own events and logs; deploy again once it can start (a retry alone may pass if the cause was a dependency's outage).",
};

pub const ROLLBACK_FAILED: StackCategory = StackCategory {
    id: "stack-rollback-failed",
    title: "The rollback itself failed: the stack needs a person",
    transient: false,
    fix: "The stack is stuck until someone acts: fix what stopped {resource} ({type}) from rolling back (often a resource changed or deleted outside CloudFormation), then run `aws cloudformation continue-update-rollback --stack-name {stack}` (add `--resources-to-skip {resource}` to leave it as it is). No update is accepted before that.",
};

pub const RESOURCE_FAILED: StackCategory = StackCategory {
    id: "stack-resource-failed",
    title: "A resource failed",
    transient: false,
    fix: "{resource} ({type}) failed for the reason in the evidence; fix it in the template or the account, then deploy again.",
};

pub const EVENTS_UNAVAILABLE: StackCategory = StackCategory {
    id: "stack-events-unavailable",
    title: "The stack's events could not be read",
    transient: false,
    fix: "Open the stack's Events tab in the CloudFormation console (or `aws cloudformation describe-stack-events --stack-name {stack}`) to see which resource failed.",
};

/// Every category, for the catalogue's documentation and tests.
pub const CATEGORIES: [StackCategory; 9] = [
    PERMISSION_DENIED,
    NAME_EXISTS,
    LIMIT_EXCEEDED,
    INVALID_PROPERTY,
    CUSTOM_RESOURCE,
    NOT_STABILIZED,
    ROLLBACK_FAILED,
    RESOURCE_FAILED,
    EVENTS_UNAVAILABLE,
];

/// CloudFormation's resource handlers end their reasons with
/// `HandlerErrorCode: <code>`.
fn handler_code(reason: &str) -> Option<&str> {
    let rest = &reason[reason.rfind("HandlerErrorCode: ")? + "HandlerErrorCode: ".len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The category of one failed resource event.
pub fn categorize(e: &StackEvent) -> StackCategory {
    let reason = e.resource_status_reason.as_deref().unwrap_or_default();
    let lower = reason.to_ascii_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    let custom = e.resource_type.starts_with("Custom::")
        || e.resource_type == "AWS::CloudFormation::CustomResource";
    match handler_code(reason) {
        Some("AccessDenied" | "InvalidCredentials") => return PERMISSION_DENIED,
        Some("AlreadyExists") => return NAME_EXISTS,
        Some("ServiceLimitExceeded") => return LIMIT_EXCEEDED,
        Some("NotStabilized") => return NOT_STABILIZED,
        Some("InvalidRequest") if !custom => return INVALID_PROPERTY,
        _ => {}
    }
    if custom
        || has(&[
            "custom resource",
            "did not receive a response",
            "failed to receive",
            "received response status [failed]",
        ])
    {
        CUSTOM_RESOURCE
    } else if has(&[
        "accessdenied",
        "access denied",
        "is not authorized to perform",
        "not authorized to perform",
        "unauthorizedoperation",
        "authorizationerror",
    ]) {
        PERMISSION_DENIED
    } else if has(&["already exists", "alreadyexists", "already exist"]) {
        NAME_EXISTS
    } else if has(&[
        "limitexceeded",
        "limit exceeded",
        "quota",
        "maximum number of",
        "too many",
    ]) {
        LIMIT_EXCEEDED
    } else if has(&[
        "did not stabilize",
        "failed to stabilize",
        "not stabilized",
        "stabilization",
        "exceeded attempts to wait",
        "timed out",
        "timeout",
    ]) {
        NOT_STABILIZED
    } else if has(&[
        "invalid",
        "validation",
        "unsupported property",
        "encountered unsupported",
        "must be",
        "malformed",
        "parameter",
        "required property",
    ]) {
        INVALID_PROPERTY
    } else {
        RESOURCE_FAILED
    }
}
