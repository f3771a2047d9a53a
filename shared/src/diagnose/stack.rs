//! The diagnosis of a failed CloudFormation stack operation, from its
//! DescribeStackEvents (`docs/diagnosis.md#cloudformation-stack-failures`).
//!
//! The root cause is the operation's earliest resource failure that is not
//! a cancellation ("Resource creation cancelled", "Resource update
//! cancelled": resources stopped because another failed) nor the
//! stack-level summary ("The following resource(s) failed to …"). When it
//! is a nested stack, the reaction reads that child's events and
//! diagnoses again, down to the resource that really failed. A rollback
//! that itself failed (`UPDATE_ROLLBACK_FAILED`) outranks every cause: the
//! stack waits for a person.
//!
//! Pure: the events come in, a [`Diagnosis`] goes out. Reasons are masked
//! ([`mask_in_text`]) and each evidence line is budgeted.
//!
//! The categories and their fixes are the catalogue (`catalogue`); here,
//! the root cause and the diagnosis.

mod catalogue;

pub use catalogue::{
    CATEGORIES, CUSTOM_RESOURCE, EVENTS_UNAVAILABLE, INVALID_PROPERTY, LIMIT_EXCEEDED, NAME_EXISTS,
    NOT_STABILIZED, PERMISSION_DENIED, RESOURCE_FAILED, ROLLBACK_FAILED, StackCategory, categorize,
};

use crate::core::budget;
use crate::core::redact::mask_in_text;
use crate::core::verdicts::{Diagnosis, Evidence, Secondary};
use crate::ports::StackEvent;

const CANCELLED: [&str; 3] = [
    "Resource creation cancelled",
    "Resource update cancelled",
    "Resource deletion cancelled",
];

const SUMMARY: &str = "The following resource(s) failed to";

/// A nested stack as a resource of its parent.
pub const NESTED_STACK: &str = "AWS::CloudFormation::Stack";

fn is_failure(e: &StackEvent) -> bool {
    e.resource_status.ends_with("_FAILED")
}

fn is_cancellation(e: &StackEvent) -> bool {
    e.resource_status_reason
        .as_deref()
        .is_some_and(|r| CANCELLED.iter().any(|c| r.contains(c)))
}

/// The root cause among one operation's events (any order): the earliest
/// resource failure that is neither a cancellation nor the stack's own
/// summary.
pub fn root_cause(events: &[StackEvent]) -> Option<&StackEvent> {
    events
        .iter()
        .filter(|e| is_failure(e) && !e.is_stack_level() && !is_cancellation(e))
        .filter(|e| {
            // A nested stack's own summary is still the way to its child.
            e.resource_type == NESTED_STACK
                || !e
                    .resource_status_reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with(SUMMARY))
        })
        .min_by(|a, b| (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id)))
}

/// The failed nested stack to read next (its stack id), when the root
/// cause is one.
pub fn nested_child(root: &StackEvent) -> Option<&str> {
    (root.resource_type == NESTED_STACK)
        .then_some(root.physical_resource_id.as_deref())
        .flatten()
        .filter(|p| p.starts_with("arn:"))
}

/// The stack-level event saying the rollback failed, if it did.
pub fn rollback_failure(events: &[StackEvent]) -> Option<&StackEvent> {
    events.iter().find(|e| {
        e.is_stack_level()
            && matches!(
                e.resource_status.as_str(),
                "UPDATE_ROLLBACK_FAILED" | "ROLLBACK_FAILED"
            )
    })
}

/// The resource whose rollback failed: the latest resource failure after
/// the rollback began.
fn rollback_culprit<'e>(events: &'e [StackEvent], failed: &StackEvent) -> Option<&'e StackEvent> {
    let began = events
        .iter()
        .filter(|e| e.is_stack_level() && e.resource_status.contains("ROLLBACK_IN_PROGRESS"))
        .map(|e| e.timestamp)
        .min()?;
    events
        .iter()
        .filter(|e| {
            is_failure(e)
                && !e.is_stack_level()
                && !is_cancellation(e)
                && e.timestamp >= began
                && e.timestamp <= failed.timestamp
        })
        .max_by(|a, b| (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id)))
}

