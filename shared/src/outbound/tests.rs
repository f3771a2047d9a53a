//! The outbound rules: the address classes, the URL checks, and the
//! resolver at work in a real client against a real server on 127.0.0.1.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

fn url(raw: &str) -> url::Url {
    url::Url::parse(raw).unwrap()
}

/// Where a function must never send a request, in every spelling.
const NOT_GLOBAL: &[&str] = &[
    "0.0.0.0",
    "127.0.0.1",
    "127.255.255.254",
    "10.0.0.5",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.1.1",
    "169.254.169.254", // the instance metadata service
    "169.254.170.2",   // the container credentials endpoint
    "100.64.0.1",
    "100.127.255.255",
    "192.0.0.192",
    "192.0.2.1",
    "198.18.0.1",
    "198.51.100.1",
    "203.0.113.1",
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::127.0.0.1",
    "64:ff9b::a9fe:a9fe", // NAT64 of 169.254.169.254
    "2002:7f00:1::1",     // 6to4 of 127.0.0.1
    "2001::1",            // Teredo
    "2001:db8::1",
    "fc00::1",
    "fd00:ec2::254", // the metadata service over IPv6
    "fe80::1",
    "fec0::1",
    "ff02::1",
];

const GLOBAL: &[&str] = &[
    "8.8.8.8",
    "1.1.1.1",
    "52.94.76.10",
    "13.32.0.1",
    "100.128.0.1",
    "172.32.0.1",
    "::ffff:8.8.8.8",
    "2600:1f18::1",
    "2606:4700:4700::1111",
    "64:ff9b::808:808",
    "2002:808:808::1",
];

#[test]
fn private_loopback_link_local_and_metadata_addresses_are_not_global() {
    for raw in NOT_GLOBAL {
        let ip: IpAddr = raw.parse().unwrap();
        assert!(!is_global(ip), "{raw} was taken as public");
    }
    for raw in GLOBAL {
        let ip: IpAddr = raw.parse().unwrap();
        assert!(is_global(ip), "{raw} was taken as not public");
    }
}

proptest! {
    #[test]
    fn an_ipv4_address_and_its_ipv6_mapped_and_nat64_forms_are_judged_alike(bits: u32) {
        let v4 = Ipv4Addr::from(bits);
        let [a, b, c, d] = v4.octets();
        let nat64 = Ipv6Addr::new(
            0x64, 0xff9b, 0, 0, 0, 0,
            u16::from_be_bytes([a, b]),
            u16::from_be_bytes([c, d]),
        );
        prop_assert_eq!(is_global(IpAddr::V4(v4)), is_global(IpAddr::V6(v4.to_ipv6_mapped())));
        prop_assert_eq!(is_global(IpAddr::V4(v4)), is_global(IpAddr::V6(nat64)));
    }

    #[test]
    fn std_s_special_ranges_are_never_global(bits: u32) {
        let v4 = Ipv4Addr::from(bits);
        if v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified() {
            prop_assert!(!is_global(IpAddr::V4(v4)));
        }
    }
}

#[test]
fn only_https_to_a_public_literal_or_a_name_is_requested() {
    let rules = Outbound::public();
    assert!(rules.check(&url("https://shop.example.com/")).is_ok());
    assert!(rules.check(&url("https://8.8.8.8/")).is_ok());
    for (raw, why) in [
        ("http://shop.example.com/", "only https"),
        ("https://127.0.0.1/", "not a public address"),
        (
            "https://169.254.169.254/latest/meta-data/",
            "not a public address",
        ),
        ("https://2130706433/", "not a public address"), // 127.0.0.1 in decimal
        ("https://0x7f.1/", "not a public address"),     // and in hex
        ("https://[::1]/", "not a public address"),
        ("https://[::ffff:169.254.169.254]/", "not a public address"),
        ("https://user:pw@shop.example.com/", "credentials"),
        ("https://user@shop.example.com/", "credentials"),
    ] {
        let refused = rules.check(&url(raw)).expect_err(raw);
        assert!(refused.0.contains(why), "{raw}: {refused}");
        assert!(!refused.0.contains("pw"), "a password shown: {refused}");
    }
}

