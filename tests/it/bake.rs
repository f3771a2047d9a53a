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
        .hosting_figures(&app, from, to)
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
        .hosting_figures(&unique_app_id(), from, to)
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
    for (name, state) in [
        (&firing, StateValue::Alarm),
        (&quiet, StateValue::InsufficientData),
    ] {
        cw.set_alarm_state()
            .alarm_name(name)
            .state_value(state)
            .state_reason("test")
            .send()
            .await
            .expect("SetAlarmState");
    }
    let names = vec![firing.clone(), quiet.clone(), format!("{prefix}-nope")];
    let states = CloudWatchMetrics::new(cw)
        .alarm_states(&names)
        .await
        .expect("DescribeAlarms");
    assert_eq!(
        (states[0].name.as_str(), states[0].state),
        (firing.as_str(), AlarmState::Alarm)
    );
    assert!(
        states[0].since.is_some(),
        "when it entered its state: what a bake compares with the deploy"
    );
    assert_eq!(
        (states[1].name.as_str(), states[1].state),
        (quiet.as_str(), AlarmState::InsufficientData)
    );
    assert_eq!(states[2].state, AlarmState::Missing);
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
        .hosting_figures(&app, from, to)
        .await
        .expect("GetMetricData");
    assert_eq!(figures.requests, 100, "{figures:?}");
    assert_eq!(figures.errors_5xx, 10);
}

/// A bake's steps on the real adapters (DynamoDB, CloudWatch, SQS,
/// EventBridge on moto), over windows already past: failing checkout
/// traffic fails the bake with its figures, and a step delivered twice is
/// decided once.
#[tokio::test]
async fn a_bake_on_the_real_adapters_fails_on_failing_traffic_and_decides_each_step_once() {
    use aws_sdk_cloudwatch::primitives::DateTime;
    use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};
    use sentinel_shared::adapters::eventbridge::EventBridgePublisher;
    use sentinel_shared::adapters::sqs::SqsBakeSteps;
    use sentinel_shared::core::bake::{BakeOutcome, StepOutcome};
    use sentinel_shared::core::deployment::{Deployment, DeploymentKey, HealthRecord};
    use sentinel_shared::core::model::JobId;
    use sentinel_shared::health::Verdict;
    use sentinel_shared::health::bake::BakePolicy;
    use sentinel_shared::health::bake::reaction::{BakeStepEvent, Baker, StepResult, plan};
    use sentinel_shared::policy::PolicyStore;
    use sentinel_shared::ports::DeploymentStore;

    let stack = Stack::new().await;
    let store = stack.store();
    let app = unique_app_id();
    let key = DeploymentKey {
        app_id: app.clone(),
        branch_name: "main".parse().unwrap(),
        job_id: JobId::new(2),
    };
    let bake_policy = BakePolicy {
        enabled: true,
        duration_minutes: 2,
        interval_minutes: 1,
        min_requests: 30,
        ..BakePolicy::default()
    };
    let mut policy = sentinel_shared::policy::BranchPolicy::default();
    policy.health.bake = bake_policy.clone();
    store
        .put_policy(&key.app_id, Some(&key.branch_name), &policy)
        .await
        .unwrap();
    // Promoted 10 minutes ago: every window of the bake has ended.
    let verdict_at = Utc::now() - chrono::Duration::minutes(10);
    let bake = plan(
        &bake_policy,
        Some(verdict_at - chrono::Duration::seconds(30)),
        verdict_at,
    );
    let mut d = Deployment::new(key.clone(), stack.environment());
    d.health = Some(HealthRecord {
        verdict: Verdict::Healthy,
        reason: "probes passed".into(),
        url: "http://127.0.0.1/".into(),
        checked_at: verdict_at,
        rounds: 1,
        endpoints: Vec::new(),
    });
    d.bake = Some(bake.clone());
    store.save_deployment(&d).await.unwrap();
    // Before the deploy: 100 requests a minute, none failing; during the
    // bake: one in five fails.
    let cw = cloudwatch(&stack);
    let datum = |name: &str, at: chrono::DateTime<Utc>, value: f64| {
        MetricDatum::builder()
            .metric_name(name)
            .dimensions(Dimension::builder().name("App").value(app.as_str()).build())
            .timestamp(DateTime::from_secs(at.timestamp() + 5))
            .value(value)
            .build()
    };
    let mut data = Vec::new();
    let until = bake.baseline_until();
    for m in 1..=2 {
        data.push(datum(
            "Requests",
            until - chrono::Duration::minutes(m),
            100.0,
        ));
        data.push(datum(
            "5xxErrors",
            until - chrono::Duration::minutes(m),
            0.0,
        ));
    }
    for step in 1..=2 {
        let (from, _) = bake.window(step);
        data.push(datum("Requests", from, 100.0));
        data.push(datum("5xxErrors", from, 20.0));
    }
    cw.put_metric_data()
        .namespace(NAMESPACE)
        .set_metric_data(Some(data))
        .send()
        .await
        .unwrap();
    let queue = stack
        .sqs()
        .create_queue()
        .queue_name(format!("bake-steps-{app}"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let publisher = EventBridgePublisher::new(stack.events(), &stack.bus);
    let metrics = CloudWatchMetrics::new(cw);
    let steps = SqsBakeSteps::new(stack.sqs(), &queue);
    let baker: Baker<'_, sentinel_shared::adapters::Aws, _, _> = Baker {
        store: &store,
        publisher: &publisher,
        metrics: &metrics,
        steps: &steps,
        region: "us-east-1",
    };
    let step = |n| BakeStepEvent {
        app_id: key.app_id.clone(),
        branch_name: key.branch_name.clone(),
        job_id: key.job_id,
        step: n,
    };
    let now = Utc::now();
    assert_eq!(
        baker.on_step(&step(1), now).await.unwrap(),
        StepResult::Judged(StepOutcome::Failed)
    );
    assert_eq!(
        baker.on_step(&step(1), now).await.unwrap(),
        StepResult::AlreadyDecided
    );
    assert_eq!(
        baker.on_step(&step(2), now).await.unwrap(),
        StepResult::Finished(BakeOutcome::Failed)
    );
    let record = store.get_deployment(&key).await.unwrap().unwrap();
    let bake = record.bake.unwrap();
    assert_eq!(bake.outcome, Some(BakeOutcome::Failed));
    assert_eq!(bake.steps.len(), 2, "each step recorded once");
    assert_eq!(bake.steps[0].figures.requests, 100);
    assert_eq!(bake.steps[0].figures.errors_5xx, 20);
    let baseline = bake.baseline.unwrap();
    assert_eq!(baseline.before_deploy.requests, 200);
    assert!(record.outbox.is_empty(), "the verdict was published");
    assert!(
        bake.reason
            .unwrap()
            .starts_with("bake: 2 of 2 intervals failed"),
        "the reason names the failed intervals"
    );
    // Step 2 was sent once, by step 1's first delivery and again by its
    // redelivery (in case the first send was lost): both are in the queue.
    let attrs = stack
        .sqs()
        .get_queue_attributes()
        .queue_url(&queue)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .unwrap();
    let waiting: usize = attrs
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or_default();
    assert_eq!(waiting, 2);
}
