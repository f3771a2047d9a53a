//! What a failed GitHub answer means (pure: status, headers and body in,
//! [`GitHubError`] out), and what a failed connection means.
//!
//! GitHub's rate limits (<https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>):
//! - **primary**: a 403 or 429 with `x-ratelimit-remaining: 0`; the window
//!   resets at `x-ratelimit-reset` (UTC epoch seconds), not before;
//! - **secondary**: a 403 or 429 with `retry-after` (seconds to wait), or,
//!   without it, "wait at least one minute" (the body's message names a
//!   secondary rate limit);
//! - either way, retrying at once "may result in the banning of your
//!   integration": the client never retries them itself, the caller
//!   schedules the retry after [`GitHubError::retry_after`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;

use crate::core::redact::mask_in_text;
use crate::github::api::GitHubError;

/// How much of GitHub's `message` an error keeps (characters).
pub const REASON_MAX: usize = 300;

/// When GitHub names no time: its docs' "wait at least one minute".
pub const DEFAULT_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// At most this long, whatever a header says (a primary window is one hour).
pub const MAX_LIMIT_WAIT: Duration = Duration::from_secs(3600);

/// GitHub's `message` from an error body (JSON `{"message": …}`), masked
/// and cut to [`REASON_MAX`] characters; the raw text's start when the
/// body is not JSON (a proxy's HTML page).
pub fn reason(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(v) => v
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or_default()
            .to_owned(),
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(4 * REASON_MAX)]).into_owned(),
    };
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(&mask_in_text(one_line.trim()), REASON_MAX)
}

/// `text` cut to `max` characters, with `…` when cut.
pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `retry-after` in seconds (GitHub sends seconds, never an HTTP date).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header(headers, "retry-after")?
        .parse::<u64>()
        .ok()
        .map(|s| Duration::from_secs(s).min(MAX_LIMIT_WAIT))
}

/// The failed answer `status` to `what` (`GET /repos/o/r/…`), as an error.
pub fn from_response(
    what: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: DateTime<Utc>,
) -> GitHubError {
    let reason = reason(body);
    let wait = retry_after(headers);
    if matches!(status, 403 | 429) {
        if let Some(retry_after) = wait {
            return GitHubError::RateLimited {
                retry_after,
                kind: "secondary",
            };
        }
        if header(headers, "x-ratelimit-remaining") == Some("0") {
            let reset = header(headers, "x-ratelimit-reset")
                .and_then(|r| r.parse::<i64>().ok())
                .and_then(|r| DateTime::<Utc>::from_timestamp(r, 0));
            let retry_after = reset
                .map(|at| (at - now).to_std().unwrap_or_default())
                .unwrap_or(DEFAULT_LIMIT_WAIT)
                .clamp(Duration::from_secs(1), MAX_LIMIT_WAIT);
            return GitHubError::RateLimited {
                retry_after,
                kind: "primary",
            };
        }
        if status == 429 || reason.to_ascii_lowercase().contains("secondary rate limit") {
            return GitHubError::RateLimited {
                retry_after: DEFAULT_LIMIT_WAIT,
                kind: "secondary",
            };
        }
    }
    let said = |fallback: &str| match reason.is_empty() {
        true => format!("{what}: {fallback}"),
        false => format!("{what}: {reason}"),
    };
    match status {
        404 => GitHubError::NotFound(said("Not Found")),
        500..=599 => GitHubError::Unavailable {
            reason: match reason.is_empty() {
                true => format!("{what}: HTTP {status}"),
                false => format!("{what}: HTTP {status}: {reason}"),
            },
            retry_after: wait,
        },
        300..=399 => GitHubError::Rejected {
            status,
            reason: format!("{what}: a redirect ({status}) is not followed"),
        },
        _ => GitHubError::Rejected {
            status,
            reason: said(&format!("HTTP {status}")),
        },
    }
}

/// A request that got no answer: timeouts and connection failures are an
/// outage; a request the outbound rules refused is not (it never will be
/// sent).
pub fn from_transport(what: &str, e: &reqwest::Error) -> GitHubError {
    if let Some(refused) = crate::outbound::refusal(e) {
        return GitHubError::Rejected {
            status: 0,
            reason: format!("{what}: {refused}"),
        };
    }
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "failed"
    };
    let mut detail = String::new();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        detail = c.to_string();
        cause = c.source();
    }
    let reason = match detail.is_empty() {
        true => format!("{what}: {kind}"),
        false => format!("{what}: {kind} ({})", truncate(&mask_in_text(&detail), 200)),
    };
    GitHubError::Unavailable {
        reason,
        retry_after: None,
    }
}
