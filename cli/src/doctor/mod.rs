//! `sentinel doctor`: checks a deployed stack end to end and says, for each
//! piece, ✓ or ✗ with the fix — the table and its index, the bus, every
//! rule (enabled, delivering to its queue) and both archives, each queue
//! (depth, age of its oldest message) and the DLQ (depth, top reasons),
//! each function's event source mapping, the alert topic's confirmed
//! subscriptions, the watched apps, the scope and enforcement in force, and
//! GitHub (off, or the App reachable and installed with its permissions on
//! each watched app's repository).
//!
//! Two halves: [`gather`] reads what is there (AWS calls only, every failure
//! kept as what it saw), [`assess`] turns it into verdicts and fixes (pure,
//! unit-tested). A check the stack at hand cannot answer is `unchecked`,
//! with why, never a ✓: the local stack (moto) has no Lambda event source
//! mappings (its dispatcher routes the queues) and fires no schedule.
//!
//! Here: the `Check` type, the list of checks ([`CHECKS`]), the runner and
//! the checklist's rendering. The checks themselves, with what they read,
//! are one file per area: `stack` (table, bus, archives, mode), `rules`,
//! `queues` (queues, DLQ, event sources), `alerts`, `amplify`, `github`;
//! `wiring` is what the template declares. Adding a check: one function in
//! its area's file, one line in [`CHECKS`].

use anyhow::Result;
use serde::Serialize;

use crate::stack::StackSettings;

mod alerts;
mod amplify;
mod check;
mod github;
mod queues;
mod rules;
mod seen;
mod stack;
mod wiring;

pub use check::{Check, Status};
pub use seen::Seen;
// What the tests (`use super::*`) name besides.
#[cfg(test)]
use {
    alerts::endpoint_shown,
    queues::STUCK_AGE_SECONDS,
    seen::{
        AppSeen, ArchiveSeen, DlqContent, DlqSeen, Mapping, QueueDepth, QueueSeen, RuleSeen,
        SourceSeen, SubscriptionSeen, TableSeen,
    },
    stack::{INDEX, TTL_ATTRIBUTE},
    wiring::WIRING,
};

/// The output the local stack's provisioning adds (never on AWS): the
/// dispatcher's routes, which play the event source mappings there.
pub const LOCAL_ROUTES_OUTPUT: &str = "LocalDispatcherRoutes";

// ----- the verdicts -----

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

// ----- the list -----

/// A check: what [`gather`] saw in, verdicts out. `One` answers one
/// `Check` about the stack; `Each` answers one per piece it covers (a rule,
/// a queue, an app…), or none where it does not apply.
enum Entry {
    One(fn(&Seen) -> Check),
    Each(fn(&Seen) -> Vec<Check>),
}

/// Every check, in the order of the report.
const CHECKS: &[Entry] = &[
    Entry::One(stack::table),
    Entry::One(stack::bus),
    Entry::Each(rules::rules),
    Entry::Each(stack::archives),
    Entry::Each(queues::queues),
    Entry::Each(queues::dead_letter_queue),
    Entry::Each(queues::event_sources),
    Entry::Each(alerts::topic),
    Entry::Each(alerts::confirmed),
    Entry::Each(alerts::pending),
    Entry::Each(amplify::every_app),
    Entry::Each(amplify::apps),
    Entry::One(stack::watch_scope),
    Entry::One(stack::enforcement),
    Entry::Each(github::checks),
];

/// The verdicts on what was seen (pure).
pub fn assess(seen: &Seen) -> Report {
    let checks: Vec<Check> = CHECKS
        .iter()
        .flat_map(|entry| match entry {
            Entry::One(one) => vec![one(seen)],
            Entry::Each(each) => each(seen),
        })
        .collect();
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
    let events = aws_sdk_eventbridge::Client::new(sdk);
    seen.table = Some(stack::read_table(sdk, &settings.table).await);
    seen.bus = Some(stack::read_bus(&events, &settings.bus).await);
    let physical = rules::physical_ids(sdk, &settings.name).await;
    let queues = queues::read_queues(sdk, &env).await;
    seen.rules = rules::read_rules(&events, settings, &physical, &queues).await;
    seen.queues = queues::queues_seen(&queues);
    seen.archives = stack::read_archives(&events, settings).await;
    seen.dlq = queues::read_dlq(sdk, settings).await;
    seen.sources = queues::read_sources(sdk, &queues, local_routes.as_deref()).await;
    if let Some(topic) = &seen.topic_arn {
        seen.subscriptions = Some(alerts::read_subscriptions(sdk, topic).await);
    }
    seen.apps = amplify::read_apps(sdk, &settings.watched_apps).await;
    // GitHub (no call at all when the stack has no GitHub parameter).
    let apps: Vec<(String, Option<String>)> = seen
        .apps
        .iter()
        .map(|a| (a.app_id.clone(), a.repository.clone()))
        .collect();
    seen.github = github::gather(sdk, &settings.parameters, &apps).await;
    Ok(seen)
}

#[cfg(test)]
mod tests;
