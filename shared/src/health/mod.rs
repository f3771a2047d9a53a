//! The health check engine: checks a deployed site the way a careful
//! engineer would, in rounds, and decides Healthy, Unhealthy or
//! Inconclusive.
//!
//! * Each round runs every endpoint concurrently: a round takes as long as
//!   its slowest endpoint, not their sum.
//! * Healthy after `healthy_after` consecutive passing rounds; Unhealthy
//!   after `unhealthy_after` consecutive rounds with a failure on the site's
//!   side; Inconclusive when only our side failed (DNS, connection refused,
//!   TLS) or the deadline came first. Only Unhealthy may lead to a rollback.
//! * A team's own server ([`Checker::refused_connection_fails`], a reported
//!   service) refusing connections is the site failing, not our side.
//! * An address the outbound rules refuse ends the check at once,
//!   Inconclusive: no later round would be let through either.
//! * Flapping is Unhealthy, in bounded time: `unhealthy_after` site-side
//!   failures among the last `2 × unhealthy_after` judged rounds (a URL
//!   answering 200 and 500 in turn fails every other user) — without it,
//!   such a site never gives consecutive rounds and holds its check, and a
//!   slot of the health checker's queue, until the deadline.
//! * A wrong version is "not yet" during `version_grace` (the CDN can serve
//!   the old deployment for a while), then a failure.
//! * Requests go only to allowed hosts, follow at most 5 redirects within
//!   them, read at most 1 MB of body, verify TLS, and send no credentials
//!   but a protected site's own basic auth, to its own origin only.
//! * Every request, every redirect hop, is held to [`crate::outbound`]:
//!   https, public addresses only (checked where the connection is made),
//!   and the site URL's scheme and port pinned across redirects.

pub mod bake;
pub mod policy;
pub mod rate;
pub mod reaction;
pub mod site;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use futures::future::join_all;
use serde::{Deserialize, Serialize};

pub use crate::core::verdicts::{EndpointReport, Outcome, Verdict};
pub use policy::{EndpointCheck, HealthPolicy, SiteChoice, VersionCheck};

use crate::core::budget;
use crate::outbound::{self, Outbound};
use crate::core::model::BasicAuth;

/// One request of one round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attempt {
    pub url: String,
    pub status: Option<u16>,
    pub latency_ms: u64,
    pub outcome: Outcome,
    pub reason: Option<String>,
    /// Not requested: the outbound rules refused where the name resolves.
    #[serde(skip)]
    pub refused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    pub verdict: Verdict,
    pub reason: String,
    pub rounds: usize,
    pub elapsed_ms: u64,
    pub endpoints: Vec<EndpointReport>,
}

impl HealthReport {
    /// The verdict of a check that could not start (a URL refused, a bad
    /// policy): Inconclusive, never a rollback, and said in the alert.
    pub fn not_started(reason: &CheckError) -> Self {
        Self {
            verdict: Verdict::Inconclusive,
            reason: budget::truncate_to(&format!("not checked: {}", reason.0), budget::REASON),
            rounds: 0,
            elapsed_ms: 0,
            endpoints: Vec::new(),
        }
    }
}

/// A check that cannot start: a bad URL or policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CheckError(pub String);

pub struct Checker {
    client: reqwest::Client,
    policy: HealthPolicy,
    base: url::Url,
    allowed_hosts: Vec<String>,
    outbound: Outbound,
    /// The site's basic auth, sent to its own origin only.
    basic_auth: Option<BasicAuth>,
    /// Whether a refused connection is the site's failure (see
    /// [`Checker::refused_connection_fails`]).
    refused_connection_fails: bool,
}

const BODY_CAP: usize = 1024 * 1024;
const MAX_REDIRECTS: usize = 5;

