//! [`GitHubApi`] over HTTPS: GitHub's REST API (version `2022-11-28`), as a
//! GitHub App installation or with a fine-grained token.
//!
//! - **One origin.** Requests go to the API URL's scheme, host and port and
//!   nowhere else: paths are built from percent-encoded segments, redirects
//!   are not followed, and the client is [`Outbound::client`]'s (public
//!   addresses only, no proxy; the local emulator's origin is exempt by
//!   `SENTINEL_GITHUB_ORIGINS`).
//! - **Short.** 3 s to connect, 10 s per request: an outage of GitHub's
//!   costs a function seconds, and the caller retries later.
//! - **Credentials on first use.** [`GitHubClient::new`] does no I/O; the
//!   key or token is read from SSM (`GetParameter`, decrypted) by the first
//!   request, kept in memory, and a failure to read it is a retryable
//!   [`GitHubError::Unavailable`]. An App mints installation tokens
//!   (`auth`), cached until five minutes before they expire; a 401 on a
//!   cached token forgets it and the request is made once more with a new
//!   one. Nothing else is retried here: the callers schedule retries.
//! - **Never shown.** Credentials are [`auth::Secret`]s (their `Debug` is
//!   `Secret(…)`), and every reason GitHub gives is masked
//!   (`core::redact::mask_in_text`) and cut.
//!
//! Here: the client, its requests and answers, and the port's endpoints.
//! Beside it: the credentials (`credentials`), the App's tokens (`auth`),
//! GitHub's errors (`errors`) and its JSON (`wire`).

pub mod auth;
mod credentials;
pub mod errors;
pub mod wire;

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::Method;
use serde::de::DeserializeOwned;

use self::auth::{AppKey, Clock, Secret, TokenCache};
use crate::github::api::{
    AuthKind, CheckRun, CommitInfo, CommitStatus, Comparison, DeploymentStatus, GitHubApi,
    GitHubError, NewDeployment, Repo,
};
use crate::github::settings::{Credentials, GitHubSettings};
use crate::outbound::Outbound;

pub use self::wire::{App, Installation};

/// GitHub's REST API version the types follow
/// (<https://docs.github.com/en/rest/about-the-rest-api/api-versions>).
pub const API_VERSION: &str = "2022-11-28";

const USER_AGENT: &str = concat!("deploy-sentinel/", env!("CARGO_PKG_VERSION"));

/// Connecting to GitHub may take this long.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// A whole request (connection, answer, body) may take this long.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest answer read (a comparison of 300 files with their patches
/// is a few MB); past it the request fails.
const BODY_MAX: usize = 16 * 1024 * 1024;

/// Pages of 100 comments [`GitHubApi::find_issue_comment`] reads at most.
pub const COMMENT_PAGES: u32 = 10;

/// Characters left as they are in a path segment (RFC 3986 unreserved).
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// One path segment, percent-encoded: `/`, `?`, `#` and `..` cannot leave
/// the endpoint it is put in.
fn seg(s: &str) -> String {
    match s {
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => utf8_percent_encode(s, SEGMENT).to_string(),
    }
}

fn repo_path(repo: &Repo) -> String {
    format!("/repos/{}/{}", seg(&repo.owner), seg(&repo.name))
}

/// What was read from SSM.
enum Loaded {
    App(Arc<AppKey>),
    Token(Secret),
}

/// The HTTPS client. Build it once per process; it is cheap until used.
pub struct GitHubClient {
    api_url: url::Url,
    credentials: Credentials,
    outbound: Outbound,
    ssm: aws_sdk_ssm::Client,
    clock: Clock,
    http: OnceLock<Result<reqwest::Client, String>>,
    loaded: Mutex<Option<Arc<Loaded>>>,
    /// Installation ids by `owner/name` (lowercase: GitHub's names are
    /// case-insensitive).
    installations: Mutex<HashMap<String, u64>>,
    tokens: Mutex<TokenCache>,
}