/// One event as an evidence line: masked, within the budget.
pub fn evidence_text(e: &StackEvent, path: &str) -> String {
    let reason = e
        .resource_status_reason
        .as_deref()
        .unwrap_or("no reason given");
    budget::truncate_to(
        &mask_in_text(&format!(
            "{} {} ({}): {}",
            e.resource_status, path, e.resource_type, reason
        )),
        budget::EVIDENCE_LINE,
    )
}

/// What the reaction found while following the operation down to the
/// failing resource.
#[derive(Debug, Clone, Default)]
pub struct Trail {
    /// Each stack's operation events, the root stack's first, oldest first.
    pub levels: Vec<Vec<StackEvent>>,
    /// Why the trail stops short (a child's events could not be read).
    pub cut: Option<String>,
}

/// The diagnosis of the failed operation of `stack` from its trail.
pub fn diagnose(stack: &str, trail: &Trail) -> Diagnosis {
    let Some(top) = trail.levels.first() else {
        return unavailable(stack, trail.cut.as_deref().unwrap_or("no events"));
    };
    let mut evidence = Vec::new();
    let mut path: Vec<&str> = Vec::new();
    let mut root: Option<&StackEvent> = None;
    for (depth, events) in trail.levels.iter().enumerate() {
        let Some(cause) = root_cause(events) else {
            break;
        };
        path.push(&cause.logical_resource_id);
        evidence.push(line(events, cause, &path.join("/"), depth));
        root = Some(cause);
    }
    let rollback = rollback_failure(top);
    let culprit = rollback.and_then(|failed| rollback_culprit(top, failed));
    let (category, subject) = match (rollback, root) {
        (Some(_), _) => (ROLLBACK_FAILED, culprit.or(root)),
        (None, Some(r)) => (categorize(r), Some(r)),
        (None, None) => (RESOURCE_FAILED, None),
    };
    if let (Some(failed), Some(c)) = (rollback, culprit) {
        evidence.push(line(top, c, &c.logical_resource_id, 0));
        evidence.push(line(top, failed, stack, 0));
    }
    let (resource, kind) = subject.map_or(("the stack", "a resource"), |s| {
        (s.logical_resource_id.as_str(), s.resource_type.as_str())
    });
    let cancelled = top.iter().filter(|e| is_cancellation(e)).count();
    let mut secondary = Vec::new();
    if cancelled > 0 {
        secondary.push(Secondary {
            category: "stack-resource-cancelled".into(),
            title: format!("{cancelled} other resource change(s) cancelled because of it"),
            line: 0,
        });
    }
    evidence.truncate(budget::EVIDENCE_LINES);
    Diagnosis {
        category: category.id.into(),
        title: category.title.into(),
        transient: category.transient,
        fix: budget::truncate_to(
            &mask_in_text(&fill(category.fix, resource, kind, stack)),
            budget::PARAGRAPH,
        ),
        evidence,
        secondary,
        // For a stack: the failing resource's type, and its path from the
        // root stack (`Nested/Resource`).
        command: subject.map(|s| s.resource_type.clone()),
        phase: (!path.is_empty()).then(|| path.join("/")),
        exit_code: None,
        cut: trail.cut.clone(),
        lines: trail.levels.iter().map(|l| l.len() as u64).sum(),
        from_report: false,
        bytes: 0,
    }
}

/// The diagnosis when the stack's events cannot be read.
pub fn unavailable(stack: &str, why: &str) -> Diagnosis {
    let c = EVENTS_UNAVAILABLE;
    Diagnosis {
        category: c.id.into(),
        title: c.title.into(),
        transient: c.transient,
        fix: budget::truncate_to(
            &mask_in_text(&format!("{} ({why})", fill(c.fix, "", "", stack))),
            budget::PARAGRAPH,
        ),
        evidence: Vec::new(),
        secondary: Vec::new(),
        command: None,
        phase: None,
        exit_code: None,
        cut: None,
        lines: 0,
        from_report: false,
        bytes: 0,
    }
}

fn line(events: &[StackEvent], e: &StackEvent, path: &str, depth: usize) -> Evidence {
    let position = events
        .iter()
        .position(|x| x.event_id == e.event_id)
        .map_or(0, |i| i as u64 + 1);
    let prefix = if depth > 0 {
        format!("[nested {depth}] ")
    } else {
        String::new()
    };
    Evidence {
        line: position,
        text: format!("{prefix}{}", evidence_text(e, path)),
    }
}

