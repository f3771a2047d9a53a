//! One request of a round: fetched within the allowed hosts, redirects
//! followed within them, the body capped, the answer judged (status,
//! expected text, the served version); a request that got no answer is
//! classified as the site's failure or ours.

use std::time::Instant;

use crate::core::budget;
use crate::core::verdicts::Outcome;
use crate::outbound;

use super::checker::{BODY_CAP, Checker, MAX_REDIRECTS};
use super::policy::{EndpointCheck, VersionCheck};
use super::report::Attempt;
use super::version::{commit_matches, mentions_commit, short};

impl Checker {
    pub(super) async fn check(
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
pub(super) struct Failure {
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

pub(super) fn classify(e: reqwest::Error, refused_connection_fails: bool) -> Failure {
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
pub(super) fn connection_refused(e: &(dyn std::error::Error + 'static)) -> bool {
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

pub(super) fn attempt(
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
