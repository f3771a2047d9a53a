//! A deploy that reported itself (`sentinel report succeeded --url`):
//! checked at its URL under its service's policy, against `--version`
//! (else its commit), and never through Amplify.

use super::*;
use crate::adapters::memory::{InMemory, MemoryAmplify, MemoryPublisher, MemoryStore};
use crate::core::deployment::{Deployment, DeploymentKey, Reported};
use crate::core::events::BuildEvent;
use crate::core::model::{BuildStatus, Environment, JobId};
use crate::health::reaction::HealthChecker;
use crate::policy::BranchPolicy;
use crate::policy::PolicyStore;
use crate::ports::DeploymentStore;

/// Checks a reported deploy of `shop-api` whose site serves `served`;
/// the record's verdict (if any) and the events published.
async fn check_reported(
    served: &'static str,
    url: bool,
    version: Option<&str>,
) -> (Option<Verdict>, Vec<String>, usize) {
    let addr = serve(move |_, _| Reply::ok(served)).await;
    check_reported_with(addr, url, version).await
}

/// [`check_reported`] of a site at `addr` (served or not).
async fn check_reported_at(
    addr: std::net::SocketAddr,
    version: Option<&str>,
) -> (Option<Verdict>, Vec<String>, usize) {
    check_reported_with(addr, true, version).await
}

async fn check_reported_with(
    addr: std::net::SocketAddr,
    url: bool,
    version: Option<&str>,
) -> (Option<Verdict>, Vec<String>, usize) {
    let key = DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(1_764_000_000_000),
    };
    let store = MemoryStore::default();
    let mut d = Deployment::new(key.clone(), Environment::Prod);
    d.status = BuildStatus::Succeeded;
    d.details.commit_id = Some(COMMIT.into());
    d.reported = Some(Reported {
        url: url.then(|| format!("http://{addr}/")),
        version: version.map(str::to_owned),
    });
    store.save_deployment(&d).await.unwrap();
    let policy = BranchPolicy {
        health: fast(),
        ..BranchPolicy::default()
    };
    store.put_policy(&key.app_id, None, &policy).await.unwrap();
    // Amplify knows no such app: any call would fail the delivery.
    let amplify = MemoryAmplify::default();
    let publisher = MemoryPublisher::default();
    let outbound = local(addr);
    let checker = HealthChecker::<InMemory> {
        store: &store,
        amplify: &amplify,
        publisher: &publisher,
        site_url_template: Some("http://127.0.0.1:9/_sites/{host}/"),
        outbound: &outbound,
    };
    let mut event = BuildEvent::from_deployment(&d).unwrap();
    event.event_id = key.event_id("SUCCEED");
    let outcome = checker.on_build_succeeded(&event).await.unwrap();
    let record = store.get_deployment(&key).await.unwrap().unwrap();
    if let Some(h) = &record.health {
        assert_eq!(h.url, format!("http://{addr}/"));
    }
    assert_eq!(outcome.verdict, record.health.as_ref().map(|h| h.verdict));
    (
        outcome.verdict,
        publisher.detail_types(),
        amplify.calls.load(Ordering::SeqCst),
    )
}

