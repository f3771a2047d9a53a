//! The client's credentials: the App's JWT, installation tokens and their
//! cache, and the one type that holds a credential ([`Secret`]), which
//! prints as `Secret(…)` and nothing else.
//!
//! - App JWT (<https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app>):
//!   RS256, `iat` 60 s in the past (clock drift), `exp` at most 10 minutes
//!   ahead, `iss` the App's id.
//! - Installation tokens (<https://docs.github.com/en/rest/apps/apps#create-an-installation-access-token-for-an-app>):
//!   valid one hour (`expires_at`); reused until [`REFRESH_BEFORE`] before it.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::{Deserialize, Serialize};

/// What the client asks the time of: the system's clock, or a test's.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// The system's clock.
pub fn system_clock() -> Clock {
    Arc::new(Utc::now)
}

/// A credential (the PEM key, a token, a JWT). Its `Debug` shows nothing
/// of it; only [`Secret::expose`] does, where a header is written.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the `Authorization` header only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How far `iat` is set back (GitHub's advice against clock drift).
pub const IAT_BACK: Duration = Duration::seconds(60);
/// How far ahead `exp` is: GitHub refuses more than 10 minutes, so 9
/// (from `now`, not from the backdated `iat`).
pub const EXP_AHEAD: Duration = Duration::seconds(9 * 60);

/// The App JWT's claims.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub iat: i64,
    pub exp: i64,
    /// The App's id, as a string (RFC 7519's `StringOrURI`; GitHub takes
    /// the App's id or its client id).
    pub iss: String,
}

impl Claims {
    pub fn at(app_id: u64, now: DateTime<Utc>) -> Self {
        Self {
            iat: (now - IAT_BACK).timestamp(),
            exp: (now + EXP_AHEAD).timestamp(),
            iss: app_id.to_string(),
        }
    }
}

/// The App's parsed private key (an RSA key in PEM, PKCS#1 as GitHub
/// hands it out, or PKCS#8).
pub struct AppKey(EncodingKey);

impl AppKey {
    /// The key from its PEM; the error names the parameter, never the value.
    pub fn from_pem(pem: &str, parameter: &str) -> Result<Self, String> {
        EncodingKey::from_rsa_pem(pem.trim().as_bytes())
            .map(Self)
            .map_err(|e| {
                format!(
                    "the GitHub App key in SSM parameter {parameter} is not an RSA private key in PEM ({:?})",
                    e.kind()
                )
            })
    }

    /// A JWT for the App `app_id`, signed now.
    pub fn jwt(&self, app_id: u64, now: DateTime<Utc>) -> Result<Secret, String> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &Claims::at(app_id, now),
            &self.0,
        )
        .map(Secret)
        .map_err(|e| format!("cannot sign the GitHub App's JWT ({:?})", e.kind()))
    }
}

impl std::fmt::Debug for AppKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppKey(…)")
    }
}

/// A token is minted again this long before its `expires_at`, so that no
/// request goes out with a token about to lapse (the alerter's retries and
/// GitHub's clock both have slack).
pub const REFRESH_BEFORE: Duration = Duration::minutes(5);

/// Installation tokens by installation id, each until shortly before it
/// expires.
#[derive(Debug, Default)]
pub struct TokenCache {
    tokens: HashMap<u64, (Secret, DateTime<Utc>)>,
}

impl TokenCache {
    /// The installation's token, if one is cached and still good at `now`.
    pub fn get(&self, installation: u64, now: DateTime<Utc>) -> Option<Secret> {
        self.tokens
            .get(&installation)
            .filter(|(_, expires_at)| now < *expires_at - REFRESH_BEFORE)
            .map(|(token, _)| token.clone())
    }

    pub fn put(&mut self, installation: u64, token: Secret, expires_at: DateTime<Utc>) {
        self.tokens.insert(installation, (token, expires_at));
    }

    /// Forget the installation's token (GitHub answered 401 with it).
    pub fn forget(&mut self, installation: u64) {
        self.tokens.remove(&installation);
    }
}
