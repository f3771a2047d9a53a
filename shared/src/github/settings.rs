//! How a function reaches GitHub, from its environment (the stack's
//! `GitHubAppId`, `GitHubPrivateKeyParameter` and `GitHubTokenParameter`
//! parameters). With none set GitHub is off: no client is built, no
//! request is made.

use crate::lambda::config::ConfigError;
use crate::outbound::Outbound;

/// GitHub's API, unless `GITHUB_API_URL` names another (GitHub Enterprise
/// Server's `https://HOST/api/v3`, or the local stack's emulator).
pub const DEFAULT_API_URL: &str = "https://api.github.com";

/// The credentials, by the SSM parameter that holds them (read on first
/// use, never logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// A GitHub App: its id and the SecureString parameter holding its
    /// private key (PEM).
    App { app_id: u64, key_parameter: String },
    /// A fine-grained personal access token (SecureString parameter):
    /// statuses and deployments only.
    Token { parameter: String },
}

/// Everything the client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitHubSettings {
    /// The API's base URL, without a trailing `/`.
    pub api_url: String,
    pub credentials: Credentials,
    /// Origins exempt from https-only (the local stack's emulator):
    /// `SENTINEL_GITHUB_ORIGINS`, never set by the template.
    pub outbound: Outbound,
}

impl GitHubSettings {
    pub const APP_ID: &'static str = "GITHUB_APP_ID";
    pub const KEY_PARAMETER: &'static str = "GITHUB_KEY_PARAMETER";
    pub const TOKEN_PARAMETER: &'static str = "GITHUB_TOKEN_PARAMETER";
    pub const API_URL: &'static str = "GITHUB_API_URL";
    pub const ORIGINS: &'static str = "SENTINEL_GITHUB_ORIGINS";

    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// `None` when GitHub is off (no App id, key or token parameter). An
    /// App id without its key (or the reverse) is an error, not "off".
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let credentials = match (
            get(Self::APP_ID),
            get(Self::KEY_PARAMETER),
            get(Self::TOKEN_PARAMETER),
        ) {
            (Some(id), Some(key_parameter), _) => Credentials::App {
                app_id: id.parse().map_err(|_| ConfigError {
                    variable: Self::APP_ID,
                    reason: format!("{id:?} is not a GitHub App id (a number)"),
                })?,
                key_parameter,
            },
            (Some(_), None, _) => {
                return Err(ConfigError {
                    variable: Self::KEY_PARAMETER,
                    reason: "is not set, but GITHUB_APP_ID is (the App's private key parameter)"
                        .into(),
                });
            }
            (None, Some(_), _) => {
                return Err(ConfigError {
                    variable: Self::APP_ID,
                    reason: "is not set, but GITHUB_KEY_PARAMETER is".into(),
                });
            }
            (None, None, Some(parameter)) => Credentials::Token { parameter },
            (None, None, None) => return Ok(None),
        };
        let api_url = get(Self::API_URL)
            .unwrap_or_else(|| DEFAULT_API_URL.to_owned())
            .trim_end_matches('/')
            .to_owned();
        let outbound =
            Outbound::parse_list(&get(Self::ORIGINS).unwrap_or_default()).map_err(|reason| {
                ConfigError {
                    variable: Self::ORIGINS,
                    reason,
                }
            })?;
        let parsed = url::Url::parse(&api_url).map_err(|e| ConfigError {
            variable: Self::API_URL,
            reason: format!("{api_url:?}: {e}"),
        })?;
        outbound.check(&parsed).map_err(|e| ConfigError {
            variable: Self::API_URL,
            reason: e.0,
        })?;
        Ok(Some(Self {
            api_url,
            credentials,
            outbound,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Option<GitHubSettings>, ConfigError> {
        GitHubSettings::from_lookup(|n| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn off_without_credentials() {
        assert_eq!(from(&[]).unwrap(), None);
        assert_eq!(
            from(&[("GITHUB_API_URL", "https://x.example")]).unwrap(),
            None
        );
    }

    #[test]
    fn an_app_needs_its_key_and_a_numeric_id() {
        let s = from(&[("GITHUB_APP_ID", "42"), ("GITHUB_KEY_PARAMETER", "/k")])
            .unwrap()
            .unwrap();
        assert_eq!(
            s.credentials,
            Credentials::App {
                app_id: 42,
                key_parameter: "/k".into()
            }
        );
        assert_eq!(s.api_url, DEFAULT_API_URL);
        assert_eq!(
            from(&[("GITHUB_APP_ID", "42")]).unwrap_err().variable,
            "GITHUB_KEY_PARAMETER"
        );
        assert_eq!(
            from(&[("GITHUB_KEY_PARAMETER", "/k")])
                .unwrap_err()
                .variable,
            "GITHUB_APP_ID"
        );
        assert_eq!(
            from(&[("GITHUB_APP_ID", "x"), ("GITHUB_KEY_PARAMETER", "/k")])
                .unwrap_err()
                .variable,
            "GITHUB_APP_ID"
        );
    }

    #[test]
    fn http_only_for_a_named_local_origin() {
        let token = ("GITHUB_TOKEN_PARAMETER", "/t");
        let err = from(&[token, ("GITHUB_API_URL", "http://127.0.0.1:4530")]).unwrap_err();
        assert_eq!(err.variable, "GITHUB_API_URL");
        let ok = from(&[
            token,
            ("GITHUB_API_URL", "http://127.0.0.1:4530/"),
            ("SENTINEL_GITHUB_ORIGINS", "http://127.0.0.1:4530"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(ok.api_url, "http://127.0.0.1:4530");
        assert_eq!(
            ok.credentials,
            Credentials::Token {
                parameter: "/t".into()
            }
        );
    }
}