#[tokio::test]
async fn a_reported_deploy_is_checked_at_its_url_for_its_version() {
    let (verdict, events, calls) =
        check_reported(r#"{"version":"1.4.2"}"#, true, Some("1.4.2")).await;
    assert_eq!(verdict, Some(Verdict::Healthy));
    assert_eq!(events, vec!["Deployment Healthy"]);
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn a_reported_deploy_serving_another_version_is_unhealthy() {
    let (verdict, events, _) = check_reported(r#"{"version":"1.4.1"}"#, true, Some("1.4.2")).await;
    assert_eq!(verdict, Some(Verdict::Unhealthy));
    assert_eq!(events, vec!["Deployment Unhealthy"]);
}

#[tokio::test]
async fn without_a_version_the_commit_is_looked_for() {
    let (verdict, _, _) = check_reported("<html>0123456789ab</html>", true, None).await;
    assert_eq!(verdict, Some(Verdict::Healthy));
    let (verdict, _, _) = check_reported("<html>no commit</html>", true, None).await;
    assert_eq!(verdict, Some(Verdict::Unhealthy));
}

/// Issue #28 item 4: the service's own server refusing connections
/// after its deploy is Unhealthy (its "Deployment Unhealthy" leads to
/// "Rollback Recommended"), where an Amplify site's would be
/// Inconclusive.
#[tokio::test]
async fn a_reported_service_refusing_connections_is_unhealthy() {
    let addr = closed_port();
    let (verdict, events, calls) = check_reported_at(addr, None).await;
    assert_eq!(verdict, Some(Verdict::Unhealthy));
    assert_eq!(events, vec!["Deployment Unhealthy"]);
    assert_eq!(calls, 0);
}

#[tokio::test]
async fn a_reported_deploy_without_a_url_is_not_checked() {
    let (verdict, events, calls) = check_reported("<html>ok</html>", false, None).await;
    assert_eq!(verdict, None);
    assert!(events.is_empty());
    assert_eq!(calls, 0);
}

/// A reported deploy `job` of `service`, served healthy at `addr`,
/// checked on `store`: its verdict and the recorded reason.
async fn check_job(
    store: &MemoryStore,
    addr: std::net::SocketAddr,
    service: &str,
    job: u64,
) -> (Option<Verdict>, String) {
    let key = DeploymentKey {
        app_id: service.parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(job),
    };
    let mut d = Deployment::new(key.clone(), Environment::Prod);
    d.status = BuildStatus::Succeeded;
    d.details.commit_id = Some(COMMIT.into());
    d.reported = Some(Reported {
        url: Some(format!("http://{addr}/")),
        version: None,
    });
    store.save_deployment(&d).await.unwrap();
    let policy = BranchPolicy {
        health: fast(),
        ..BranchPolicy::default()
    };
    store.put_policy(&key.app_id, None, &policy).await.unwrap();
    let (amplify, publisher, outbound) = (
        MemoryAmplify::default(),
        MemoryPublisher::default(),
        local(addr),
    );
    let checker = HealthChecker::<InMemory> {
        store,
        amplify: &amplify,
        publisher: &publisher,
        site_url_template: None,
        outbound: &outbound,
    };
    let mut event = BuildEvent::from_deployment(&d).unwrap();
    event.event_id = key.event_id("SUCCEED");
    let outcome = checker.on_build_succeeded(&event).await.unwrap();
    let record = store.get_deployment(&key).await.unwrap().unwrap();
    let reason = record.health.map(|h| h.reason).unwrap_or_default();
    (outcome.verdict, reason)
}

/// Issue #28 item 3: one service's checks beyond the limit end
/// Inconclusive at once, saying so; another service is still checked.
#[tokio::test]
async fn a_reported_service_past_its_rate_limit_is_inconclusive_at_once() {
    use crate::health::rate::CHECKS_PER_WINDOW;
    let (addr, requests) = counted().await;
    let store = MemoryStore::default();
    let first = 1_764_000_000_000;
    for n in 0..CHECKS_PER_WINDOW as u64 {
        let (verdict, _) = check_job(&store, addr, "svc:shop-api", first + n).await;
        // Checked (the site lacks the commit: Unhealthy), not limited.
        assert_eq!(verdict, Some(Verdict::Unhealthy), "check {n}");
    }
    let before = requests.load(Ordering::SeqCst);
    let over = first + CHECKS_PER_WINDOW as u64;
    let (verdict, reason) = check_job(&store, addr, "svc:shop-api", over).await;
    assert_eq!(verdict, Some(Verdict::Inconclusive));
    assert!(reason.contains("rate limit"), "{reason}");
    assert!(reason.contains("svc:shop-api"), "{reason}");
    assert_eq!(requests.load(Ordering::SeqCst), before, "not requested");
    // The limit is per service.
    let (verdict, _) = check_job(&store, addr, "svc:billing", over).await;
    assert_eq!(verdict, Some(Verdict::Unhealthy));
    assert!(requests.load(Ordering::SeqCst) > before);
}

/// A redelivered check of a job holding a place takes no second one,
/// even when the window is full.
#[tokio::test]
async fn a_redelivered_check_keeps_its_place_and_takes_no_other() {
    use crate::health::rate::{CHECKS_PER_WINDOW, slot};
    let store = MemoryStore::default();
    let now = chrono::Utc::now();
    let key = |n: u64| DeploymentKey {
        app_id: "svc:shop-api".parse().unwrap(),
        branch_name: "prod".parse().unwrap(),
        job_id: JobId::new(1_764_000_000_000 + n),
    };
    assert!(store.take_check_slot(&slot(&key(0), now)).await.unwrap());
    for _ in 0..3 {
        assert!(store.take_check_slot(&slot(&key(0), now)).await.unwrap());
    }
    for n in 1..CHECKS_PER_WINDOW as u64 {
        assert!(
            store.take_check_slot(&slot(&key(n), now)).await.unwrap(),
            "{n}"
        );
    }
    let full = slot(&key(CHECKS_PER_WINDOW as u64), now);
    assert!(!store.take_check_slot(&full).await.unwrap());
    assert!(store.take_check_slot(&slot(&key(0), now)).await.unwrap());
    // The next window starts afresh.
    let later = now + chrono::Duration::seconds(crate::health::rate::WINDOW_SECONDS);
    assert!(
        store
            .take_check_slot(&slot(&key(CHECKS_PER_WINDOW as u64), later))
            .await
            .unwrap()
    );
}
