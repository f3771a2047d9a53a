//! Amplify: each watched app answers GetApp (its repository is the GitHub
//! checks' input).

use sentinel_shared::core::model::AppId;

use super::check::{Check, Status, check, not_found, why};
use super::seen::{AppSeen, Seen};

// ----- the checks -----

/// A stack that watches every app (AmplifyAppIds is *): none to check.
pub fn every_app(seen: &Seen) -> Vec<Check> {
    if !seen.apps.is_empty() {
        return vec![];
    }
    vec![check(
        "app",
        "watched apps",
        Status::Pass,
        "AmplifyAppIds is *: every app of the account is watched; none to check one by one",
    )]
}

/// Each watched app.
pub fn apps(seen: &Seen) -> Vec<Check> {
    seen.apps.iter().map(|a| app(seen, a)).collect()
}

/// One watched app: GetApp answers.
fn app(seen: &Seen, a: &AppSeen) -> Check {
    let stack = &seen.stack;
    let name = format!("app {}", a.app_id);
    match &a.answer {
        Ok(app_name) => check(
            "app",
            &name,
            Status::Pass,
            format!(
                "GetApp answers ({app_name}); the functions' roles grant Amplify on it (their statements are scoped to AmplifyAppIds)"
            ),
        ),
        Err(e) if not_found(e) => check(
            "app",
            &name,
            Status::Fail,
            format!("no such app in {}: {e}", seen.region),
        )
        .fix(format!(
            "fix AmplifyAppIds (sam deploy --stack-name {stack} --parameter-overrides AmplifyAppIds=...): the functions are granted exactly those apps"
        )),
        Err(e) => check("app", &name, Status::Fail, e.clone())
            .fix("the caller needs amplify:GetApp on the app"),
    }
}

// ----- reading them -----

/// GetApp of each watched app: its name and repository, or why not.
pub async fn read_apps(sdk: &aws_config::SdkConfig, watched: &[AppId]) -> Vec<AppSeen> {
    let amplify = aws_sdk_amplify::Client::new(sdk);
    let mut apps = Vec::new();
    for app in watched {
        let got = amplify.get_app().app_id(app.as_str()).send().await;
        let repository = got
            .as_ref()
            .ok()
            .and_then(|out| out.app().map(|a| a.repository()))
            .filter(|r| !r.is_empty())
            .map(str::to_owned);
        let answer = got
            .map(|out| out.app().map_or(String::new(), |a| a.name().to_owned()))
            .map_err(why);
        apps.push(AppSeen {
            app_id: app.to_string(),
            answer,
            repository,
        });
    }
    apps
}
