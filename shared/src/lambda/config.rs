//! Typed configuration, read once at start from the environment. A missing or
//! malformed variable stops the function at once, naming the variable.

use std::fmt;

use crate::core::enforcement::Enforcement;
use crate::core::model::Environment;
use crate::core::scope::Scope;

/// The default CloudWatch namespace (the stack's `MetricsNamespace`).
pub const DEFAULT_NAMESPACE: &str = "DeploySentinel";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable {variable}: {reason}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub reason: String,
}

/// Settings every function of the stack shares.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub environment: Environment,
    /// DynamoDB table name.
    pub table: String,
    /// Name (or ARN) of the stack's own EventBridge bus.
    pub event_bus: String,
    /// Where records that can never succeed are sent (SQS queue URL).
    pub dlq_url: Option<String>,
    /// Days a deployment record is kept before TTL removes it.
    pub retention_days: u32,
    /// Where a branch's site is, when not Amplify's
    /// `https://{displayName}.{defaultDomain}` and the policy names none:
    /// `{appId}`, `{branch}`, `{displayName}` and `{host}` (where users
    /// reach the branch: its custom domain, else Amplify's host) are filled
    /// in.
    pub site_url_template: Option<String>,
    /// The SNS topic alerts go to (the alerter).
    pub alert_topic_arn: Option<String>,
    /// The region, for links to the Amplify console.
    pub region: String,
    /// The stack's `AutoRollback` parameter.
    pub auto_rollback: crate::rollback::AutoRollback,
    /// The CloudWatch namespace of the metrics (the `MetricsNamespace`
    /// parameter; `DeploySentinel` when unset).
    pub metrics_namespace: String,
    /// The per-event metrics' dimension sets (the `EventMetrics`
    /// parameter; the environment only when unset).
    pub event_metrics: crate::metrics::event_metrics::EventMetrics,
    /// The watched apps and branches (the `AmplifyAppIds` and
    /// `WatchedBranches` parameters), applied by every function.
    pub scope: Scope,
    /// The stack's `Enforcement` parameter: whether automatic actions reach
    /// Amplify (`observe` when unset; a policy may override it per branch).
    pub enforcement: Enforcement,
}

