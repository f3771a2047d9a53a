//! `sentinel doctor`: checks a deployed stack end to end and says, for each
//! piece, ✓ or ✗ with the fix — the table and its index, the bus, every
//! rule (enabled, delivering to its queue) and both archives, each queue
//! (depth, age of its oldest message) and the DLQ (depth, top reasons),
//! each function's event source mapping, the alert topic's confirmed
//! subscriptions, the watched apps, the scope and enforcement in force, and
//! GitHub (off, or the App reachable and installed with its permissions on
//! each watched app's repository: `github.rs`).
//!
//! Two halves: [`gather`] reads what is there (AWS calls only, every failure
//! kept as what it saw), [`assess`] turns it into verdicts and fixes (pure,
//! unit-tested). A check the stack at hand cannot answer is `unchecked`,
//! with why, never a ✓: the local stack (moto) has no Lambda event source
//! mappings (its dispatcher routes the queues) and fires no schedule.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::stack::StackSettings;

/// What each function reads and what feeds it, as template.yaml declares
/// (`the_wiring_is_the_templates` keeps them equal).
pub struct Wire {
    /// The function's binary; its name is `deploy-sentinel-{env}-{function}`.
    pub function: &'static str,
    /// The queue's logical id (the template test reads it), and its name's
    /// end (`deploy-sentinel-{env}-{queue}`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub queue_logical: &'static str,
    pub queue: &'static str,
    pub rules: &'static [RuleSpec],
}

pub struct RuleSpec {
    pub logical: &'static str,
    /// On the default bus (Amplify's events, schedules) or the stack's.
    pub default_bus: bool,
    pub schedule: bool,
    /// The stack parameter that creates the rule when it is not empty (a
    /// `Condition` in the template); `None`: always there.
    pub only_with: Option<&'static str>,
}

const fn rule(logical: &'static str, default_bus: bool, schedule: bool) -> RuleSpec {
    RuleSpec {
        logical,
        default_bus,
        schedule,
        only_with: None,
    }
}

pub const WIRING: &[Wire] = &[
    Wire {
        function: "build-event-handler",
        queue_logical: "IngestQueue",
        queue: "ingest",
        rules: &[
            rule("AmplifyStatusRule", true, false),
            // Only when the stack watches CloudFormation stacks (docs/stacks.md).
            RuleSpec {
                only_with: Some("WatchedStacks"),
                ..rule("StackStatusRule", true, false)
            },
            // Reports of deploys (`sentinel report`), on the stack's bus.
            rule("ReportRule", false, false),
        ],
    },
    Wire {
        function: "validator",
        queue_logical: "ValidatorQueue",
        queue: "validator",
        rules: &[rule("BuildStartedRule", false, false)],
    },
    Wire {
        function: "health-checker",
        queue_logical: "HealthCheckQueue",
        queue: "health-check",
        rules: &[
            rule("BuildSucceededRule", false, false),
            rule("LiveHealthScheduleRule", true, true),
        ],
    },
    // Reported services' deploys: the same function, its own queue and
    // share of concurrency (#28: reporters cannot starve Amplify's checks).
    Wire {
        function: "health-checker",
        queue_logical: "ReportedHealthCheckQueue",
        queue: "reported-health",
        rules: &[rule("ReportedBuildSucceededRule", false, false)],
    },
    Wire {
        function: "alerter",
        queue_logical: "AlerterQueue",
        queue: "alerter",
        rules: &[rule("AlertRule", false, false)],
    },
    Wire {
        function: "rollback",
        queue_logical: "RollbackQueue",
        queue: "rollback",
        rules: &[rule("RollbackRule", false, false)],
    },
    Wire {
        function: "metrics-collector",
        queue_logical: "MetricsQueue",
        queue: "metrics",
        rules: &[
            rule("MetricsRule", false, false),
            rule("MetricsScheduleRule", true, true),
        ],
    },
    Wire {
        function: "cleanup",
        queue_logical: "CleanupQueue",
        queue: "cleanup",
        rules: &[rule("CleanupScheduleRule", true, true)],
    },
];

/// The table's index (template.yaml) the metrics' window reads use.
pub const INDEX: &str = "by-environment-time";
pub const TTL_ATTRIBUTE: &str = "expires_at";
/// A message older than this in a function's queue is not being consumed,
/// or keeps failing: an hour is past the whole retry window (visibility
/// timeout × 5 receives) of every queue but the health checker's (3 h) and
/// cleanup's (2.5 h), whose records may still be retrying. The stack's
/// `records-retrying` alarm watches each queue at 1.5 × its visibility
/// timeout.
pub const STUCK_AGE_SECONDS: f64 = 3600.0;
/// The output the local stack's provisioning adds (never on AWS): the
/// dispatcher's routes, which play the event source mappings there.
pub const LOCAL_ROUTES_OUTPUT: &str = "LocalDispatcherRoutes";

// ----- what was seen -----