impl Checker {
    /// `base` is the site's root; its own host is always allowed. Every
    /// request is held to `outbound` ([`Outbound::public`] in a deployed
    /// function); the base's scheme and port hold for every redirect.
    pub fn new(base: &str, policy: HealthPolicy, outbound: &Outbound) -> Result<Self, CheckError> {
        let base =
            url::Url::parse(base).map_err(|e| CheckError(format!("{base:?} is not a URL: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(CheckError(format!(
                "{base} is not an http(s) URL with a host"
            )));
        }
        outbound.check(&base).map_err(|e| CheckError(e.0))?;
        let mut allowed_hosts = policy.allowed_hosts.clone();
        allowed_hosts.extend(base.host_str().map(str::to_owned));
        let client = outbound
            .client()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_millis(policy.timeout_ms))
            .user_agent("deploy-sentinel-health/1")
            .build()
            .map_err(|e| CheckError(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            policy,
            base,
            allowed_hosts,
            outbound: outbound.clone(),
            basic_auth: None,
            refused_connection_fails: false,
        })
    }

    /// A refused connection counts as the site failing: for a server the
    /// team runs itself (a reported service), nothing but its own server
    /// answers at its address, so "connection refused" after its deploy
    /// means it is down. Amplify's CDN refusing is our side (a network
    /// problem between us), and stays Inconclusive.
    pub fn refused_connection_fails(mut self, yes: bool) -> Self {
        self.refused_connection_fails = yes;
        self
    }

    /// Checks a password-protected site with its credentials. They go only
    /// to the site's own origin (scheme, host and port of `base`): never to
    /// another allowed host, nor to one a redirect names.
    pub fn with_basic_auth(mut self, basic_auth: Option<BasicAuth>) -> Self {
        self.basic_auth = basic_auth;
        self
    }

    /// Runs rounds until a verdict or the deadline.
    pub async fn run(&self, expect_commit: Option<&str>) -> HealthReport {
        self.run_while(expect_commit, || async { true })
            .await
            .unwrap_or_else(|r| r)
    }

    /// Like [`Checker::run`], asking `still_wanted` before each further
    /// round; when it answers false (say, a newer deploy went live), stops
    /// and returns the report so far as `Err`.
    pub async fn run_while<F, Fut>(
        &self,
        expect_commit: Option<&str>,
        mut still_wanted: F,
    ) -> Result<HealthReport, HealthReport>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        let deadline = start + Duration::from_millis(self.policy.deadline_ms);
        let grace = Duration::from_millis(self.policy.version_grace_ms);
        let mut history: Vec<Vec<Attempt>> = Vec::new();
        let (mut passes, mut failures) = (0, 0);
        // The judged rounds (pass or site-side failure), newest last.
        let mut judged: std::collections::VecDeque<bool> = std::collections::VecDeque::new();
        let flap_window = 2 * self.policy.unhealthy_after.max(1);
        let mut pause = Duration::from_millis(self.policy.round_interval_ms);
        let verdict = loop {
            let round = self.round(expect_commit).await;
            if let Some(refused) = round.iter().find(|a| a.refused) {
                let why = refused.reason.clone().unwrap_or_default();
                history.push(round);
                break (Verdict::Inconclusive, format!("not checked: {why}"));
            }
            let in_grace = start.elapsed() < grace;
            let site_failed = round.iter().any(|a| {
                a.outcome == Outcome::SiteFailed
                    || (a.outcome == Outcome::WrongVersion && !in_grace)
            });
            let all_passed = round.iter().all(|a| a.outcome == Outcome::Passed);
            history.push(round);
            if all_passed || site_failed {
                judged.push_back(site_failed);
                if judged.len() > flap_window {
                    judged.pop_front();
                }
            }
            let failed_lately = judged.iter().filter(|f| **f).count();
            if site_failed
                && failures < self.policy.unhealthy_after
                && failed_lately >= self.policy.unhealthy_after
            {
                break (
                    Verdict::Unhealthy,
                    format!(
                        "failing intermittently: {failed_lately} of the last {} rounds failed: {}",
                        judged.len(),
                        reasons(history.last())
                    ),
                );
            }
            if all_passed {
                passes += 1;
                failures = 0;
                if passes >= self.policy.healthy_after {
                    break (
                        Verdict::Healthy,
                        format!("{passes} consecutive rounds passed"),
                    );
                }
            } else if site_failed {
                failures += 1;
                passes = 0;
                if failures >= self.policy.unhealthy_after {
                    break (
                        Verdict::Unhealthy,
                        format!(
                            "{failures} consecutive rounds failed: {}",
                            reasons(history.last())
                        ),
                    );
                }
            } else {
                // Our side failed, or the old version is still served: no count.
                passes = 0;
            }
            if Instant::now() + pause >= deadline {
                let last = reasons(history.last());
                break (
                    Verdict::Inconclusive,
                    format!("deadline reached without a verdict; last round: {last}"),
                );
            }
            if !still_wanted().await {
                return Err(HealthReport {
                    verdict: Verdict::Inconclusive,
                    reason: "stopped: no longer wanted (superseded)".into(),
                    rounds: history.len(),
                    elapsed_ms: start.elapsed().as_millis() as u64,
                    endpoints: summarise(&history),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 3 / 2).min(Duration::from_secs(10));
        };
        Ok(HealthReport {
            verdict: verdict.0,
            reason: budget::truncate_to(&verdict.1, budget::REASON),
            rounds: history.len(),
            elapsed_ms: start.elapsed().as_millis() as u64,
            endpoints: summarise(&history),
        })
    }

    /// One round: every endpoint (and the version check) at once.
    async fn round(&self, expect_commit: Option<&str>) -> Vec<Attempt> {
        let mut checks: Vec<_> = self
            .policy
            .endpoints
            .iter()
            .map(|e| self.check(e.clone(), None))
            .collect();
        if let Some(commit) = expect_commit {
            let version = self.policy.version.clone().unwrap_or_default();
            checks.push(self.check(version.as_endpoint(), Some((commit, version))));
        }
        let futures: Vec<_> = checks.into_iter().map(Box::pin).collect();
        join_all(futures).await
    }

    async fn check(
        &self,
        endpoint: EndpointCheck,
        version: Option<(&str, VersionCheck)>,
    ) -> Attempt {
        let url = match self.base.join(endpoint.path.trim_start_matches('/')) {
            Ok(u) => u,
            Err(e) => {
                return attempt(
                    endpoint.path.clone(),
                    None,
                    0,
                    Outcome::SiteFailed,
                    Some(format!("bad path: {e}")),
                );
            }
        };
        let started = Instant::now();
        let fetched = self.fetch(&endpoint.method, url.clone()).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let (status, headers, body) = match fetched {
            Ok(r) => r,
            Err(failure) => {
                let mut a = attempt(
                    url.to_string(),
                    None,
                    latency_ms,
                    failure.outcome,
                    Some(failure.reason),
                );
                a.refused = failure.refused;
                return a;
            }
        };
        let limit = endpoint
            .latency_limit_ms
            .unwrap_or(self.policy.latency_limit_ms);
        let fail = |reason: String| {
            attempt(
                url.to_string(),
                Some(status),
                latency_ms,
                Outcome::SiteFailed,
                Some(reason),
            )
        };
        if !endpoint.expects(status) {
            return fail(format!(
                "status {status}, expected {}",
                endpoint.expected_text()
            ));
        }
        if latency_ms > limit {
            return fail(format!(
                "answered in {latency_ms} ms, over the {limit} ms limit"
            ));
        }
        if let Some(needle) = &endpoint.body_contains
            && !body.contains(needle.as_str())
        {
            return fail(format!(
                "body does not contain {}",
                budget::truncate_to(&format!("{needle:?}"), budget::QUOTED_VALUE)
            ));
        }
        if let Some((pointer, want)) = &endpoint.json_equals {
            let got = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.pointer(pointer).cloned());
            if got.as_ref() != Some(want) {
                // The value is the site's: up to the body cap, so it is
                // quoted within its budget.
                let quote = |v: &serde_json::Value| {
                    budget::truncate_to(&v.to_string(), budget::QUOTED_VALUE)
                };
                return fail(format!(
                    "JSON {} is {}, expected {}",
                    budget::truncate_to(pointer, budget::QUOTED_VALUE),
                    got.as_ref().map_or("absent".into(), quote),
                    quote(want)
                ));
            }
        }
        if let Some(name) = &endpoint.header_present
            && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
        {
            return fail(format!("header {name} is absent"));
        }
        if let Some((commit, check)) = version {
            if let Some(served) = check.served_version(&headers, &body) {
                if !commit_matches(commit, &served) {
                    return attempt(
                        url.to_string(),
                        Some(status),
                        latency_ms,
                        Outcome::WrongVersion,
                        Some(format!(
                            "serves version {}, expected {}",
                            short(&served),
                            short(commit)
                        )),
                    );
                }
            } else if !mentions_commit(commit, &body)
                && !headers.iter().any(|(_, v)| mentions_commit(commit, v))
            {
                return attempt(
                    url.to_string(),
                    Some(status),
                    latency_ms,
                    Outcome::WrongVersion,
                    Some(format!("does not report commit {}", short(commit))),
                );
            }
        }
        attempt(
            url.to_string(),
            Some(status),
            latency_ms,
            Outcome::Passed,
            None,
        )
    }

    /// GET (or the method given), following redirects within allowed hosts.
    async fn fetch(
        &self,
        method: &str,
        mut url: url::Url,
    ) -> Result<(u16, Vec<(String, String)>, String), Failure> {
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| (Outcome::SiteFailed, format!("bad method {method}")))?;
        for _ in 0..=MAX_REDIRECTS {
            if !self.allowed(&url) {
                return Err((
                    Outcome::SiteFailed,
                    format!(
                        "refused to request {} (host not allowed)",
                        url.host_str().unwrap_or("?")
                    ),
                )
                    .into());
            }
            let mut request = self.client.request(method.clone(), url.clone());
            if let Some(auth) = &self.basic_auth
                && url.origin() == self.base.origin()
            {
                let mut value = reqwest::header::HeaderValue::from_str(&auth.header_value())
                    .map_err(|_| {
                        (
                            Outcome::OurSide,
                            "the basic-auth credentials are not a header value".to_owned(),
                        )
                    })?;
                value.set_sensitive(true);
                request = request.header(reqwest::header::AUTHORIZATION, value);
            }
            let mut resp = request
                .send()
                .await
                .map_err(|e| classify(e, self.refused_connection_fails))?;
            let status = resp.status().as_u16();
            if resp.status().is_redirection() {
                let location = resp
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .unwrap_or_default();
                url = url.join(location).map_err(|e| {
                    (
                        Outcome::SiteFailed,
                        format!("bad redirect {location:?}: {e}"),
                    )
                })?;
                if !self.allowed(&url) {
                    return Err((
                        Outcome::SiteFailed,
                        format!(
                            "redirect to foreign host {} refused",
                            url.host_str().unwrap_or("?")
                        ),
                    )
                        .into());
                }
                self.outbound
                    .check_hop(&self.base, &url)
                    .map_err(|e| (Outcome::SiteFailed, e.0))?;
                continue;
            }
            let headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        v.to_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            let mut body = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| classify(e, self.refused_connection_fails))?
            {
                let room = BODY_CAP - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= BODY_CAP {
                    break;
                }
            }
            return Ok((status, headers, String::from_utf8_lossy(&body).into_owned()));
        }
        Err((
            Outcome::SiteFailed,
            format!("more than {MAX_REDIRECTS} redirects"),
        )
            .into())
    }

    fn allowed(&self, url: &url::Url) -> bool {
        url.host_str()
            .is_some_and(|h| self.allowed_hosts.iter().any(|a| a.eq_ignore_ascii_case(h)))
    }
}