fn fill(template: &str, resource: &str, kind: &str, stack: &str) -> String {
    template
        .replace("{resource}", resource)
        .replace("{type}", kind)
        .replace("{stack}", stack)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::stack_operation::fixtures::*;

    fn update_events() -> Vec<StackEvent> {
        failed_update()
            .into_iter()
            .filter(|e| e.client_request_token.as_deref() == Some("sam-2"))
            .collect()
    }

    fn trail(levels: Vec<Vec<StackEvent>>) -> Trail {
        Trail { levels, cut: None }
    }

    #[test]
    fn a_permission_denied_is_the_root_cause_not_the_cancellations_or_summary() {
        let d = diagnose(NAME, &trail(vec![update_events()]));
        assert_eq!(d.category, "stack-permission-denied");
        assert_eq!(d.phase.as_deref(), Some("ApiFunctionRole"));
        assert_eq!(d.command.as_deref(), Some("AWS::IAM::Role"));
        assert!(
            d.fix.contains("ApiFunctionRole (AWS::IAM::Role)"),
            "{}",
            d.fix
        );
        assert_eq!(d.evidence.len(), 1);
        assert!(
            d.evidence[0].text.contains("iam:PutRolePolicy"),
            "{:?}",
            d.evidence
        );
        assert_eq!(d.evidence[0].line, 3, "the third event of the operation");
        assert_eq!(d.secondary.len(), 1, "the cancellation is counted");
    }

    #[test]
    fn order_of_events_does_not_change_the_root_cause() {
        let mut events = update_events();
        events.reverse();
        assert_eq!(
            diagnose(NAME, &trail(vec![events])).phase.as_deref(),
            Some("ApiFunctionRole")
        );
    }

    #[test]
    fn a_cancellation_alone_is_never_the_cause() {
        let events: Vec<_> = update_events()
            .into_iter()
            .filter(|e| e.logical_resource_id != "ApiFunctionRole")
            .collect();
        assert_eq!(root_cause(&events), None);
        let d = diagnose(NAME, &trail(vec![events]));
        assert_eq!(d.category, "stack-resource-failed");
    }

    #[test]
    fn a_nested_stack_is_followed_to_the_child_resource() {
        let parent = vec![
            stack(1, 0, "UPDATE_IN_PROGRESS", None, Some("t")),
            {
                let mut e = event(
                    2,
                    5,
                    "DatabaseStack",
                    NESTED_STACK,
                    "UPDATE_FAILED",
                    Some(
                        "Embedded stack arn:aws:cloudformation:us-east-1:123456789012:stack/shop-api-prod-DatabaseStack-1X/abc was not successfully updated. Currently in UPDATE_ROLLBACK_IN_PROGRESS with reason: The following resource(s) failed to update: [Table].",
                    ),
                    Some("t"),
                );
                e.physical_resource_id = Some("arn:aws:cloudformation:us-east-1:123456789012:stack/shop-api-prod-DatabaseStack-1X/abc".into());
                e
            },
            stack(3, 9, "UPDATE_ROLLBACK_COMPLETE", None, Some("t")),
        ];
        let root = root_cause(&parent).unwrap();
        assert_eq!(
            nested_child(root),
            Some(
                "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-api-prod-DatabaseStack-1X/abc"
            )
        );
        let child = vec![event(
            10,
            6,
            "Table",
            "AWS::DynamoDB::Table",
            "UPDATE_FAILED",
            Some(
                "Resource handler returned message: \"Table already exists: orders\" (HandlerErrorCode: AlreadyExists)",
            ),
            Some("t"),
        )];
        let d = diagnose(NAME, &trail(vec![parent, child]));
        assert_eq!(d.category, "stack-name-already-exists");
        assert_eq!(d.phase.as_deref(), Some("DatabaseStack/Table"));
        assert_eq!(d.evidence.len(), 2);
        assert!(
            d.evidence[1]
                .text
                .starts_with("[nested 1] UPDATE_FAILED DatabaseStack/Table")
        );
    }

    #[test]
    fn a_failed_rollback_needs_a_person() {
        let mut events = update_events();
        events.retain(|e| {
            e.resource_status != "UPDATE_ROLLBACK_COMPLETE"
                && !e.resource_status.contains("CLEANUP")
        });
        events.push(event(20, 625, "ApiFunctionRole", "AWS::IAM::Role", "UPDATE_FAILED", Some("Role shop-api-prod-ApiFunctionRole cannot be found (Service: Iam, Status Code: 404)"), Some("sam-2")));
        events.push(stack(
            21,
            630,
            "UPDATE_ROLLBACK_FAILED",
            Some("The following resource(s) failed to update: [ApiFunctionRole]."),
            Some("sam-2"),
        ));
        let d = diagnose(NAME, &trail(vec![events]));
        assert_eq!(d.category, "stack-rollback-failed");
        assert!(
            d.fix
                .contains("continue-update-rollback --stack-name shop-api-prod"),
            "{}",
            d.fix
        );
        assert!(
            d.fix.contains("--resources-to-skip ApiFunctionRole"),
            "{}",
            d.fix
        );
        assert!(
            d.evidence
                .iter()
                .any(|e| e.text.contains("UPDATE_ROLLBACK_FAILED"))
        );
    }

    #[test]
    fn each_category_is_recognised() {
        let failed =
            |kind: &str, reason: &str| event(1, 1, "R", kind, "CREATE_FAILED", Some(reason), None);
        for (kind, reason, expected) in [
            (
                "AWS::S3::Bucket",
                "User: arn:aws:sts::1:assumed-role/deploy/x is not authorized to perform: s3:CreateBucket",
                PERMISSION_DENIED,
            ),
            (
                "AWS::Lambda::Function",
                "Resource handler returned message: \"denied\" (HandlerErrorCode: AccessDenied)",
                PERMISSION_DENIED,
            ),
            ("AWS::S3::Bucket", "shop-assets already exists", NAME_EXISTS),
            (
                "AWS::EC2::VPC",
                "The maximum number of VPCs has been reached. (Service: Ec2, Status Code: 400) VpcLimitExceeded",
                LIMIT_EXCEEDED,
            ),
            (
                "AWS::Lambda::Function",
                "Properties validation failed for resource R with message: #/Runtime: nodejs8.10 is not a valid enum value",
                INVALID_PROPERTY,
            ),
            (
                "Custom::Seed",
                "Received response status [FAILED] from custom resource. Message returned: boom",
                CUSTOM_RESOURCE,
            ),
            (
                "AWS::CloudFormation::CustomResource",
                "CloudFormation did not receive a response from your Custom Resource",
                CUSTOM_RESOURCE,
            ),
            (
                "AWS::ECS::Service",
                "Resource handler returned message: \"Exceeded attempts to wait\" (HandlerErrorCode: NotStabilized)",
                NOT_STABILIZED,
            ),
            (
                "AWS::SQS::Queue",
                "something else went wrong",
                RESOURCE_FAILED,
            ),
        ] {
            assert_eq!(
                categorize(&failed(kind, reason)).id,
                expected.id,
                "{reason}"
            );
        }
        let ids: std::collections::BTreeSet<_> = CATEGORIES.iter().map(|c| c.id).collect();
        assert_eq!(ids.len(), CATEGORIES.len(), "ids are unique");
    }

    #[test]
    fn evidence_is_masked_and_budgeted() {
        let secret = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
        let e = event(
            1,
            1,
            "R",
            "AWS::SSM::Parameter",
            "CREATE_FAILED",
            Some(&format!("Value {secret} is invalid {}", "x".repeat(5000))),
            None,
        );
        let d = diagnose(NAME, &trail(vec![vec![e]]));
        assert!(!d.evidence[0].text.contains(secret));
        assert!(d.evidence[0].text.len() <= budget::EVIDENCE_LINE);
    }

    #[test]
    fn every_category_is_documented() {
        let doc = include_str!("../../../docs/diagnosis.md");
        let section = doc
            .split("## CloudFormation stack failures")
            .nth(1)
            .expect("docs/diagnosis.md has the section");
        for c in CATEGORIES {
            assert!(
                section.contains(&format!("### `{}`", c.id)),
                "{} is not documented",
                c.id
            );
        }
    }

    #[test]
    fn no_events_is_said_so() {
        let d = diagnose(
            NAME,
            &Trail {
                levels: vec![],
                cut: Some("AccessDenied".into()),
            },
        );
        assert_eq!(d.category, "stack-events-unavailable");
        assert!(d.fix.contains("--stack-name shop-api-prod"));
    }
}