/// Everything [`gather`] read; an `Err` is the call's error as text.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub stack: String,
    pub environment: String,
    pub region: String,
    pub table_name: String,
    pub table: Option<Result<TableSeen, String>>,
    pub bus_name: String,
    pub bus: Option<Result<(), String>>,
    pub rules: Vec<RuleSeen>,
    pub archives: Vec<ArchiveSeen>,
    pub queues: Vec<QueueSeen>,
    pub dlq: Option<DlqSeen>,
    pub sources: Vec<SourceSeen>,
    pub topic_arn: Option<String>,
    pub subscriptions: Option<Result<Vec<SubscriptionSeen>, String>>,
    pub apps: Vec<AppSeen>,
    pub settings: BTreeMap<String, String>,
    /// GitHub: off, or the App (or token) and each app's repository.
    pub github: crate::github::GitHubSeen,
    /// The local stack (moto): no event source mappings, no schedules.
    pub local: bool,
}

#[derive(Debug, Clone, Default)]
pub struct TableSeen {
    pub status: String,
    /// Index name → status.
    pub indexes: BTreeMap<String, String>,
    pub ttl: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct RuleSeen {
    pub logical: String,
    pub bus: String,
    pub schedule: bool,
    /// The queue it must deliver to (ARN).
    pub queue_arn: String,
    /// Its name, when found.
    pub name: Option<String>,
    pub state: Option<String>,
    pub targets: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ArchiveSeen {
    pub name: String,
    pub state: Result<String, String>,
}

#[derive(Debug, Clone)]
pub struct QueueSeen {
    pub name: String,
    pub function: String,
    pub read: Result<QueueDepth, String>,
}

#[derive(Debug, Clone, Default)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    /// Seconds, from CloudWatch's ApproximateAgeOfOldestMessage (none
    /// without a recent datapoint).
    pub oldest_age: Option<f64>,
    /// The redrive policy's dead-letter target.
    pub dead_letter_target: Option<String>,
}

#[derive(Debug, Clone)]
pub struct DlqSeen {
    pub arn: Option<String>,
    pub read: Result<DlqContent, String>,
}

#[derive(Debug, Clone, Default)]
pub struct DlqContent {
    pub depth: u64,
    /// (reason, source queue) → messages, from the messages read.
    pub reasons: BTreeMap<(String, String), usize>,
}

#[derive(Debug, Clone)]
pub struct SourceSeen {
    pub function: String,
    pub queue_arn: String,
    pub found: Result<Vec<Mapping>, String>,
}

#[derive(Debug, Clone)]
pub struct Mapping {
    pub uuid: String,
    pub function_arn: String,
    pub state: String,
    /// From the local dispatcher's routes, not Lambda.
    pub local_route: bool,
}

#[derive(Debug, Clone)]
pub struct SubscriptionSeen {
    /// `PendingConfirmation` until the endpoint confirms.
    pub arn: String,
    pub protocol: String,
    pub endpoint: String,
}

#[derive(Debug, Clone)]
pub struct AppSeen {
    pub app_id: String,
    pub answer: Result<String, String>,
    /// GetApp's repository (the GitHub checks' input).
    pub repository: Option<String>,
}

// ----- the verdicts -----

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

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub stack: String,
    pub environment: String,
    /// No check failed.
    pub passed: bool,
    pub failed: usize,
    pub unchecked: usize,
    pub checks: Vec<Check>,
}

fn check(area: &str, name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check {
        area: area.into(),
        name: name.into(),
        status,
        detail: detail.into(),
        fix: None,
    }
}

impl Check {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }
}

fn not_found(error: &str) -> bool {
    ["NotFound", "NonExistent", "does not exist", "not found"]
        .iter()
        .any(|n| error.contains(n))
}

/// A subscription that SNS delivers to over HTTP(S): a webhook.
fn web_endpoint(s: &SubscriptionSeen) -> bool {
    s.protocol.eq_ignore_ascii_case("http")
        || s.protocol.eq_ignore_ascii_case("https")
        || s.endpoint.contains("://")
}

/// A subscription's endpoint as the report may show it. A webhook's path
/// and query often are its credential (`/services/T000/B000/XXXX`,
/// `?token=…`), and the report is printed, piped and pasted: it keeps the
/// scheme and host and says only how long the rest is. Other endpoints
/// (an e-mail address, a queue's ARN) are what the operator must
/// recognise, shown with any secret in them masked.
pub fn endpoint_shown(s: &SubscriptionSeen) -> String {
    use sentinel_shared::core::redact::{mask_in_text, url_origin};
    if !web_endpoint(s) {
        return mask_in_text(&s.endpoint);
    }
    let raw = s.endpoint.trim();
    let (Ok(url), Some(origin)) = (url::Url::parse(raw), url_origin(raw)) else {
        return format!("(a URL that does not parse, {} chars)", raw.chars().count());
    };
    let bare = url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none();
    if bare {
        return format!("{origin}/");
    }
    // The rest of the raw text: any user and password, port, path, query.
    let hidden = raw.chars().count().saturating_sub(origin.chars().count());
    format!("{origin}/…({hidden} chars)")
}

