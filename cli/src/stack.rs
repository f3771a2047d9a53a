//! A deployed stack's own settings, read from CloudFormation (`--stack`):
//! its outputs (`TableName`, `EventBusName`) and the parameters it was
//! deployed with (`Environment`, `RetentionDays`, `AmplifyAppIds`,
//! `WatchedBranches`). A command that deletes or changes takes them from
//! there rather than from defaults; a flag that says otherwise is refused,
//! never silently preferred.

use std::collections::BTreeMap;
use std::fmt::Display;

use anyhow::{Context, Result, bail};
use sentinel_shared::core::model::{AppId, Environment};

use crate::exit::AwsFailure;

/// What the CLI needs of one stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackSettings {
    pub name: String,
    pub table: String,
    pub bus: String,
    pub environment: Environment,
    pub retention_days: u32,
    pub watched_apps: Vec<AppId>,
    pub watched_branches: String,
    /// `WatchedStacks` (empty, or absent on a stack older than it: none).
    pub watched_stacks: String,
    /// The `DeadLetterQueueUrl` output.
    pub dlq_url: Option<String>,
    /// Every output and parameter, for the commands that check the stack
    /// as a whole (`sentinel doctor`, `sentinel alert test`).
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
}

impl StackSettings {
    /// From DescribeStacks' outputs and parameters (key → value).
    pub fn from_parts(
        name: &str,
        outputs: &BTreeMap<String, String>,
        parameters: &BTreeMap<String, String>,
    ) -> Result<Self> {
        let output = |key: &str| {
            outputs.get(key).cloned().with_context(|| {
                format!("stack {name} has no output {key}: is it a Deploy Sentinel stack?")
            })
        };
        let parameter = |key: &str| {
            parameters.get(key).cloned().with_context(|| {
                format!("stack {name} has no parameter {key}: is it a Deploy Sentinel stack?")
            })
        };
        let environment = parameter("Environment")?
            .parse()
            .map_err(|e| anyhow::anyhow!("stack {name}'s Environment: {e}"))?;
        let retention = parameter("RetentionDays")?;
        let retention_days = retention
            .trim()
            .parse()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .with_context(|| {
                format!("stack {name}'s RetentionDays {retention:?} is not a number of days")
            })?;
        let watched_apps = parameter("AmplifyAppIds")?
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty() && *id != "*")
            .map(|id| {
                id.parse()
                    .map_err(|e| anyhow::anyhow!("stack {name}'s AmplifyAppIds: {e}"))
            })
            .collect::<Result<Vec<AppId>>>()?;
        Ok(Self {
            name: name.to_owned(),
            table: output("TableName")?,
            bus: output("EventBusName")?,
            environment,
            retention_days,
            watched_apps,
            watched_branches: parameter("WatchedBranches")?,
            watched_stacks: parameters.get("WatchedStacks").cloned().unwrap_or_default(),
            dlq_url: outputs.get("DeadLetterQueueUrl").cloned(),
            outputs: outputs.clone(),
            parameters: parameters.clone(),
        })
    }
}

/// Reads `name`'s settings with CloudFormation's DescribeStacks.
pub async fn read(sdk: &aws_config::SdkConfig, name: &str) -> Result<StackSettings> {
    let described = aws_sdk_cloudformation::Client::new(sdk)
        .describe_stacks()
        .stack_name(name)
        .send()
        .await;
    let described = match described {
        Ok(d) => d,
        // CloudFormation answered: no such stack here (a bad setting, not a
        // failure to reach AWS).
        Err(e) if e.as_service_error().and_then(|s| s.meta().code()) == Some("ValidationError") => {
            let why = e
                .as_service_error()
                .and_then(|s| s.meta().message())
                .unwrap_or_default()
                .to_owned();
            bail!(
                "no stack {name} in this account and region ({why}): check --stack and AWS_REGION"
            );
        }
        Err(e) => {
            return Err(AwsFailure::of("CloudFormation", "DescribeStacks")(e))
                .with_context(|| format!("reading stack {name}"));
        }
    };
    let Some(stack) = described.stacks().first() else {
        bail!("no stack {name}");
    };
    let outputs = stack
        .outputs()
        .iter()
        .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
        .collect();
    let parameters = stack
        .parameters()
        .iter()
        .filter_map(|p| {
            let value = p.resolved_value().or(p.parameter_value())?;
            Some((p.parameter_key()?.to_owned(), value.to_owned()))
        })
        .collect();
    StackSettings::from_parts(name, &outputs, &parameters)
}