#[test]
fn a_local_origin_is_exempt_exactly() {
    let rules = Outbound::parse_list("http://127.0.0.1:4520, http://localhost:4520").unwrap();
    assert!(rules.check(&url("http://127.0.0.1:4520/_sites/x/")).is_ok());
    assert!(rules.check(&url("http://localhost:4520/")).is_ok());
    assert!(
        rules.check(&url("http://127.0.0.1:4521/")).is_err(),
        "another port"
    );
    assert!(
        rules.check(&url("https://127.0.0.1:4520/")).is_err(),
        "another scheme"
    );
    assert!(
        rules.check(&url("http://127.0.0.2:4520/")).is_err(),
        "another host"
    );
    assert!(Outbound::parse_list("http://127.0.0.1:4520/path").is_err());
    assert!(Outbound::parse_list("http://u:p@127.0.0.1:4520").is_err());
    assert!(Outbound::parse_list("not a url").is_err());
    assert_eq!(Outbound::parse_list(" ").unwrap(), Outbound::public());
}

#[test]
fn a_redirect_keeps_the_scheme_and_the_port() {
    let rules = Outbound::public();
    let first = url("https://shop.example.com/");
    assert!(
        rules
            .check_hop(&first, &url("https://www.shop.example.com/a"))
            .is_ok()
    );
    assert!(
        rules
            .check_hop(&first, &url("https://shop.example.com:443/"))
            .is_ok()
    );
    for hop in [
        "http://shop.example.com/",
        "https://shop.example.com:8443/",
        "https://shop.example.com:22/",
    ] {
        let refused = rules.check_hop(&first, &url(hop)).expect_err(hop);
        assert!(refused.0.contains("pinned"), "{hop}: {refused}");
    }
    let refused = rules
        .check_hop(&first, &url("https://169.254.169.254/"))
        .unwrap_err();
    assert!(refused.0.contains("not a public address"), "{refused}");
    // A person's local origin: the same port on loopback, nothing else.
    let named = Outbound::named_by_a_person("http://127.0.0.1:3000/");
    let first = url("http://127.0.0.1:3000/");
    assert!(
        named
            .check_hop(&first, &url("http://127.0.0.1:3000/login"))
            .is_ok()
    );
    assert!(
        named
            .check_hop(&first, &url("http://127.0.0.1:6379/"))
            .is_err()
    );
    assert!(
        named
            .check_hop(&first, &url("https://127.0.0.1:3000/"))
            .is_err()
    );
}

/// A server on 127.0.0.1 answering every request 200 "ok".
async fn server() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = socket.read(&mut buf).await;
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

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_where_the_connection_is_made() {
    let addr = server().await;
    // `localhost` is a name: it reaches the resolver, as a site's own name
    // (or one rebound to 127.0.0.1 after any earlier check) would.
    let target = format!("http://localhost:{}/", addr.port());
    let rules = Outbound::public();
    let client = rules.client().build().unwrap();
    let err = client.get(&target).send().await.unwrap_err();
    let refused = refusal(&err).unwrap_or_else(|| panic!("not refused by the resolver: {err:?}"));
    assert!(refused.0.contains("not a public address"), "{refused}");

    // The same server, exempt as a local origin: reached.
    let local = Outbound::parse_list(&format!("http://localhost:{}", addr.port())).unwrap();
    let body = local
        .client()
        .build()
        .unwrap()
        .get(&target)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn the_resolver_refuses_every_loopback_answer() {
    let resolver = PublicOnly {
        local_hosts: Vec::new(),
    };
    let name: reqwest::dns::Name = "localhost".parse().unwrap();
    let refused = match reqwest::dns::Resolve::resolve(&resolver, name).await {
        Ok(addrs) => panic!("resolved: {:?}", addrs.collect::<Vec<_>>()),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("localhost"), "{refused}");
}
