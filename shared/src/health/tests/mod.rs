//! The engine against real HTTP servers on 127.0.0.1 (a small one written
//! here, so each test controls exactly what the site answers).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::probe::attempt;
use super::*;
use crate::core::deployment::DeploymentKey;
use crate::core::events::BuildEvent;
use crate::core::model::BuildStatus;
use crate::outbound::Outbound;
use crate::ports::BasicAuth;
use std::time::Duration;

mod budgets;
mod outbound;
mod reported;
mod rounds;
mod scheduled;
mod site_resolution;
mod version;

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

/// The check ended `verdict`, its reason saying `why`.
fn assert_verdict(report: &HealthReport, verdict: Verdict, why: &str) {
    assert_eq!(report.verdict, verdict);
    assert!(report.reason.contains(why), "{}", report.reason);
}

/// An address on 127.0.0.1 nothing listens on.
fn closed_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    addr
}

const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

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

/// The `authorization` header of a request head, if any.
fn authorization(head: &str) -> Option<String> {
    head.lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        })
        .map(|(_, v)| v.trim().to_owned())
}

/// "Build Succeeded" for prod job 3 of `key`, all details unknown.
fn succeeded(key: &DeploymentKey) -> BuildEvent {
    crate::core::deployment::tests::build_event("d1abc/main/3/SUCCEED", key, BuildStatus::Succeeded)
}
