//! CloudWatch Embedded Metric Format: one JSON line per event on standard
//! output, which CloudWatch Logs turns into metrics — no PutMetricData call,
//! no CloudWatch API (and no SDK whose newest protocol moto lacks).
//!
//! The shape, from the specification
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>):
//! a root object with `_aws: {Timestamp, CloudWatchMetrics: [{Namespace,
//! Dimensions: [[name…]…], Metrics: [{Name, Unit}]}]}`, and a root member
//! per dimension (a string) and per metric (a number). At most 100 metrics
//! per directive, 30 dimensions per set; units from CloudWatch's list.
//! [`validate`] checks a line against exactly that.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

/// CloudWatch's units that the stack uses (all are valid EMF units).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Seconds,
    Milliseconds,
    Count,
    Percent,
    CountPerDay,
    None,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Seconds => "Seconds",
            Self::Milliseconds => "Milliseconds",
            Self::Count => "Count",
            Self::Percent => "Percent",
            // EMF has no per-day unit; the metric's name says it.
            Self::CountPerDay | Self::None => "None",
        }
    }
}

const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// One EMF line: `dimension_sets` name sets of `dimensions`' keys.
pub fn line(
    namespace: &str,
    dimensions: &[(&str, &str)],
    dimension_sets: &[&[&str]],
    metrics: &[(&str, f64, Unit)],
    properties: &[(&str, Value)],
    at: DateTime<Utc>,
) -> String {
    let mut root = Map::new();
    for (name, value) in dimensions {
        root.insert((*name).to_owned(), json!(value));
    }
    for (name, value) in properties {
        root.insert((*name).to_owned(), value.clone());
    }
    let mut definitions = Vec::new();
    for (name, value, unit) in metrics {
        if value.is_finite() {
            root.insert((*name).to_owned(), json!(value));
            definitions.push(json!({"Name": name, "Unit": unit.as_str()}));
        }
    }
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": dimension_sets,
                "Metrics": definitions,
            }]
        }),
    );
    Value::Object(root).to_string()
}

/// The same members as [`line`] without the `_aws` directive: a structured
/// log line that CloudWatch Logs Insights reads, and that makes no metric
/// (so costs nothing beyond its bytes).
pub fn record(
    dimensions: &[(&str, &str)],
    values: &[(&str, f64)],
    properties: &[(&str, Value)],
) -> String {
    let mut root = Map::new();
    for (name, value) in dimensions {
        root.insert((*name).to_owned(), json!(value));
    }
    for (name, value) in properties {
        root.insert((*name).to_owned(), value.clone());
    }
    for (name, value) in values {
        if value.is_finite() {
            root.insert((*name).to_owned(), json!(value));
        }
    }
    Value::Object(root).to_string()
}

/// Checks a line against the specification's structure; the reason names
/// what is wrong.
pub fn validate(line: &str) -> Result<(), String> {
    let root: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let aws = root.get("_aws").ok_or("no _aws member")?;
    aws.get("Timestamp")
        .and_then(Value::as_i64)
        .filter(|t| *t > 0)
        .ok_or("_aws.Timestamp is not a positive integer (epoch milliseconds)")?;
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is not an array")?;
    if directives.is_empty() {
        return Err("_aws.CloudWatchMetrics is empty".into());
    }
    for d in directives {
        let ns = d
            .get("Namespace")
            .and_then(Value::as_str)
            .ok_or("a directive without Namespace")?;
        if ns.is_empty() || ns.len() > 255 {
            return Err(format!("Namespace {ns:?} is empty or too long"));
        }
        let sets = d
            .get("Dimensions")
            .and_then(Value::as_array)
            .ok_or("Dimensions is not an array")?;
        for set in sets {
            let names = set.as_array().ok_or("a dimension set is not an array")?;
            if names.len() > 30 {
                return Err("a dimension set has more than 30 dimensions".into());
            }
            for name in names {
                let name = name.as_str().ok_or("a dimension name is not a string")?;
                if !root.get(name).is_some_and(Value::is_string) {
                    return Err(format!("dimension {name} has no string value at the root"));
                }
            }
        }
        let metrics = d
            .get("Metrics")
            .and_then(Value::as_array)
            .ok_or("Metrics is not an array")?;
        if metrics.len() > 100 {
            return Err("more than 100 metrics in a directive".into());
        }
        for m in metrics {
            let name = m
                .get("Name")
                .and_then(Value::as_str)
                .ok_or("a metric without Name")?;
            if !root.get(name).is_some_and(Value::is_number) {
                return Err(format!("metric {name} has no numeric value at the root"));
            }
            if let Some(unit) = m.get("Unit") {
                let unit = unit.as_str().ok_or("a Unit is not a string")?;
                if !UNITS.contains(&unit) {
                    return Err(format!("unit {unit} is not a CloudWatch unit"));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_specification() {
        let at = chrono::Utc::now();
        let l = line(
            "DeploySentinel",
            &[
                ("Environment", "prod"),
                ("App", "d1abc"),
                ("Branch", "main"),
            ],
            &[&["Environment"], &["Environment", "App", "Branch"]],
            &[
                ("BuildDuration", 212.0, Unit::Seconds),
                ("BuildsFailed", 1.0, Unit::Count),
                ("Skipped", f64::NAN, Unit::Count),
            ],
            &[("jobId", json!("42"))],
            at,
        );
        validate(&l).unwrap();
        let v: Value = serde_json::from_str(&l).unwrap();
        assert_eq!(v["BuildDuration"], 212.0);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .len(),
            2,
            "NaN left out"
        );
    }

    #[test]
    fn malformed_lines_are_named() {
        for (bad, why) in [
            (r#"{"x":1}"#, "no _aws"),
            (
                r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[["Env"]],"Metrics":[]}]}}"#,
                "dimension Env",
            ),
            (
                r#"{"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"m","Unit":"Seconds"}]}]}}"#,
                "metric m",
            ),
            (
                r#"{"m":1,"_aws":{"Timestamp":1,"CloudWatchMetrics":[{"Namespace":"n","Dimensions":[],"Metrics":[{"Name":"m","Unit":"Days"}]}]}}"#,
                "unit Days",
            ),
        ] {
            let err = validate(bad).unwrap_err();
            assert!(err.contains(why), "{err} should name {why}");
        }
    }
}