/// A setting given both by a flag (or its variable) and by the stack: the
/// same value, or a refusal naming both; either one alone stands.
pub fn settle<T: PartialEq + Display>(
    flag: Option<T>,
    from_stack: Option<T>,
    flag_name: &str,
    stack_key: &str,
) -> Result<Option<T>> {
    match (flag, from_stack) {
        (Some(f), Some(s)) if f != s => bail!(
            "{flag_name} is {f} but the stack's {stack_key} is {s}: drop one of them \
             (a command that acts never chooses between two settings)"
        ),
        (Some(f), _) => Ok(Some(f)),
        (None, s) => Ok(s),
    }
}

/// The watch scope a command applies: the flags (or their variables), the
/// stack's, or both when they agree; `None` when neither says.
pub fn watch_scope(
    from_stack: Option<&StackSettings>,
    apps: Vec<AppId>,
    branches: Option<String>,
    stacks: Option<String>,
) -> Result<Option<sentinel_shared::core::scope::Scope>> {
    let stacks = settle(
        stacks,
        from_stack.map(|s| s.watched_stacks.clone()),
        "--stacks (SENTINEL_STACKS)",
        "WatchedStacks",
    )?;
    let apps = if apps.is_empty() { None } else { Some(apps) };
    let joined = |ids: &[AppId]| {
        let mut ids: Vec<String> = ids.iter().map(AppId::to_string).collect();
        ids.sort();
        ids.join(",")
    };
    let apps = settle(
        apps.map(|a| joined(&a)),
        from_stack.map(|s| joined(&s.watched_apps)),
        "--watched (SENTINEL_APP_IDS)",
        "AmplifyAppIds",
    )?;
    let branches = settle(
        branches,
        from_stack.map(|s| s.watched_branches.clone()),
        "--branches (SENTINEL_BRANCHES)",
        "WatchedBranches",
    )?;
    let Some(branches) = branches else {
        return Ok(None);
    };
    let apps = apps
        .unwrap_or_default()
        .split(',')
        .filter(|a| !a.is_empty())
        .map(|a| a.parse().map_err(|e| anyhow::anyhow!("--watched: {e}")))
        .collect::<Result<Vec<AppId>>>()?;
    let scope = sentinel_shared::core::scope::Scope::new(apps, &branches)
        .map_err(|e| anyhow::anyhow!("--branches: {}", e.reason))?;
    scope
        .with_stacks(&stacks.unwrap_or_default())
        .map(Some)
        .map_err(|e| anyhow::anyhow!("--stacks: {}", e.reason))
}

#[cfg(test)]
pub mod tests {
    use sentinel_shared::core::model::BranchName;

    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const OUTPUTS: &[(&str, &str)] = &[
        ("TableName", "deploy-sentinel-prod"),
        ("EventBusName", "sentinel-prod"),
    ];
    const PARAMETERS: &[(&str, &str)] = &[
        ("Environment", "prod"),
        ("RetentionDays", "30"),
        ("AmplifyAppIds", "d1shop,d2blog"),
        ("WatchedBranches", "main,release/*"),
    ];