impl std::fmt::Debug for GitHubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GitHubClient")
            .field("api_url", &self.api_url.as_str())
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// An answer: its status, headers and body.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl GitHubClient {
    /// The client for `settings`; the credentials are read from SSM on
    /// first use (a failure to read them never stops the function). No I/O.
    pub fn new(settings: GitHubSettings, ssm: aws_sdk_ssm::Client) -> Result<Self, String> {
        Self::with_clock(settings, ssm, auth::system_clock())
    }

    /// [`GitHubClient::new`] with the clock tokens' expiry is judged by.
    pub fn with_clock(
        settings: GitHubSettings,
        ssm: aws_sdk_ssm::Client,
        clock: Clock,
    ) -> Result<Self, String> {
        let api_url = url::Url::parse(&format!("{}/", settings.api_url.trim_end_matches('/')))
            .map_err(|e| format!("GITHUB_API_URL {:?}: {e}", settings.api_url))?;
        settings
            .outbound
            .check(&api_url)
            .map_err(|e| format!("GITHUB_API_URL: {e}"))?;
        Ok(Self {
            api_url,
            credentials: settings.credentials,
            outbound: settings.outbound,
            ssm,
            clock,
            http: OnceLock::new(),
            loaded: Mutex::new(None),
            installations: Mutex::default(),
            tokens: Mutex::default(),
        })
    }

    fn http(&self) -> Result<&reqwest::Client, GitHubError> {
        self.http
            .get_or_init(|| {
                let mut headers = reqwest::header::HeaderMap::new();
                headers.insert(
                    reqwest::header::ACCEPT,
                    reqwest::header::HeaderValue::from_static("application/vnd.github+json"),
                );
                headers.insert(
                    "x-github-api-version",
                    reqwest::header::HeaderValue::from_static(API_VERSION),
                );
                self.outbound
                    .client()
                    .user_agent(USER_AGENT)
                    .default_headers(headers)
                    .connect_timeout(CONNECT_TIMEOUT)
                    .timeout(REQUEST_TIMEOUT)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .map_err(|e| format!("cannot build the GitHub HTTP client: {e}"))
            })
            .as_ref()
            .map_err(|e| GitHubError::Unavailable {
                reason: e.clone(),
                retry_after: None,
            })
    }

    /// The URL of `path` (`/repos/…`, already encoded) under the API URL
    /// (GitHub Enterprise Server's is `https://HOST/api/v3`), held to its
    /// origin.
    fn url(&self, path: &str) -> Result<url::Url, GitHubError> {
        let joined = format!("{}{}", self.api_url.as_str().trim_end_matches('/'), path);
        let url = url::Url::parse(&joined).map_err(|e| GitHubError::Rejected {
            status: 0,
            reason: format!("{path}: not a URL ({e})"),
        })?;
        if url.origin() != self.api_url.origin() || !url.path().starts_with(self.api_url.path()) {
            return Err(GitHubError::Rejected {
                status: 0,
                reason: format!("{path}: leaves the GitHub API URL"),
            });
        }
        Ok(url)
    }

    /// The App's installation on `repo` (`GET /repos/{o}/{r}/installation`,
    /// as the App): its id and the permissions it was granted. `NotFound`
    /// when the App is not installed there.
    pub async fn installation(&self, repo: &Repo) -> Result<Installation, GitHubError> {
        let path = format!("{}/installation", repo_path(repo));
        let jwt = self.jwt().await?;
        let answer = self.send(Method::GET, &path, &jwt, None).await?;
        let installation: Installation = self.parse(&format!("GET {path}"), answer)?;
        lock(&self.installations).insert(repo.full_name().to_ascii_lowercase(), installation.id);
        Ok(installation)
    }

    /// The App the key belongs to (`GET /app`): reachable, key accepted.
    pub async fn app(&self) -> Result<App, GitHubError> {
        let jwt = self.jwt().await?;
        let answer = self.send(Method::GET, "/app", &jwt, None).await?;
        self.parse("GET /app", answer)
    }

    /// Whether the credentials see `repo` (`GET /repos/{o}/{r}`): the
    /// token's check in `sentinel doctor` (a fine-grained token's
    /// permissions are not readable through the API).
    pub async fn repository_visible(&self, repo: &Repo) -> Result<(), GitHubError> {
        self.call::<serde_json::Value>(Method::GET, &repo_path(repo), repo, None)
            .await
            .map(|_| ())
    }

    /// One request, its answer whatever the status (transport failures
    /// are errors).
    async fn send(
        &self,
        method: Method,
        path: &str,
        credential: &Secret,
        body: Option<&serde_json::Value>,
    ) -> Result<Answer, GitHubError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let url = self.url(path)?;
        let mut bearer =
            reqwest::header::HeaderValue::from_str(&format!("Bearer {}", credential.expose()))
                .map_err(|_| GitHubError::Rejected {
                    status: 0,
                    reason: "the GitHub credential is not a valid header value".into(),
                })?;
        bearer.set_sensitive(true);
        let mut request = self
            .http()?
            .request(method, url)
            .header(reqwest::header::AUTHORIZATION, bearer);
        if let Some(body) = body {
            request = request.json(body);
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| errors::from_transport(&what, &e))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    if body.len() + bytes.len() > BODY_MAX {
                        return Err(GitHubError::Rejected {
                            status,
                            reason: format!("{what}: the answer is over {BODY_MAX} bytes"),
                        });
                    }
                    body.extend_from_slice(&bytes);
                }
                Ok(None) => break,
                Err(e) => return Err(errors::from_transport(&what, &e)),
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// A successful answer's JSON, or the error its status means.
    fn parse<T: DeserializeOwned>(&self, what: &str, answer: Answer) -> Result<T, GitHubError> {
        if !(200..300).contains(&answer.status) {
            return Err(errors::from_response(
                what,
                answer.status,
                &answer.headers,
                &answer.body,
                (self.clock)(),
            ));
        }
        let body: &[u8] = match answer.body.is_empty() {
            true => b"null",
            false => &answer.body,
        };
        serde_json::from_slice(body).map_err(|e| GitHubError::Unavailable {
            reason: format!("{what}: an answer that does not parse ({e})"),
            retry_after: None,
        })
    }

    /// A request about `repo`, parsed; once
    /// more with a new token after a 401 on a cached installation token.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        repo: &Repo,
        body: Option<&serde_json::Value>,
    ) -> Result<T, GitHubError> {
        let what = format!("{method} {}", path.split('?').next().unwrap_or(path));
        let (credential, installation) = self.credential(repo).await?;
        let mut answer = self.send(method.clone(), path, &credential, body).await?;
        if answer.status == 401
            && let Some(installation) = installation
        {
            lock(&self.tokens).forget(installation);
            let (credential, _) = self.credential(repo).await?;
            answer = self.send(method, path, &credential, body).await?;
        }
        self.parse(&what, answer)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        repo: &Repo,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<T, GitHubError> {
        let body = to_json(body)?;
        self.call(Method::POST, path, repo, Some(&body)).await
    }

    async fn patch(
        &self,
        repo: &Repo,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<(), GitHubError> {
        let body = to_json(body)?;
        self.call::<serde_json::Value>(Method::PATCH, path, repo, Some(&body))
            .await
            .map(|_| ())
    }
}

fn to_json(body: &impl serde::Serialize) -> Result<serde_json::Value, GitHubError> {
    serde_json::to_value(body).map_err(|e| GitHubError::Rejected {
        status: 0,
        reason: format!("cannot serialise the request: {e}"),
    })
}

/// The comment among `page` whose body holds `marker`.
fn marked(page: &[wire::Comment], marker: &str) -> Option<u64> {
    page.iter()
        .find(|c| c.body.as_deref().is_some_and(|b| b.contains(marker)))
        .map(|c| c.id)
}

impl GitHubApi for GitHubClient {
    fn auth(&self) -> AuthKind {
        match self.credentials {
            Credentials::App { .. } => AuthKind::App,
            Credentials::Token { .. } => AuthKind::Token,
        }
    }

    // https://docs.github.com/en/rest/checks/runs#create-a-check-run
    async fn create_check_run(&self, repo: &Repo, run: &CheckRun) -> Result<u64, GitHubError> {
        let path = format!("{}/check-runs", repo_path(repo));
        let created: wire::Created = self.post(repo, &path, &wire::check_run(run, true)).await?;
        Ok(created.id)
    }

    // https://docs.github.com/en/rest/checks/runs#update-a-check-run
    async fn update_check_run(
        &self,
        repo: &Repo,
        id: u64,
        run: &CheckRun,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/check-runs/{id}", repo_path(repo));
        self.patch(repo, &path, &wire::check_run(run, false)).await
    }

    // https://docs.github.com/en/rest/commits/statuses#create-a-commit-status
    async fn create_commit_status(
        &self,
        repo: &Repo,
        sha: &str,
        status: &CommitStatus,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/statuses/{}", repo_path(repo), seg(sha));
        self.post::<serde_json::Value>(repo, &path, status)
            .await
            .map(|_| ())
    }

    // https://docs.github.com/en/rest/deployments/deployments#create-a-deployment
    async fn create_deployment(
        &self,
        repo: &Repo,
        deployment: &NewDeployment,
    ) -> Result<u64, GitHubError> {
        let path = format!("{}/deployments", repo_path(repo));
        let created: wire::Created = self
            .post(repo, &path, &wire::deployment(deployment))
            .await?;
        Ok(created.id)
    }

    // https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status
    async fn create_deployment_status(
        &self,
        repo: &Repo,
        deployment_id: u64,
        status: &DeploymentStatus,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/deployments/{deployment_id}/statuses", repo_path(repo));
        self.post::<serde_json::Value>(repo, &path, status)
            .await
            .map(|_| ())
    }

    // https://docs.github.com/en/rest/commits/commits#compare-two-commits
    async fn compare(
        &self,
        repo: &Repo,
        base: &str,
        head: &str,
    ) -> Result<Comparison, GitHubError> {
        let path = format!("{}/compare/{}...{}", repo_path(repo), seg(base), seg(head));
        let answer: wire::Compare = self.call(Method::GET, &path, repo, None).await?;
        Ok(answer.into())
    }

    // https://docs.github.com/en/rest/commits/commits#get-a-commit
    async fn commit(&self, repo: &Repo, sha: &str) -> Result<CommitInfo, GitHubError> {
        let path = format!("{}/commits/{}", repo_path(repo), seg(sha));
        let answer: wire::Commit = self.call(Method::GET, &path, repo, None).await?;
        Ok(answer.into())
    }

    // https://docs.github.com/en/rest/issues/comments#list-issue-comments
    async fn find_issue_comment(
        &self,
        repo: &Repo,
        number: u64,
        marker: &str,
    ) -> Result<Option<u64>, GitHubError> {
        for page in 1..=COMMENT_PAGES {
            let path = format!(
                "{}/issues/{number}/comments?per_page=100&page={page}",
                repo_path(repo)
            );
            let comments: Vec<wire::Comment> = self.call(Method::GET, &path, repo, None).await?;
            if let Some(id) = marked(&comments, marker) {
                return Ok(Some(id));
            }
            if comments.len() < 100 {
                break;
            }
        }
        Ok(None)
    }

    // https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
    async fn create_issue_comment(
        &self,
        repo: &Repo,
        number: u64,
        body: &str,
    ) -> Result<u64, GitHubError> {
        let path = format!("{}/issues/{number}/comments", repo_path(repo));
        let created: wire::Created = self
            .post(repo, &path, &serde_json::json!({ "body": body }))
            .await?;
        Ok(created.id)
    }

    // https://docs.github.com/en/rest/issues/comments#update-an-issue-comment
    async fn update_issue_comment(
        &self,
        repo: &Repo,
        id: u64,
        body: &str,
    ) -> Result<(), GitHubError> {
        let path = format!("{}/issues/comments/{id}", repo_path(repo));
        self.patch(repo, &path, &serde_json::json!({ "body": body }))
            .await
    }
}