/// Why a request got no answer to judge.
struct Failure {
    outcome: Outcome,
    reason: String,
    /// The outbound rules refused the address: nothing was requested.
    refused: bool,
}

impl From<(Outcome, String)> for Failure {
    fn from((outcome, reason): (Outcome, String)) -> Self {
        Self {
            outcome,
            reason,
            refused: false,
        }
    }
}

fn classify(e: reqwest::Error, refused_connection_fails: bool) -> Failure {
    if let Some(refused) = outbound::refusal(&e) {
        // The name resolves where no request may go: not requested.
        return Failure {
            outcome: Outcome::OurSide,
            reason: refused.0.clone(),
            refused: true,
        };
    }
    if e.is_timeout() {
        return (
            Outcome::SiteFailed,
            "no answer within the request timeout".to_owned(),
        )
            .into();
    }
    if e.is_connect() {
        let detail = std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_default();
        if refused_connection_fails && connection_refused(&e) {
            return (
                Outcome::SiteFailed,
                format!("connection refused: the server is not listening ({detail})"),
            )
                .into();
        }
        return (Outcome::OurSide, format!("could not connect ({detail})")).into();
    }
    (Outcome::SiteFailed, format!("request failed: {e}")).into()
}

/// Whether the connection was refused (an RST to the SYN: the host is up
/// and nothing listens), as opposed to a name that does not resolve, a
/// timeout or a TLS failure.
fn connection_refused(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(err) = cause {
        if err
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::ConnectionRefused)
        {
            return true;
        }
        cause = err.source();
    }
    false
}

