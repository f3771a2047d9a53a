//! The bake against moto's CloudWatch: the adapter reads what the Amplify
//! emulator's sites published (one GetMetricData per window), the team's
//! alarms, and the reason `aws-sdk-cloudwatch` is pinned.

use chrono::{TimeZone, Utc};
use sentinel_shared::adapters::cloudwatch::{CloudWatchMetrics, NAMESPACE};
use sentinel_shared::core::bake::AlarmState;
use sentinel_shared::ports::HostingMetrics;

use crate::helpers::*;

fn cloudwatch(stack: &Stack) -> aws_sdk_cloudwatch::Client {
    aws_sdk_cloudwatch::Client::new(&stack.sdk)
}

/// `aws-sdk-cloudwatch` is pinned to 1.99 (Cargo.toml): 1.100 and later
/// speak Smithy RPC v2 CBOR, which moto's server does not parse. This sends
/// the CBOR request 1.100+ would send (ListMetrics with an empty input) and
/// fails the day moto answers it: then the pin can be lifted.
#[tokio::test]
async fn cloudwatch_pin_still_needed() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_CLOUDWATCH")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
        .unwrap_or_else(|_| env("AWS_ENDPOINT_URL"));
    let url = format!(
        "{}/service/GraniteServiceVersion20100801/operation/ListMetrics",
        endpoint.trim_end_matches('/')
    );
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/cbor")
        .header("accept", "application/cbor")
        .header("smithy-protocol", "rpc-v2-cbor")
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261127/us-east-1/monitoring/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(vec![0xa0u8]) // CBOR: an empty map
        .send()
        .await
        .expect("moto answers");
    let status = resp.status();
    let cbor = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("cbor"));
    assert!(
        !(status.is_success() && cbor),
        "moto now answers CloudWatch's CBOR protocol ({status}): lift the aws-sdk-cloudwatch pin in Cargo.toml"
    );
}

/// A minute two minutes ago, whole.
fn last_minutes(n: i64) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let now = Utc::now().timestamp() / 60 * 60;
    let to = Utc.timestamp_opt(now, 0).unwrap();
    (to - chrono::Duration::minutes(n), to)
}

#[tokio::test]
async fn a_window_reads_every_amplify_metric_of_the_app_in_one_call() {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
    let stack = Stack::new().await;
    let cw = cloudwatch(&stack);
    let app = unique_app_id();
    let (from, to) = last_minutes(5);
    let datum = |name: &str, minute: i64, value: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(Dimension::builder().name("App").value(app.as_str()).build())
            .timestamp(DateTime::from_secs(from.timestamp() + minute * 60 + 5))
            .value(value)
            .unit(StandardUnit::Count)
            .build()
    };
    let mut data = Vec::new();
    for minute in 0..5 {
        data.push(datum("Requests", minute, 100.0));
        data.push(datum("5xxErrors", minute, 20.0));
        data.push(datum("4xxErrors", minute, 1.0));
    }
    // Another app's traffic, and a minute outside the window, are not read.
    let other = MetricDatum::builder()
        .metric_name("Requests")
        .dimensions(Dimension::builder().name("App").value("dother").build())
        .timestamp(DateTime::from_secs(from.timestamp() + 30))
        .value(1_000.0)
        .build();
    let before = datum("Requests", -1, 7_000.0);
    cw.put_metric_data()
        .namespace(NAMESPACE)
        .set_metric_data(Some([data, vec![other, before]].concat()))
        .send()
        .await
        .expect("PutMetricData");
    let figures = CloudWatchMetrics::new(cw.clone())
        .window(&app, from, to)
        .await
        .expect("GetMetricData");
    assert_eq!(figures.requests, 500, "{figures:?}");
    assert_eq!(figures.errors_5xx, 100);
    assert_eq!(figures.errors_4xx, 5);
    assert_eq!(figures.datapoints, 5);
    assert_eq!(figures.error_rate(), Some(0.2));
}

#[tokio::test]
async fn a_quiet_app_reads_as_no_datapoints() {
    let stack = Stack::new().await;
    let (from, to) = last_minutes(5);
    let figures = CloudWatchMetrics::new(cloudwatch(&stack))
        .window(&unique_app_id(), from, to)
        .await
        .expect("GetMetricData");
    assert_eq!((figures.requests, figures.datapoints), (0, 0));
}

#[tokio::test]
async fn the_teams_alarms_are_read_by_name_and_a_missing_one_says_so() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, StateValue, Statistic};
    let stack = Stack::new().await;
    let cw = cloudwatch(&stack);
    let prefix = unique_app_id();
    let (firing, quiet) = (
        format!("{prefix}-checkout-errors"),
        format!("{prefix}-canary"),
    );
    for name in [&firing, &quiet] {
        cw.put_metric_alarm()
            .alarm_name(name)
            .namespace("Team/Checkout")
            .metric_name("Errors")
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("PutMetricAlarm");
    }
    cw.set_alarm_state()
        .alarm_name(&firing)
        .state_value(StateValue::Alarm)
        .state_reason("test")
        .send()
        .await
        .expect("SetAlarmState");
    let names = vec![firing.clone(), quiet.clone(), format!("{prefix}-nope")];
    let states = CloudWatchMetrics::new(cw)
        .alarm_states(&names)
        .await
        .expect("DescribeAlarms");
    assert_eq!(states[0], (firing, AlarmState::Alarm));
    assert_eq!(states[1], (quiet, AlarmState::InsufficientData));
    assert_eq!(states[2].1, AlarmState::Missing);
}

/// The emulator's sites count what they serve and publish it as Amplify
/// Hosting does: a share of checkout requests failing shows in the app's
/// 5xx rate while the probe path stays green.
#[tokio::test]
async fn the_emulators_sites_publish_their_traffic_to_cloudwatch() {
    let stack = Stack::new().await;
    let app = unique_app_id();
    let base = &stack.amplify_url;
    let http = &stack.http;
    stack
        .create_app(&app, "main", "c0ffee0c0ffee0")
        .await
        .expect("app");
    stack
        .control(
            &format!("/apps/{app}/branches/main/site"),
            serde_json::json!({"commitId": "c0ffee0c0ffee0", "failPaths": {"/checkout": 0.2}}),
        )
        .await
        .expect("site");
    let (mut failed, mut health_failed) = (0, 0);
    for _ in 0..50 {
        let r = http
            .get(format!("{base}/_sites/{app}/main/checkout"))
            .send()
            .await
            .unwrap();
        failed += usize::from(r.status().as_u16() == 500);
        let h = http
            .get(format!("{base}/_sites/{app}/main/api/health"))
            .send()
            .await
            .unwrap();
        health_failed += usize::from(!h.status().is_success());
    }
    assert_eq!((failed, health_failed), (10, 0));
    let flushed = stack
        .control("/metrics/flush", serde_json::json!({}))
        .await
        .expect("flush");
    assert!(flushed["published"].as_u64().unwrap() >= 1, "{flushed}");
    let now = Utc::now().timestamp() / 60 * 60;
    let (from, to) = (
        Utc.timestamp_opt(now - 120, 0).unwrap(),
        Utc.timestamp_opt(now + 60, 0).unwrap(),
    );
    let figures = CloudWatchMetrics::new(cloudwatch(&stack))
        .window(&app, from, to)
        .await
        .expect("GetMetricData");
    assert_eq!(figures.requests, 100, "{figures:?}");
    assert_eq!(figures.errors_5xx, 10);
}
