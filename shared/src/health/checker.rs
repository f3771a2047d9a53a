//! The checker: the site's base and allowed hosts, its HTTP client under
//! the outbound rules, and the rounds that end in a verdict (every
//! endpoint of a round at once; consecutive passing or failing rounds,
//! flapping, the deadline). One request and how its answer is judged is
//! `probe`.

use std::time::{Duration, Instant};

use futures::future::join_all;

use crate::core::budget;
use crate::core::model::BasicAuth;
use crate::core::verdicts::{Outcome, Verdict};
use crate::outbound::Outbound;

use super::policy::HealthPolicy;
use super::report::{Attempt, CheckError, HealthReport, reasons, summarise};

pub struct Checker {
    pub(super) client: reqwest::Client,
    pub(super) policy: HealthPolicy,
    pub(super) base: url::Url,
    pub(super) allowed_hosts: Vec<String>,
    pub(super) outbound: Outbound,
    /// The site's basic auth, sent to its own origin only.
    pub(super) basic_auth: Option<BasicAuth>,
    /// Whether a refused connection is the site's failure (see
    /// [`Checker::refused_connection_fails`]).
    pub(super) refused_connection_fails: bool,
}

pub(super) const BODY_CAP: usize = 1024 * 1024;
pub(super) const MAX_REDIRECTS: usize = 5;

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
}
