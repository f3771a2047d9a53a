//! The scheduled live check over in-memory ports: every watched branch on
//! its own, at most `LIVE_CHECKS_AT_ONCE` at a time, against a local server
//! that counts the checks it serves at once.

use std::sync::Mutex;

use chrono::{DateTime, Utc};

use super::*;
use crate::adapters::memory::{InMemory, MemoryAmplify, MemoryPublisher, MemoryStore};
use crate::core::deployment::{Deployment, DeploymentKey};
use crate::core::error::{AmplifyError, Error};
use crate::core::model::{BranchName, BuildStatus, Environment, JobId};
use crate::core::scope::Scope;
use crate::health::reaction::{HealthChecker, LIVE_CHECKS_AT_ONCE, ScheduleOutcome};
use crate::policy::BranchPolicy;
use crate::policy::PolicyStore;
use crate::ports::{BranchPointer, DeploymentStore};

/// The site: every request's path, and the most served at once.
#[derive(Clone, Default)]
struct Site {
    paths: Arc<Mutex<Vec<String>>>,
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Site {
    async fn serve(&self, delay_ms: u64) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let site = self.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let site = site.clone();
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let text = String::from_utf8_lossy(&head);
                    let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    site.paths.lock().unwrap().push(path);
                    let at_once = site.now.fetch_add(1, Ordering::SeqCst) + 1;
                    site.most.fetch_max(at_once, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    site.now.fetch_sub(1, Ordering::SeqCst);
                    let body = "<html>ok</html>";
                    let out = format!(
                        "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = socket.write_all(out.as_bytes()).await;
                });
            }
        });
        addr
    }

    /// How many requests went to `branch`'s site.
    fn hits(&self, branch: &str) -> usize {
        let host = format!("/_sites/{branch}.d1abc.amplifyapp.com/");
        let paths = self.paths.lock().unwrap();
        paths.iter().filter(|p| p.starts_with(&host)).count()
    }
}

struct World {
    store: MemoryStore,
    amplify: MemoryAmplify,
    publisher: MemoryPublisher,
    site: Site,
    /// Sites at the local server (`{host}`); none: where Amplify says.
    template: Option<String>,
    outbound: Outbound,
}

fn key(branch: &str) -> DeploymentKey {
    DeploymentKey::of(branch, 3)
}

impl World {
    /// App d1abc with `branches` live (job 3) in Amplify and recorded.
    async fn new(branches: &[String], delay_ms: u64) -> Self {
        let site = Site::default();
        let addr = site.serve(delay_ms).await;
        let amplify = MemoryAmplify::with_branch(&key("main"), |_| {});
        let info = amplify.branches.lock().unwrap().clone();
        let main = info.values().next().unwrap().clone();
        amplify.branches.lock().unwrap().clear();
        let w = Self {
            store: MemoryStore::default(),
            amplify,
            publisher: MemoryPublisher::default(),
            site,
            template: Some(format!("http://{addr}/_sites/{{host}}/")),
            outbound: local(addr),
        };
        for branch in branches {
            let name: BranchName = branch.parse().unwrap();
            let mut info = main.clone();
            info.display_name = name.display_name();
            info.branch_name = name;
            w.amplify
                .branches
                .lock()
                .unwrap()
                .insert(("d1abc".into(), branch.clone()), info);
            w.record(branch).await;
        }
        let policy = BranchPolicy {
            health: fast(),
            ..BranchPolicy::default()
        };
        w.store
            .put_policy(&key("main").app_id, None, &policy)
            .await
            .unwrap();
        w
    }

    /// `branch`'s job 3 recorded (succeeded) and live.
    async fn record(&self, branch: &str) {
        let mut record = Deployment::new(key(branch), Environment::Prod);
        record.status = BuildStatus::Succeeded;
        self.store.save_deployment(&record).await.unwrap();
        self.store
            .advance_pointer(&key(branch), None, BranchPointer::Live)
            .await
            .unwrap();
    }

    async fn run(&self, round: DateTime<Utc>) -> Result<ScheduleOutcome, Error> {
        let checker = HealthChecker::<InMemory> {
            store: &self.store,
            amplify: &self.amplify,
            publisher: &self.publisher,
            site_url_template: self.template.as_deref(),
            outbound: &self.outbound,
        };
        checker
            .on_schedule(Environment::Prod, &Scope::default(), round)
            .await
    }

    async fn live_checked(&self, branch: &str) -> bool {
        let record = self.store.get_deployment(&key(branch)).await.unwrap();
        record.unwrap().live_check.is_some()
    }
}

fn named(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("b{i:02}")).collect()
}