/// The verdicts on what was seen (pure).
pub fn assess(seen: &Seen) -> Report {
    let mut checks = Vec::new();
    let stack = &seen.stack;
    let redeploy =
        format!("redeploy the stack (sam deploy --stack-name {stack}): it creates what is missing");

    // The table and its index.
    let name = format!("table {}", seen.table_name);
    checks.push(match &seen.table {
        None => check("table", &name, Status::Unchecked, "not read"),
        Some(Err(e)) => check("table", &name, Status::Fail, e.clone()).fix(if not_found(e) {
            format!(
                "the table is missing: {redeploy} (or, if a deleted stack left it, AdoptTable=true: docs/deployment.md)"
            )
        } else {
            "the caller needs dynamodb:DescribeTable on it".into()
        }),
        Some(Ok(t)) => {
            let index = t.indexes.get(INDEX);
            let ttl_on = t
                .ttl
                .as_ref()
                .is_some_and(|(a, s)| a == TTL_ATTRIBUTE && s == "ENABLED");
            let detail = format!(
                "{}; index {INDEX}: {}; TTL on {TTL_ATTRIBUTE}: {}",
                t.status,
                index.map_or("missing", String::as_str),
                t.ttl
                    .as_ref()
                    .map_or("off".to_owned(), |(a, s)| format!("{s} ({a})"))
            );
            if t.status != "ACTIVE" || index.is_none_or(|s| s != "ACTIVE") || !ttl_on {
                let fix = if index.is_none() || !ttl_on {
                    format!(
                        "{redeploy}; a table adopted from elsewhere needs the index {INDEX} and TTL on {TTL_ATTRIBUTE} (template.yaml)"
                    )
                } else {
                    "wait for the table and its index to become ACTIVE, then run the doctor again"
                        .into()
                };
                check("table", &name, Status::Fail, detail).fix(fix)
            } else {
                check("table", &name, Status::Pass, detail)
            }
        }
    });

    // The bus.
    let name = format!("event bus {}", seen.bus_name);
    checks.push(match &seen.bus {
        None => check("bus", &name, Status::Unchecked, "not read"),
        Some(Ok(())) => check("bus", &name, Status::Pass, "exists"),
        Some(Err(e)) => check("bus", &name, Status::Fail, e.clone()).fix(redeploy.clone()),
    });

    // The rules.
    for r in &seen.rules {
        let name = format!(
            "rule {} ({} bus)",
            r.logical,
            if r.bus == "default" {
                "default"
            } else {
                "stack"
            }
        );
        let Some(rule_name) = &r.name else {
            checks.push(
                check(
                    "rule",
                    &name,
                    Status::Fail,
                    r.error.clone().unwrap_or_else(|| "not found".into()),
                )
                .fix(format!("the rule is missing: {redeploy}")),
            );
            continue;
        };
        if let Some(e) = &r.error {
            checks.push(
                check("rule", &name, Status::Fail, e.clone())
                    .fix("the caller needs events:DescribeRule and events:ListTargetsByRule"),
            );
            continue;
        }
        let state = r.state.as_deref().unwrap_or("unknown");
        if state != "ENABLED" {
            let bus = if r.bus == "default" {
                String::new()
            } else {
                format!(" --event-bus-name {}", r.bus)
            };
            let replay = if r.schedule {
                "; the runs it missed are made up by the next one"
            } else {
                "; then replay what it missed from the archive (docs/runbooks.md, \"Replaying missed events\")"
            };
            checks.push(
                check(
                    "rule",
                    &name,
                    Status::Fail,
                    format!("{rule_name} is {state}: nothing reaches its queue"),
                )
                .fix(format!(
                    "aws events enable-rule --name {rule_name}{bus}{replay}"
                )),
            );
            continue;
        }
        if r.targets.contains(&r.queue_arn) {
            checks.push(check(
                "rule",
                &name,
                Status::Pass,
                format!("{rule_name} is ENABLED, delivering to {}", r.queue_arn),
            ));
        } else if r.schedule && seen.local {
            checks.push(check(
                "rule",
                &name,
                Status::Unchecked,
                format!(
                    "{rule_name} is ENABLED; its target is not set on the local stack (moto fires no schedule: tests deliver scheduled events themselves). On AWS it must deliver to {}",
                    r.queue_arn
                ),
            ));
        } else {
            checks.push(
                check(
                    "rule",
                    &name,
                    Status::Fail,
                    format!(
                        "{rule_name} is ENABLED but does not deliver to {} (targets: {})",
                        r.queue_arn,
                        if r.targets.is_empty() {
                            "none".into()
                        } else {
                            r.targets.join(", ")
                        }
                    ),
                )
                .fix(format!("its target was changed by hand: {redeploy}")),
            );
        }
    }

    // The archives.
    for a in &seen.archives {
        let name = format!("archive {}", a.name);
        checks.push(match &a.state {
            Ok(s) if s == "ENABLED" => check("archive", &name, Status::Pass, "ENABLED"),
            Ok(s) => check("archive", &name, Status::Fail, s.clone()).fix(format!(
                "an archive that is not ENABLED keeps nothing to replay: {redeploy}"
            )),
            Err(e) => check("archive", &name, Status::Fail, e.clone()).fix(redeploy.clone()),
        });
    }

    // The queues.
    let dlq_arn = seen.dlq.as_ref().and_then(|d| d.arn.clone());
    for q in &seen.queues {
        let name = format!("queue {}", q.name);
        checks.push(match &q.read {
            Err(e) => check("queue", &name, Status::Fail, e.clone()).fix(redeploy.clone()),
            Ok(d) => {
                let age = d.oldest_age.map_or_else(
                    || {
                        if seen.local {
                            "age of the oldest: not known (the local stack has no CloudWatch metrics)".to_owned()
                        } else {
                            "age of the oldest: no CloudWatch datapoint in the last 15 minutes".to_owned()
                        }
                    },
                    |a| format!("oldest {}", human(a)),
                );
                let detail = format!(
                    "{} waiting, {} in flight; {age}",
                    d.visible, d.in_flight
                );
                let redrive_ok = match (&dlq_arn, &d.dead_letter_target) {
                    (Some(dlq), Some(target)) => dlq == target,
                    (_, None) => false,
                    (None, Some(_)) => true,
                };
                if d.oldest_age.is_some_and(|a| a >= STUCK_AGE_SECONDS) {
                    check("queue", &name, Status::Fail, detail).fix(format!(
                        "{} is not consuming it, or its records keep failing: check its event source \
                         mapping (below) and its logs \
                         (sam logs -n deploy-sentinel-{}-{} --stack-name {stack})",
                        q.function, seen.environment, q.function
                    ))
                } else if !redrive_ok {
                    check(
                        "queue",
                        &name,
                        Status::Fail,
                        format!("{detail}; its redrive policy does not lead to the stack's DLQ"),
                    )
                    .fix(format!(
                        "a message that keeps failing would be retried forever or lost: {redeploy}"
                    ))
                } else {
                    check("queue", &name, Status::Pass, detail)
                }
            }
        });
    }

    // The DLQ.
    if let Some(d) = &seen.dlq {
        let name = "dead-letter queue";
        checks.push(match &d.read {
            Err(e) => check("dlq", name, Status::Fail, e.clone()).fix(redeploy.clone()),
            Ok(c) if c.depth == 0 => check("dlq", name, Status::Pass, "empty"),
            Ok(c) => {
                let mut reasons: Vec<_> = c.reasons.iter().collect();
                reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                let top: Vec<String> = reasons
                    .iter()
                    .take(3)
                    .map(|((reason, source), n)| format!("{n} × {reason} (from {source})"))
                    .collect();
                let detail = format!(
                    "{} message(s){}{}",
                    c.depth,
                    if top.is_empty() { "" } else { "; top reasons: " },
                    top.join("; ")
                );
                check("dlq", name, Status::Fail, detail).fix(format!(
                    "read them: sentinel --stack {stack} dlq show; once the cause is fixed, \
                     sentinel --stack {stack} dlq redrive (malformed ones are kept: delete them after reading)"
                ))
            }
        });
    }

    // The event source mappings.
    for s in &seen.sources {
        let queue = s.queue_arn.rsplit(':').next().unwrap_or(&s.queue_arn);
        let name = format!("event source {queue} → {}", s.function);
        let function_name = format!("deploy-sentinel-{}-{}", seen.environment, s.function);
        checks.push(match &s.found {
            Err(e) => check("eventSource", &name, Status::Fail, e.clone())
                .fix("the caller needs lambda:ListEventSourceMappings"),
            Ok(found) => {
                let ours: Vec<&Mapping> = found
                    .iter()
                    .filter(|m| {
                        m.function_arn.ends_with(&format!(":function:{function_name}"))
                            || m.function_arn == function_name
                            || (m.local_route && m.function_arn == s.function)
                    })
                    .collect();
                match ours.first() {
                    None if seen.local => check(
                        "eventSource",
                        &name,
                        Status::Fail,
                        "no route in the local dispatcher (.local/routes.json) either",
                    )
                    .fix("restart the local stack: scripts/local-down.sh; scripts/local-up.sh"),
                    None => check(
                        "eventSource",
                        &name,
                        Status::Fail,
                        format!("not found: {function_name} does not read {queue}"),
                    )
                    .fix(format!("the function's SQS event is missing: {redeploy}")),
                    Some(m) if m.local_route => check(
                        "eventSource",
                        &name,
                        Status::Unchecked,
                        "no Lambda event source mapping on the local stack (moto runs no functions): \
                         the local dispatcher routes this queue to the function instead. On AWS the mapping must be Enabled",
                    ),
                    Some(m) if m.state == "Enabled" => {
                        check("eventSource", &name, Status::Pass, format!("Enabled ({})", m.uuid))
                    }
                    Some(m) => check(
                        "eventSource",
                        &name,
                        Status::Fail,
                        format!("{} ({}): the queue fills up, nothing reads it", m.state, m.uuid),
                    )
                    .fix(format!(
                        "aws lambda update-event-source-mapping --uuid {} --enabled",
                        m.uuid
                    )),
                }
            }
        });
    }

    // The alert topic's subscriptions.
    if let Some(topic) = &seen.topic_arn {
        match &seen.subscriptions {
            None => {}
            Some(Err(e)) => checks.push(
                check(
                    "alerts",
                    "alert topic subscriptions",
                    Status::Fail,
                    e.clone(),
                )
                .fix("the caller needs sns:ListSubscriptionsByTopic"),
            ),
            Some(Ok(subs)) => {
                let (pending, confirmed): (Vec<_>, Vec<_>) =
                    subs.iter().partition(|s| s.arn == "PendingConfirmation");
                let shown = |s: &SubscriptionSeen| format!("{} {}", s.protocol, endpoint_shown(s));
                if confirmed.is_empty() {
                    checks.push(
                        check(
                            "alerts",
                            "a confirmed subscription",
                            Status::Fail,
                            "none: every alert is published to nobody",
                        )
                        .fix(format!(
                            "set AlertEmail and redeploy (then confirm the e-mail), or subscribe AWS Chatbot to {topic} (docs/deployment.md)"
                        )),
                    );
                } else {
                    checks.push(check(
                        "alerts",
                        "a confirmed subscription",
                        Status::Pass,
                        format!(
                            "{} confirmed: {}",
                            confirmed.len(),
                            confirmed
                                .iter()
                                .map(|s| shown(s))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                for s in pending {
                    let fix = match web_endpoint(s) {
                        true => format!(
                            "SNS POSTs a SubscriptionConfirmation message to {}: the endpoint must visit its SubscribeURL \
                             (or run aws sns confirm-subscription with its Token); the token expires after 3 days: \
                             then aws sns subscribe --topic-arn {topic} --protocol {} --notification-endpoint '<the endpoint's URL>'",
                            endpoint_shown(s),
                            s.protocol
                        ),
                        false => format!(
                            "open the \"AWS Notification - Subscription Confirmation\" e-mail sent to {} and follow \"Confirm subscription\"; \
                             the link expires after 3 days: then aws sns subscribe --topic-arn {topic} --protocol {} --notification-endpoint {}",
                            endpoint_shown(s),
                            s.protocol,
                            endpoint_shown(s)
                        ),
                    };
                    checks.push(
                        check(
                            "alerts",
                            format!("subscription {}", shown(s)),
                            Status::Fail,
                            "waiting for confirmation: it receives nothing",
                        )
                        .fix(fix),
                    );
                }
            }
        }
    } else {
        checks.push(
            check(
                "alerts",
                "alert topic",
                Status::Fail,
                "the stack has no AlertTopicArn output",
            )
            .fix(redeploy.clone()),
        );
    }

    // The watched apps.
    if seen.apps.is_empty() {
        checks.push(check(
            "app",
            "watched apps",
            Status::Pass,
            "AmplifyAppIds is *: every app of the account is watched; none to check one by one",
        ));
    }
    for a in &seen.apps {
        let name = format!("app {}", a.app_id);
        checks.push(match &a.answer {
            Ok(app_name) => check(
                "app",
                &name,
                Status::Pass,
                format!(
                    "GetApp answers ({app_name}); the functions' roles grant Amplify on it (their statements are scoped to AmplifyAppIds)"
                ),
            ),
            Err(e) if not_found(e) => check(
                "app",
                &name,
                Status::Fail,
                format!("no such app in {}: {e}", seen.region),
            )
            .fix(format!(
                "fix AmplifyAppIds (sam deploy --stack-name {stack} --parameter-overrides AmplifyAppIds=...): the functions are granted exactly those apps"
            )),
            Err(e) => check("app", &name, Status::Fail, e.clone())
                .fix("the caller needs amplify:GetApp on the app"),
        });
    }

    // The mode in force (information: always ✓, unless unreadable).
    let p = |k: &str| seen.settings.get(k).cloned();
    match (p("AmplifyAppIds"), p("WatchedBranches")) {
        (Some(apps), Some(branches)) => checks.push(check(
            "mode",
            "watch scope",
            Status::Pass,
            format!("apps {apps}; branches {branches}"),
        )),
        _ => checks.push(
            check(
                "mode",
                "watch scope",
                Status::Fail,
                "the stack has no AmplifyAppIds or WatchedBranches parameter",
            )
            .fix(redeploy.clone()),
        ),
    }
    let enforcement = p("Enforcement").unwrap_or_else(|| "observe".into());
    let meaning = if enforcement == "enforce" {
        "builds are stopped, deploys rolled back and transient failures retried as policies allow"
    } else {
        "nothing acts on Amplify: what would have been done is alerted as \"would have\" (docs/rollout.md)"
    };
    checks.push(check(
        "mode",
        "enforcement",
        Status::Pass,
        format!(
            "{enforcement}: {meaning}; automatic rollback {} (a policy may override both per app or branch)",
            p("AutoRollback").unwrap_or_else(|| "auto".into())
        ),
    ));

    // GitHub: off, or the App (or token) and each watched app's repository.
    checks.extend(crate::github::assess(&seen.github));

    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let unchecked = checks
        .iter()
        .filter(|c| c.status == Status::Unchecked)
        .count();
    Report {
        stack: seen.stack.clone(),
        environment: seen.environment.clone(),
        passed: failed == 0,
        failed,
        unchecked,
        checks,
    }
}

fn human(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        _ => format!("{} h", s / 3600),
    }
}

/// The checklist for people: ✓, ✗ (with its fix) or – (not checked, why).
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "sentinel doctor: stack {} ({})\n",
        report.stack, report.environment
    );
    for c in &report.checks {
        let mark = match c.status {
            Status::Pass => crate::term::paint("✓", true),
            Status::Fail => crate::term::paint("✗", false),
            Status::Unchecked => "–".to_owned(),
        };
        out.push_str(&format!("{mark} {}: {}\n", c.name, c.detail));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("    fix: {fix}\n"));
        }
    }
    let total = report.checks.len();
    out.push_str(&format!(
        "{} of {total} checks passed, {} failed{}\n",
        total - report.failed - report.unchecked,
        report.failed,
        if report.unchecked > 0 {
            format!(", {} not checkable here", report.unchecked)
        } else {
            String::new()
        }
    ));
    out
}