    /// A prod stack watching `apps`, `branches` and `stacks`: the stack of
    /// every command's tests.
    pub fn settings(apps: &str, branches: &str, stacks: &str) -> StackSettings {
        let mut parameters = map(PARAMETERS);
        parameters.extend(map(&[
            ("AmplifyAppIds", apps),
            ("WatchedBranches", branches),
            ("WatchedStacks", stacks),
        ]));
        StackSettings::from_parts("deploy-sentinel-prod", &map(OUTPUTS), &parameters).unwrap()
    }

    #[test]
    fn a_stack_gives_its_table_bus_retention_and_scope() {
        let s = StackSettings::from_parts("deploy-sentinel-prod", &map(OUTPUTS), &map(PARAMETERS))
            .unwrap();
        assert_eq!(s.table, "deploy-sentinel-prod");
        assert_eq!(s.bus, "sentinel-prod");
        assert_eq!(s.environment, Environment::Prod);
        assert_eq!(s.retention_days, 30);
        assert_eq!(s.watched_apps.len(), 2);
        assert_eq!(s.watched_branches, "main,release/*");
        assert_eq!(
            s.watched_stacks, "",
            "a stack older than WatchedStacks watches none"
        );
        let mut parameters = map(PARAMETERS);
        parameters.insert("WatchedStacks".into(), "shop-*,billing".into());
        let s =
            StackSettings::from_parts("deploy-sentinel-prod", &map(OUTPUTS), &parameters).unwrap();
        assert_eq!(s.watched_stacks, "shop-*,billing");
    }

    #[test]
    fn a_stack_that_is_not_sentinels_or_is_malformed_is_named() {
        let err = StackSettings::from_parts("other", &map(&OUTPUTS[..1]), &map(PARAMETERS))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no output EventBusName"), "{err}");
        let mut bad = map(PARAMETERS);
        bad.insert("RetentionDays".into(), "ninety".into());
        let err = StackSettings::from_parts("s", &map(OUTPUTS), &bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("RetentionDays \"ninety\""), "{err}");
        let mut bad = map(PARAMETERS);
        bad.insert("AmplifyAppIds".into(), "Not An App".into());
        assert!(StackSettings::from_parts("s", &map(OUTPUTS), &bad).is_err());
    }

    #[test]
    fn a_flag_and_the_stack_must_agree() {
        assert_eq!(
            settle(Some(30), Some(30), "--retention-days", "RetentionDays").unwrap(),
            Some(30)
        );
        assert_eq!(
            settle(None, Some(30), "--retention-days", "RetentionDays").unwrap(),
            Some(30)
        );
        assert_eq!(
            settle(Some(7), None, "--retention-days", "RetentionDays").unwrap(),
            Some(7)
        );
        assert_eq!(
            settle::<u32>(None, None, "--retention-days", "RetentionDays").unwrap(),
            None
        );
        let err = settle(Some(7), Some(30), "--retention-days", "RetentionDays")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--retention-days is 7 but the stack's RetentionDays is 30"),
            "{err}"
        );
    }

    #[test]
    fn the_watch_scope_takes_the_stacks_from_the_stack_or_the_flag_never_guessing() {
        let env: BranchName = "prod".parse().unwrap();
        let shop = AppId::stack("shop-api").unwrap();
        let stack = settings("d1shop", "main", "shop-*");
        let scope = watch_scope(Some(&stack), vec![], None, None)
            .unwrap()
            .unwrap();
        assert!(scope.covers(&shop, &env), "{scope}");
        let scope = watch_scope(None, vec![], Some("*".into()), Some("shop-api".into()))
            .unwrap()
            .unwrap();
        assert!(scope.covers(&shop, &env), "{scope}");
        let scope = watch_scope(None, vec![], Some("*".into()), None)
            .unwrap()
            .unwrap();
        assert!(!scope.covers(&shop, &env), "no stack unless named: {scope}");
        let err = watch_scope(Some(&stack), vec![], None, Some("billing".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--stacks (SENTINEL_STACKS) is billing"),
            "{err}"
        );
        let err = watch_scope(None, vec![], Some("*".into()), Some("a b".into()))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("--stacks:"), "{err}");
    }
}