#[tokio::test]
async fn a_branch_deleted_from_amplify_is_skipped_and_the_rest_checked() {
    let branches = named(3);
    let mut w = World::new(&branches, 0).await;
    // No template: sites are where Amplify says; each remaining branch
    // names its own URL (at the local server) in its policy.
    let addr = w.template.take().unwrap();
    for branch in &branches {
        let name: BranchName = branch.parse().unwrap();
        let mut health = fast();
        health.url = Some(addr.replace("{host}", &format!("{branch}.d1abc.amplifyapp.com")));
        let policy = BranchPolicy {
            health,
            ..BranchPolicy::default()
        };
        w.store
            .put_policy(&key(branch).app_id, Some(&name), &policy)
            .await
            .unwrap();
    }
    // "gone" was deleted from Amplify; its records wait for the cleanup.
    w.record("gone").await;
    let outcome = w.run(Utc::now()).await.expect("the run succeeds");
    assert_eq!(outcome.checked, 3, "{outcome:?}");
    assert_eq!(outcome.gone, 1, "{outcome:?}");
    for branch in &branches {
        assert!(w.live_checked(branch).await, "{branch} checked");
    }
    assert!(!w.live_checked("gone").await);
}

#[tokio::test]
async fn a_branch_that_fails_does_not_stop_the_others_nor_are_they_checked_again() {
    let branches = named(5);
    let w = World::new(&branches, 0).await;
    // One branch's site cannot be found for now (Amplify throttles).
    *w.amplify.fail_domains.lock().unwrap() =
        Some(AmplifyError::Unavailable("ThrottlingException".into()));
    let round = Utc::now();
    let first = w.run(round).await;
    assert!(
        first.is_err(),
        "retried, for the branch that failed: {first:?}"
    );
    let mut failed = None;
    for branch in &branches {
        if !w.live_checked(branch).await {
            assert!(failed.replace(branch.clone()).is_none(), "one failed");
        }
    }
    let failed = failed.expect("one branch failed");
    let hits: Vec<usize> = branches.iter().map(|b| w.site.hits(b)).collect();
    // The redelivery of the same round checks only what failed.
    let again = w.run(round).await.expect("the redelivery succeeds");
    assert_eq!(again.checked, 1, "{again:?}");
    assert_eq!(again.already_checked, 4, "{again:?}");
    assert!(w.live_checked(&failed).await);
    for (branch, before) in branches.iter().zip(hits) {
        if *branch != failed {
            assert_eq!(w.site.hits(branch), before, "{branch} not checked again");
        }
    }
    // The next round checks every branch again.
    let next = w.run(Utc::now()).await.unwrap();
    assert_eq!(next.checked, 5, "{next:?}");
}

#[tokio::test]
async fn a_branch_whose_url_is_refused_gets_an_inconclusive_verdict_not_a_dead_letter() {
    let branches = named(3);
    let w = World::new(&branches, 0).await;
    let name: BranchName = "b01".parse().unwrap();
    let mut health = fast();
    health.url = Some("ftp://example.com/".into());
    let policy = BranchPolicy {
        health,
        ..BranchPolicy::default()
    };
    w.store
        .put_policy(&key("b01").app_id, Some(&name), &policy)
        .await
        .unwrap();
    let outcome = w.run(Utc::now()).await.expect("the run succeeds");
    assert_eq!(outcome.checked, 3, "{outcome:?}");
    assert_eq!(outcome.failed, 0, "{outcome:?}");
    assert!(w.live_checked("b00").await && w.live_checked("b02").await);
    let refused = w.store.get_deployment(&key("b01")).await.unwrap().unwrap();
    let live = refused.live_check.expect("a verdict is recorded");
    assert_eq!(live.verdict, Verdict::Inconclusive);
    assert!(
        live.reason.starts_with("not checked: ") && live.reason.contains("ftp://example.com"),
        "{}",
        live.reason
    );
    assert_eq!(w.site.hits("b01"), 0, "nothing was requested for b01");
}

#[tokio::test]
async fn six_hundred_future_dated_reports_do_not_push_a_live_branch_out_of_the_schedule() {
    let w = World::new(&named(1), 0).await;
    // The branch deployed a while ago; then reports flood the table,
    // each dated 2099 (the sort key of the newest-records list).
    let dated = chrono::TimeZone::with_ymd_and_hms(&Utc, 2099, 1, 1, 0, 0, 0).unwrap();
    for n in 0..600 {
        let key = DeploymentKey {
            app_id: format!("svc:flood-{n}").parse().unwrap(),
            branch_name: "prod".parse().unwrap(),
            job_id: JobId::new(1),
        };
        let mut record = Deployment::new(key, Environment::Prod);
        record.status = BuildStatus::Succeeded;
        record.details.start_time = Some(dated);
        w.store.save_deployment(&record).await.unwrap();
    }
    let outcome = w.run(Utc::now()).await.expect("the run succeeds");
    assert_eq!(outcome.checked, 1, "{outcome:?}");
    assert!(w.live_checked("b00").await, "the Amplify branch is checked");
}

#[tokio::test]
async fn no_more_than_so_many_branches_are_checked_at_once() {
    let branches = named(3 * LIVE_CHECKS_AT_ONCE);
    let w = World::new(&branches, 40).await;
    let outcome = w.run(Utc::now()).await.unwrap();
    assert_eq!(outcome.checked, branches.len());
    let most = w.site.most.load(Ordering::SeqCst);
    assert!(most <= LIVE_CHECKS_AT_ONCE, "{most} at once");
    assert!(most > 1, "checked concurrently, not one by one");
}
