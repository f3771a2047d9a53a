//! The engine against real HTTP servers on 127.0.0.1 (a small one written
//! here, so each test controls exactly what the site answers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::ports::BasicAuth;

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub delay_ms: u64,
    pub endless: bool,
}

impl Reply {
    pub fn ok(body: &str) -> Self {
        Self {
            status: 200,
            headers: Vec::new(),
            body: body.into(),
            delay_ms: 0,
            endless: false,
        }
    }
}

/// Serves `handler(path, hit number)` on a free loopback port.
pub async fn serve<F>(handler: F) -> SocketAddr
where
    F: Fn(&str, usize) -> Reply + Send + Sync + 'static,
{
    serve_head(move |head, hit| {
        let path = head.split_whitespace().nth(1).unwrap_or("/");
        handler(path, hit)
    })
    .await
}

/// Serves `handler(request head, hit number)`: the request line and headers.
pub async fn serve_head<F>(handler: F) -> SocketAddr
where
    F: Fn(&str, usize) -> Reply + Send + Sync + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handler = Arc::new(handler);
    let hits = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let handler = handler.clone();
            let hit = hits.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&head);
                let reply = handler(&text, hit);
                tokio::time::sleep(Duration::from_millis(reply.delay_ms)).await;
                let mut out = format!("HTTP/1.1 {} X\r\nconnection: close\r\n", reply.status);
                for (k, v) in &reply.headers {
                    out.push_str(&format!("{k}: {v}\r\n"));
                }
                if reply.endless {
                    out.push_str("\r\n");
                    let _ = socket.write_all(out.as_bytes()).await;
                    let chunk = vec![b'x'; 64 * 1024];
                    // Bounded: 64 MiB at most, far above the 1 MB cap.
                    for _ in 0..1024 {
                        if socket.write_all(&chunk).await.is_err() {
                            return;
                        }
                    }
                    return;
                }
                out.push_str(&format!(
                    "content-length: {}\r\n\r\n{}",
                    reply.body.len(),
                    reply.body
                ));
                let _ = socket.write_all(out.as_bytes()).await;
            });
        }
    });
    addr
}

fn fast() -> HealthPolicy {
    HealthPolicy {
        round_interval_ms: 20,
        deadline_ms: 4_000,
        version_grace_ms: 0,
        latency_limit_ms: 1_000,
        timeout_ms: 2_000,
        ..HealthPolicy::default()
    }
}

/// The outbound rules with a test server's origins exempt (by address and
/// as `localhost`): everything else is held to the deployed rules.
pub fn local(addr: SocketAddr) -> Outbound {
    Outbound::parse_list(&format!("http://{addr},http://localhost:{}", addr.port())).unwrap()
}

async fn check(addr: SocketAddr, policy: HealthPolicy, commit: Option<&str>) -> HealthReport {
    Checker::new(&format!("http://{addr}/"), policy, &local(addr))
        .unwrap()
        .run(commit)
        .await
}

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

#[tokio::test]
async fn a_healthy_site_passes_after_two_rounds() {
    let addr = serve(|_, _| Reply::ok("<html>ok</html>")).await;
    let report = check(addr, fast(), None).await;
    assert_eq!(report.verdict, Verdict::Healthy, "{report:?}");
    assert_eq!(report.rounds, 2);
    assert_eq!(report.endpoints[0].last_status, Some(200));
    assert_eq!(report.endpoints[0].attempts, 2);
}

