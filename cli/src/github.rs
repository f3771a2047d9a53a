//! GitHub from the CLI: `sentinel github setup` (the App's manifest and
//! the steps to install it) and `sentinel doctor`'s GitHub checks (the
//! App reachable, installed on each watched app's repository with the
//! permissions it needs; or the token seeing each repository).
//! `docs/github.md` is the reference.

use std::collections::BTreeMap;

use sentinel_shared::adapters::github::GitHubClient;
use sentinel_shared::github::api::{GitHubError, Repo};
use sentinel_shared::github::permissions::{APP_PERMISSIONS, missing};
use sentinel_shared::github::settings::{Credentials, GitHubSettings};

use crate::doctor::{Check, Status};

/// The project's page: the App's homepage.
const HOMEPAGE: &str = "https://github.com/deploy-sentinel/deploy-sentinel";

/// GitHub refuses an App name longer than this.
const NAME_MAX: usize = 34;

/// The App's name: the stack's (GitHub's App names are unique across
/// GitHub: the form lets you change it).
pub fn app_name(stack: Option<&str>) -> String {
    let name = match stack {
        Some(s) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => "Deploy Sentinel".to_owned(),
    };
    name.chars().take(NAME_MAX).collect()
}

/// The GitHub App manifest
/// (<https://docs.github.com/en/apps/sharing-github-apps/registering-a-github-app-from-a-manifest>):
/// no webhook (Sentinel learns of builds from Amplify, not GitHub), not
/// public, exactly [`APP_PERMISSIONS`], no events.
pub fn manifest(stack: Option<&str>) -> serde_json::Value {
    let permissions: serde_json::Map<String, serde_json::Value> = APP_PERMISSIONS
        .iter()
        .map(|(name, level, _)| ((*name).to_owned(), serde_json::json!(level)))
        .collect();
    serde_json::json!({
        "name": app_name(stack),
        "url": HOMEPAGE,
        "description": "Deploy Sentinel: Amplify builds' verdicts as check runs, statuses, deployments and pull request comments.",
        "hook_attributes": { "url": HOMEPAGE, "active": false },
        "public": false,
        "default_permissions": permissions,
        "default_events": [],
    })
}

/// Where the App is created: the organisation's settings, or the
/// account's.
fn new_app_url(org: Option<&str>) -> String {
    match org {
        Some(org) => format!("https://github.com/organizations/{org}/settings/apps/new"),
        None => "https://github.com/settings/apps/new".into(),
    }
}

/// The SSM parameter's name, as `docs/deployment.md` names them:
/// `/deploy-sentinel/<env>/<what>` for a stack `deploy-sentinel-<env>`,
/// `/<stack>/<what>` for another name.
fn parameter_name(stack: Option<&str>, what: &str) -> String {
    match stack.map(str::trim) {
        Some(s) if !s.is_empty() => match s.strip_prefix("deploy-sentinel-") {
            Some(env) if !env.is_empty() => format!("/deploy-sentinel/{env}/{what}"),
            _ => format!("/{s}/{what}"),
        },
        _ => format!("/deploy-sentinel/ENV/{what}"),
    }
}

