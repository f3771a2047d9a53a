//! GitHub: off, or the App (reachable, its key accepted) or the token,
//! and each watched app's repository (the App installed there with the
//! permissions it needs, or the token seeing it). `docs/github.md`.

use std::collections::BTreeMap;

use sentinel_shared::adapters::github::GitHubClient;
use sentinel_shared::github::api::{GitHubError, Repo};
use sentinel_shared::github::permissions::missing;
use sentinel_shared::github::settings::{Credentials, GitHubSettings};

use super::check::{Check, Status};
use super::seen::{GitHubSeen, RepoAccess, RepoSeen, Seen};

// ----- the checks -----

/// GitHub's checks on what doctor saw (no GitHub call at all when the stack
/// has no GitHub parameter).
pub fn checks(seen: &Seen) -> Vec<Check> {
    assess(&seen.github)
}

/// The verdicts (pure): the credentials, then each repository (none when
/// GitHub is off or misconfigured).
pub fn assess(seen: &GitHubSeen) -> Vec<Check> {
    let repos = match seen {
        GitHubSeen::Off | GitHubSeen::Misconfigured(_) => &[][..],
        GitHubSeen::App { repos, .. } | GitHubSeen::Token { repos, .. } => repos,
    };
    let app = matches!(seen, GitHubSeen::App { .. });
    std::iter::once(credentials(seen))
        .chain(repos.iter().map(|r| repository(app, r)))
        .collect()
}

fn check(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    super::check::check("github", name, status, detail)
}

/// Off, or the App reachable with its key, or the token.
fn credentials(seen: &GitHubSeen) -> Check {
    match seen {
        GitHubSeen::Off => check(
            "GitHub",
            Status::Pass,
            "off: no GitHubAppId/GitHubPrivateKeyParameter nor GitHubTokenParameter; no GitHub call is made",
        ),
        GitHubSeen::Misconfigured(why) => check("GitHub", Status::Fail, why.clone()).fix(
            "set both GitHubAppId and GitHubPrivateKeyParameter (or GitHubTokenParameter alone): sentinel github setup",
        ),
        GitHubSeen::App {
            app_id,
            key_parameter,
            app,
            ..
        } => match app {
            Ok(name) => check(
                "GitHub App",
                Status::Pass,
                format!("App {app_id} ({name}) reachable, its key (SSM {key_parameter}) accepted"),
            ),
            Err(why) => check("GitHub App", Status::Fail, format!("App {app_id}: {why}")).fix(
                format!(
                    "check GitHubAppId is the App's id and SSM {key_parameter} holds its current private key (a SecureString the CLI's role may decrypt)"
                ),
            ),
        },
        GitHubSeen::Token { parameter, .. } => check(
            "GitHub token",
            Status::Pass,
            format!(
                "a fine-grained token (SSM {parameter}): commit statuses and deployments only, no check runs or comments"
            ),
        ),
    }
}

/// One watched app's repository: the App installed there with every
/// permission (`app`), or the token seeing it.
fn repository(app: bool, r: &RepoSeen) -> Check {
    let repository = r.repository.as_deref().unwrap_or("no repository");
    let name = format!("GitHub {} ({repository})", r.app_id);
    match &r.access {
        // Nothing to check: GitHub is not where this app's code is (a
        // manual-deploy app, GitLab, CodeCommit), and that is no fault.
        RepoAccess::NotGitHub => check(
            name,
            Status::Pass,
            "not a github.com repository: nothing to check, no GitHub call is made for this app",
        ),
        RepoAccess::Installed { missing } if missing.is_empty() => check(
            name,
            Status::Pass,
            "the App is installed, with every permission it needs",
        ),
        RepoAccess::Installed { missing } => check(
            name,
            Status::Fail,
            format!("the App is installed without: {}", missing.join(", ")),
        )
        .fix(
            "add them in the App's settings (Permissions & events), then accept the new permissions on the installation",
        ),
        RepoAccess::Visible => check(name, Status::Pass, "the token sees the repository"),
        RepoAccess::NotFound(why) if app => {
            check(name, Status::Fail, format!("the App is not installed: {why}"))
                .fix(format!("install the App on {repository} (the App's page, Install App)"))
        }
        RepoAccess::NotFound(why) => {
            check(name, Status::Fail, format!("the token cannot see it: {why}"))
                .fix(format!("give the token access to {repository} (Repository access)"))
        }
        RepoAccess::Failed(why) => check(name, Status::Fail, why.clone())
            .fix("run doctor again; GitHub's status: https://www.githubstatus.com"),
    }
}

// ----- reading it -----

/// The settings from the stack's parameters; the API URL from
/// `GITHUB_API_URL` when set (GitHub Enterprise Server, the local
/// emulator: typed by the person running doctor, so its origin is allowed).
pub fn settings(parameters: &BTreeMap<String, String>) -> Result<Option<GitHubSettings>, String> {
    let api_url = std::env::var(GitHubSettings::API_URL).ok();
    let origins = std::env::var(GitHubSettings::ORIGINS).ok().or_else(|| {
        let url = url::Url::parse(api_url.as_deref()?).ok()?;
        Some(url.origin().ascii_serialization())
    });
    GitHubSettings::from_lookup(|name| match name {
        GitHubSettings::APP_ID => parameters.get("GitHubAppId").cloned(),
        GitHubSettings::KEY_PARAMETER => parameters.get("GitHubPrivateKeyParameter").cloned(),
        GitHubSettings::TOKEN_PARAMETER => parameters.get("GitHubTokenParameter").cloned(),
        GitHubSettings::API_URL => api_url.clone(),
        GitHubSettings::ORIGINS => origins.clone(),
        _ => None,
    })
    .map_err(|e| e.to_string())
}

