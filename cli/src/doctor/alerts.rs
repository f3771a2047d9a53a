//! The alerts: the alert topic, and its subscriptions (at least one
//! confirmed; each pending one with how to confirm it), their endpoints
//! shown without a webhook's key.

use super::check::{Check, Status, check, redeploy, why};
use super::seen::{Seen, SubscriptionSeen};

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

// ----- the checks -----

/// The stack's alert topic, and its subscriptions read.
pub fn topic(seen: &Seen) -> Vec<Check> {
    match (&seen.topic_arn, &seen.subscriptions) {
        (None, _) => vec![
            check(
                "alerts",
                "alert topic",
                Status::Fail,
                "the stack has no AlertTopicArn output",
            )
            .fix(redeploy(seen)),
        ],
        (Some(_), Some(Err(e))) => vec![
            check(
                "alerts",
                "alert topic subscriptions",
                Status::Fail,
                e.clone(),
            )
            .fix("the caller needs sns:ListSubscriptionsByTopic"),
        ],
        (Some(_), _) => vec![],
    }
}

/// The topic's subscriptions, when the topic is there and they were read.
fn subscriptions(seen: &Seen) -> Option<(&str, &[SubscriptionSeen])> {
    match (&seen.topic_arn, &seen.subscriptions) {
        (Some(topic), Some(Ok(subs))) => Some((topic, subs)),
        _ => None,
    }
}

fn shown(s: &SubscriptionSeen) -> String {
    format!("{} {}", s.protocol, endpoint_shown(s))
}

/// At least one confirmed subscription, or every alert goes to nobody.
pub fn confirmed(seen: &Seen) -> Vec<Check> {
    let Some((topic, subs)) = subscriptions(seen) else {
        return vec![];
    };
    let confirmed: Vec<_> = subs
        .iter()
        .filter(|s| s.arn != "PendingConfirmation")
        .collect();
    vec![if confirmed.is_empty() {
        check(
            "alerts",
            "a confirmed subscription",
            Status::Fail,
            "none: every alert is published to nobody",
        )
        .fix(format!(
            "set AlertEmail and redeploy (then confirm the e-mail), or subscribe AWS Chatbot to {topic} (docs/deployment.md)"
        ))
    } else {
        check(
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
        )
    }]
}

/// Each subscription still waiting for its confirmation.
pub fn pending(seen: &Seen) -> Vec<Check> {
    let Some((topic, subs)) = subscriptions(seen) else {
        return vec![];
    };
    subs.iter()
        .filter(|s| s.arn == "PendingConfirmation")
        .map(|s| unconfirmed(topic, s))
        .collect()
}

fn unconfirmed(topic: &str, s: &SubscriptionSeen) -> Check {
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
    check(
        "alerts",
        format!("subscription {}", shown(s)),
        Status::Fail,
        "waiting for confirmation: it receives nothing",
    )
    .fix(fix)
}

// ----- reading them -----

/// The topic's subscriptions, every page.
pub async fn read_subscriptions(
    sdk: &aws_config::SdkConfig,
    topic: &str,
) -> Result<Vec<SubscriptionSeen>, String> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let mut subs = Vec::new();
    let mut token = None;
    loop {
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
    }
}