/// The steps, with the manifest.
pub fn setup_text(stack: Option<&str>, org: Option<&str>) -> String {
    let manifest = manifest(stack);
    let compact = manifest.to_string().replace('\'', "&#39;");
    let stack_name = stack.unwrap_or("deploy-sentinel-ENV");
    let parameter = parameter_name(stack, "github-app-key");
    let token_parameter = parameter_name(stack, "github-token");
    let permissions: Vec<String> = APP_PERMISSIONS
        .iter()
        .map(|(n, l, why)| format!("   {:<21} {why}", format!("{n}: {l}")))
        .collect();
    format!(
        r#"GitHub App manifest:
{pretty}

Permissions it asks for (nothing else; no webhook, no events):
{permissions}

1. Create the App from the manifest: save this form as app.html, open it in
   a browser and submit it (GitHub shows the App's page; rename it there
   if the name is taken):

   <form action="{new_app}" method="post">
     <input type="hidden" name="manifest" value='{compact}'>
     <input type="submit" value="Create the GitHub App">
   </form>

   Then, on the App's page: note its App ID, and "Generate a private key"
   (a .pem file is downloaded).
2. Install the App on the repositories of the watched Amplify apps
   (the App's page, "Install App"; "Only select repositories" is enough).
3. Store the key in SSM Parameter Store as a SecureString (free; Secrets
   Manager would cost $0.40 a month), then delete the downloaded file:

   aws ssm put-parameter --name {parameter} --type SecureString \
     --value file://PATH/TO/KEY.pem
   rm PATH/TO/KEY.pem

4. Deploy with the App's id and the parameter's name:

   sam deploy --parameter-overrides GitHubAppId=APP_ID \
     GitHubPrivateKeyParameter={parameter} ...

5. Check: sentinel doctor --stack {stack_name} (a GitHub line per watched app).

Without an App (the fallback): a fine-grained personal access token with
"Commit statuses: Read and write" and "Deployments: Read and write" on the
apps' repositories. It cannot write check runs (only an App can) nor
comment on pull requests; it expires, and acts as the person who made it.

   aws ssm put-parameter --name {token_parameter} --type SecureString \
     --value "$(cat TOKEN_FILE)"
   sam deploy --parameter-overrides GitHubTokenParameter={token_parameter} ...

docs/github.md has the details.
"#,
        pretty = serde_json::to_string_pretty(&manifest).unwrap_or_default(),
        permissions = permissions.join("\n"),
        new_app = new_app_url(org),
    )
}

// ----- doctor -----

/// What doctor saw of one watched app's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoAccess {
    /// GetApp's repository is not on github.com (or the app has none).
    NotGitHub,
    /// The App is installed there; the required permissions it lacks.
    Installed { missing: Vec<String> },
    /// The token sees the repository.
    Visible,
    /// The App is not installed there (or the token cannot see it).
    NotFound(String),
    /// Another failure (GitHub unreachable, refused).
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct RepoSeen {
    pub app_id: String,
    pub repository: Option<String>,
    pub access: RepoAccess,
}

/// GitHub as doctor saw it.
#[derive(Debug, Clone, Default)]
pub enum GitHubSeen {
    /// No GitHub parameter is set.
    #[default]
    Off,
    /// The parameters do not make a configuration (an App id without key).
    Misconfigured(String),
    App {
        app_id: u64,
        key_parameter: String,
        /// `GET /app`: the App's name, or why not.
        app: Result<String, String>,
        repos: Vec<RepoSeen>,
    },
    Token {
        parameter: String,
        repos: Vec<RepoSeen>,
    },
}

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

fn check(name: impl Into<String>, status: Status, detail: impl Into<String>) -> Check {
    Check {
        area: "github".into(),
        name: name.into(),
        status,
        detail: detail.into(),
        fix: None,
    }
}

fn with_fix(mut c: Check, fix: impl Into<String>) -> Check {
    c.fix = Some(fix.into());
    c
}

/// The verdicts (pure).
pub fn assess(seen: &GitHubSeen) -> Vec<Check> {
    let mut checks = Vec::new();
    let repos = match seen {
        GitHubSeen::Off => {
            return vec![check(
                "GitHub",
                Status::Pass,
                "off: no GitHubAppId/GitHubPrivateKeyParameter nor GitHubTokenParameter; no GitHub call is made",
            )];
        }
        GitHubSeen::Misconfigured(why) => {
            return vec![with_fix(
                check("GitHub", Status::Fail, why.clone()),
                "set both GitHubAppId and GitHubPrivateKeyParameter (or GitHubTokenParameter alone): sentinel github setup",
            )];
        }
        GitHubSeen::App {
            app_id,
            key_parameter,
            app,
            repos,
        } => {
            checks.push(match app {
                Ok(name) => check(
                    "GitHub App",
                    Status::Pass,
                    format!("App {app_id} ({name}) reachable, its key (SSM {key_parameter}) accepted"),
                ),
                Err(why) => with_fix(
                    check("GitHub App", Status::Fail, format!("App {app_id}: {why}")),
                    format!(
                        "check GitHubAppId is the App's id and SSM {key_parameter} holds its current private key (a SecureString the CLI's role may decrypt)"
                    ),
                ),
            });
            repos
        }
        GitHubSeen::Token { parameter, repos } => {
            checks.push(check(
                "GitHub token",
                Status::Pass,
                format!(
                    "a fine-grained token (SSM {parameter}): commit statuses and deployments only, no check runs or comments"
                ),
            ));
            repos
        }
    };
    let app = matches!(seen, GitHubSeen::App { .. });
    for r in repos {
        let repository = r.repository.as_deref().unwrap_or("no repository");
        let name = format!("GitHub {} ({repository})", r.app_id);
        checks.push(match &r.access {
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
            RepoAccess::Installed { missing } => with_fix(
                check(
                    name,
                    Status::Fail,
                    format!("the App is installed without: {}", missing.join(", ")),
                ),
                "add them in the App's settings (Permissions & events), then accept the new permissions on the installation",
            ),
            RepoAccess::Visible => check(name, Status::Pass, "the token sees the repository"),
            RepoAccess::NotFound(why) if app => with_fix(
                check(name, Status::Fail, format!("the App is not installed: {why}")),
                format!("install the App on {repository} (the App's page, Install App)"),
            ),
            RepoAccess::NotFound(why) => with_fix(
                check(name, Status::Fail, format!("the token cannot see it: {why}")),
                format!("give the token access to {repository} (Repository access)"),
            ),
            RepoAccess::Failed(why) => with_fix(
                check(name, Status::Fail, why.clone()),
                "run doctor again; GitHub's status: https://www.githubstatus.com",
            ),
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_asks_for_exactly_the_permissions_sentinel_uses() {
        let m = manifest(Some("deploy-sentinel-prod"));
        let permissions = m["default_permissions"].as_object().unwrap();
        let got: BTreeMap<&str, &str> = permissions
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        let want = BTreeMap::from([
            ("checks", "write"),
            ("statuses", "write"),
            ("deployments", "write"),
            ("pull_requests", "write"),
            ("contents", "read"),
            ("metadata", "read"),
        ]);
        assert_eq!(got, want);
        assert_eq!(m["default_events"], serde_json::json!([]));
        assert_eq!(m["hook_attributes"]["active"], false);
        assert_eq!(m["public"], false);
        assert_eq!(m["name"], "deploy-sentinel-prod");
        assert!(m["url"].as_str().unwrap().starts_with("https://"));
    }

    #[test]
    fn the_printed_steps_hold_the_manifest_and_each_step() {
        let text = setup_text(Some("deploy-sentinel-prod"), Some("acme"));
        let json_start = text.find('{').unwrap();
        let json_end = text.find("\n}\n").unwrap() + 2;
        let printed: serde_json::Value = serde_json::from_str(&text[json_start..json_end]).unwrap();
        assert_eq!(printed, manifest(Some("deploy-sentinel-prod")));
        for needle in [
            "https://github.com/organizations/acme/settings/apps/new",
            "aws ssm put-parameter --name /deploy-sentinel/prod/github-app-key --type SecureString",
            "GitHubAppId=APP_ID",
            "GitHubPrivateKeyParameter=/deploy-sentinel/prod/github-app-key",
            "GitHubTokenParameter=/deploy-sentinel/prod/github-token",
            "Install App",
        ] {
            assert!(text.contains(needle), "{needle} missing:\n{text}");
        }
        assert!(setup_text(None, None).contains("https://github.com/settings/apps/new"));
        assert_eq!(
            parameter_name(Some("shop-sentinel"), "github-app-key"),
            "/shop-sentinel/github-app-key"
        );
        assert!(app_name(Some(&"x".repeat(50))).len() <= 34);
    }

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
