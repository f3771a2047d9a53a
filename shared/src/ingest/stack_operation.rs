//! Which operation of a stack an event belongs to, and what the deployment
//! of that operation is called (`docs/stacks.md#key`).
//!
//! * The job id is the epoch milliseconds of the operation's first stack
//!   event (its `*_IN_PROGRESS`): the same for every event of the operation
//!   whatever order they arrive in, and ordered in time like Amplify's job
//!   numbers. With a `client-request-token` the operation's events are
//!   exactly those carrying it; without one, the operation is the last
//!   stack-level `CREATE|UPDATE|IMPORT_IN_PROGRESS` at or before the event.
//! * The "branch" is the stack's environment: its `Environment`, `env` or
//!   `stage` tag (that order, keys case-insensitive), else its name's
//!   suffix (`-dev`, `-staging`, `-prod`), else `default`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use crate::core::error::CloudFormationError;
use crate::core::model::{BranchName, JobId};
use crate::ports::{CloudFormationApi, StackEvent};

/// DescribeStackEvents pages read at most (100 events each) to find one
/// operation: a stack whose operation began more than 2 000 events ago is
/// not worth more calls.
pub const MAX_PAGES: usize = 20;

/// The label of a stack with no environment tag or suffix.
pub const DEFAULT_ENVIRONMENT: &str = "default";

/// The tag keys read for the environment, in order.
pub const ENVIRONMENT_TAGS: [&str; 3] = ["environment", "env", "stage"];

/// The name suffixes read for the environment when no tag says it.
pub const ENVIRONMENT_SUFFIXES: [&str; 3] = ["dev", "staging", "prod"];

/// The stack's environment label (the deployment's branch name).
pub fn environment_label(tags: &BTreeMap<String, String>, stack_name: &str) -> BranchName {
    for wanted in ENVIRONMENT_TAGS {
        let value = tags
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(wanted))
            .map(|(_, v)| v.trim());
        if let Some(label) = value.and_then(|v| v.parse::<BranchName>().ok()) {
            return label;
        }
    }
    ENVIRONMENT_SUFFIXES
        .iter()
        .find(|s| {
            stack_name
                .strip_suffix(*s)
                .is_some_and(|rest| rest.ends_with('-'))
        })
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            DEFAULT_ENVIRONMENT
                .parse()
                .unwrap_or_else(|_| unreachable!("a valid literal"))
        })
}

/// A stack-level status that begins an operation.
pub fn begins_operation(e: &StackEvent) -> bool {
    e.is_stack_level()
        && matches!(
            e.resource_status.as_str(),
            "CREATE_IN_PROGRESS" | "UPDATE_IN_PROGRESS" | "IMPORT_IN_PROGRESS"
        )
}

/// How an operation is found among a stack's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation<'a> {
    /// The events carrying this token.
    Token(&'a str),
    /// No token: the operation under way at this time.
    At(DateTime<Utc>),
    /// The operation that began at these epoch milliseconds (a recorded
    /// deployment's job id).
    StartedAt(i64),
}

/// The operation's first event, among events newest first.
pub fn first_event<'e>(events: &'e [StackEvent], op: Operation<'_>) -> Option<&'e StackEvent> {
    match op {
        Operation::Token(token) => events
            .iter()
            .filter(|e| e.client_request_token.as_deref() == Some(token))
            .min_by(|a, b| (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id))),
        Operation::At(at) => {
            // EventBridge's time has second resolution; the API's has
            // milliseconds.
            let until = at + Duration::seconds(1);
            events
                .iter()
                .filter(|e| begins_operation(e) && e.timestamp < until)
                .max_by(|a, b| (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id)))
        }
        Operation::StartedAt(millis) => events
            .iter()
            .filter(|e| e.timestamp.timestamp_millis() == millis)
            .min_by(|a, b| {
                (!begins_operation(a), &a.event_id).cmp(&(!begins_operation(b), &b.event_id))
            }),
    }
}

/// Every event of the operation that began with `first`, oldest first: the
/// events with its token, or (no token) those from it to the next
/// operation's start.
pub fn operation_events(events: &[StackEvent], first: &StackEvent) -> Vec<StackEvent> {
    let mut out: Vec<StackEvent> = match &first.client_request_token {
        Some(token) => events
            .iter()
            .filter(|e| e.client_request_token.as_deref() == Some(token.as_str()))
            .cloned()
            .collect(),
        None => {
            let next = events
                .iter()
                .filter(|e| begins_operation(e) && e.timestamp > first.timestamp)
                .map(|e| e.timestamp)
                .min();
            events
                .iter()
                .filter(|e| e.timestamp >= first.timestamp && next.is_none_or(|n| e.timestamp < n))
                .cloned()
                .collect()
        }
    };
    out.sort_by(|a, b| (a.timestamp, &a.event_id).cmp(&(b.timestamp, &b.event_id)));
    out
}

