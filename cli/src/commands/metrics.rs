//! `sentinel metrics`: the environment's delivery figures over a window,
//! computed from the table as the metrics collector does.

use std::process::ExitCode;

use anyhow::{Context, Result};
use sentinel_shared::core::model::{AppId, BranchName, Source};

use crate::commands::Ctx;
use crate::{render, term};

#[derive(clap::Args)]
pub struct Args {
    /// 1d, 7d or 30d.
    #[arg(long, default_value = "7d", value_parser = parse_window)]
    window: u32,
    /// The end of the window (RFC 3339); default now.
    #[arg(long)]
    at: Option<chrono::DateTime<chrono::Utc>>,
    /// Only this app's deployments.
    #[arg(long)]
    app: Option<AppId>,
    /// Only this branch's deployments (of every app, or of --app);
    /// `previews` stands for the pull-request previews (`pr-N`).
    #[arg(long)]
    branch: Option<BranchName>,
    /// Only deployments of this source: amplify, cloudformation or
    /// report (a reported service's branch is its environment).
    #[arg(long)]
    source: Option<Source>,
    /// The figures as JSON (the collector's snapshot shape, with `app`
    /// and `branch` when given).
    #[arg(long)]
    json: bool,
}

fn parse_window(raw: &str) -> Result<u32, String> {
    let days = raw.strip_suffix('d').and_then(|d| d.parse::<u32>().ok());
    match days {
        Some(d) if sentinel_shared::metrics::dora::WINDOWS.contains(&d) => Ok(d),
        _ => Err(format!("{raw:?} is not a window: 1d, 7d or 30d")),
    }
}

pub async fn run(args: Args, ctx: &Ctx) -> Result<ExitCode> {
    use sentinel_shared::metrics::reaction::branch_dimension;
    use sentinel_shared::ports::MetricsStore;
    let Args {
        window,
        at,
        app,
        branch,
        source,
        json,
    } = args;
    let environment = ctx.environment()?;
    let (from, to) =
        sentinel_shared::metrics::dora::window(at.unwrap_or_else(chrono::Utc::now), window);
    let progress = term::Progress::start("reading the window's deployments");
    let read = ctx
        .store()
        .await?
        .deployments_between(environment, from, to)
        .await
        .context("reading the window")?;
    drop(progress);
    // The same read; the figures of the matching deployments (each
    // key's incidents and recoveries are per branch anyway).
    let matching: Vec<_> = read
        .deployments
        .into_iter()
        .filter(|d| app.as_ref().is_none_or(|a| d.key.app_id == *a))
        .filter(|d| source.is_none_or(|s| d.key.app_id.source() == s))
        .filter(|d| {
            branch.as_ref().is_none_or(|b| {
                d.key.branch_name == *b || branch_dimension(&d.key.branch_name) == b.as_str()
            })
        })
        .collect();
    let figures = sentinel_shared::metrics::dora::compute(environment, from, to, &matching);
    // Every source present, side by side (one source: nothing to add).
    let by_source: Vec<_> = Source::ALL
        .into_iter()
        .map(|s| {
            let of: Vec<_> = matching
                .iter()
                .filter(|d| d.key.app_id.source() == s)
                .cloned()
                .collect();
            (s, of)
        })
        .filter(|(_, of)| !of.is_empty())
        .map(|(s, of)| {
            (
                s,
                sentinel_shared::metrics::dora::compute(environment, from, to, &of),
            )
        })
        .collect();
    let scope = match (&app, &branch) {
        (None, None) => None,
        (Some(a), None) => Some(format!("app {a}")),
        (None, Some(b)) => Some(format!("branch {b} of every app")),
        (Some(a), Some(b)) => Some(format!("{a}/{b}")),
    };
    let scope = match (scope, source) {
        (scope, None) => scope,
        (None, Some(s)) => Some(format!("source {s}")),
        (Some(scope), Some(s)) => Some(format!("{scope}, source {s}")),
    };
    if json {
        let mut v = serde_json::to_value(&figures)?;
        if let Some(a) = &app {
            v["app"] = serde_json::json!(a.as_str());
        }
        if let Some(b) = &branch {
            v["branch"] = serde_json::json!(b.as_str());
        }
        if let Some(s) = source {
            v["source"] = serde_json::json!(s.as_str());
        }
        v["bySource"] = by_source
            .iter()
            .map(|(s, f)| Ok((s.as_str().to_owned(), serde_json::to_value(f)?)))
            .collect::<Result<serde_json::Map<_, _>>>()?
            .into();
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!(
            "{}",
            render::metrics(&figures, read.items_read, scope.as_deref())
        );
        print!("{}", render::metrics_by_source(&by_source));
    }
    Ok(ExitCode::SUCCESS)
}
