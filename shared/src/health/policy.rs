//! The `health` section of a policy (`docs/policy.md`), with the defaults the
//! issue names: `GET /` expecting 2xx, 3 s latency limit, 10 s request
//! timeout, healthy after 2 passing rounds.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HealthPolicy {
    /// The site's URL when not `https://{displayName}.{defaultDomain}` (a
    /// custom domain; the emulator's site locally). Wins over `site`.
    pub url: Option<String>,
    /// Which of the branch's addresses is checked when `url` is not set.
    pub site: SiteChoice,
    pub endpoints: Vec<EndpointCheck>,
    /// Where the site reports its deployed commit.
    pub version: Option<VersionCheck>,
    /// A slower answer fails its check.
    pub latency_limit_ms: u64,
    /// A request without an answer by then fails.
    pub timeout_ms: u64,
    /// Consecutive passing rounds for Healthy.
    pub healthy_after: usize,
    /// Consecutive failing rounds for Unhealthy.
    pub unhealthy_after: usize,
    /// No verdict by then: Inconclusive.
    pub deadline_ms: u64,
    /// How long an old version may still be served after a deploy.
    pub version_grace_ms: u64,
    /// Pause before the second round; it grows by half each round (max 10 s).
    pub round_interval_ms: u64,
    /// Hosts requests and redirects may go to, besides the site's own.
    pub allowed_hosts: Vec<String>,
    /// Whether an Unhealthy verdict of the scheduled check of a live
    /// deployment may lead to a rollback (default: alert only).
    pub rollback_on_live_failure: bool,
    /// The bake: the real traffic watched after the probes passed (off by
    /// default; `docs/health.md`).
    pub bake: super::bake::BakePolicy,
}

impl Default for HealthPolicy {
    fn default() -> Self {
        Self {
            url: None,
            site: SiteChoice::default(),
            endpoints: vec![EndpointCheck::default()],
            version: None,
            latency_limit_ms: 3_000,
            timeout_ms: 10_000,
            healthy_after: 2,
            unhealthy_after: 3,
            deadline_ms: 300_000,
            version_grace_ms: 120_000,
            round_interval_ms: 2_000,
            allowed_hosts: Vec::new(),
            rollback_on_live_failure: false,
            bake: super::bake::BakePolicy::default(),
        }
    }
}

/// Where a branch's site is checked (`health.site`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteChoice {
    /// Where its users reach it: the branch's sub-domain of a custom domain
    /// Amplify reports AVAILABLE and verified; else Amplify's domain.
    #[default]
    CustomDomain,
    /// Always `https://{displayName}.{defaultDomain}` (amplifyapp.com).
    AmplifyDomain,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EndpointCheck {
    pub path: String,
    pub method: String,
    /// Accepted statuses; empty means any 2xx.
    pub expect_status: Vec<u16>,
    pub latency_limit_ms: Option<u64>,
    pub body_contains: Option<String>,
    /// `[pointer, value]`: the JSON body's value at the pointer must equal it.
    pub json_equals: Option<(String, serde_json::Value)>,
    pub header_present: Option<String>,
}

impl Default for EndpointCheck {
    fn default() -> Self {
        Self {
            path: "/".into(),
            method: "GET".into(),
            expect_status: Vec::new(),
            latency_limit_ms: None,
            body_contains: None,
            json_equals: None,
            header_present: None,
        }
    }
}

impl EndpointCheck {
    pub fn expects(&self, status: u16) -> bool {
        if self.expect_status.is_empty() {
            (200..300).contains(&status)
        } else {
            self.expect_status.contains(&status)
        }
    }

    pub fn expected_text(&self) -> String {
        if self.expect_status.is_empty() {
            "2xx".into()
        } else {
            self.expect_status
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        }
    }
}

/// Where the deployed commit is read. With neither `json_pointer` nor
/// `header`, the body or any header carrying the commit (or a prefix of at
/// least 7 characters, as in a meta tag) passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VersionCheck {
    pub path: String,
    pub json_pointer: Option<String>,
    pub header: Option<String>,
}

impl Default for VersionCheck {
    fn default() -> Self {
        Self {
            path: "/".into(),
            json_pointer: None,
            header: None,
        }
    }
}

impl VersionCheck {
    pub(crate) fn as_endpoint(&self) -> EndpointCheck {
        EndpointCheck {
            path: self.path.clone(),
            ..EndpointCheck::default()
        }
    }

    /// The version the pinned place reports, if a place is pinned and holds
    /// one. `None` means "search body and headers".
    pub(crate) fn served_version(
        &self,
        headers: &[(String, String)],
        body: &str,
    ) -> Option<String> {
        if let Some(name) = &self.header {
            return Some(
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default(),
            );
        }
        let pointer = self.json_pointer.as_ref()?;
        let value = serde_json::from_str::<serde_json::Value>(body).ok();
        Some(
            value
                .as_ref()
                .and_then(|v| v.pointer(pointer))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned(),
        )
    }
}
