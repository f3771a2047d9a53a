//! The GitHub client: its credentials (pure) and its requests against a
//! scripted server (`fake`); the keys, clients and server answers shared
//! by the tests of each concern.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::{HeaderMap, HeaderValue};

use super::auth::{AppKey, Claims, EXP_AHEAD, IAT_BACK, REFRESH_BEFORE, Secret, TokenCache};
use super::errors::{REASON_MAX, from_response, reason};
use super::fake::{Fake, Reply, Seen};
use super::*;
use crate::github::api::{CheckStatus, CommitState, Conclusion};

mod auth;
mod errors;
mod reads;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 1, 0, 0).unwrap()
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// A throwaway RSA key pair, made for this test run (private PEM, public PEM).
fn key_pair() -> (String, String) {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let private = kp.as_der().unwrap();
    let public = kp.public_key().as_der().unwrap();
    (
        pem("PRIVATE KEY", private.as_ref()),
        pem("PUBLIC KEY", public.as_ref()),
    )
}

fn test_key() -> &'static (String, String) {
    static KEY: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    KEY.get_or_init(key_pair)
}

fn app_client(origin: &str, now: DateTime<Utc>) -> GitHubClient {
    client(
        origin,
        Credentials::App {
            app_id: 4242,
            key_parameter: "/test/github-app-key".into(),
        },
        Arc::new(Mutex::new(now)),
    )
}

/// A client with a token (parameter `/t`, already read: `token`) at t0.
fn token_client(origin: &str, token: &str) -> GitHubClient {
    let client = client(
        origin,
        Credentials::Token {
            parameter: "/t".into(),
        },
        Arc::new(Mutex::new(t0())),
    );
    client.preload_token(token);
    client
}

fn client(origin: &str, credentials: Credentials, now: Arc<Mutex<DateTime<Utc>>>) -> GitHubClient {
    let settings = GitHubSettings {
        api_url: origin.to_owned(),
        credentials,
        outbound: Outbound::parse_list(origin).unwrap(),
    };
    let ssm = aws_sdk_ssm::Client::from_conf(
        aws_sdk_ssm::Config::builder()
            .behavior_version(aws_sdk_ssm::config::BehaviorVersion::latest())
            .region(aws_sdk_ssm::config::Region::new("us-east-1"))
            .build(),
    );
    GitHubClient::with_clock(settings, ssm, Arc::new(move || *now.lock().unwrap())).unwrap()
}

impl GitHubClient {
    fn preload_key(&self, pem: &str) {
        let key = AppKey::from_pem(pem, "/test").unwrap();
        *lock(&self.loaded) = Some(Arc::new(Loaded::App(Arc::new(key))));
    }

    fn preload_token(&self, token: &str) {
        *lock(&self.loaded) = Some(Arc::new(Loaded::Token(Secret::new(token))));
    }
}

fn repo() -> Repo {
    Repo {
        owner: "sentinel-local".into(),
        name: "shop".into(),
    }
}

fn ok(body: serde_json::Value) -> Reply {
    (200, vec![], body.to_string())
}

/// GitHub as an App sees it: the installation 7 on every repository,
/// tokens `ghs_…<n>` valid one hour from the request, and `answer` for the
/// rest.
fn github(now: DateTime<Utc>, answer: impl Fn(&Seen) -> Reply + Send + 'static) -> Fake {
    let minted = Mutex::new(0);
    Fake::start(move |r, _| {
        if r.path.ends_with("/installation") {
            return ok(serde_json::json!({"id": 7, "permissions": {"checks": "write"}}));
        }
        if r.path == "/app/installations/7/access_tokens" {
            let mut n = minted.lock().unwrap();
            *n += 1;
            return (
                201,
                vec![],
                serde_json::json!({
                    "token": format!("ghs_{:0>36}", *n),
                    "expires_at": (now + chrono::Duration::hours(1)).to_rfc3339(),
                })
                .to_string(),
            );
        }
        answer(r)
    })
}

fn run() -> CheckRun {
    CheckRun {
        name: "Deploy Sentinel / main".into(),
        head_sha: "abc123".into(),
        status: CheckStatus::Completed,
        conclusion: Some(Conclusion::Success),
        details_url: Some("https://console.aws.amazon.com/amplify/x".into()),
        external_id: Some("d1/main/7".into()),
        started_at: Some(t0()),
        completed_at: Some(t0()),
        title: "Deployed".into(),
        summary: "All good".into(),
        annotations: vec![],
    }
}

fn paths(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| format!("{} {}", s.method, s.path))
        .collect()
}
