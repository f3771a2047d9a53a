//! The stack's dead-letter queue, for people: what is in it and why
//! (`sentinel dlq show`), and the redrive that sends each message back to
//! the queue it came from (`sentinel dlq redrive`). One DLQ serves every
//! function's queue, so a redrive into one destination would hand the
//! alerter's events to the rollback function: each message's source is the
//! `DeadLetterQueueSourceArn` SQS sets when its redrive policy moves a
//! message, the `sourceQueue` attribute a function sets when it
//! dead-letters a record itself, or the `TARGET_ARN` EventBridge sets when
//! a rule could not deliver to its target (every target is a function's
//! queue; `ERROR_CODE` and `ERROR_MESSAGE` say why). A message that is malformed
//! (`NonRetryable.*`: it would fail the same way) or whose source is not
//! known is kept, and said so.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Context, Result};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use clap::Subcommand;
use sentinel_shared::lambda::aws;
use serde_json::{Value, json};

use crate::commands::Ctx;
use crate::exit::AwsFailure;
use crate::stack;

/// `sentinel dlq`: the subcommand, and the flags both take.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    /// The stack's dead-letter queue URL (or --stack).
    #[arg(long, env = "SENTINEL_DLQ_URL", global = true)]
    dlq: Option<String>,
    /// The messages, or what the redrive did, as JSON.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Subcommand)]
enum Action {
    /// Every message with its error, source queue and what a redrive does.
    Show,
    /// Each message back to the queue it came from; malformed ones and
    /// those of unknown source are kept. --dry-run only says what it would do.
    Redrive {
        /// Say where each message would go, and move nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

pub async fn run(args: Args, ctx: &Ctx) -> Result<ExitCode> {
    let Args { action, dlq, json } = args;
    let dlq = stack::settle(
        dlq,
        ctx.stack.as_ref().and_then(|s| s.dlq_url.clone()),
        "--dlq (SENTINEL_DLQ_URL)",
        "DeadLetterQueueUrl",
    )?
    .context("no dead-letter queue: pass --stack, or --dlq (SENTINEL_DLQ_URL)")?;
    let sqs = aws_sdk_sqs::Client::new(&aws::load().await);
    match action {
        Action::Show => {
            let held = show(&sqs, &dlq).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&held_json(&held))?);
            } else {
                print!("{}", render_held(&held));
                if let Some(n) = depth(&sqs, &dlq).await? {
                    println!("({n} message(s) in the queue by SQS's count)");
                }
            }
        }
        Action::Redrive { dry_run } => {
            let outcome = redrive(&sqs, &dlq, dry_run).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "dryRun": outcome.dry_run,
                        "moved": outcome.moved,
                        "kept": held_json(&outcome.kept),
                    }))?
                );
            } else {
                print!("{}", render_outcome(&outcome));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What happens to one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Back to this queue (ARN).
    Redrive(String),
    /// Kept in the DLQ, for this reason.
    Keep(String),
}

/// The decision for one message (pure).
pub fn plan(error_type: Option<&str>, source: Option<&str>) -> Plan {
    if let Some(t) = error_type.filter(|t| t.starts_with("NonRetryable")) {
        return Plan::Keep(format!(
            "{t}: it would fail the same way; read it, then delete it (the reconciliation recovers Amplify's jobs)"
        ));
    }
    match source {
        Some(arn) if queue_name(arn).is_some() => Plan::Redrive(arn.to_owned()),
        _ => Plan::Keep("its source queue is not known: move it by hand".into()),
    }
}

/// `arn:aws:sqs:{region}:{account}:{name}` → (account, name).
fn queue_name(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.split(':');
    let (Some("arn"), Some(_), Some("sqs"), Some(_), Some(account), Some(name), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    (!account.is_empty() && !name.is_empty()).then_some((account, name))
}

/// One message as shown.
#[derive(Debug, Clone)]
pub struct Held {
    pub message_id: String,
    pub error_type: Option<String>,
    pub reason: Option<String>,
    pub source: Option<String>,
    pub plan: Plan,
    /// The body's start, secrets masked.
    pub preview: String,
    pub receipt: String,
    pub body: String,
}

/// Reads every message of the DLQ once (hidden for `hold_seconds` while
/// this runs), and decides each.
async fn read_all(sqs: &aws_sdk_sqs::Client, dlq: &str, hold_seconds: i32) -> Result<Vec<Held>> {
    let mut held = Vec::new();
    loop {
        let out = sqs
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(10)
            .visibility_timeout(hold_seconds)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::DeadLetterQueueSourceArn)
            .send()
            .await
            .map_err(AwsFailure::of("SQS", "ReceiveMessage"))
            .with_context(|| format!("reading {dlq}"))?;
        if take(&mut held, out.messages.unwrap_or_default()) == 0 {
            return Ok(held);
        }
    }
}

