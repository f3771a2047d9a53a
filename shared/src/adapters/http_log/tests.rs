//! The log download's limits against real local HTTP servers: the origin
//! allowed, redirects kept on it, a byte and a time budget per log (a log
//! that trickles forever is cut, not waited for), a bounded error body.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::outbound::Origin;

const OOM: &str = "2024-03-01T10:00:00.000Z [INFO]: # Executing command: npm run build\n\
2024-03-01T10:00:01.000Z [INFO]: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n";

/// What a test server does with each connection.
#[derive(Clone)]
enum Serve {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200, then a line every 100 ms, forever.
    Trickle,
    /// A redirect to this location.
    Redirect(String),
    /// 403 with a body this large.
    Forbidden(usize),
}

/// A server on 127.0.0.1: its origin and how many requests it got.
async fn server(serve: Serve) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            counted.fetch_add(1, Ordering::SeqCst);
            let serve = serve.clone();
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = socket.read(&mut head).await;
                let _ = match serve {
                    Serve::Body(body) => {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = socket.write_all(head.as_bytes()).await;
                        socket.write_all(&body).await
                    }
                    Serve::Trickle => {
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
                            .await;
                        // Bounded: the test's budget is 1 s; this stops by itself.
                        for _ in 0..600 {
                            let line = b"2024-03-01T10:00:00.000Z [INFO]: still building\n";
                            let chunk = format!("{:x}\r\n", line.len());
                            if socket.write_all(chunk.as_bytes()).await.is_err()
                                || socket.write_all(line).await.is_err()
                                || socket.write_all(b"\r\n").await.is_err()
                            {
                                break;
                            }
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Ok(())
                    }
                    Serve::Redirect(to) => {
                        let head = format!(
                            "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        );
                        socket.write_all(head.as_bytes()).await
                    }
                    Serve::Forbidden(size) => {
                        let mut body = b"<Error><Message>Request has expired</Message>".to_vec();
                        body.resize(size, b' ');
                        let head = format!(
                            "HTTP/1.1 403 Forbidden\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = socket.write_all(head.as_bytes()).await;
                        socket.write_all(&body).await
                    }
                };
            });
        }
    });
    (origin, hits)
}

fn source(origins: &[&str], budget: LogBudget) -> HttpLogSource {
    HttpLogSource::with(
        Outbound::with_local(origins.iter().map(|o| Origin::parse(o).unwrap()).collect()),
        budget,
    )
}

fn log_url(origin: &str) -> String {
    format!("{origin}/_logs/d1/main/1/BUILD.txt?X-Amz-Signature=secret")
}

#[test]
fn only_s3_hosts_are_amplify_log_hosts() {
    for host in [
        "s3.amazonaws.com",
        "aws-amplify-prod-us-east-1-artifacts.s3.us-east-1.amazonaws.com",
        "bucket.s3-us-west-2.amazonaws.com",
        "bucket.s3.cn-north-1.amazonaws.com.cn",
    ] {
        assert!(is_amplify_log_host(host), "{host}");
    }
    for host in [
        "evil.example",
        "s3.amazonaws.com.evil.example",
        "169.254.169.254",
        "amazonaws.com",
        "lambda.us-east-1.amazonaws.com",
        "s3x.amazonaws.com",
    ] {
        assert!(!is_amplify_log_host(host), "{host}");
    }
}