impl Config {
    pub const ENVIRONMENT: &'static str = "SENTINEL_ENVIRONMENT";
    pub const TABLE: &'static str = "SENTINEL_TABLE";
    pub const EVENT_BUS: &'static str = "SENTINEL_EVENT_BUS";
    pub const DLQ_URL: &'static str = "SENTINEL_DLQ_URL";
    pub const RETENTION_DAYS: &'static str = "SENTINEL_RETENTION_DAYS";
    pub const SITE_URL_TEMPLATE: &'static str = "SENTINEL_SITE_URL_TEMPLATE";
    pub const ALERT_TOPIC_ARN: &'static str = "SENTINEL_ALERT_TOPIC_ARN";
    pub const AUTO_ROLLBACK: &'static str = "SENTINEL_AUTO_ROLLBACK";
    pub const METRICS_NAMESPACE: &'static str = "SENTINEL_METRICS_NAMESPACE";
    pub const EVENT_METRICS: &'static str = "SENTINEL_EVENT_METRICS";
    pub const APP_IDS: &'static str = "SENTINEL_APP_IDS";
    pub const BRANCHES: &'static str = "SENTINEL_BRANCHES";
    /// The watched CloudFormation stacks (`WatchedStacks`): names or
    /// patterns; empty: none.
    pub const STACKS: &'static str = "SENTINEL_STACKS";
    pub const ENFORCEMENT: &'static str = "SENTINEL_ENFORCEMENT";

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup` so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |variable: &'static str| -> Result<String, ConfigError> {
            match lookup(variable) {
                Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                Some(_) => Err(ConfigError {
                    variable,
                    reason: "is empty".into(),
                }),
                None => Err(ConfigError {
                    variable,
                    reason: "is not set".into(),
                }),
            }
        };
        let environment =
            required(Self::ENVIRONMENT)?
                .parse()
                .map_err(|e: crate::core::model::ParseError| ConfigError {
                    variable: Self::ENVIRONMENT,
                    reason: e.reason,
                })?;
        let retention_days = match lookup(Self::RETENTION_DAYS).filter(|v| !v.trim().is_empty()) {
            None => 90,
            Some(raw) => match raw.trim().parse::<u32>() {
                Ok(days) if (1..=3650).contains(&days) => days,
                _ => {
                    return Err(ConfigError {
                        variable: Self::RETENTION_DAYS,
                        reason: format!("{raw:?} is not a number of days between 1 and 3650"),
                    });
                }
            },
        };
        let raw_auto = lookup(Self::AUTO_ROLLBACK).unwrap_or_default();
        let auto_rollback =
            crate::rollback::AutoRollback::parse(&raw_auto).ok_or_else(|| ConfigError {
                variable: Self::AUTO_ROLLBACK,
                reason: format!("{raw_auto:?} is not auto, on or off"),
            })?;
        let metrics_namespace = match lookup(Self::METRICS_NAMESPACE)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
        {
            None => DEFAULT_NAMESPACE.to_owned(),
            // CloudWatch: 1–255 characters, no leading colon; EMF takes the
            // same.
            Some(ns) if ns.len() <= 255 && !ns.starts_with(':') && ns.is_ascii() => ns,
            Some(ns) => {
                return Err(ConfigError {
                    variable: Self::METRICS_NAMESPACE,
                    reason: format!(
                        "{ns:?} is not a CloudWatch namespace (1 to 255 ASCII characters, not starting with ':')"
                    ),
                });
            }
        };
        let raw_dimensions = lookup(Self::EVENT_METRICS).unwrap_or_default();
        let event_metrics = crate::metrics::event_metrics::EventMetrics::parse(&raw_dimensions)
            .ok_or_else(|| ConfigError {
                variable: Self::EVENT_METRICS,
                reason: format!("{raw_dimensions:?} is not off, environment, app or branch"),
            })?;
        let watched_apps = lookup(Self::APP_IDS)
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty() && *id != "*")
            .map(|id| {
                crate::core::model::AppId::amplify(id).map_err(|e| ConfigError {
                    variable: Self::APP_IDS,
                    reason: format!("{id:?}: {}", e.reason),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let scope = Scope::new(watched_apps, &lookup(Self::BRANCHES).unwrap_or_default())
            .map_err(|e| ConfigError {
                variable: Self::BRANCHES,
                reason: e.reason,
            })?
            .with_stacks(&lookup(Self::STACKS).unwrap_or_default())
            .map_err(|e| ConfigError {
                variable: Self::STACKS,
                reason: e.reason,
            })?;
        let enforcement = match lookup(Self::ENFORCEMENT).filter(|v| !v.trim().is_empty()) {
            None => Enforcement::Observe,
            Some(raw) => raw
                .parse()
                .map_err(|e: crate::core::model::ParseError| ConfigError {
                    variable: Self::ENFORCEMENT,
                    reason: e.reason,
                })?,
        };
        Ok(Self {
            scope,
            enforcement,
            metrics_namespace,
            event_metrics,
            auto_rollback,
            environment,
            table: required(Self::TABLE)?,
            event_bus: required(Self::EVENT_BUS)?,
            dlq_url: lookup(Self::DLQ_URL).filter(|v| !v.trim().is_empty()),
            retention_days,
            site_url_template: lookup(Self::SITE_URL_TEMPLATE).filter(|v| !v.trim().is_empty()),
            alert_topic_arn: lookup(Self::ALERT_TOPIC_ARN).filter(|v| !v.trim().is_empty()),
            region: lookup("AWS_REGION")
                .or_else(|| lookup("AWS_DEFAULT_REGION"))
                .filter(|v| !v.trim().is_empty())
                .unwrap_or_else(|| "us-east-1".into()),
        })
    }
}

/// Logged at start: names and values of settings (none of them secret).
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("table", &self.table)
            .field("event_bus", &self.event_bus)
            .field("dlq_url", &self.dlq_url)
            .field("retention_days", &self.retention_days)
            .field("site_url_template", &self.site_url_template)
            .field("alert_topic_arn", &self.alert_topic_arn)
            .field("metrics_namespace", &self.metrics_namespace)
            .field("event_metrics", &self.event_metrics)
            .field("scope", &self.scope.to_string())
            .field("region", &self.region)
            .field("auto_rollback", &self.auto_rollback)
            .field("enforcement", &self.enforcement)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const FULL: &[(&str, &str)] = &[
        ("SENTINEL_ENVIRONMENT", "staging"),
        ("SENTINEL_TABLE", "t"),
        ("SENTINEL_EVENT_BUS", "sentinel-staging"),
    ];

    #[test]
    fn reads_a_complete_configuration_with_defaults() {
        let c = Config::from_lookup(lookup(FULL)).unwrap();
        assert_eq!(c.environment, Environment::Staging);
        assert_eq!(c.retention_days, 90);
        assert_eq!(c.dlq_url, None);
    }

    #[test]
    fn a_missing_variable_is_named() {
        let err = Config::from_lookup(lookup(&FULL[..2])).unwrap_err();
        assert_eq!(err.variable, "SENTINEL_EVENT_BUS");
        assert!(err.to_string().contains("is not set"));
    }

    #[test]
    fn a_malformed_auto_rollback_is_named() {
        let mut pairs = FULL.to_vec();
        pairs.push(("SENTINEL_AUTO_ROLLBACK", "sometimes"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.variable, "SENTINEL_AUTO_ROLLBACK");
        pairs.pop();
        pairs.push(("SENTINEL_AUTO_ROLLBACK", "off"));
        let c = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(c.auto_rollback, crate::rollback::AutoRollback::Off);
    }

    #[test]
    fn the_watch_scope_is_checked() {
        let mut pairs = FULL.to_vec();
        pairs.push(("SENTINEL_APP_IDS", "d1abc, d2def"));
        pairs.push(("SENTINEL_BRANCHES", "main,release/*"));
        let c = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(c.scope.apps().len(), 2);
        assert!(
            c.scope
                .covers(&"d2def".parse().unwrap(), &"release/2".parse().unwrap())
        );
        assert!(
            !c.scope
                .covers(&"d2def".parse().unwrap(), &"develop".parse().unwrap())
        );
        pairs.pop();
        pairs.push(("SENTINEL_BRANCHES", "main,!"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.variable, "SENTINEL_BRANCHES");
        pairs.pop();
        pairs.pop();
        pairs.push(("SENTINEL_APP_IDS", "d1abc,Not An App"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.variable, "SENTINEL_APP_IDS");
        assert!(err.reason.contains("Not An App"), "{err}");
    }

    #[test]
    fn enforcement_is_observe_unless_the_stack_chose_enforce() {
        let c = Config::from_lookup(lookup(FULL)).unwrap();
        assert_eq!(c.enforcement, Enforcement::Observe);
        let mut pairs = FULL.to_vec();
        pairs.push(("SENTINEL_ENFORCEMENT", "enforce"));
        let c = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(c.enforcement, Enforcement::Enforce);
        pairs.pop();
        pairs.push(("SENTINEL_ENFORCEMENT", "yes"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.variable, "SENTINEL_ENFORCEMENT");
        assert!(err.reason.contains("observe, enforce"), "{err}");
    }

    #[test]
    fn the_metrics_namespace_defaults_and_is_checked() {
        let c = Config::from_lookup(lookup(FULL)).unwrap();
        assert_eq!(c.metrics_namespace, "DeploySentinel");
        let mut pairs = FULL.to_vec();
        pairs.push(("SENTINEL_METRICS_NAMESPACE", ":Bad"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.variable, "SENTINEL_METRICS_NAMESPACE");
        pairs.pop();
        pairs.push(("SENTINEL_METRICS_NAMESPACE", "Team/Site"));
        let c = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(c.metrics_namespace, "Team/Site");
    }

    #[test]
    fn event_metrics_are_off_unless_asked() {
        use crate::metrics::event_metrics::EventMetrics;
        let c = Config::from_lookup(lookup(FULL)).unwrap();
        assert_eq!(c.event_metrics, EventMetrics::Off);
        let mut pairs = FULL.to_vec();
        pairs.push(("SENTINEL_EVENT_METRICS", "branch"));
        let c = Config::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(c.event_metrics, EventMetrics::Branch);
        pairs.pop();
        pairs.push(("SENTINEL_EVENT_METRICS", "per-branch"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.variable, "SENTINEL_EVENT_METRICS");
        assert!(err.reason.contains("per-branch"), "{err}");
    }

    #[test]
    fn a_malformed_variable_is_named_with_the_reason() {
        let mut pairs = FULL.to_vec();
        pairs[0] = ("SENTINEL_ENVIRONMENT", "production");
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.variable, "SENTINEL_ENVIRONMENT");
        assert!(err.reason.contains("dev, staging, prod"), "{err}");

        pairs[0] = ("SENTINEL_ENVIRONMENT", "dev");
        pairs.push(("SENTINEL_RETENTION_DAYS", "ninety"));
        let err = Config::from_lookup(lookup(&pairs)).unwrap_err();
        assert_eq!(err.variable, "SENTINEL_RETENTION_DAYS");
    }
}
