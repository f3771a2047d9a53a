//! The queues: each function's queue (depth, age of its oldest message,
//! its redrive to the DLQ), the dead-letter queue (depth, top reasons) and
//! each function's event source mapping (or, on the local stack, the
//! dispatcher's route).

use std::collections::BTreeMap;

use super::check::{Check, Status, check, redeploy, why};
use super::seen::{DlqContent, DlqSeen, Mapping, QueueDepth, QueueSeen, Seen, SourceSeen};
use super::wiring::WIRING;
use crate::stack::StackSettings;

/// A message older than this in a function's queue is not being consumed,
/// or keeps failing: an hour is past the whole retry window (visibility
/// timeout × 5 receives) of every queue but the health checker's (3 h) and
/// cleanup's (2.5 h), whose records may still be retrying. The stack's
/// `records-retrying` alarm watches each queue at 1.5 × its visibility
/// timeout.
pub const STUCK_AGE_SECONDS: f64 = 3600.0;

// ----- the checks -----

/// Each function's queue.
pub fn queues(seen: &Seen) -> Vec<Check> {
    seen.queues.iter().map(|q| queue(seen, q)).collect()
}

/// One queue: read, consumed (its oldest message younger than
/// [`STUCK_AGE_SECONDS`]), its redrive policy leading to the stack's DLQ.
fn queue(seen: &Seen, q: &QueueSeen) -> Check {
    let stack = &seen.stack;
    let redeploy = redeploy(seen);
    let dlq_arn = seen.dlq.as_ref().and_then(|d| d.arn.clone());
    let name = format!("queue {}", q.name);
    match &q.read {
        Err(e) => check("queue", &name, Status::Fail, e.clone()).fix(redeploy.clone()),
        Ok(d) => {
            let age = d.oldest_age.map_or_else(
                || {
                    if seen.local {
                        "age of the oldest: not known (the local stack has no CloudWatch metrics)"
                            .to_owned()
                    } else {
                        "age of the oldest: no CloudWatch datapoint in the last 15 minutes"
                            .to_owned()
                    }
                },
                |a| format!("oldest {}", human(a)),
            );
            let detail = format!("{} waiting, {} in flight; {age}", d.visible, d.in_flight);
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
    }
}

/// The dead-letter queue: empty, or what is in it and why.
pub fn dead_letter_queue(seen: &Seen) -> Vec<Check> {
    seen.dlq.iter().map(|d| dlq(seen, d)).collect()
}

fn dlq(seen: &Seen, d: &DlqSeen) -> Check {
    let stack = &seen.stack;
    let name = "dead-letter queue";
    match &d.read {
        Err(e) => check("dlq", name, Status::Fail, e.clone()).fix(redeploy(seen)),
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
                if top.is_empty() {
                    ""
                } else {
                    "; top reasons: "
                },
                top.join("; ")
            );
            check("dlq", name, Status::Fail, detail).fix(format!(
                "read them: sentinel --stack {stack} dlq show; once the cause is fixed, \
                 sentinel --stack {stack} dlq redrive (malformed ones are kept: delete them after reading)"
            ))
        }
    }
}

/// Each queue's event source mapping to its function.
pub fn event_sources(seen: &Seen) -> Vec<Check> {
    seen.sources.iter().map(|s| event_source(seen, s)).collect()
}

fn event_source(seen: &Seen, s: &SourceSeen) -> Check {
    let redeploy = redeploy(seen);
    let queue = s.queue_arn.rsplit(':').next().unwrap_or(&s.queue_arn);
    let name = format!("event source {queue} → {}", s.function);
    let function_name = format!("deploy-sentinel-{}-{}", seen.environment, s.function);
    match &s.found {
        Err(e) => check("eventSource", &name, Status::Fail, e.clone())
            .fix("the caller needs lambda:ListEventSourceMappings"),
        Ok(found) => {
            let ours: Vec<&Mapping> = found
                .iter()
                .filter(|m| {
                    m.function_arn
                        .ends_with(&format!(":function:{function_name}"))
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
                Some(m) if m.state == "Enabled" => check(
                    "eventSource",
                    &name,
                    Status::Pass,
                    format!("Enabled ({})", m.uuid),
                ),
                Some(m) => check(
                    "eventSource",
                    &name,
                    Status::Fail,
                    format!(
                        "{} ({}): the queue fills up, nothing reads it",
                        m.state, m.uuid
                    ),
                )
                .fix(format!(
                    "aws lambda update-event-source-mapping --uuid {} --enabled",
                    m.uuid
                )),
            }
        }
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

// ----- reading them -----

/// One function's queue as read: its name, and its ARN and depth (or why
/// not).
pub struct QueueRead {
    pub name: String,
    pub arn: Option<String>,
    pub depth: Result<QueueDepth, String>,
}

impl QueueRead {
    /// Its ARN; its name when it could not be read.
    pub fn arn_or_name(&self) -> String {
        self.arn.clone().unwrap_or_else(|| self.name.clone())
    }
}

/// Each queue of the wiring, by its name's end.
pub async fn read_queues(
    sdk: &aws_config::SdkConfig,
    env: &str,
) -> BTreeMap<&'static str, QueueRead> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let mut queues = BTreeMap::new();
    for w in WIRING {
        let name = format!("deploy-sentinel-{env}-{}", w.queue);
        let (arn, depth) = queue_read(&sqs, sdk, &name).await;
        queues.insert(w.queue, QueueRead { name, arn, depth });
    }
    queues
}

/// The queues as the checks see them, in the wiring's order.
pub fn queues_seen(queues: &BTreeMap<&'static str, QueueRead>) -> Vec<QueueSeen> {
    WIRING
        .iter()
        .map(|w| QueueSeen {
            name: queues[w.queue].name.clone(),
            function: w.function.to_owned(),
            read: queues[w.queue].depth.clone(),
        })
        .collect()
}

/// The DLQ's ARN, depth and (when it holds messages) their reasons.
pub async fn read_dlq(sdk: &aws_config::SdkConfig, settings: &StackSettings) -> Option<DlqSeen> {
    let url = settings.dlq_url.as_ref()?;
    let sqs = aws_sdk_sqs::Client::new(sdk);
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
                match crate::commands::dlq::show(&sqs, url).await {
                    Ok(held) => {
                        for m in held {
                            let reason = match (&m.error_type, &m.reason) {
                                (Some(t), _) => t.clone(),
                                (None, _) => "moved by the redrive policy (failed 5 times)".into(),
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
    Some(DlqSeen { arn, read })
}

/// Each queue's event source mappings (on the local stack, the
/// dispatcher's routes).
pub async fn read_sources(
    sdk: &aws_config::SdkConfig,
    queues: &BTreeMap<&'static str, QueueRead>,
    local_routes: Option<&[serde_json::Value]>,
) -> Vec<SourceSeen> {
    let mut sources = Vec::new();
    let lambda = aws_sdk_lambda::Client::new(sdk);
    for w in WIRING {
        let queue_arn = queues[w.queue].arn_or_name();
        let found = match local_routes {
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
        sources.push(SourceSeen {
            function: w.function.to_owned(),
            queue_arn,
            found,
        });
    }
    sources
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
