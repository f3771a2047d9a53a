//! `sentinel github setup`: the GitHub App's manifest and the steps to
//! install it (doctor's GitHub checks are `doctor/github.rs`).
//! `docs/github.md` is the reference.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use sentinel_shared::github::permissions::APP_PERMISSIONS;

use crate::commands::Ctx;

#[derive(Subcommand)]
pub enum Action {
    /// Print the GitHub App's manifest (its exact permissions, no webhook)
    /// and the steps: create the App, install it, store its key in SSM,
    /// deploy with GitHubAppId and GitHubPrivateKeyParameter; and the
    /// token fallback's. Makes no call: --stack only names the App and
    /// the parameter.
    Setup {
        /// The GitHub organisation that owns the App (default: your account).
        #[arg(long)]
        org: Option<String>,
        /// Only the manifest, as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Prints the manifest, or the steps with it; makes no call (the stack is
/// not read: it may not be deployed yet).
pub fn run(action: Action, ctx: &Ctx) -> Result<ExitCode> {
    let Action::Setup { org, json } = action;
    let stack = ctx.stack_name.as_deref();
    match json {
        true => println!("{}", serde_json::to_string_pretty(&manifest(stack))?),
        false => print!("{}", setup_text(stack, org.as_deref())),
    }
    Ok(ExitCode::SUCCESS)
}

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

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
}