/// The job id of the operation that began with `first`.
pub fn job_id(first: &StackEvent) -> JobId {
    JobId::new(u64::try_from(first.timestamp.timestamp_millis()).unwrap_or_default())
}

/// Whether the events read so far (newest first) reach back past the
/// operation's start, so that no older page is needed.
fn reached(events: &[StackEvent], op: Operation<'_>) -> bool {
    let Some(oldest) = events.last() else {
        return false;
    };
    match op {
        Operation::Token(token) => {
            events
                .iter()
                .any(|e| e.client_request_token.as_deref() == Some(token))
                && oldest.client_request_token.as_deref() != Some(token)
        }
        Operation::At(_) => first_event(events, op).is_some(),
        Operation::StartedAt(millis) => oldest.timestamp.timestamp_millis() < millis,
    }
}

/// Reads the stack's events, newest first, back to the operation's start
/// (at most [`MAX_PAGES`] pages), and returns the operation's first event
/// and its events oldest first; `None` when it is not among them.
pub async fn read_operation<C: CloudFormationApi>(
    cfn: &C,
    stack: &str,
    op: Operation<'_>,
) -> Result<Option<(StackEvent, Vec<StackEvent>)>, CloudFormationError> {
    let mut events: Vec<StackEvent> = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = cfn.stack_events(stack, next.as_deref()).await?;
        events.extend(page.events);
        next = page.next_token;
        if next.is_none() || reached(&events, op) {
            break;
        }
    }
    Ok(first_event(&events, op).cloned().map(|first| {
        let all = operation_events(&events, &first);
        (first, all)
    }))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! A SAM stack's history as DescribeStackEvents gives it, for tests.
    use chrono::{TimeZone, Utc};

    use crate::ports::StackEvent;

    pub const STACK_ID: &str = "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-api-prod/4a1b2c3d-0000-11ef-8000-0a1b2c3d4e5f";
    pub const NAME: &str = "shop-api-prod";
    /// 2026-11-27T10:00:00Z in epoch seconds.
    pub const T0: i64 = 1_795_773_600;

    pub fn event(
        n: u32,
        secs: i64,
        logical: &str,
        kind: &str,
        status: &str,
        reason: Option<&str>,
        token: Option<&str>,
    ) -> StackEvent {
        let stack_level = logical == NAME;
        StackEvent {
            event_id: format!("ev-{n:04}"),
            stack_id: STACK_ID.into(),
            stack_name: NAME.into(),
            logical_resource_id: logical.into(),
            physical_resource_id: Some(if stack_level {
                STACK_ID.into()
            } else {
                format!("{logical}-phys")
            }),
            resource_type: kind.into(),
            timestamp: Utc
                .timestamp_millis_opt(T0 * 1000 + secs * 1000 + 123)
                .unwrap(),
            resource_status: status.into(),
            resource_status_reason: reason.map(str::to_owned),
            client_request_token: token.map(str::to_owned),
        }
    }

    pub fn stack(
        n: u32,
        secs: i64,
        status: &str,
        reason: Option<&str>,
        token: Option<&str>,
    ) -> StackEvent {
        event(
            n,
            secs,
            NAME,
            "AWS::CloudFormation::Stack",
            status,
            reason,
            token,
        )
    }

    /// A create that succeeded (token `create-1`), then an update denied on
    /// one function, cancelled on another, rolled back (token `sam-2`).
    pub fn failed_update() -> Vec<StackEvent> {
        let c = Some("create-1");
        let u = Some("sam-2");
        vec![
            stack(1, 0, "CREATE_IN_PROGRESS", Some("User Initiated"), c),
            event(
                2,
                5,
                "ApiFunction",
                "AWS::Lambda::Function",
                "CREATE_COMPLETE",
                None,
                c,
            ),
            stack(3, 30, "CREATE_COMPLETE", None, c),
            stack(4, 600, "UPDATE_IN_PROGRESS", Some("User Initiated"), u),
            event(
                5,
                602,
                "ApiFunctionRole",
                "AWS::IAM::Role",
                "UPDATE_IN_PROGRESS",
                None,
                u,
            ),
            event(
                6,
                603,
                "ApiFunctionRole",
                "AWS::IAM::Role",
                "UPDATE_FAILED",
                Some(
                    "Resource handler returned message: \"User: arn:aws:sts::123456789012:assumed-role/sam-deploy/GitHubActions is not authorized to perform: iam:PutRolePolicy on resource: role shop-api-prod-ApiFunctionRole because no identity-based policy allows the iam:PutRolePolicy action (Service: Iam, Status Code: 403, Request ID: 1f2e)\" (RequestToken: 9a8b, HandlerErrorCode: AccessDenied)",
                ),
                u,
            ),
            event(
                7,
                604,
                "WorkerFunction",
                "AWS::Lambda::Function",
                "UPDATE_FAILED",
                Some("Resource update cancelled"),
                u,
            ),
            stack(
                8,
                605,
                "UPDATE_ROLLBACK_IN_PROGRESS",
                Some(
                    "The following resource(s) failed to update: [ApiFunctionRole, WorkerFunction].",
                ),
                u,
            ),
            event(
                9,
                620,
                "ApiFunctionRole",
                "AWS::IAM::Role",
                "UPDATE_COMPLETE",
                None,
                u,
            ),
            stack(
                10,
                630,
                "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
                None,
                u,
            ),
            stack(11, 640, "UPDATE_ROLLBACK_COMPLETE", None, u),
        ]
    }

    pub fn newest_first(mut events: Vec<StackEvent>) -> Vec<StackEvent> {
        events.sort_by(|a, b| (b.timestamp, &b.event_id).cmp(&(a.timestamp, &a.event_id)));
        events
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::*;
    use super::*;
    use crate::adapters::memory::MemoryCloudFormation;
    use crate::ports::StackInfo;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_environment_comes_from_a_tag_then_the_name() {
        let label = |t: &[(&str, &str)], name: &str| environment_label(&tags(t), name).to_string();
        assert_eq!(
            label(&[("Environment", "production")], "shop-api-prod"),
            "production"
        );
        assert_eq!(label(&[("env", "qa"), ("stage", "x")], "shop"), "qa");
        assert_eq!(label(&[("Stage", "beta")], "shop"), "beta");
        assert_eq!(label(&[("team", "a")], "shop-api-staging"), "staging");
        assert_eq!(label(&[], "shop-api-dev"), "dev");
        assert_eq!(label(&[], "shop-api"), "default");
        assert_eq!(
            label(&[], "shopprod"),
            "default",
            "a suffix follows a hyphen"
        );
        assert_eq!(
            label(&[("Environment", " ")], "shop-prod"),
            "prod",
            "an empty tag is no tag"
        );
    }

    #[test]
    fn every_event_of_an_operation_gives_the_same_job_whatever_the_order() {
        let events = newest_first(failed_update());
        let start = first_event(&events, Operation::Token("sam-2")).unwrap();
        assert_eq!(start.resource_status, "UPDATE_IN_PROGRESS");
        let job = job_id(start);
        assert_eq!(job.number(), ((T0 + 600) * 1000 + 123) as u64);
        // Without a token: the operation under way at each event's time.
        let mut untokened = failed_update();
        for e in &mut untokened {
            e.client_request_token = None;
        }
        let untokened = newest_first(untokened);
        for e in &untokened {
            if e.timestamp.timestamp() >= T0 + 600 {
                let at = e.timestamp.with_timezone(&Utc);
                let first = first_event(&untokened, Operation::At(at)).unwrap();
                assert_eq!(job_id(first), job, "{}", e.event_id);
            }
        }
        // The create is an earlier job.
        let create = first_event(&events, Operation::Token("create-1")).unwrap();
        assert!(job_id(create) < job);
        // By job id, as the alerter finds it.
        let by_id = first_event(&events, Operation::StartedAt(job.number() as i64)).unwrap();
        assert_eq!(by_id.event_id, start.event_id);
    }

    #[test]
    fn an_operation_holds_its_events_only() {
        let events = newest_first(failed_update());
        let first = first_event(&events, Operation::Token("sam-2")).unwrap();
        let op = operation_events(&events, first);
        assert_eq!(op.len(), 8);
        assert_eq!(op[0].event_id, "ev-0004");
        assert_eq!(
            op.last().unwrap().resource_status,
            "UPDATE_ROLLBACK_COMPLETE"
        );
        let mut untokened = events.clone();
        for e in &mut untokened {
            e.client_request_token = None;
        }
        let first = first_event(
            &untokened,
            Operation::StartedAt(job_id(first).number() as i64),
        )
        .unwrap();
        assert_eq!(operation_events(&untokened, first).len(), 8);
        let create = first_event(
            &untokened,
            Operation::At(chrono::TimeZone::timestamp_opt(&Utc, T0 + 30, 0).unwrap()),
        )
        .unwrap();
        assert_eq!(operation_events(&untokened, create).len(), 3);
    }

    #[tokio::test]
    async fn the_operation_is_read_back_across_pages() {
        let cfn = MemoryCloudFormation {
            page_size: Some(2),
            ..Default::default()
        };
        cfn.put_stack(StackInfo {
            stack_id: STACK_ID.into(),
            stack_name: NAME.into(),
            status: "UPDATE_ROLLBACK_COMPLETE".into(),
            status_reason: None,
            tags: BTreeMap::new(),
            parent_id: None,
        });
        cfn.push_events(failed_update());
        let (first, events) = read_operation(&cfn, STACK_ID, Operation::Token("sam-2"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.event_id, "ev-0004");
        assert_eq!(events.len(), 8);
        // It stopped once past the operation's start: 5 pages of 2, not 6.
        assert_eq!(cfn.calls.load(std::sync::atomic::Ordering::SeqCst), 5);
        assert!(
            read_operation(&cfn, STACK_ID, Operation::Token("other"))
                .await
                .unwrap()
                .is_none()
        );
    }
}
