//! [`HostingMetrics`] over CloudWatch: Amplify Hosting's metrics with
//! GetMetricData (every metric of a window in one call) and the team's
//! alarms with DescribeAlarms.
//!
//! Amplify documents `5xxErrors` and `4xxErrors`; other sources spell them
//! `5XXErrors`. Both spellings are asked in the same call (a metric with no
//! data costs nothing but its query) and whichever has data is used.
//! `Latency` is the time to first byte, in seconds.

use aws_sdk_cloudwatch::Client;
use aws_sdk_cloudwatch::primitives::DateTime as SdkTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, StateValue};
use chrono::{DateTime, Utc};

use super::sdk::{Failure, classify};
use crate::core::bake::{Alarm, AlarmState, Figures};
use crate::core::error::MetricsError;
use crate::core::model::AppId;
use crate::ports::HostingMetrics;

pub const NAMESPACE: &str = "AWS/AmplifyHosting";

/// The queries of one window: (id, metric, statistic).
pub const QUERIES: &[(&str, &str, &str)] = &[
    ("requests", "Requests", "Sum"),
    ("samples", "Requests", "SampleCount"),
    ("e5", "5xxErrors", "Sum"),
    ("e5upper", "5XXErrors", "Sum"),
    ("e4", "4xxErrors", "Sum"),
    ("e4upper", "4XXErrors", "Sum"),
    ("p90", "Latency", "p90"),
];

pub struct CloudWatchMetrics {
    client: Client,
}

impl CloudWatchMetrics {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

fn failure<E, R>(e: &aws_sdk_cloudwatch::error::SdkError<E, R>) -> MetricsError
where
    E: aws_sdk_cloudwatch::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + super::sdk::HasStatus,
{
    match classify(e) {
        Failure::Transient(t) => MetricsError::Unavailable(t),
        Failure::Rejected(t) | Failure::NotFound(t) => MetricsError::Rejected(t),
        Failure::ConditionFailed => MetricsError::Rejected("condition failed".into()),
    }
}

impl HostingMetrics for CloudWatchMetrics {
    async fn hosting_figures(
        &self,
        app_id: &AppId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Figures, MetricsError> {
        // One period covering the window: one value per query.
        let period = ((to - from).num_seconds().max(60) / 60 * 60) as i32;
        let dimension = Dimension::builder()
            .name("App")
            .value(app_id.as_str())
            .build();
        let queries = QUERIES.iter().map(|(id, name, stat)| {
            MetricDataQuery::builder()
                .id(*id)
                .metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(NAMESPACE)
                                .metric_name(*name)
                                .dimensions(dimension.clone())
                                .build(),
                        )
                        .period(period)
                        .stat(*stat)
                        .build(),
                )
                .return_data(true)
                .build()
        });
        let out = self
            .client
            .get_metric_data()
            .set_metric_data_queries(Some(queries.collect()))
            .start_time(SdkTime::from_secs(from.timestamp()))
            .end_time(SdkTime::from_secs(to.timestamp()))
            .send()
            .await
            .map_err(|e| failure(&e))?;
        let results: Vec<(&str, &[f64])> = out
            .metric_data_results()
            .iter()
            .filter_map(|r| Some((r.id()?, r.values())))
            .collect();
        Ok(figures_of(&results))
    }

    async fn alarm_states(&self, names: &[String]) -> Result<Vec<Alarm>, MetricsError> {
        let out = self
            .client
            .describe_alarms()
            .set_alarm_names(Some(names.to_vec()))
            .send()
            .await
            .map_err(|e| failure(&e))?;
        let to_utc = |t: &SdkTime| DateTime::from_timestamp(t.secs(), t.subsec_nanos());
        let alarm = |name: &str| {
            let Some(found) = out
                .metric_alarms()
                .iter()
                .find(|a| a.alarm_name() == Some(name))
            else {
                return Alarm::new(name, AlarmState::Missing, None);
            };
            let state = found
                .state_value()
                .map_or(AlarmState::Missing, |s| match s {
                    StateValue::Alarm => AlarmState::Alarm,
                    StateValue::Ok => AlarmState::Ok,
                    _ => AlarmState::InsufficientData,
                });
            // The transition is what a bake judges; the update time (which
            // also moves on a change of evaluation state) only where
            // CloudWatch gives no transition time.
            let since = found
                .state_transitioned_timestamp()
                .or(found.state_updated_timestamp())
                .and_then(to_utc);
            Alarm::new(name, state, since)
        };
        Ok(names.iter().map(|n| alarm(n)).collect())
    }
}

/// The figures of one window from GetMetricData's results (id, values).
/// A window not aligned to the period comes back in two buckets: counts
/// are summed, but a p90 is not additive, so the worse bucket's is taken.
pub fn figures_of(results: &[(&str, &[f64])]) -> Figures {
    let values = |id: &str| -> Vec<f64> {
        results
            .iter()
            .filter(|(i, _)| *i == id)
            .flat_map(|(_, v)| v.iter().copied())
            .collect()
    };
    let sum = |id: &str| -> Option<f64> {
        let v = values(id);
        (!v.is_empty()).then(|| v.iter().sum())
    };
    let count = |v: Option<f64>| v.map_or(0, |v| v.max(0.0).round() as u64);
    let either = |a: &str, b: &str| sum(a).or_else(|| sum(b));
    let e5 = either("e5", "e5upper");
    let p90 = values("p90")
        .into_iter()
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    Figures {
        requests: count(sum("requests")),
        errors_5xx: count(e5),
        errors_5xx_missing: e5.is_none(),
        errors_4xx: count(either("e4", "e4upper")),
        p90_latency_ms: p90.map(|s| (s * 1000.0).round().max(0.0) as u64),
        datapoints: count(sum("samples")).min(u64::from(u32::MAX)) as u32,
    }
}
