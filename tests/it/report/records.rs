//! What a report stores: one record for reports twice and out of order,
//! another service's detail refused, a date of 2099 clamped, a bad report
//! refused by the CLI naming the flag.

use super::*;

#[tokio::test]
async fn reports_twice_and_out_of_order_leave_one_record() -> Result<()> {
    let stack = Stack::new().await;
    let service = unique_service();
    let c = commit(1);
    let id = "424242";
    let report = |status: &str| {
        let out = sentinel(&[
            "report",
            status,
            "--service",
            &service,
            "--commit",
            &c,
            "--deploy-id",
            id,
        ]);
        assert!(
            out.status.success(),
            "{status}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), id);
    };
    // Succeeded before started, each twice.
    report("succeeded");
    report("succeeded");
    report("started");
    report("started");
    let d = eventually(Duration::from_secs(60), "both reports recorded", || async {
        Ok(record(&stack, &service, 424242)
            .await?
            .filter(|d| d.transitions.len() == 2))
    })
    .await?;
    assert_eq!(d.status, BuildStatus::Succeeded);
    assert_eq!(d.details.commit_id.as_deref(), Some(c.as_str()));
    // Four deliveries, two observations: a repeat is the same report.
    assert_eq!(d.event_ids.len(), 2, "{:?}", d.event_ids);
    // Listed with every source, and alone under --source report. By app:
    // other tests fill the environment with reports (health.rs writes 600
    // dated 2099), and a listing of the newest 500 need not reach this one.
    let app = format!("svc:{service}");
    let listed = sentinel(&[
        "deployments",
        "--app",
        &app,
        "--source",
        "report",
        "--limit",
        "500",
        "--json",
    ]);
    assert!(listed.status.success(), "{listed:?}");
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout)?;
    let listed = listed.as_array().context("an array")?;
    assert!(
        listed.iter().all(|d| d["source"] == "report"),
        "{listed:#?}"
    );
    assert!(
        listed
            .iter()
            .any(|d| d["appId"] == format!("svc:{service}")),
        "{listed:#?}"
    );
    let metrics = sentinel(&["metrics", "--window", "1d", "--json"]);
    assert!(metrics.status.success(), "{metrics:?}");
    let metrics: serde_json::Value = serde_json::from_slice(&metrics.stdout)?;
    assert!(
        metrics["bySource"]["report"]["deployments"].as_u64() >= Some(1),
        "{metrics:#}"
    );
    let mut seen: Vec<_> = d.transitions.iter().map(|t| t.status.clone()).collect();
    seen.sort_by_key(|s| s.as_str().to_owned());
    assert_eq!(seen, vec![BuildStatus::Started, BuildStatus::Succeeded]);
    Ok(())
}

/// Publishes a report as any reporter could (PutEvents by hand): `source`
/// and the detail as given, and the envelope's `time` the sender chose.
async fn put_report(stack: &Stack, source: &str, time: DateTime<Utc>, detail: &serde_json::Value) {
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .event_bus_name(&stack.bus)
        .source(source)
        .detail_type("Deployment Reported")
        .time(aws_sdk_eventbridge::primitives::DateTime::from_secs(
            time.timestamp(),
        ))
        .detail(detail.to_string())
        .build();
    let out = stack
        .events()
        .put_events()
        .entries(entry)
        .send()
        .await
        .expect("PutEvents");
    assert_eq!(out.failed_entry_count(), 0, "{out:?}");
}

fn report_detail(service: &str, env: &str, deploy_id: u64, at: DateTime<Utc>) -> serde_json::Value {
    json!({
        "schema": 1, "service": service, "environment": env,
        "deployId": deploy_id.to_string(), "status": "started",
        "commit": commit(7), "reportedAt": at.to_rfc3339(),
    })
}

#[tokio::test]
async fn a_report_naming_another_service_in_its_detail_is_refused() -> Result<()> {
    let stack = Stack::new().await;
    let (mine, victim) = (unique_service(), unique_service());
    let env = stack.environment();
    let deploy_id = 777_001;
    // Sent as `mine` (what IAM lets its CI role send), about `victim`.
    let detail = report_detail(&victim, env.as_str(), deploy_id, Utc::now());
    put_report(
        &stack,
        &format!("sentinel.report.{mine}"),
        Utc::now(),
        &detail,
    )
    .await;
    let (error_type, reason) = dead_letter_reason(&stack, &victim).await;
    assert_eq!(error_type, "NonRetryable.Event");
    assert!(
        reason.contains("detail.service") && reason.contains(&mine),
        "{reason}"
    );
    assert!(record(&stack, &victim, deploy_id).await?.is_none());
    assert!(record(&stack, &mine, deploy_id).await?.is_none());
    Ok(())
}

#[tokio::test]
async fn a_report_dated_2099_is_stored_with_a_clamped_sort_key_and_capped_expiry() -> Result<()> {
    let stack = Stack::new().await;
    let service = unique_service();
    let env = stack.environment();
    let deploy_id = 2_099_000;
    let future: DateTime<Utc> = "2099-01-01T00:00:00Z".parse()?;
    let before = Utc::now();
    // The sender sets `time` too, so the report passes the clock check.
    let detail = report_detail(&service, env.as_str(), deploy_id, future);
    put_report(
        &stack,
        &format!("sentinel.report.{service}"),
        future,
        &detail,
    )
    .await;
    let d = eventually(Duration::from_secs(60), "the report recorded", || async {
        record(&stack, &service, deploy_id).await
    })
    .await?;
    let after = Utc::now();
    let started = d.started_at().context("a start")?;
    assert!(
        before - chrono::Duration::seconds(5) <= started && started <= after,
        "{started}"
    );
    // The item as stored: its index sort key and its TTL.
    let app = AppId::service(&service)?;
    let item = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(&stack.table)
        .key("PK", AttrValue::S(branch_pk(&app, &env.as_str().parse()?)))
        .key(
            "SK",
            AttrValue::S(format!("JOB#{}", JobId::new(deploy_id).padded())),
        )
        .send()
        .await?
        .item
        .context("the item")?;
    let sort_key = item["GSI1SK"]
        .as_s()
        .map_err(|_| anyhow::anyhow!("GSI1SK"))?;
    assert!(!sort_key.starts_with("2099"), "{sort_key}");
    assert!(
        sort_key.starts_with(&started.format("%Y-%m-%d").to_string()),
        "{sort_key}"
    );
    let expires: i64 = item["expires_at"]
        .as_n()
        .map_err(|_| anyhow::anyhow!("expires_at"))?
        .parse()?;
    let retention_days: i64 = std::env::var("SENTINEL_RETENTION_DAYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(90);
    let cap = (after + chrono::Duration::days(retention_days)).timestamp();
    assert!(expires <= cap, "expires_at {expires} is past {cap}");
    Ok(())
}

#[tokio::test]
async fn a_bad_report_is_refused_by_the_cli_naming_the_flag() {
    let out = sentinel(&[
        "report",
        "started",
        "--service",
        "a b",
        "--commit",
        "abcdef0",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--service"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = sentinel(&[
        "report",
        "succeeded",
        "--service",
        "shop",
        "--commit",
        "abcdef0",
        "--deploy-id",
        "1",
        "--url",
        "http://example.com/",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--url"));
}
