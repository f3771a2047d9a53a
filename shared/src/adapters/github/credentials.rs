//! Credentials on first use: the App's private key or the token, read from
//! SSM once (decrypted; a failure to read it is retryable and not kept), the
//! App's JWT, its installation on a repository (cached), and installation
//! tokens (cached until five minutes before they expire).

use std::sync::Arc;

use reqwest::Method;

use super::auth::{AppKey, Secret};
use super::{GitHubClient, Loaded, errors, lock, wire};
use crate::adapters::sdk::{Failure, classify};
use crate::github::api::{GitHubError, Repo};
use crate::github::settings::Credentials;

impl GitHubClient {
    /// The key or token, read from SSM once (a failure is not kept: the
    /// next request reads again).
    async fn loaded(&self) -> Result<Arc<Loaded>, GitHubError> {
        if let Some(l) = lock(&self.loaded).clone() {
            return Ok(l);
        }
        let (parameter, what) = match &self.credentials {
            Credentials::App { key_parameter, .. } => (key_parameter, "App private key"),
            Credentials::Token { parameter } => (parameter, "token"),
        };
        let value = self
            .ssm
            .get_parameter()
            .name(parameter)
            .with_decryption(true)
            .send()
            .await
            .map_err(|e| {
                let why = match classify(&e) {
                    Failure::Transient(m) | Failure::Rejected(m) | Failure::NotFound(m) => m,
                    Failure::ConditionFailed => "condition failed".into(),
                };
                GitHubError::Unavailable {
                    reason: format!(
                        "cannot read the GitHub {what} (SSM parameter {parameter}): {}",
                        errors::truncate(&crate::core::redact::mask_in_text(&why), 300)
                    ),
                    retry_after: None,
                }
            })?
            .parameter
            .and_then(|p| p.value)
            .unwrap_or_default();
        let loaded = match &self.credentials {
            Credentials::App { .. } => Loaded::App(Arc::new(
                AppKey::from_pem(&value, parameter)
                    .map_err(|reason| GitHubError::Rejected { status: 0, reason })?,
            )),
            Credentials::Token { .. } => {
                let token = value.trim();
                if token.is_empty() {
                    return Err(GitHubError::Rejected {
                        status: 0,
                        reason: format!("the GitHub token parameter {parameter} is empty"),
                    });
                }
                Loaded::Token(Secret::new(token))
            }
        };
        let loaded = Arc::new(loaded);
        *lock(&self.loaded) = Some(loaded.clone());
        Ok(loaded)
    }

    fn app_id(&self) -> u64 {
        match &self.credentials {
            Credentials::App { app_id, .. } => *app_id,
            Credentials::Token { .. } => 0,
        }
    }

    /// A JWT for the App (an error in token mode).
    pub(super) async fn jwt(&self) -> Result<Secret, GitHubError> {
        match &*self.loaded().await? {
            Loaded::App(key) => key
                .jwt(self.app_id(), (self.clock)())
                .map_err(|reason| GitHubError::Rejected { status: 0, reason }),
            Loaded::Token(_) => Err(GitHubError::Rejected {
                status: 0,
                reason: "this endpoint needs a GitHub App; the stack has a token".into(),
            }),
        }
    }

    /// The installation id for `repo`, cached.
    pub(super) async fn installation_id(&self, repo: &Repo) -> Result<u64, GitHubError> {
        let key = repo.full_name().to_ascii_lowercase();
        if let Some(id) = lock(&self.installations).get(&key) {
            return Ok(*id);
        }
        self.installation(repo)
            .await
            .map(|i| i.id)
            .map_err(|e| match e {
                GitHubError::NotFound(_) => GitHubError::NotFound(format!(
                    "the GitHub App is not installed on {} (or cannot see it)",
                    repo.full_name()
                )),
                other => other,
            })
    }

    /// An installation token for `installation`, from the cache (`true`)
    /// or minted.
    async fn installation_token(&self, installation: u64) -> Result<(Secret, bool), GitHubError> {
        let now = (self.clock)();
        if let Some(token) = lock(&self.tokens).get(installation, now) {
            return Ok((token, true));
        }
        let jwt = self.jwt().await?;
        let path = format!("/app/installations/{installation}/access_tokens");
        let answer = self.send(Method::POST, &path, &jwt, None).await?;
        let minted: wire::AccessToken = self.parse(&format!("POST {path}"), answer)?;
        let token = Secret::new(minted.token);
        lock(&self.tokens).put(installation, token.clone(), minted.expires_at);
        Ok((token, false))
    }

    /// The credential for a request about `repo`, and the installation
    /// whose cached token it is (to forget it on a 401).
    pub(super) async fn credential(
        &self,
        repo: &Repo,
    ) -> Result<(Secret, Option<u64>), GitHubError> {
        match &*self.loaded().await? {
            Loaded::Token(token) => Ok((token.clone(), None)),
            Loaded::App(_) => {
                let installation = self.installation_id(repo).await?;
                match self.installation_token(installation).await {
                    Ok((token, cached)) => Ok((token, cached.then_some(installation))),
                    Err(e) => {
                        if matches!(e, GitHubError::NotFound(_)) {
                            // Uninstalled (or installed again under a new id).
                            lock(&self.installations).retain(|_, id| *id != installation);
                        }
                        Err(e)
                    }
                }
            }
        }
    }
}
