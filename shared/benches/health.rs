//! One health-check round over 20 endpoints that each answer in 100 ms.
//!
//! `cargo bench -p sentinel-shared --bench health` (or `make bench`).
//! The engine runs a round's endpoints concurrently, so a round should take
//! about 100 ms; beside it, the same 20 requests one after another — what a
//! hand-written check script (a loop of curl calls) does — about 2 s.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sentinel_shared::health::{Checker, EndpointCheck, HealthPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn slow_server() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = socket.read(&mut buf).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    addr
}

fn policy() -> HealthPolicy {
    HealthPolicy {
        endpoints: (0..20)
            .map(|i| EndpointCheck {
                path: format!("/page/{i}"),
                ..EndpointCheck::default()
            })
            .collect(),
        healthy_after: 1,
        ..HealthPolicy::default()
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let addr = rt.block_on(slow_server());
    let base = format!("http://{addr}/");
    let rules = sentinel_shared::outbound::Outbound::parse_list(&format!("http://{addr}")).unwrap();
    let checker = Checker::new(&base, policy(), &rules).unwrap();
    let client = reqwest::Client::new();

    let mut group = c.benchmark_group("health round, 20 endpoints at 100 ms");
    group.sample_size(10);
    group.bench_function("sentinel (concurrent)", |b| {
        b.iter(|| rt.block_on(async { black_box(checker.run(None).await) }))
    });
    group.bench_function("one after another (baseline)", |b| {
        b.iter(|| {
            rt.block_on(async {
                for i in 0..20 {
                    let r = client.get(format!("{base}page/{i}")).send().await.unwrap();
                    black_box(r.bytes().await.unwrap());
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