#[tokio::test]
async fn a_url_outside_amplifys_log_hosts_is_never_fetched() {
    let (origin, hits) = server(Serve::Body(OOM.into())).await;
    let mut d = Diagnoser::new();
    let err = source(&[], LogBudget::DEFAULT)
        .read_log(&log_url(&origin), &mut d)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an Amplify log location"), "{err}");
    assert!(
        !err.contains("secret"),
        "the signature is never shown: {err}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 0);
    // The local stack's origin, named, is read.
    let mut d = Diagnoser::new();
    source(&[&origin], LogBudget::DEFAULT)
        .read_log(&log_url(&origin), &mut d)
        .await
        .unwrap();
    let diagnosis = d.finish();
    assert_eq!(diagnosis.category, "node-heap-oom");
    assert_eq!(diagnosis.cut, None);
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_not_followed() {
    let (elsewhere, elsewhere_hits) = server(Serve::Body(OOM.into())).await;
    let (origin, _) = server(Serve::Redirect(log_url(&elsewhere))).await;
    let mut d = Diagnoser::new();
    let err = source(&[&origin, &elsewhere], LogBudget::DEFAULT)
        .read_log(&log_url(&origin), &mut d)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("redirect"), "{err}");
    assert_eq!(elsewhere_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_log_that_trickles_is_cut_at_its_time_budget() {
    let (origin, _) = server(Serve::Trickle).await;
    let budget = LogBudget {
        max_bytes: LogBudget::DEFAULT.max_bytes,
        max_time: Duration::from_secs(1),
    };
    let mut d = Diagnoser::new();
    source(&[&origin], budget)
        .read_log(&log_url(&origin), &mut d)
        .await
        .unwrap();
    let diagnosis = d.finish();
    let cut = diagnosis.cut.expect("cut");
    assert!(cut.contains("time budget"), "{cut}");
    assert!(diagnosis.bytes > 0);
}

#[tokio::test]
async fn a_huge_log_is_cut_at_its_byte_budget() {
    let mut body = OOM.as_bytes().to_vec();
    body.resize(3 * 1024 * 1024, b'x');
    let (origin, _) = server(Serve::Body(body)).await;
    let budget = LogBudget {
        max_bytes: 1024 * 1024,
        max_time: LogBudget::DEFAULT.max_time,
    };
    let mut d = Diagnoser::new();
    source(&[&origin], budget)
        .read_log(&log_url(&origin), &mut d)
        .await
        .unwrap();
    let diagnosis = d.finish();
    assert_eq!(diagnosis.bytes, 1024 * 1024);
    assert!(diagnosis.cut.unwrap().contains("1 MB"));
    assert_eq!(
        diagnosis.category, "node-heap-oom",
        "what was read is diagnosed"
    );
}

#[tokio::test]
async fn an_error_body_is_read_to_a_few_kilobytes() {
    let (origin, _) = server(Serve::Forbidden(8 * 1024 * 1024)).await;
    let mut d = Diagnoser::new();
    let err = source(&[&origin], LogBudget::DEFAULT)
        .read_log(&log_url(&origin), &mut d)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, LogError::Unavailable(_)), "{text}");
    assert!(
        text.contains("Request has expired") && text.len() < 600,
        "{text}"
    );
}

#[test]
fn the_alerters_timeout_covers_a_batch_of_log_budgets() {
    let alerter = crate::template_text::resource(
        include_str!("../../../../template.yaml"),
        "AlerterFunction",
    );
    let number = |key: &str| {
        crate::template_text::number(&alerter, key)
            .unwrap_or_else(|| panic!("{key} in AlerterFunction"))
    };
    let (timeout, batch) = (number("Timeout"), number("BatchSize"));
    let needed = batch * LogBudget::DEFAULT.max_time.as_secs() + 10;
    assert!(
        timeout >= needed,
        "the alerter's Timeout {timeout} s is less than {batch} logs × their budget + 10 s"
    );
}

/// A failed build's log in Amplify's shape, `size` bytes of noise (npm,
/// webpack and Next.js lines, mostly `[INFO]`/`[WARNING]`, one in four
/// coloured), then a heap exhaustion and the trailer.
fn amplify_log(size: usize) -> Vec<u8> {
    let noise = [
        "[INFO]: \x1b[32m✓\x1b[39m Compiled /app/page in {n}ms ({n} modules)",
        "[WARNING]: npm WARN deprecated inflight@1.0.{n}: This module is not supported, and leaks memory. Do not use it.",
        "[INFO]: added {n} packages, and audited {n} packages in 17s",
        "[WARNING]: warning \" > @tanstack/react-query-devtools@5.{n}.0\" has unmet peer dependency \"@tanstack/react-query@^5.{n}\".",
        "[INFO]:    Building route /blog/post-{n} (static, {n} B)",
        "[WARNING]: (node:{n}) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.",
        "[INFO]: \x1b[36minfo\x1b[39m  - Generating static pages ({n}/997)",
        "[INFO]: ├ ○ /docs/page-{n}                                  {n} B         87.1 kB",
    ];
    let mut log = Vec::with_capacity(size + 1024);
    let mut n = 0;
    while log.len() < size {
        n += 1;
        let line = noise[n % noise.len()].replace("{n}", &(n % 997).to_string());
        log.extend_from_slice(
            format!("2024-03-01T10:{:02}:00.000Z {line}\n", n / 6000 % 60).as_bytes(),
        );
    }
    log.extend_from_slice(OOM.as_bytes());
    log.extend_from_slice(
        b"2024-03-01T10:59:59.000Z [ERROR]: !!! Build failed\n2024-03-01T10:59:59.000Z [ERROR]: !!! Error: Command failed with exit code 134\n",
    );
    log
}

/// The alerter's path for a typical failed build's log (10 MB), end to
/// end: a local HTTP server, `HttpLogSource` (the client, the outbound
/// rules, the budgets) and the diagnosis. Prints the times; a
/// measurement, so run it in release:
/// `cargo test --release -p sentinel-shared --lib measure_a_10_mb_log -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: run in release with --ignored --nocapture"]
async fn measure_a_10_mb_log_end_to_end() {
    let log = amplify_log(10_000_000);
    let size = log.len();
    let (origin, _) = server(Serve::Body(log)).await;
    let source = source(&[&origin], LogBudget::DEFAULT);
    let mut times = Vec::new();
    for _ in 0..21 {
        let start = std::time::Instant::now();
        let mut d = Diagnoser::new();
        source.read_log(&log_url(&origin), &mut d).await.unwrap();
        let diagnosis = d.finish();
        times.push(start.elapsed().as_secs_f64());
        assert_eq!(diagnosis.category, "node-heap-oom");
        assert_eq!(diagnosis.bytes, size as u64);
    }
    let first = times[0];
    let mut warm = times[1..].to_vec();
    warm.sort_by(f64::total_cmp);
    let median = warm[warm.len() / 2];
    println!(
        "alerter path, {:.1} MB log over local HTTP: first (cold engine, new connection) {:.1} ms; \
         then median {:.1} ms ({:.0} MB/s), min {:.1} ms, max {:.1} ms over {} runs",
        size as f64 / 1e6,
        first * 1e3,
        median * 1e3,
        size as f64 / 1e6 / median,
        warm[0] * 1e3,
        warm[warm.len() - 1] * 1e3,
        warm.len()
    );
}
