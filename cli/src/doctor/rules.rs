//! The rules: each one the wiring expects (`wiring.rs`) found, ENABLED and
//! delivering to its function's queue.

use std::collections::BTreeMap;

use super::check::{Check, Status, check, redeploy, why};
use super::queues::QueueRead;
use super::seen::{RuleSeen, Seen};
use super::wiring::{RuleSpec, WIRING};
use crate::stack::StackSettings;

// ----- the checks -----

/// Each rule of the stack.
pub fn rules(seen: &Seen) -> Vec<Check> {
    seen.rules.iter().map(|r| rule(seen, r)).collect()
}

/// One rule: found, ENABLED, delivering to its queue.
fn rule(seen: &Seen, r: &RuleSeen) -> Check {
    let redeploy = redeploy(seen);
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
        return check(
            "rule",
            &name,
            Status::Fail,
            r.error.clone().unwrap_or_else(|| "not found".into()),
        )
        .fix(format!("the rule is missing: {redeploy}"));
    };
    if let Some(e) = &r.error {
        return check("rule", &name, Status::Fail, e.clone())
            .fix("the caller needs events:DescribeRule and events:ListTargetsByRule");
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
        return check(
            "rule",
            &name,
            Status::Fail,
            format!("{rule_name} is {state}: nothing reaches its queue"),
        )
        .fix(format!(
            "aws events enable-rule --name {rule_name}{bus}{replay}"
        ));
    }
    if r.targets.contains(&r.queue_arn) {
        check(
            "rule",
            &name,
            Status::Pass,
            format!("{rule_name} is ENABLED, delivering to {}", r.queue_arn),
        )
    } else if r.schedule && seen.local {
        check(
            "rule",
            &name,
            Status::Unchecked,
            format!(
                "{rule_name} is ENABLED; its target is not set on the local stack (moto fires no schedule: tests deliver scheduled events themselves). On AWS it must deliver to {}",
                r.queue_arn
            ),
        )
    } else {
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
        .fix(format!("its target was changed by hand: {redeploy}"))
    }
}

// ----- reading them -----

/// Every rule the wiring expects of this stack (one that only a stack
/// parameter creates, when it is set), in the wiring's order.
pub async fn read_rules(
    events: &aws_sdk_eventbridge::Client,
    settings: &StackSettings,
    physical: &BTreeMap<String, String>,
    queues: &BTreeMap<&'static str, QueueRead>,
) -> Vec<RuleSeen> {
    let mut rules = Vec::new();
    for w in WIRING {
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
            rules.push(
                rule_read(
                    events,
                    &settings.name,
                    physical,
                    r,
                    &bus,
                    queues[w.queue].arn_or_name(),
                )
                .await,
            );
        }
    }
    rules
}

/// Logical id → physical id of the stack's resources (on AWS; the local
/// stack's registered stack holds none, and names rules `{stack}-{logical}`).
pub async fn physical_ids(sdk: &aws_config::SdkConfig, stack: &str) -> BTreeMap<String, String> {
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
