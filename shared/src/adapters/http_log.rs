//! [`LogSource`] over HTTPS: streams a build log from its pre-signed URL
//! into the diagnoser chunk by chunk, never holding the whole log. The URL
//! is a credential while it lives: errors name its host and path only.
//!
//! The URL comes from Amplify's GetJob, but it is fetched by a function
//! with an IAM role, so it is held to what Amplify gives: https, one of
//! S3's hosts (Amplify's logs are pre-signed S3 objects), the default port,
//! no redirect to another origin. Each log has a budget of bytes and time
//! (the alerter reads up to five logs in one invocation): past it, the
//! diagnosis is of what was read and says the log was cut. An error body
//! is read to a few KB. Local stacks name their log origin
//! (`SENTINEL_LOG_ORIGINS`, e.g. the Amplify emulator's `http://127.0.0.1:4520`).

use std::sync::OnceLock;
use std::time::Duration;

use crate::diagnose::Diagnoser;
use crate::diagnose::ports::{LogError, LogSource};
use crate::outbound::Outbound;

/// How much of one log is read: enough for any real build log (Amplify's
/// are a few MB), bounded so that one log cannot hold the invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogBudget {
    pub max_bytes: u64,
    /// From the request to the last byte.
    pub max_time: Duration,
}

impl LogBudget {
    /// 64 MB in 15 s: the alerter (90 s timeout) reads at most five logs per
    /// batch, so five full budgets still end in time (`template.yaml`,
    /// checked by `the_alerters_timeout_covers_a_batch_of_log_budgets`).
    pub const DEFAULT: LogBudget = LogBudget {
        max_bytes: 64 * 1024 * 1024,
        max_time: Duration::from_secs(15),
    };
}

/// An S3 host of the AWS partitions, where Amplify's pre-signed logs are:
/// `s3.amazonaws.com`, `bucket.s3.us-east-1.amazonaws.com`,
/// `bucket.s3-us-west-2.amazonaws.com`, `….amazonaws.com.cn`.
pub fn is_amplify_log_host(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    let Some(labels) = host
        .strip_suffix(".amazonaws.com")
        .or_else(|| host.strip_suffix(".amazonaws.com.cn"))
    else {
        return false;
    };
    let labels: Vec<&str> = labels.split('.').collect();
    labels
        .iter()
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && labels
            .iter()
            .any(|l| *l == "s3" || l.starts_with("s3-") || l.starts_with("s3."))
}

pub struct HttpLogSource {
    /// Built on the first log read: most invocations read no log, and
    /// building it loads the system's root certificates (about 5 ms of a
    /// cold start). An error (no certificates at all) fails that read.
    client: OnceLock<Result<reqwest::Client, String>>,
    /// The outbound rules, with a local stack's log origins exempt.
    outbound: Outbound,
    budget: LogBudget,
}

impl HttpLogSource {
    pub fn new() -> Self {
        Self::with(Outbound::public(), LogBudget::DEFAULT)
    }

    pub fn with(outbound: Outbound, budget: LogBudget) -> Self {
        Self {
            client: OnceLock::new(),
            outbound,
            budget,
        }
    }

    /// The variable naming a local stack's log origins (comma-separated).
    pub const ORIGINS: &'static str = "SENTINEL_LOG_ORIGINS";

    /// From `SENTINEL_LOG_ORIGINS` (unset in a deployed stack).
    pub fn from_env() -> Result<Self, String> {
        Ok(Self::with(
            Outbound::from_env(Self::ORIGINS)?,
            LogBudget::DEFAULT,
        ))
    }

    /// A local origin, or https on S3's default port (and, as for every
    /// request, a public address: [`Outbound`]).
    fn allowed(&self, url: &url::Url) -> bool {
        self.outbound.is_local(url)
            || (url.scheme() == "https"
                && url.port_or_known_default() == Some(443)
                && url.host_str().is_some_and(is_amplify_log_host)
                && self.outbound.check(url).is_ok())
    }