/// Adds one received batch to `held`, and says how many messages were new.
/// A message received again (its hold ran out while the rest was read)
/// keeps its first decision but takes its newest receipt handle: SQS
/// honours the latest one only, and a delete or release with an older one
/// can leave a redriven message in the DLQ as well as in its queue.
fn take(held: &mut Vec<Held>, messages: Vec<aws_sdk_sqs::types::Message>) -> usize {
    let mut fresh = 0;
    for m in messages {
        let message_id = m.message_id.clone().unwrap_or_default();
        let receipt = m.receipt_handle.clone().unwrap_or_default();
        if let Some(known) = held.iter_mut().find(|h| h.message_id == message_id) {
            known.receipt = receipt;
            continue;
        }
        fresh += 1;
        let attribute = |name: &str| {
            m.message_attributes
                .as_ref()
                .and_then(|a| a.get(name))
                .and_then(|v| v.string_value.clone())
        };
        let source = m
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::DeadLetterQueueSourceArn))
            .cloned()
            .or_else(|| attribute("sourceQueue"))
            .or_else(|| attribute("TARGET_ARN"));
        let error_type = attribute("errorType")
            .or_else(|| attribute("ERROR_CODE").map(|c| format!("EventBridge.{c}")));
        let body = m.body.clone().unwrap_or_default();
        let masked = sentinel_shared::core::redact::mask_in_text(&body);
        held.push(Held {
            message_id,
            plan: plan(error_type.as_deref(), source.as_deref()),
            reason: attribute("errorMessage")
                .or_else(|| attribute("ERROR_MESSAGE"))
                .map(|r| sentinel_shared::core::redact::mask_in_text(&r)),
            error_type,
            source,
            preview: masked.chars().take(200).collect(),
            receipt,
            body,
        });
    }
    fresh
}

/// What a redrive did (or, dry, would do): messages per destination queue,
/// and the ones kept.
#[derive(Debug, Default)]
pub struct Outcome {
    pub moved: BTreeMap<String, usize>,
    pub kept: Vec<Held>,
    pub dry_run: bool,
}

/// Shows the DLQ (nothing changes: every message is visible again after).
pub async fn show(sqs: &aws_sdk_sqs::Client, dlq: &str) -> Result<Vec<Held>> {
    let held = read_all(sqs, dlq, 30).await?;
    release(sqs, dlq, &held).await?;
    Ok(held)
}

/// Sends each message back to its own source queue, then deletes it from
/// the DLQ; keeps the others (visible again at once).
pub async fn redrive(sqs: &aws_sdk_sqs::Client, dlq: &str, dry_run: bool) -> Result<Outcome> {
    let held = read_all(sqs, dlq, 120).await?;
    let mut outcome = Outcome {
        dry_run,
        ..Default::default()
    };
    let mut urls: BTreeMap<String, String> = BTreeMap::new();
    let mut keep = Vec::new();
    for message in held {
        let Plan::Redrive(arn) = &message.plan else {
            keep.push(message);
            continue;
        };
        if dry_run {
            *outcome.moved.entry(arn.clone()).or_default() += 1;
            keep.push(message);
            continue;
        }
        let url = match urls.get(arn) {
            Some(url) => url.clone(),
            None => {
                let url = queue_url(sqs, arn).await?;
                urls.insert(arn.clone(), url.clone());
                url
            }
        };
        sqs.send_message()
            .queue_url(&url)
            .message_body(&message.body)
            .send()
            .await
            .map_err(AwsFailure::of("SQS", "SendMessage"))
            .with_context(|| format!("sending back to {arn}"))?;
        // Deleted only once it is back in its queue: a failure in between
        // leaves it in both (every reaction is idempotent), never in none.
        sqs.delete_message()
            .queue_url(dlq)
            .receipt_handle(&message.receipt)
            .send()
            .await
            .map_err(AwsFailure::of("SQS", "DeleteMessage"))
            .context("deleting from the DLQ")?;
        *outcome.moved.entry(arn.clone()).or_default() += 1;
    }
    release(sqs, dlq, &keep).await?;
    outcome.kept = keep;
    Ok(outcome)
}

async fn queue_url(sqs: &aws_sdk_sqs::Client, arn: &str) -> Result<String> {
    let (account, name) = queue_name(arn).context("not a queue ARN")?;
    sqs.get_queue_url()
        .queue_name(name)
        .queue_owner_aws_account_id(account)
        .send()
        .await
        .map_err(AwsFailure::of("SQS", "GetQueueUrl"))
        .with_context(|| format!("finding {arn}"))?
        .queue_url
        .context("no queue URL")
}