#[tokio::test]
async fn errors_make_it_unhealthy_with_the_reason() {
    let addr = serve(|_, _| Reply {
        status: 500,
        ..Reply::ok("boom")
    })
    .await;
    let report = check(addr, fast(), None).await;
    assert_eq!(report.verdict, Verdict::Unhealthy);
    assert_eq!(report.rounds, 3);
    assert!(
        report.reason.contains("status 500, expected 2xx"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn an_answer_slower_than_the_limit_fails() {
    let addr = serve(|_, _| Reply {
        delay_ms: 300,
        ..Reply::ok("slow")
    })
    .await;
    let policy = HealthPolicy {
        latency_limit_ms: 100,
        ..fast()
    };
    let report = check(addr, policy, None).await;
    assert_eq!(report.verdict, Verdict::Unhealthy);
    assert!(
        report.reason.contains("over the 100 ms limit"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn the_wrong_commit_is_unhealthy_once_the_grace_is_over() {
    let addr =
        serve(|_, _| Reply::ok(r#"<meta name="x-deployed-commit" content="fedcba9876543210">"#))
            .await;
    let report = check(addr, fast(), Some(COMMIT)).await;
    assert_eq!(report.verdict, Verdict::Unhealthy);
    assert!(
        report
            .reason
            .contains("does not report commit 0123456789ab"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn the_old_version_for_a_while_then_the_new_one_is_healthy() {
    let addr = serve(|_, hit| {
        let commit = if hit < 4 {
            "fedcba9876543210fedcba9876543210fedcba98"
        } else {
            COMMIT
        };
        Reply::ok(&format!(
            r#"<meta name="x-deployed-commit" content="{commit}">"#
        ))
    })
    .await;
    let policy = HealthPolicy {
        version_grace_ms: 3_000,
        ..fast()
    };
    let report = check(addr, policy, Some(COMMIT)).await;
    assert_eq!(report.verdict, Verdict::Healthy, "{report:?}");
    // Two rounds saw the old version (not counted against it), two passed.
    assert_eq!(report.rounds, 4, "{report:?}");
}

#[tokio::test]
async fn a_pinned_json_pointer_or_header_is_where_the_version_is_read() {
    let addr = serve(|path, _| {
        let mut r = Reply::ok(&format!(
            r#"{{"status":"ok","build":{{"commit":"{}"}}}}"#,
            &COMMIT[..7]
        ));
        r.headers
            .push(("x-version".into(), "something-else".into()));
        assert!(path.starts_with("/api/health"));
        r
    })
    .await;
    let by_pointer = HealthPolicy {
        version: Some(VersionCheck {
            path: "/api/health".into(),
            json_pointer: Some("/build/commit".into()),
            header: None,
        }),
        endpoints: vec![EndpointCheck {
            path: "/api/health".into(),
            ..EndpointCheck::default()
        }],
        ..fast()
    };
    assert_eq!(
        check(addr, by_pointer.clone(), Some(COMMIT)).await.verdict,
        Verdict::Healthy
    );
    let by_header = HealthPolicy {
        version: Some(VersionCheck {
            path: "/api/health".into(),
            json_pointer: None,
            header: Some("x-version".into()),
        }),
        ..by_pointer
    };
    let report = check(addr, by_header, Some(COMMIT)).await;
    assert_eq!(report.verdict, Verdict::Unhealthy);
    assert!(
        report.reason.contains("serves version something-el"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn content_checks_name_what_is_missing() {
    let addr = serve(|_, _| Reply::ok(r#"{"status":"degraded"}"#)).await;
    let policy = HealthPolicy {
        endpoints: vec![EndpointCheck {
            path: "/api/health".into(),
            json_equals: Some(("/status".into(), serde_json::json!("ok"))),
            ..EndpointCheck::default()
        }],
        ..fast()
    };
    let report = check(addr, policy, None).await;
    assert_eq!(report.verdict, Verdict::Unhealthy);
    assert!(
        report
            .reason
            .contains(r#"JSON /status is "degraded", expected "ok""#),
        "{}",
        report.reason
    );
}

/// #28 item 3: a URL answering 200 and 500 in turn never gave consecutive
/// rounds, so its check held a slot of the health checker until the
/// deadline (300 s by default) and ended Inconclusive.
#[tokio::test]
async fn flapping_is_unhealthy_within_a_bounded_number_of_rounds() {
    let addr = serve(|_, hit| {
        if hit % 2 == 0 {
            Reply::ok("up")
        } else {
            Reply {
                status: 500,
                ..Reply::ok("down")
            }
        }
    })
    .await;
    let policy = HealthPolicy {
        deadline_ms: 300_000,
        ..fast()
    };
    let report = tokio::time::timeout(Duration::from_secs(20), check(addr, policy, None))
        .await
        .expect("a verdict long before the deadline");
    assert_eq!(report.verdict, Verdict::Unhealthy, "{report:?}");
    assert!(
        report.rounds <= 6,
        "2 × unhealthy_after rounds at most: {report:?}"
    );
    assert!(
        report
            .reason
            .starts_with("failing intermittently: 3 of the last"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn one_failed_round_among_passes_is_not_flapping() {
    // Fails the second round only: then passes, Healthy as before.
    let addr = serve(|_, hit| {
        if hit == 1 {
            Reply {
                status: 500,
                ..Reply::ok("down")
            }
        } else {
            Reply::ok("up")
        }
    })
    .await;
    let report = check(addr, fast(), None).await;
    assert_eq!(report.verdict, Verdict::Healthy, "{report:?}");
}

#[tokio::test]
async fn connection_refused_is_our_side_and_inconclusive() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let policy = HealthPolicy {
        deadline_ms: 500,
        ..fast()
    };
    let report = check(addr, policy, None).await;
    assert_eq!(report.verdict, Verdict::Inconclusive);
    assert_eq!(report.endpoints[0].verdict, Outcome::OurSide);
    assert!(
        report.endpoints[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("could not connect")
    );
}

/// Issue #28 item 4: a team's own server (a reported service) refusing
/// connections after its deploy is down, not "our side".
#[tokio::test]
async fn a_team_s_own_server_refusing_connections_is_unhealthy() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let policy = HealthPolicy {
        deadline_ms: 60_000,
        ..fast()
    };
    let started = std::time::Instant::now();
    let report = Checker::new(&format!("http://{addr}/"), policy, &local(addr))
        .unwrap()
        .refused_connection_fails(true)
        .run(None)
        .await;
    assert_eq!(report.verdict, Verdict::Unhealthy, "{report:?}");
    assert_eq!(report.endpoints[0].verdict, Outcome::SiteFailed);
    assert!(
        report.reason.contains("connection refused"),
        "{}",
        report.reason
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn a_redirect_to_a_foreign_host_is_refused() {
    let addr = serve(|_, _| Reply {
        status: 302,
        headers: vec![("location".into(), "https://evil.example.com/".into())],
        ..Reply::ok("")
    })
    .await;
    let report = check(addr, fast(), None).await;
    assert_eq!(report.verdict, Verdict::Unhealthy);
    assert!(
        report
            .reason
            .contains("redirect to foreign host evil.example.com refused"),
        "{}",
        report.reason
    );
}

/// A server that counts its requests and answers 200.
async fn counted() -> (SocketAddr, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let count = hits.clone();
    let addr = serve(move |_, _| {
        count.fetch_add(1, Ordering::SeqCst);
        Reply::ok("<html>elsewhere</html>")
    })
    .await;
    (addr, hits)
}

/// Where a test site redirects, given its own port.
type Location = fn(u16) -> String;

/// A site on a local origin that redirects to `location(its own port)`.
async fn redirecting(location: Location) -> SocketAddr {
    let port = Arc::new(std::sync::atomic::AtomicU16::new(0));
    let own = port.clone();
    let addr = serve(move |_, _| Reply {
        status: 302,
        headers: vec![("location".into(), location(own.load(Ordering::SeqCst)))],
        ..Reply::ok("")
    })
    .await;
    port.store(addr.port(), Ordering::SeqCst);
    addr
}

#[tokio::test]
async fn a_redirect_may_not_switch_port_or_scheme() {
    let cases: [(Location, &str); 2] = [
        (|port| format!("https://127.0.0.1:{port}/"), "scheme"),
        (|port| format!("http://127.0.0.1:{}/", port + 1), "port"),
    ];
    for (location, what) in cases {
        let addr = redirecting(location).await;
        // The next port, too, is a local origin: only the pinning refuses.
        let rules = Outbound::parse_list(&format!(
            "http://{addr},https://{addr},http://127.0.0.1:{}",
            addr.port() + 1
        ))
        .unwrap();
        let report = Checker::new(&format!("http://{addr}/"), fast(), &rules)
            .unwrap()
            .run(None)
            .await;
        assert_eq!(report.verdict, Verdict::Unhealthy, "{what}: {report:?}");
        assert!(
            report.reason.contains("pinned"),
            "{what}: {}",
            report.reason
        );
    }
}

#[tokio::test]
async fn a_redirect_to_the_metadata_service_is_refused() {
    let addr = redirecting(|port| format!("http://169.254.169.254:{port}/latest/meta-data/")).await;
    let mut policy = fast();
    policy.allowed_hosts = vec!["169.254.169.254".into()];
    let report = check(addr, policy, None).await;
    assert_eq!(report.verdict, Verdict::Unhealthy, "{report:?}");
    assert!(
        report.reason.contains("refused") && report.reason.contains("169.254.169.254"),
        "{}",
        report.reason
    );
}

#[tokio::test]
async fn a_site_whose_name_resolves_to_loopback_is_not_requested() {
    let (addr, hits) = counted().await;
    // https on a name: the URL passes, the resolver (asked for every
    // connection) refuses `localhost`'s 127.0.0.1 before any byte is sent.
    // No later round would be let through: the verdict comes at once
    // (issue #28 item 4: it used to wait for the deadline).
    let policy = HealthPolicy {
        deadline_ms: 60_000,
        ..fast()
    };
    let started = std::time::Instant::now();
    for refused_connection_fails in [false, true] {
        let report = Checker::new(
            &format!("https://localhost:{}/", addr.port()),
            policy.clone(),
            &Outbound::public(),
        )
        .unwrap()
        .refused_connection_fails(refused_connection_fails)
        .run(None)
        .await;
        assert_eq!(report.verdict, Verdict::Inconclusive, "{report:?}");
        assert!(
            report.reason.starts_with("not checked: refused localhost")
                && report.reason.contains("not a public address"),
            "{}",
            report.reason
        );
        assert_eq!(report.rounds, 1);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(hits.load(Ordering::SeqCst), 0);
}

#[test]
fn a_deployed_checker_refuses_http_and_private_addresses_at_once() {
    let rules = Outbound::public();
    for url in [
        "http://shop.example.com/",
        "https://127.0.0.1/",
        "https://[::ffff:169.254.169.254]/",
        "https://10.0.0.8:8443/",
        "https://user:secret@shop.example.com/",
    ] {
        let refused = Checker::new(url, HealthPolicy::default(), &rules)
            .err()
            .unwrap_or_else(|| panic!("{url} accepted"));
        assert!(refused.0.starts_with("refused"), "{url}: {refused}");
        assert!(!refused.0.contains("secret"), "{refused}");
    }
    assert!(Checker::new("https://shop.example.com/", HealthPolicy::default(), &rules).is_ok());
}

#[tokio::test]
async fn an_endless_body_is_capped() {
    let addr = serve(|_, _| Reply {
        endless: true,
        ..Reply::ok("")
    })
    .await;
    let policy = HealthPolicy {
        endpoints: vec![EndpointCheck {
            body_contains: Some("x".into()),
            ..EndpointCheck::default()
        }],
        ..fast()
    };
    let report = check(addr, policy, None).await;
    assert_eq!(report.verdict, Verdict::Healthy, "{report:?}");
}

#[test]
fn commits_match_by_prefix_of_at_least_seven() {
    assert!(commit_matches(COMMIT, "0123456"));
    assert!(!commit_matches(COMMIT, "012345"));
    assert!(mentions_commit(COMMIT, "deployed 0123456789 ok"));
    assert!(
        mentions_commit("0123456", &format!("deployed {COMMIT}")),
        "a short expected commit"
    );
    assert!(!mentions_commit(COMMIT, "deployed 01234567ff ok"));
    assert!(!mentions_commit(COMMIT, "x90123456789"));
}

#[test]
fn a_reported_version_that_is_not_a_commit_matches_only_itself() {
    assert!(commit_matches("1.4.2", "1.4.2"));
    assert!(commit_matches("v1.4.2", " V1.4.2 "));
    assert!(!commit_matches("1.4.2", "1.4.20"));
    assert!(!commit_matches("1.4.2", "1.4"));
    assert!(mentions_commit("1.4.2", r#"{"version":"1.4.2"}"#));
    assert!(mentions_commit(
        "1.4.2",
        "<meta name=version content=1.4.2>"
    ));
    assert!(!mentions_commit("1.4.2", r#"{"version":"1.4.20"}"#));
    assert!(!mentions_commit("1.4.2", r#"{"version":"11.4.2"}"#));
    assert!(!mentions_commit("1.4.2", "nothing here"));
}

#[test]
fn a_bad_url_is_refused_at_once() {
    let rules = Outbound::public();
    assert!(Checker::new("not a url", HealthPolicy::default(), &rules).is_err());
    assert!(Checker::new("ftp://example.com", HealthPolicy::default(), &rules).is_err());
}

#[tokio::test]
async fn a_check_no_longer_wanted_stops_between_rounds() {
    let addr = serve(|_, _| Reply {
        status: 503,
        ..Reply::ok("down")
    })
    .await;
    let checker = Checker::new(&format!("http://{addr}/"), fast(), &local(addr)).unwrap();
    let stopped = checker
        .run_while(None, || async { false })
        .await
        .unwrap_err();
    assert_eq!(stopped.rounds, 1);
    assert!(stopped.reason.contains("superseded"), "{}", stopped.reason);
}

/// The `authorization` header of a request head, if any.
fn authorization(head: &str) -> Option<String> {
    head.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        })
        .map(|(_, v)| v.trim().to_owned())
}

#[tokio::test]
async fn a_protected_site_is_checked_with_its_basic_auth_sent_to_its_origin_only() {
    // user:pass, as Amplify keeps it (base64 of `user:password`).
    let creds = BasicAuth::from_amplify(true, Some("dXNlcjpwYXNz")).unwrap();
    let seen_elsewhere = Arc::new(std::sync::Mutex::new(Vec::<Option<String>>::new()));
    let seen = seen_elsewhere.clone();
    // Another allowed host (the same server named `localhost`: a redirect
    // keeps scheme and port) that the site redirects to: it must never see
    // the credentials.
    let port = Arc::new(std::sync::atomic::AtomicU16::new(0));
    let own_port = port.clone();
    let site = serve_head(move |head, _| {
        let to_localhost = head
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with("host: localhost"));
        if to_localhost {
            seen.lock().unwrap().push(authorization(head));
            return Reply::ok("<html>other</html>");
        }
        match authorization(head).as_deref() {
            Some("Basic dXNlcjpwYXNz") if head.starts_with("GET /away") => Reply {
                status: 302,
                headers: vec![(
                    "location".into(),
                    format!("http://localhost:{}/", own_port.load(Ordering::SeqCst)),
                )],
                ..Reply::ok("")
            },
            Some("Basic dXNlcjpwYXNz") => Reply::ok("<html>ok</html>"),
            _ => Reply {
                status: 401,
                headers: vec![("www-authenticate".into(), "Basic realm=\"Amplify\"".into())],
                ..Reply::ok("Unauthorized")
            },
        }
    })
    .await;
    port.store(site.port(), Ordering::SeqCst);
    let base = format!("http://{site}/");

    let rules = local(site);
    let without = Checker::new(&base, fast(), &rules).unwrap().run(None).await;
    assert_eq!(without.verdict, Verdict::Unhealthy, "{without:?}");
    assert_eq!(without.endpoints[0].last_status, Some(401));

    let with = Checker::new(&base, fast(), &rules)
        .unwrap()
        .with_basic_auth(Some(creds.clone()))
        .run(None)
        .await;
    assert_eq!(with.verdict, Verdict::Healthy, "{with:?}");

    let mut policy = fast();
    policy.allowed_hosts = vec!["localhost".into()];
    policy.endpoints = vec![EndpointCheck {
        path: "/away".into(),
        ..EndpointCheck::default()
    }];
    let redirected = Checker::new(&base, policy, &rules)
        .unwrap()
        .with_basic_auth(Some(creds))
        .run(None)
        .await;
    assert_eq!(redirected.verdict, Verdict::Healthy, "{redirected:?}");
    let elsewhere = seen_elsewhere.lock().unwrap().clone();
    assert!(!elsewhere.is_empty(), "the redirect was followed");
    assert!(elsewhere.iter().all(Option::is_none), "{elsewhere:?}");
    assert_eq!(
        format!("{:?}", BasicAuth::from_amplify(true, Some("dXNlcjpwYXNz"))),
        "Some(BasicAuth(<secret>))"
    );
}

/// The reaction's choice of site over the in-memory Amplify: a custom
/// domain where users reach the branch, Amplify's domain as the fallback,
/// the policy's choice and URL. The stack's template `/_sites/{host}/`
/// points every host at a local server, as on the local stack.
mod site_resolution {
    use std::sync::Mutex;

    use super::*;
    use crate::adapters::memory::{InMemory, MemoryAmplify, MemoryPublisher, MemoryStore};
    use crate::core::deployment::{Deployment, DeploymentKey};
    use crate::core::error::{AmplifyError, Error};
    use crate::core::events::BuildEvent;
    use crate::core::model::{BuildStatus, Environment, JobId};
    use crate::health::reaction::HealthChecker;
    use crate::policy::BranchPolicy;
    use crate::policy::PolicyStore;
    use crate::ports::{DeploymentStore, DomainAssociation, SubDomain};

    /// (path, Authorization) of every request the site got.
    type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

    struct World {
        store: MemoryStore,
        amplify: MemoryAmplify,
        publisher: MemoryPublisher,
        template: String,
        outbound: Outbound,
        seen: Seen,
        key: DeploymentKey,
    }

    impl World {
        async fn new(domains: Vec<DomainAssociation>, policy: HealthPolicy) -> Self {
            let seen: Seen = Arc::new(Mutex::new(Vec::new()));
            let log = seen.clone();
            let addr = serve_head(move |head, _| {
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                log.lock().unwrap().push((path, authorization(head)));
                Reply::ok("<html>ok</html>")
            })
            .await;
            let key = DeploymentKey {
                app_id: "d1abc".parse().unwrap(),
                branch_name: "main".parse().unwrap(),
                job_id: JobId::new(3),
            };
            let amplify = MemoryAmplify::with_branch(&key, |b| {
                b.basic_auth = BasicAuth::from_amplify(true, Some("dXNlcjpwYXNz"));
            });
            amplify
                .domains
                .lock()
                .unwrap()
                .insert("d1abc".into(), domains);
            let store = MemoryStore::default();
            let mut record = Deployment::new(key.clone(), Environment::Prod);
            record.status = BuildStatus::Succeeded;
            store.save_deployment(&record).await.unwrap();
            let policy = BranchPolicy {
                health: policy,
                ..BranchPolicy::default()
            };
            store.put_policy(&key.app_id, None, &policy).await.unwrap();
            Self {
                store,
                amplify,
                publisher: MemoryPublisher::default(),
                template: format!("http://{addr}/_sites/{{host}}/"),
                outbound: local(addr),
                seen,
                key,
            }
        }

        /// The URL the deploy was checked at.
        async fn checked_url(&self) -> Result<String, Error> {
            let checker = HealthChecker::<InMemory> {
                store: &self.store,
                amplify: &self.amplify,
                publisher: &self.publisher,
                site_url_template: Some(&self.template),
                outbound: &self.outbound,
            };
            let event = BuildEvent {
                event_id: "d1abc/main/3/SUCCEED".into(),
                environment: Environment::Prod,
                app_id: self.key.app_id.clone(),
                branch_name: self.key.branch_name.clone(),
                job_id: self.key.job_id,
                status: BuildStatus::Succeeded,
                commit_id: None,
                commit_message: None,
                commit_time: None,
                first_commit_time: None,
                job_type: None,
                start_time: None,
                end_time: None,
                duration_seconds: None,
                is_rollback: false,
                rollback_of: None,
            };
            let outcome = checker.on_build_succeeded(&event).await?;
            assert_eq!(outcome.verdict, Some(Verdict::Healthy));
            let record = self.store.get_deployment(&self.key).await?.unwrap();
            Ok(record.health.unwrap().url)
        }
    }

    fn shop(status: &str, verified: bool) -> DomainAssociation {
        DomainAssociation {
            domain_name: "shop.example.com".into(),
            domain_status: status.into(),
            sub_domains: vec![
                SubDomain {
                    prefix: "www".into(),
                    branch_name: "main".into(),
                    verified,
                },
                SubDomain {
                    prefix: "beta".into(),
                    branch_name: "develop".into(),
                    verified: true,
                },
            ],
        }
    }

    #[tokio::test]
    async fn a_branch_on_an_available_custom_domain_is_checked_there_with_its_credentials() {
        let world = World::new(vec![shop("AVAILABLE", true)], fast()).await;
        let url = world.checked_url().await.unwrap();
        assert!(url.ends_with("/_sites/www.shop.example.com/"), "{url}");
        let seen = world.seen.lock().unwrap().clone();
        assert!(!seen.is_empty());
        assert!(
            seen.iter().all(
                |(path, auth)| path.starts_with("/_sites/www.shop.example.com/")
                    && auth.as_deref() == Some("Basic dXNlcjpwYXNz")
            ),
            "{seen:?}"
        );
    }

    #[tokio::test]
    async fn a_domain_not_ready_or_an_unverified_sub_domain_falls_back_to_amplify_s() {
        for (status, verified) in [
            ("PENDING_VERIFICATION", true),
            ("AWAITING_APP_CNAME", true),
            ("FAILED", true),
            ("AVAILABLE", false),
        ] {
            let world = World::new(vec![shop(status, verified)], fast()).await;
            let url = world.checked_url().await.unwrap();
            assert!(
                url.ends_with("/_sites/main.d1abc.amplifyapp.com/"),
                "{status} {verified}: {url}"
            );
        }
        let none = World::new(Vec::new(), fast()).await;
        assert!(
            none.checked_url()
                .await
                .unwrap()
                .ends_with("/_sites/main.d1abc.amplifyapp.com/")
        );
    }

    #[tokio::test]
    async fn the_policy_can_ask_for_amplify_s_domain_and_an_explicit_url_still_wins() {
        let policy = HealthPolicy {
            site: SiteChoice::AmplifyDomain,
            ..fast()
        };
        let world = World::new(vec![shop("AVAILABLE", true)], policy).await;
        // Not even asked: a failing ListDomainAssociations changes nothing.
        *world.amplify.fail_domains.lock().unwrap() =
            Some(AmplifyError::Unavailable("throttled".into()));
        let url = world.checked_url().await.unwrap();
        assert!(url.ends_with("/_sites/main.d1abc.amplifyapp.com/"), "{url}");

        let addr = serve_head(|_, _| Reply::ok("<html>explicit</html>")).await;
        let policy = HealthPolicy {
            url: Some(format!("http://{addr}/explicit/{{branch}}/")),
            ..fast()
        };
        let mut world = World::new(vec![shop("AVAILABLE", true)], policy).await;
        world.outbound = local(addr);
        let url = world.checked_url().await.unwrap();
        assert_eq!(url, format!("http://{addr}/explicit/main/"));
    }

    #[tokio::test]
    async fn unlisted_domains_fall_back_but_an_unavailable_amplify_is_retried() {
        let world = World::new(vec![shop("AVAILABLE", true)], fast()).await;
        *world.amplify.fail_domains.lock().unwrap() = Some(AmplifyError::Rejected(
            "AccessDeniedException: not authorized to perform amplify:ListDomainAssociations"
                .into(),
        ));
        let url = world.checked_url().await.unwrap();
        assert!(url.ends_with("/_sites/main.d1abc.amplifyapp.com/"), "{url}");

        let world = World::new(vec![shop("AVAILABLE", true)], fast()).await;
        *world.amplify.fail_domains.lock().unwrap() =
            Some(AmplifyError::Unavailable("ThrottlingException".into()));
        let e = world.checked_url().await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
        let record = world
            .store
            .get_deployment(&world.key)
            .await
            .unwrap()
            .unwrap();
        assert!(record.health.is_none(), "no verdict on a guess");
    }
}

/// The scheduled live check over in-memory ports: every watched branch on
/// its own, at most `LIVE_CHECKS_AT_ONCE` at a time, against a local server
/// that counts the checks it serves at once.
mod scheduled {
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
        DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: branch.parse().unwrap(),
            job_id: JobId::new(3),
        }
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
}

#[test]
fn a_secret_in_a_reason_is_masked_where_the_reason_is_built() {
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let a = attempt(
        "https://x.example/".into(),
        Some(500),
        3,
        Outcome::SiteFailed,
        Some(format!(
            "body does not contain \"ok\": {{\"error\":\"bad TOKEN={token}\"}}"
        )),
    );
    let why = a.reason.unwrap();
    assert!(!why.contains(token), "{why}");
    assert!(why.contains("ghp_…(40 chars)"), "{why}");
}

/// Issue #18 item 2: a site serving a 1 MB JSON value that fails
/// `json_equals` yields a verdict whose record and event stay well under
/// DynamoDB's and EventBridge's limits.
mod budgets {
    use super::*;
    use crate::adapters::memory::{InMemory, MemoryAmplify, MemoryPublisher, MemoryStore};
    use crate::core::budget;
    use crate::core::deployment::{Deployment, DeploymentKey};
    use crate::core::events::BuildEvent;
    use crate::core::model::{BuildStatus, Environment, JobId};
    use crate::health::reaction::HealthChecker;
    use crate::policy::BranchPolicy;
    use crate::policy::PolicyStore;
    use crate::ports::DeploymentStore;

    #[tokio::test]
    async fn a_megabyte_json_value_failing_json_equals_fits_the_record_and_the_event() {
        let body = serde_json::json!({"status": "\"d\u{e9}grad\u{e9}\" ".repeat(1_000_000 / 14)})
            .to_string();
        assert!(body.len() > 900_000 && body.len() < 1024 * 1024);
        let addr = serve(move |_, _| Reply::ok(&body)).await;
        let key = DeploymentKey {
            app_id: "d1abc".parse().unwrap(),
            branch_name: "main".parse().unwrap(),
            job_id: JobId::new(3),
        };
        let amplify = MemoryAmplify::with_branch(&key, |_| {});
        let store = MemoryStore::default();
        let mut record = Deployment::new(key.clone(), Environment::Prod);
        record.status = BuildStatus::Succeeded;
        store.save_deployment(&record).await.unwrap();
        let policy = BranchPolicy {
            health: HealthPolicy {
                url: Some(format!("http://{addr}/")),
                endpoints: vec![EndpointCheck {
                    path: "/api/health".into(),
                    json_equals: Some(("/status".into(), serde_json::json!("ok"))),
                    ..EndpointCheck::default()
                }],
                ..fast()
            },
            ..BranchPolicy::default()
        };
        store.put_policy(&key.app_id, None, &policy).await.unwrap();
        let publisher = MemoryPublisher::default();
        let checker = HealthChecker::<InMemory> {
            store: &store,
            amplify: &amplify,
            publisher: &publisher,
            site_url_template: None,
            outbound: &local(addr),
        };
        let event = BuildEvent {
            event_id: "d1abc/main/3/SUCCEED".into(),
            environment: Environment::Prod,
            app_id: key.app_id.clone(),
            branch_name: key.branch_name.clone(),
            job_id: key.job_id,
            status: BuildStatus::Succeeded,
            commit_id: None,
            commit_message: None,
            commit_time: None,
            first_commit_time: None,
            job_type: None,
            start_time: None,
            end_time: None,
            duration_seconds: None,
            is_rollback: false,
            rollback_of: None,
        };
        let outcome = checker.on_build_succeeded(&event).await.unwrap();
        assert_eq!(outcome.verdict, Some(Verdict::Unhealthy));
        let record = store.get_deployment(&key).await.unwrap().unwrap();
        let health = record.health.as_ref().unwrap();
        assert!(
            health.reason.contains("…(cut, "),
            "{} bytes",
            health.reason.len()
        );
        assert!(health.reason.len() <= budget::REASON);
        let json = serde_json::to_string(&record).unwrap();
        assert!(
            json.len() < budget::DYNAMODB_ITEM_LIMIT / 4,
            "{}",
            json.len()
        );
        let item: std::collections::HashMap<String, serde_dynamo::AttributeValue> =
            serde_dynamo::to_item(&record).unwrap();
        assert!(
            serde_json::to_string(&item).unwrap().len() < budget::DYNAMODB_ITEM_LIMIT / 2,
            "as a DynamoDB item"
        );
        let published = publisher.published.lock().unwrap().clone();
        assert_eq!(published.len(), 1);
        let entry = &published[0];
        assert_eq!(entry.detail_type, "Deployment Unhealthy");
        let size = entry.detail.len() + entry.detail_type.len() + entry.id.len();
        assert!(size < budget::EVENTBRIDGE_ENTRY_LIMIT / 4, "{size}");
        let detail: serde_json::Value = serde_json::from_str(&entry.detail).unwrap();
        assert_eq!(detail["verdict"], "unhealthy");
    }
}

mod reported {
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
        let (verdict, events, _) =
            check_reported(r#"{"version":"1.4.1"}"#, true, Some("1.4.2")).await;
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
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
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
}