// ----- reading the stack -----

/// A call's error in one line: the service's code and message, or the
/// whole cause (a connection or credentials failure).
fn why<E, R>(e: aws_sdk_sqs::error::SdkError<E, R>) -> String
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

/// Reads everything the checks need, with the stack's settings; a call that
/// fails is recorded as what was seen, never the end of the run.
pub async fn gather(sdk: &aws_config::SdkConfig, settings: &StackSettings) -> Result<Seen> {
    let env = settings.environment.to_string();
    let region = sdk
        .region()
        .map_or("us-east-1".to_owned(), |r| r.to_string());
    let local_routes: Option<Vec<serde_json::Value>> = settings
        .outputs
        .get(LOCAL_ROUTES_OUTPUT)
        .and_then(|r| serde_json::from_str(r).ok());
    let mut seen = Seen {
        stack: settings.name.clone(),
        environment: env.clone(),
        region,
        table_name: settings.table.clone(),
        bus_name: settings.bus.clone(),
        topic_arn: settings.outputs.get("AlertTopicArn").cloned(),
        settings: settings.parameters.clone(),
        local: local_routes.is_some(),
        ..Default::default()
    };

    // Table.
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    seen.table = Some(
        match ddb
            .describe_table()
            .table_name(&settings.table)
            .send()
            .await
        {
            Err(e) => Err(why(e)),
            Ok(out) => {
                let t = out.table();
                let mut seen_table = TableSeen {
                    status: t
                        .and_then(|t| t.table_status())
                        .map_or("unknown".into(), |s| s.as_str().to_owned()),
                    indexes: t
                        .map(|t| t.global_secondary_indexes())
                        .unwrap_or_default()
                        .iter()
                        .map(|i| {
                            (
                                i.index_name().unwrap_or_default().to_owned(),
                                i.index_status()
                                    .map_or("unknown".into(), |s| s.as_str().to_owned()),
                            )
                        })
                        .collect(),
                    ttl: None,
                };
                if let Ok(ttl) = ddb
                    .describe_time_to_live()
                    .table_name(&settings.table)
                    .send()
                    .await
                {
                    seen_table.ttl = ttl.time_to_live_description().map(|d| {
                        (
                            d.attribute_name().unwrap_or_default().to_owned(),
                            d.time_to_live_status()
                                .map_or("unknown".into(), |s| s.as_str().to_owned()),
                        )
                    });
                }
                Ok(seen_table)
            }
        },
    );

    // Bus, rules, archives.
    let events = aws_sdk_eventbridge::Client::new(sdk);
    seen.bus = Some(
        events
            .describe_event_bus()
            .name(&settings.bus)
            .send()
            .await
            .map(|_| ())
            .map_err(why),
    );
    let physical = physical_ids(sdk, &settings.name).await;
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut arns = BTreeMap::new();
    for w in WIRING {
        let name = format!("deploy-sentinel-{env}-{}", w.queue);
        arns.insert(w.queue, (name.clone(), queue_read(&sqs, sdk, &name).await));
    }
    for w in WIRING {
        let (queue_name, (arn, read)) = &arns[w.queue];
        for r in w.rules {
            let absent = r.only_with.is_some_and(|p| {
                settings
                    .parameters
                    .get(p)
                    .is_none_or(|v| v.trim().is_empty())
            });
            if absent {
                continue;
            }
            let bus = if r.default_bus {
                "default".to_owned()
            } else {
                settings.bus.clone()
            };
            seen.rules.push(
                rule_read(
                    &events,
                    &settings.name,
                    &physical,
                    r,
                    &bus,
                    arn.clone().unwrap_or_else(|| queue_name.clone()),
                )
                .await,
            );
        }
        seen.queues.push(QueueSeen {
            name: queue_name.clone(),
            function: w.function.to_owned(),
            read: read.clone(),
        });
    }
    for key in ["AmplifyEventsArchiveArn", "DomainEventsArchiveArn"] {
        let Some(arn) = settings.outputs.get(key) else {
            seen.archives.push(ArchiveSeen {
                name: key.trim_end_matches("Arn").to_owned(),
                state: Err(format!("the stack has no {key} output")),
            });
            continue;
        };
        let name = arn.rsplit('/').next().unwrap_or(arn).to_owned();
        let state = events
            .describe_archive()
            .archive_name(&name)
            .send()
            .await
            .map(|a| {
                a.state()
                    .map_or("unknown".into(), |s| s.as_str().to_owned())
            })
            .map_err(why);
        seen.archives.push(ArchiveSeen { name, state });
    }

    // DLQ.
    if let Some(url) = &settings.dlq_url {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
            .send()
            .await;
        let (arn, read) = match attributes {
            Err(e) => (None, Err(why(e))),
            Ok(out) => {
                let a = out.attributes().cloned().unwrap_or_default();
                let get = |k: aws_sdk_sqs::types::QueueAttributeName| a.get(&k).cloned();
                use aws_sdk_sqs::types::QueueAttributeName as Q;
                let depth = get(Q::ApproximateNumberOfMessages)
                    .and_then(|n| n.parse::<u64>().ok())
                    .unwrap_or(0)
                    + get(Q::ApproximateNumberOfMessagesNotVisible)
                        .and_then(|n| n.parse::<u64>().ok())
                        .unwrap_or(0);
                let mut content = DlqContent {
                    depth,
                    ..Default::default()
                };
                if depth > 0 {
                    match crate::dlq::show(&sqs, url).await {
                        Ok(held) => {
                            for m in held {
                                let reason = match (&m.error_type, &m.reason) {
                                    (Some(t), _) => t.clone(),
                                    (None, _) => {
                                        "moved by the redrive policy (failed 5 times)".into()
                                    }
                                };
                                let source = m
                                    .source
                                    .as_deref()
                                    .and_then(|s| s.rsplit(':').next())
                                    .unwrap_or("unknown")
                                    .to_owned();
                                *content.reasons.entry((reason, source)).or_default() += 1;
                            }
                        }
                        Err(e) => {
                            content
                                .reasons
                                .insert((format!("unread: {e:#}"), "-".into()), 0);
                        }
                    }
                }
                (get(Q::QueueArn), Ok(content))
            }
        };
        seen.dlq = Some(DlqSeen { arn, read });
    }

    // Event source mappings.
    let lambda = aws_sdk_lambda::Client::new(sdk);
    for w in WIRING {
        let (queue_name, (arn, _)) = &arns[w.queue];
        let queue_arn = arn.clone().unwrap_or_else(|| queue_name.clone());
        let found = match &local_routes {
            Some(routes) => Ok(routes
                .iter()
                .filter(|r| r["queueArn"].as_str() == Some(queue_arn.as_str()))
                .map(|r| Mapping {
                    uuid: "local".into(),
                    function_arn: r["function"].as_str().unwrap_or_default().to_owned(),
                    state: "Routed".into(),
                    local_route: true,
                })
                .collect()),
            None => lambda
                .list_event_source_mappings()
                .event_source_arn(&queue_arn)
                .send()
                .await
                .map(|out| {
                    out.event_source_mappings()
                        .iter()
                        .map(|m| Mapping {
                            uuid: m.uuid().unwrap_or_default().to_owned(),
                            function_arn: m.function_arn().unwrap_or_default().to_owned(),
                            state: m.state().unwrap_or("unknown").to_owned(),
                            local_route: false,
                        })
                        .collect()
                })
                .map_err(why),
        };
        seen.sources.push(SourceSeen {
            function: w.function.to_owned(),
            queue_arn,
            found,
        });
    }

    // Subscriptions.
    if let Some(topic) = &seen.topic_arn {
        let sns = aws_sdk_sns::Client::new(sdk);
        let mut subs = Vec::new();
        let mut token = None;
        let result = loop {
            match sns
                .list_subscriptions_by_topic()
                .topic_arn(topic)
                .set_next_token(token.take())
                .send()
                .await
            {
                Err(e) => break Err(why(e)),
                Ok(out) => {
                    subs.extend(out.subscriptions().iter().map(|s| SubscriptionSeen {
                        arn: s.subscription_arn().unwrap_or_default().to_owned(),
                        protocol: s.protocol().unwrap_or_default().to_owned(),
                        endpoint: s.endpoint().unwrap_or_default().to_owned(),
                    }));
                    match out.next_token() {
                        Some(t) if !t.is_empty() => token = Some(t.to_owned()),
                        _ => break Ok(std::mem::take(&mut subs)),
                    }
                }
            }
        };
        seen.subscriptions = Some(result);
    }

    // Watched apps.
    let amplify = aws_sdk_amplify::Client::new(sdk);
    for app in &settings.watched_apps {
        let got = amplify.get_app().app_id(app.as_str()).send().await;
        let repository = got
            .as_ref()
            .ok()
            .and_then(|out| out.app().map(|a| a.repository()))
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        let answer = got
            .map(|out| out.app().map_or(String::new(), |a| a.name().to_owned()))
            .map_err(why);
        seen.apps.push(AppSeen {
            app_id: app.to_string(),
            answer,
            repository,
        });
    }

    // GitHub (no call at all when the stack has no GitHub parameter).
    let apps: Vec<(String, Option<String>)> = seen
        .apps
        .iter()
        .map(|a| (a.app_id.clone(), a.repository.clone()))
        .collect();
    seen.github = crate::github::gather(sdk, &settings.parameters, &apps).await;
    Ok(seen)
}

