//! The stack's own pieces: the table and its index, the bus, both
//! archives, and the mode in force (the watch scope, the enforcement).

use super::check::{Check, Status, check, not_found, redeploy, why};
use super::seen::{ArchiveSeen, Seen, TableSeen};
use crate::stack::StackSettings;

/// The table's index (template.yaml) the metrics' window reads use.
pub const INDEX: &str = "by-environment-time";
pub const TTL_ATTRIBUTE: &str = "expires_at";

// ----- the checks -----

/// The table, its index and TTL.
pub fn table(seen: &Seen) -> Check {
    let redeploy = redeploy(seen);
    let name = format!("table {}", seen.table_name);
    match &seen.table {
        None => check("table", &name, Status::Unchecked, "not read"),
        Some(Err(e)) => check("table", &name, Status::Fail, e.clone()).fix(if not_found(e) {
            format!(
                "the table is missing: {redeploy} (or, if a deleted stack left it, AdoptTable=true: docs/deployment.md)"
            )
        } else {
            "the caller needs dynamodb:DescribeTable on it".into()
        }),
        Some(Ok(t)) => {
            let index = t.indexes.get(INDEX);
            let ttl_on = t
                .ttl
                .as_ref()
                .is_some_and(|(a, s)| a == TTL_ATTRIBUTE && s == "ENABLED");
            let detail = format!(
                "{}; index {INDEX}: {}; TTL on {TTL_ATTRIBUTE}: {}",
                t.status,
                index.map_or("missing", String::as_str),
                t.ttl
                    .as_ref()
                    .map_or("off".to_owned(), |(a, s)| format!("{s} ({a})"))
            );
            if t.status != "ACTIVE" || index.is_none_or(|s| s != "ACTIVE") || !ttl_on {
                let fix = if index.is_none() || !ttl_on {
                    format!(
                        "{redeploy}; a table adopted from elsewhere needs the index {INDEX} and TTL on {TTL_ATTRIBUTE} (template.yaml)"
                    )
                } else {
                    "wait for the table and its index to become ACTIVE, then run the doctor again"
                        .into()
                };
                check("table", &name, Status::Fail, detail).fix(fix)
            } else {
                check("table", &name, Status::Pass, detail)
            }
        }
    }
}

/// The stack's event bus.
pub fn bus(seen: &Seen) -> Check {
    let name = format!("event bus {}", seen.bus_name);
    match &seen.bus {
        None => check("bus", &name, Status::Unchecked, "not read"),
        Some(Ok(())) => check("bus", &name, Status::Pass, "exists"),
        Some(Err(e)) => check("bus", &name, Status::Fail, e.clone()).fix(redeploy(seen)),
    }
}

/// Each archive: ENABLED, or nothing is kept to replay.
pub fn archives(seen: &Seen) -> Vec<Check> {
    seen.archives.iter().map(|a| archive(seen, a)).collect()
}

fn archive(seen: &Seen, a: &ArchiveSeen) -> Check {
    let redeploy = redeploy(seen);
    let name = format!("archive {}", a.name);
    match &a.state {
        Ok(s) if s == "ENABLED" => check("archive", &name, Status::Pass, "ENABLED"),
        Ok(s) => check("archive", &name, Status::Fail, s.clone()).fix(format!(
            "an archive that is not ENABLED keeps nothing to replay: {redeploy}"
        )),
        Err(e) => check("archive", &name, Status::Fail, e.clone()).fix(redeploy),
    }
}

/// The watch scope in force (information: always ✓, unless unreadable).
pub fn watch_scope(seen: &Seen) -> Check {
    let p = |k: &str| seen.settings.get(k).cloned();
    match (p("AmplifyAppIds"), p("WatchedBranches")) {
        (Some(apps), Some(branches)) => check(
            "mode",
            "watch scope",
            Status::Pass,
            format!("apps {apps}; branches {branches}"),
        ),
        _ => check(
            "mode",
            "watch scope",
            Status::Fail,
            "the stack has no AmplifyAppIds or WatchedBranches parameter",
        )
        .fix(redeploy(seen)),
    }
}

/// Observe or enforce, and automatic rollback (information: always ✓).
pub fn enforcement(seen: &Seen) -> Check {
    let p = |k: &str| seen.settings.get(k).cloned();
    let enforcement = p("Enforcement").unwrap_or_else(|| "observe".into());
    let meaning = if enforcement == "enforce" {
        "builds are stopped, deploys rolled back and transient failures retried as policies allow"
    } else {
        "nothing acts on Amplify: what would have been done is alerted as \"would have\" (docs/rollout.md)"
    };
    check(
        "mode",
        "enforcement",
        Status::Pass,
        format!(
            "{enforcement}: {meaning}; automatic rollback {} (a policy may override both per app or branch)",
            p("AutoRollback").unwrap_or_else(|| "auto".into())
        ),
    )
}

// ----- reading them -----

/// The table's status and indexes, and its TTL.
pub async fn read_table(sdk: &aws_config::SdkConfig, table: &str) -> Result<TableSeen, String> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    match ddb.describe_table().table_name(table).send().await {
        Err(e) => Err(why(e)),
        Ok(out) => {
            let t = out.table();
            let mut seen_table = TableSeen {
                status: t
                    .and_then(|t| t.table_status())
                    .map_or("unknown".into(), |s| s.as_str().to_owned()),
                indexes: t
                    .map(|t| t.global_secondary_indexes())
                    .unwrap_or_default()
                    .iter()
                    .map(|i| {
                        (
                            i.index_name().unwrap_or_default().to_owned(),
                            i.index_status()
                                .map_or("unknown".into(), |s| s.as_str().to_owned()),
                        )
                    })
                    .collect(),
                ttl: None,
            };
            if let Ok(ttl) = ddb.describe_time_to_live().table_name(table).send().await {
                seen_table.ttl = ttl.time_to_live_description().map(|d| {
                    (
                        d.attribute_name().unwrap_or_default().to_owned(),
                        d.time_to_live_status()
                            .map_or("unknown".into(), |s| s.as_str().to_owned()),
                    )
                });
            }
            Ok(seen_table)
        }
    }
}

pub async fn read_bus(events: &aws_sdk_eventbridge::Client, bus: &str) -> Result<(), String> {
    events
        .describe_event_bus()
        .name(bus)
        .send()
        .await
        .map(|_| ())
        .map_err(why)
}

/// Both archives the stack's outputs name.
pub async fn read_archives(
    events: &aws_sdk_eventbridge::Client,
    settings: &StackSettings,
) -> Vec<ArchiveSeen> {
    let mut archives = Vec::new();
    for key in ["AmplifyEventsArchiveArn", "DomainEventsArchiveArn"] {
        let Some(arn) = settings.outputs.get(key) else {
            archives.push(ArchiveSeen {
                name: key.trim_end_matches("Arn").to_owned(),
                state: Err(format!("the stack has no {key} output")),
            });
            continue;
        };
        let name = arn.rsplit('/').next().unwrap_or(arn).to_owned();
        let state = events
            .describe_archive()
            .archive_name(&name)
            .send()
            .await
            .map(|a| {
                a.state()
                    .map_or("unknown".into(), |s| s.as_str().to_owned())
            })
            .map_err(why);
        archives.push(ArchiveSeen { name, state });
    }
    archives
}