/// Makes the messages read but not moved visible again at once.
async fn release(sqs: &aws_sdk_sqs::Client, dlq: &str, held: &[Held]) -> Result<()> {
    for m in held {
        sqs.change_message_visibility()
            .queue_url(dlq)
            .receipt_handle(&m.receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(AwsFailure::of("SQS", "ChangeMessageVisibility"))
            .context("releasing a message")?;
    }
    Ok(())
}

/// How many messages the DLQ holds, as SQS counts them.
pub async fn depth(sqs: &aws_sdk_sqs::Client, dlq: &str) -> Result<Option<String>> {
    let out = sqs
        .get_queue_attributes()
        .queue_url(dlq)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(AwsFailure::of("SQS", "GetQueueAttributes"))
        .with_context(|| format!("reading {dlq}"))?;
    Ok(out.attributes.and_then(|a| {
        a.get(&QueueAttributeName::ApproximateNumberOfMessages)
            .cloned()
    }))
}

pub fn held_json(held: &[Held]) -> Value {
    Value::Array(
        held.iter()
            .map(|m| {
                json!({
                    "messageId": m.message_id,
                    "errorType": m.error_type,
                    "reason": m.reason,
                    "source": m.source,
                    "plan": match &m.plan {
                        Plan::Redrive(arn) => json!({"redriveTo": arn}),
                        Plan::Keep(why) => json!({"keep": why}),
                    },
                    "body": m.preview,
                })
            })
            .collect(),
    )
}

pub fn render_held(held: &[Held]) -> String {
    if held.is_empty() {
        return "the dead-letter queue is empty\n".into();
    }
    let mut out = String::new();
    for m in held {
        out.push_str(&format!(
            "{}  {}\n  reason: {}\n  from:   {}\n  {}\n  body:   {}\n",
            m.message_id,
            m.error_type
                .as_deref()
                .unwrap_or("(moved by the redrive policy)"),
            m.reason.as_deref().unwrap_or("-"),
            m.source.as_deref().unwrap_or("unknown"),
            match &m.plan {
                Plan::Redrive(arn) => format!("redrive: back to {arn}"),
                Plan::Keep(why) => format!("keep:   {why}"),
            },
            m.preview
        ));
    }
    out
}

pub fn render_outcome(o: &Outcome) -> String {
    let verb = if o.dry_run { "would move" } else { "moved" };
    let mut out = String::new();
    for (arn, n) in &o.moved {
        out.push_str(&format!("{verb} {n} message(s) back to {arn}\n"));
    }
    if o.moved.is_empty() {
        out.push_str(&format!("{verb} nothing\n"));
    }
    if !o.kept.is_empty() && !o.dry_run {
        out.push_str(&format!("kept {} message(s):\n", o.kept.len()));
        out.push_str(&render_held(&o.kept));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const INGEST: &str = "arn:aws:sqs:us-east-1:123456789012:deploy-sentinel-prod-ingest";

    #[test]
    fn each_message_goes_back_to_its_own_queue_or_is_kept_with_the_reason() {
        assert_eq!(
            plan(Some("Retryable.Store"), Some(INGEST)),
            Plan::Redrive(INGEST.into())
        );
        assert_eq!(plan(None, Some(INGEST)), Plan::Redrive(INGEST.into()));
        let Plan::Keep(why) = plan(Some("NonRetryable.Event"), Some(INGEST)) else {
            panic!("a malformed event is never redriven");
        };
        assert!(why.contains("NonRetryable.Event"), "{why}");
        assert!(matches!(plan(None, None), Plan::Keep(_)));
        assert!(matches!(
            plan(None, Some("arn:aws:sns:us-east-1:1:topic")),
            Plan::Keep(_)
        ));
        assert!(matches!(
            plan(None, Some("arn:aws:sqs:us-east-1:1:a:b")),
            Plan::Keep(_)
        ));
    }

    fn received(id: &str, receipt: &str) -> aws_sdk_sqs::types::Message {
        aws_sdk_sqs::types::Message::builder()
            .message_id(id)
            .receipt_handle(receipt)
            .body(format!("body of {id}"))
            .build()
    }

    /// Issue #28 item 6: a message received again kept its first receipt
    /// handle, which SQS no longer honours once it handed out a newer one.
    #[test]
    fn a_message_received_again_keeps_its_newest_receipt_handle() {
        let mut held = Vec::new();
        assert_eq!(
            take(&mut held, vec![received("m1", "r1"), received("m2", "q1")]),
            2
        );
        assert_eq!(
            take(&mut held, vec![received("m1", "r2")]),
            0,
            "nothing new"
        );
        assert_eq!(held.len(), 2, "one entry per message");
        let receipts: Vec<(&str, &str)> = held
            .iter()
            .map(|h| (h.message_id.as_str(), h.receipt.as_str()))
            .collect();
        assert_eq!(receipts, vec![("m1", "r2"), ("m2", "q1")]);
    }

    #[test]
    fn a_queue_arn_names_its_account_and_queue() {
        assert_eq!(
            queue_name(INGEST),
            Some(("123456789012", "deploy-sentinel-prod-ingest"))
        );
        assert_eq!(queue_name("arn:aws:sqs:us-east-1::q"), None);
        assert_eq!(queue_name("https://sqs.us-east-1.amazonaws.com/1/q"), None);
    }
}