    fn client(&self) -> Result<&reqwest::Client, LogError> {
        self.client
            .get_or_init(|| {
                self.outbound
                    .client()
                    .connect_timeout(Duration::from_secs(5))
                    .read_timeout(Duration::from_secs(10))
                    // A redirect may stay on its origin, nothing else.
                    .redirect(reqwest::redirect::Policy::custom(|attempt| {
                        let same = attempt
                            .previous()
                            .first()
                            .is_some_and(|first| first.origin() == attempt.url().origin());
                        if same && attempt.previous().len() < 5 {
                            attempt.follow()
                        } else {
                            attempt.stop()
                        }
                    }))
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(|e| LogError::Failed(e.clone()))
    }
}

impl Default for HttpLogSource {
    fn default() -> Self {
        Self::new()
    }
}

/// The URL without its query (the signature).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "<unparseable URL>".into(),
    }
}

/// How much of an error body is read (S3's XML error is a few hundred bytes).
const ERROR_BODY_MAX: usize = 4 * 1024;

impl LogSource for HttpLogSource {
    async fn read_log(&self, url: &str, into: &mut Diagnoser) -> Result<(), LogError> {
        let shown = redact_url(url);
        let parsed = url::Url::parse(url)
            .map_err(|_| LogError::Failed("the log URL does not parse".into()))?;
        if !self.allowed(&parsed) {
            return Err(LogError::Failed(format!(
                "{shown}: not an Amplify log location (https on an S3 host): not fetched"
            )));
        }
        let budget = &self.budget;
        let read = async {
            let mut response = self
                .client()?
                .get(url)
                .send()
                .await
                .map_err(|e| LogError::Failed(format!("{shown}: {}", e.without_url())))?;
            let status = response.status();
            if status.is_redirection() {
                return Err(LogError::Failed(format!(
                    "{status} from {shown}: a redirect to another origin is not followed"
                )));
            }
            if status.is_client_error() {
                // S3 answers 403 AccessDenied "Request has expired" for an old link.
                let mut body = Vec::new();
                while body.len() < ERROR_BODY_MAX {
                    match response.chunk().await {
                        Ok(Some(bytes)) => body.extend_from_slice(&bytes),
                        _ => break,
                    }
                }
                body.truncate(ERROR_BODY_MAX);
                let body = String::from_utf8_lossy(&body);
                let reason = body
                    .split("<Message>")
                    .nth(1)
                    .and_then(|m| m.split("</Message>").next())
                    .unwrap_or("");
                return Err(LogError::Unavailable(
                    format!("{status} {reason} ({shown})").replace("  ", " "),
                ));
            }
            if !status.is_success() {
                return Err(LogError::Failed(format!("{status} from {shown}")));
            }
            loop {
                match response.chunk().await {
                    Ok(Some(bytes)) => {
                        let room = budget.max_bytes.saturating_sub(into.bytes_read());
                        if bytes.len() as u64 > room {
                            into.feed(&bytes[..room as usize]);
                            into.cut(format!(
                                "the log was cut after {} MB (its budget); diagnosed what was read",
                                budget.max_bytes / (1024 * 1024)
                            ));
                            return Ok(());
                        }
                        into.feed(&bytes);
                    }
                    Ok(None) => return Ok(()),
                    Err(e) => {
                        return Err(LogError::Failed(format!("{shown}: {}", e.without_url())));
                    }
                }
            }
        };
        match tokio::time::timeout(budget.max_time, read).await {
            Ok(done) => done,
            Err(_) if into.bytes_read() > 0 => {
                into.cut(format!(
                    "the log was cut after {} s (its time budget) at {} bytes; diagnosed what was read",
                    budget.max_time.as_secs(),
                    into.bytes_read()
                ));
                Ok(())
            }
            Err(_) => Err(LogError::Failed(format!(
                "{shown}: no byte within {} s",
                budget.max_time.as_secs()
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
