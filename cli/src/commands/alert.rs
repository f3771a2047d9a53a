//! `sentinel alert test`: a test alert through the real path — an "Alert
//! Test" domain event on the stack's bus, the alerter's rule and queue, the
//! alerter, the alert topic, e-mail and AWS Chatbot — so that a team sees it
//! arrive where its alerts do. The alerter sends it as a notice marked
//! `[test]` (SNS attribute `category` = `test`): it opens no incident and no
//! metric counts it (the metrics collector's rule does not take it).

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::Subcommand;
use sentinel_shared::adapters::eventbridge::EventBridgePublisher;
use sentinel_shared::core::events::{AlertTestEvent, OWNER_OPERATOR, detail_type};
use sentinel_shared::core::model::{AppId, BranchName};
use sentinel_shared::core::outbox;
use sentinel_shared::core::scope::Scope;
use sentinel_shared::lambda::aws;
use sentinel_shared::ports::EventPublisher;
use serde::Serialize;

use crate::commands::Ctx;
use crate::stack::StackSettings;

#[derive(Subcommand)]
pub enum Action {
    /// Send a test alert through the real path (bus, alerter, SNS, e-mail
    /// and Chatbot), marked [test]: it opens no incident, no metric counts it.
    Test {
        /// The app it is about (routes it; default: the stack's first watched app).
        #[arg(long)]
        app: Option<AppId>,
        /// The branch it is about (routes it; must be watched).
        #[arg(long, default_value = "main")]
        branch: BranchName,
        /// Who sends it (shown in the alert; default: $USER).
        #[arg(long, env = "USER", default_value = "operator")]
        by: String,
        /// What was sent, as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(action: Action, ctx: &Ctx) -> Result<ExitCode> {
    let Action::Test {
        app,
        branch,
        by,
        json,
    } = action;
    let stack = ctx
        .stack
        .as_ref()
        .context("alert test goes through a deployed stack: pass --stack NAME")?;
    let app = choose_app(app, stack)?;
    let test = event(stack, app, branch, &by, chrono::Utc::now())?;
    let sent = send(&aws::load().await, stack, test).await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&sent)?);
    } else {
        print!("{}", render(&sent));
    }
    Ok(ExitCode::SUCCESS)
}

/// What was published, and where to look for it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Sent {
    pub event_id: String,
    pub detail_type: String,
    pub bus: String,
    pub app: String,
    pub branch: String,
    /// The alert topic it goes out on (the stack's AlertTopicArn).
    pub topic: Option<String>,
    /// What the subject of the message contains.
    pub marker: String,
}

/// The app a test is about: `--app`, else the stack's first watched app.
pub fn choose_app(flag: Option<AppId>, settings: &StackSettings) -> Result<AppId> {
    flag.or_else(|| settings.watched_apps.first().cloned())
        .context("the stack watches every app (AmplifyAppIds is *): name one with --app")
}

/// The detail of one test (pure).
pub fn event(
    settings: &StackSettings,
    app: AppId,
    branch: BranchName,
    by: &str,
    now: chrono::DateTime<Utc>,
) -> Result<AlertTestEvent> {
    let scope = Scope::new(settings.watched_apps.clone(), &settings.watched_branches)
        .map_err(|e| anyhow::anyhow!("the stack's WatchedBranches: {}", e.reason))?;
    if !scope.covers(&app, &branch) {
        bail!(
            "{app}/{branch} is outside the stack's watch scope (apps {}, branches {}): the alerter \
             would skip it; choose a watched --app and --branch",
            if settings.watched_apps.is_empty() {
                "*".to_owned()
            } else {
                settings
                    .watched_apps
                    .iter()
                    .map(AppId::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            },
            settings.watched_branches
        );
    }
    Ok(AlertTestEvent {
        event_id: format!(
            "alert-test/{app}/{branch}/{}",
            now.format("%Y%m%dT%H%M%S%.6fZ")
        ),
        environment: settings.environment,
        app_id: app,
        branch_name: branch,
        requested_by: by.to_owned(),
        requested_at: now,
    })
}

/// Publishes the test on the stack's bus.
pub async fn send(
    sdk: &aws_config::SdkConfig,
    settings: &StackSettings,
    test: AlertTestEvent,
) -> Result<Sent> {
    let entry = outbox::entry(
        &test.event_id,
        OWNER_OPERATOR,
        detail_type::ALERT_TEST,
        &test,
    )
    .context("serializing the test event")?;
    EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(sdk), &settings.bus)
        .publish(&[entry])
        .await
        .map_err(|e| anyhow::anyhow!("publishing the test on {}: {e}", settings.bus))?;
    Ok(Sent {
        event_id: test.event_id,
        detail_type: detail_type::ALERT_TEST.into(),
        bus: settings.bus.clone(),
        app: test.app_id.to_string(),
        branch: test.branch_name.to_string(),
        topic: settings.outputs.get("AlertTopicArn").cloned(),
        marker: sentinel_shared::alert::reaction::TEST_MARKER.into(),
    })
}

pub fn render(sent: &Sent) -> String {
    format!(
        "sent a test alert for {}/{} on {} ({})\n\
         it reaches every subscriber of {} whose filter takes app {} and branch {}, \
         usually within a minute, with \"{}\" in its subject; it opens no incident and no metric counts it.\n\
         Nothing arrives? Run `sentinel doctor`: the alert rule, the alerter's queue and event source, and a confirmed subscription.\n",
        sent.app,
        sent.branch,
        sent.bus,
        sent.event_id,
        sent.topic.as_deref().unwrap_or("the alert topic"),
        sent.app,
        sent.branch,
        sent.marker
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(apps: &str, branches: &str) -> StackSettings {
        crate::stack::tests::settings(apps, branches, "")
    }

    #[test]
    fn a_test_is_about_a_watched_app_and_branch_and_each_one_is_new() {
        let s = settings("d1shop,d2blog", "main,release/*");
        let app = choose_app(None, &s).unwrap();
        assert_eq!(app.as_str(), "d1shop");
        let now = Utc::now();
        let e = event(&s, app.clone(), "main".parse().unwrap(), "ana", now).unwrap();
        assert!(
            e.event_id.starts_with("alert-test/d1shop/main/"),
            "{}",
            e.event_id
        );
        let later = event(
            &s,
            app.clone(),
            "main".parse().unwrap(),
            "ana",
            now + chrono::Duration::milliseconds(1),
        )
        .unwrap();
        assert_ne!(e.event_id, later.event_id);
        let err = event(&s, app, "feature/x".parse().unwrap(), "ana", now)
            .unwrap_err()
            .to_string();
        assert!(err.contains("outside the stack's watch scope"), "{err}");
        let everything = settings("*", "*");
        assert!(choose_app(None, &everything).is_err());
        assert!(choose_app(Some("d9any".parse().unwrap()), &everything).is_ok());
    }
}