fn shown(e: &GitHubError) -> String {
    e.to_string()
}

/// Reads what the checks need: `GET /app`, and each watched app's
/// repository's installation (App) or the repository (token).
/// `apps`: (app id, GetApp's repository).
pub async fn gather(
    sdk: &aws_config::SdkConfig,
    parameters: &BTreeMap<String, String>,
    apps: &[(String, Option<String>)],
) -> GitHubSeen {
    let settings = match settings(parameters) {
        Ok(None) => return GitHubSeen::Off,
        Ok(Some(s)) => s,
        Err(e) => return GitHubSeen::Misconfigured(e),
    };
    let credentials = settings.credentials.clone();
    let client = match GitHubClient::new(settings, aws_sdk_ssm::Client::new(sdk)) {
        Ok(c) => c,
        Err(e) => return GitHubSeen::Misconfigured(e),
    };
    let mut repos = Vec::new();
    let app = match &credentials {
        Credentials::App { .. } => Some(
            client
                .app()
                .await
                .map(|a| a.name.or(a.slug).unwrap_or_else(|| format!("App {}", a.id)))
                .map_err(|e| shown(&e)),
        ),
        Credentials::Token { .. } => None,
    };
    for (app_id, repository) in apps {
        let Some(repo) = repository.as_deref().and_then(Repo::from_amplify) else {
            repos.push(RepoSeen {
                app_id: app_id.clone(),
                repository: repository.clone(),
                access: RepoAccess::NotGitHub,
            });
            continue;
        };
        let access = match &credentials {
            Credentials::App { .. } => match client.installation(&repo).await {
                Ok(i) => RepoAccess::Installed {
                    missing: missing(&i.permissions),
                },
                Err(e @ GitHubError::NotFound(_)) => RepoAccess::NotFound(shown(&e)),
                Err(e) => RepoAccess::Failed(shown(&e)),
            },
            Credentials::Token { .. } => match client.repository_visible(&repo).await {
                Ok(()) => RepoAccess::Visible,
                Err(e @ GitHubError::NotFound(_)) => RepoAccess::NotFound(shown(&e)),
                Err(e) => RepoAccess::Failed(shown(&e)),
            },
        };
        repos.push(RepoSeen {
            app_id: app_id.clone(),
            repository: Some(repo.full_name()),
            access,
        });
    }
    match credentials {
        Credentials::App {
            app_id,
            key_parameter,
        } => GitHubSeen::App {
            app_id,
            key_parameter,
            app: app.unwrap_or_else(|| Err("not asked".into())),
            repos,
        },
        Credentials::Token { parameter } => GitHubSeen::Token { parameter, repos },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(access: RepoAccess) -> RepoSeen {
        RepoSeen {
            app_id: "d1".into(),
            repository: Some("acme/shop".into()),
            access,
        }
    }

    #[test]
    fn doctor_says_off_installed_not_installed_and_missing_permissions() {
        let off = assess(&GitHubSeen::Off);
        assert_eq!(off.len(), 1);
        assert_eq!(off[0].status, Status::Pass);
        assert!(off[0].detail.contains("no GitHub call is made"));

        let seen = GitHubSeen::App {
            app_id: 4242,
            key_parameter: "/k".into(),
            app: Ok("Deploy Sentinel".into()),
            repos: vec![
                repo(RepoAccess::Installed { missing: vec![] }),
                repo(RepoAccess::Installed {
                    missing: vec!["checks: write".into()],
                }),
                repo(RepoAccess::NotFound("not found on GitHub".into())),
                repo(RepoAccess::NotGitHub),
            ],
        };
        let checks = assess(&seen);
        let statuses: Vec<Status> = checks.iter().map(|c| c.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Pass,
                Status::Pass,
                Status::Fail,
                Status::Fail,
                Status::Pass
            ]
        );
        assert!(checks[2].detail.contains("checks: write"));
        assert!(
            checks[3]
                .fix
                .as_deref()
                .unwrap()
                .contains("install the App on acme/shop")
        );

        let broken = assess(&GitHubSeen::App {
            app_id: 4242,
            key_parameter: "/k".into(),
            app: Err("GitHub refused the request (401)".into()),
            repos: vec![],
        });
        assert_eq!(broken[0].status, Status::Fail);
        assert!(broken[0].fix.as_deref().unwrap().contains("/k"));
    }

    #[test]
    fn doctor_checks_that_a_token_sees_each_repository() {
        let checks = assess(&GitHubSeen::Token {
            parameter: "/t".into(),
            repos: vec![
                repo(RepoAccess::Visible),
                repo(RepoAccess::NotFound("not found on GitHub".into())),
            ],
        });
        assert_eq!(checks[0].name, "GitHub token");
        assert!(checks[0].detail.contains("no check runs"));
        assert_eq!(checks[1].status, Status::Pass);
        assert_eq!(checks[2].status, Status::Fail);
        assert!(
            checks[2]
                .fix
                .as_deref()
                .unwrap()
                .contains("give the token access")
        );
    }

    #[test]
    fn the_stacks_parameters_make_the_settings() {
        let p = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            settings(&p(&[("GitHubAppId", ""), ("GitHubTokenParameter", "")])).unwrap(),
            None
        );
        let s = settings(&p(&[
            ("GitHubAppId", "42"),
            ("GitHubPrivateKeyParameter", "/k"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(
            s.credentials,
            Credentials::App {
                app_id: 42,
                key_parameter: "/k".into()
            }
        );
        assert!(settings(&p(&[("GitHubAppId", "42")])).is_err());
    }
}
