//! A reported deploy's failure: the diagnosis its script sent, no Amplify
//! call, how to send a log, conflicting reports alerted once.

use super::*;

/// A reported service's failed deploy (`sentinel report failed`): the
/// event of `n`, its record holding the diagnosis the report sent, or none.
async fn reported_failure(w: &World, n: u64, sent: Option<&str>) -> String {
    let key = DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(n),
    };
    let mut d = Deployment::new(key, Environment::Prod);
    d.status = BuildStatus::Failed;
    d.diagnosis = sent.map(|log| crate::diagnose::diagnose_bytes(log.as_bytes()));
    w.store.save_deployment(&d).await.unwrap();
    build_event("Build Failed", "FAILED", n)
        .replace("d1abc/main", "svc:shop-api/prod")
        .replace("\"d1abc\"", "\"svc:shop-api\"")
        .replace("\"main\"", "\"prod\"")
}

#[tokio::test]
async fn a_reported_failure_is_alerted_with_its_sent_diagnosis_and_no_amplify_call() {
    let w = World::new();
    let raw = reported_failure(&w, 1_764_000_000_000, Some(OOM_LOG)).await;
    let out = w.deliver(&raw).await;
    assert_eq!(out.decision, "opened");
    assert_eq!(out.category.as_deref(), Some("node-heap-oom"));
    assert_eq!(w.amplify.calls.load(Ordering::SeqCst), 0);
    let sent = w.one_sent();
    assert!(
        sent[0].email.contains("max-old-space-size"),
        "{}",
        sent[0].email
    );
    assert!(
        !sent[0].email.contains("Amplify console"),
        "{}",
        sent[0].email
    );
    // Named as what it is: a service and its environment, not an app's
    // branch nor a stack; the evidence is the log the CLI read.
    assert!(
        sent[0]
            .email
            .contains(": service shop-api / environment prod")
            && !sent[0].email.contains("stack")
            && sent[0].email.contains("sentinel report --log"),
        "{}",
        sent[0].email
    );
    // The diagnosis was the report's: no "Build Diagnosed" (nothing to retry).
    assert!(w.publisher.detail_types().is_empty());
}

#[tokio::test]
async fn a_reported_failure_without_a_log_says_how_to_send_one() {
    let w = World::new();
    let raw = reported_failure(&w, 2, None).await;
    let out = w.deliver(&raw).await;
    assert_eq!(out.decision, "opened");
    assert_eq!(w.amplify.calls.load(Ordering::SeqCst), 0);
    let sent = w.notifier.sent();
    assert!(sent[0].email.contains("--log FILE"), "{}", sent[0].email);
}

#[tokio::test]
async fn a_diagnosis_the_deploy_script_sent_is_alerted_as_the_scripts() {
    let w = World::new();
    let n = 3;
    let raw = reported_failure(&w, n, Some(OOM_LOG)).await;
    let key = DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(n),
    };
    let mut d = w.store.get_deployment(&key).await.unwrap().unwrap();
    if let Some(diagnosis) = d.diagnosis.as_mut() {
        diagnosis.from_report = true;
    }
    w.store.save_deployment(&d).await.unwrap();
    w.deliver(&raw).await;
    let sent = w.notifier.sent();
    assert!(
        sent[0].email.contains("Diagnosed by the deploy script")
            && sent[0].email.contains("did not read the log"),
        "{}",
        sent[0].email
    );
}

#[tokio::test]
async fn conflicting_reports_of_one_deploy_are_alerted_once() {
    let w = World::new();
    let raw = json!({
        "id": "eb-c1", "source": "sentinel", "detail-type": "Report Conflict",
        "detail": {"eventId": "svc:shop-api/prod/00000000000000000042/report-conflict-1",
                   "environment": "prod", "appId": "svc:shop-api", "branchName": "prod",
                   "jobId": "42", "recorded": "succeeded, commit aaaaaaa",
                   "reported": "failed, commit bbbbbbb",
                   "kept": "the status reported with the latest reportedAt"}
    })
    .to_string();
    let out = w.deliver(&raw).await;
    assert_eq!(out.sent, 1, "{out:?}");
    assert_eq!(out.category.as_deref(), Some("report-conflict"));
    let again = w.deliver(&raw).await;
    assert_eq!(again.sent, 0, "{again:?}");
    let sent = w.one_sent();
    assert!(
        sent[0].email.contains("succeeded, commit aaaaaaa")
            && sent[0].email.contains("failed, commit bbbbbbb"),
        "{}",
        sent[0].email
    );
}