fn attempt(
    url: String,
    status: Option<u16>,
    latency_ms: u64,
    outcome: Outcome,
    reason: Option<String>,
) -> Attempt {
    // Every reason is built here (and the verdict's from these): a site's
    // answer or error can quote a secret, masked before it is kept.
    Attempt {
        url: budget::truncate_to(&url, budget::QUOTED_VALUE * 2),
        status,
        latency_ms,
        outcome,
        reason: reason
            .map(|r| budget::truncate_to(&crate::core::redact::mask_in_text(&r), budget::REASON)),
        refused: false,
    }
}

fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// A served version matches when one is a prefix of the other and the
/// shorter has at least 7 characters (git's short hashes).
/// A version that is not a commit (a reported `--version 1.4.2`) matches
/// only itself.
pub fn commit_matches(expected: &str, served: &str) -> bool {
    let (e, s) = (
        expected.trim().to_ascii_lowercase(),
        served.trim().to_ascii_lowercase(),
    );
    if !is_commit(&e) {
        return !e.is_empty() && e == s;
    }
    let shorter = e.len().min(s.len());
    shorter >= 7 && (e.starts_with(&s) || s.starts_with(&e))
}

fn is_commit(text: &str) -> bool {
    crate::core::model::is_git_commit(text)
}

/// Whether `text` carries the commit, in full or as a prefix of at least 7;
/// or, for a version that is not a commit, the version as a whole token
/// (`1.4.2` is not in `1.4.20`).
pub fn mentions_commit(expected: &str, text: &str) -> bool {
    let expected = expected.trim().to_ascii_lowercase();
    if !expected.is_empty() && !is_commit(&expected) {
        return mentions_version(&expected, &text.to_ascii_lowercase());
    }
    if expected.len() < 7 {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&expected[..7]) {
        let start = from + at;
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_hexdigit();
        let run: String = lower[start..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        if before_ok && commit_matches(&expected, &run) {
            return true;
        }
        from = start + 1;
    }
    false
}

fn mentions_version(expected: &str, lower: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+');
    lower.match_indices(expected).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + expected.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

fn reasons(round: Option<&Vec<Attempt>>) -> String {
    round
        .map(|r| {
            r.iter()
                .filter_map(|a| a.reason.as_ref().map(|why| format!("{}: {why}", a.url)))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default()
}

fn percentile(sorted: &[u64], p: usize) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) * p).div_ceil(100)]
}

fn summarise(history: &[Vec<Attempt>]) -> Vec<EndpointReport> {
    let Some(last) = history.last() else {
        return Vec::new();
    };
    last.iter()
        .take(budget::ENDPOINTS)
        .enumerate()
        .map(|(i, a)| {
            let mut latencies: Vec<u64> = history
                .iter()
                .filter_map(|r| r.get(i))
                .map(|a| a.latency_ms)
                .collect();
            latencies.sort_unstable();
            EndpointReport {
                url: a.url.clone(),
                last_status: a.status,
                last_latency_ms: a.latency_ms,
                verdict: a.outcome,
                reason: a.reason.clone(),
                attempts: latencies.len(),
                p50_ms: percentile(&latencies, 50),
                p95_ms: percentile(&latencies, 95),
            }
        })
        .collect()
}