/// Logical id → physical id of the stack's resources (on AWS; the local
/// stack's registered stack holds none, and names rules `{stack}-{logical}`).
async fn physical_ids(sdk: &aws_config::SdkConfig, stack: &str) -> BTreeMap<String, String> {
    aws_sdk_cloudformation::Client::new(sdk)
        .describe_stack_resources()
        .stack_name(stack)
        .send()
        .await
        .map(|out| {
            out.stack_resources()
                .iter()
                .filter_map(|r| {
                    Some((
                        r.logical_resource_id()?.to_owned(),
                        r.physical_resource_id()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The queue's ARN, and its depth (or why not).
async fn queue_read(
    sqs: &aws_sdk_sqs::Client,
    sdk: &aws_config::SdkConfig,
    name: &str,
) -> (Option<String>, Result<QueueDepth, String>) {
    use aws_sdk_sqs::types::QueueAttributeName as Q;
    let url = match sqs.get_queue_url().queue_name(name).send().await {
        Ok(out) => out.queue_url().unwrap_or_default().to_owned(),
        Err(e) => return (None, Err(why(e))),
    };
    let attributes = match sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(Q::All)
        .send()
        .await
    {
        Ok(out) => out.attributes().cloned().unwrap_or_default(),
        Err(e) => return (None, Err(why(e))),
    };
    let number = |k: Q| {
        attributes
            .get(&k)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
    };
    let dead_letter_target = attributes
        .get(&Q::RedrivePolicy)
        .and_then(|p| serde_json::from_str::<serde_json::Value>(p).ok())
        .and_then(|p| p["deadLetterTargetArn"].as_str().map(str::to_owned));
    let depth = QueueDepth {
        visible: number(Q::ApproximateNumberOfMessages),
        in_flight: number(Q::ApproximateNumberOfMessagesNotVisible),
        oldest_age: oldest_age(sdk, name).await,
        dead_letter_target,
    };
    (attributes.get(&Q::QueueArn).cloned(), Ok(depth))
}

/// CloudWatch's latest ApproximateAgeOfOldestMessage of the queue (seconds).
async fn oldest_age(sdk: &aws_config::SdkConfig, queue: &str) -> Option<f64> {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, Statistic};
    let now = chrono::Utc::now().timestamp();
    let out = aws_sdk_cloudwatch::Client::new(sdk)
        .get_metric_statistics()
        .namespace("AWS/SQS")
        .metric_name("ApproximateAgeOfOldestMessage")
        .dimensions(Dimension::builder().name("QueueName").value(queue).build())
        .start_time(DateTime::from_secs(now - 900))
        .end_time(DateTime::from_secs(now))
        .period(300)
        .statistics(Statistic::Maximum)
        .send()
        .await
        .ok()?;
    out.datapoints()
        .iter()
        .filter_map(|d| Some((d.timestamp()?.secs(), d.maximum()?)))
        .max_by_key(|(t, _)| *t)
        .map(|(_, age)| age)
}

async fn rule_read(
    events: &aws_sdk_eventbridge::Client,
    stack: &str,
    physical: &BTreeMap<String, String>,
    spec: &RuleSpec,
    bus: &str,
    queue_arn: String,
) -> RuleSeen {
    let mut seen = RuleSeen {
        logical: spec.logical.to_owned(),
        bus: bus.to_owned(),
        schedule: spec.schedule,
        queue_arn,
        name: None,
        state: None,
        targets: Vec::new(),
        error: None,
    };
    // On AWS, CloudFormation knows the name (`bus|name` on a custom bus);
    // else CloudFormation's own naming: `{stack}-{logical}[-{suffix}]`.
    let name = match physical.get(spec.logical) {
        Some(id) => Some(id.rsplit('|').next().unwrap_or(id).to_owned()),
        None => {
            let prefix = format!("{stack}-{}", spec.logical);
            match events
                .list_rules()
                .name_prefix(&prefix)
                .event_bus_name(bus)
                .send()
                .await
            {
                Err(e) => {
                    seen.error = Some(why(e));
                    return seen;
                }
                Ok(out) => out
                    .rules()
                    .iter()
                    .filter_map(|r| r.name())
                    .find(|n| *n == prefix || n.starts_with(&format!("{prefix}-")))
                    .map(str::to_owned),
            }
        }
    };
    let Some(name) = name else {
        seen.error = Some(format!(
            "no rule {stack}-{}* on the {bus} bus",
            spec.logical
        ));
        return seen;
    };
    seen.name = Some(name.clone());
    match events
        .describe_rule()
        .name(&name)
        .event_bus_name(bus)
        .send()
        .await
    {
        Ok(r) => seen.state = r.state().map(|s| s.as_str().to_owned()),
        Err(e) => {
            seen.error = Some(why(e));
            return seen;
        }
    }
    match events
        .list_targets_by_rule()
        .rule(&name)
        .event_bus_name(bus)
        .send()
        .await
    {
        Ok(t) => seen.targets = t.targets().iter().map(|t| t.arn().to_owned()).collect(),
        Err(e) => seen.error = Some(why(e)),
    }
    seen
}

#[cfg(test)]
mod tests;
