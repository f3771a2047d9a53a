//! Building the SDK clients, once per process. Endpoints come from the
//! standard variables (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>`), so
//! the local stack and AWS use the same code path.
//!
//! Every call carries the function's name as the SDK's app name (`app/NAME`
//! in the user agent): CloudTrail shows which function made a call, and the
//! reliability suite's proxy counts calls per function.
//!
//! Cold start: the SDK's default HTTPS client loads the system's root
//! certificates (the bundle file *and* every file of `/etc/ssl/certs`) and
//! builds a TLS configuration for each client at construction, 8 of a
//! function's 12 ms of start-up (`scripts/bench-coldstart.py`). Here every
//! client of the process shares one HTTPS client, built on its first call,
//! that trusts the CA bundle file alone (read once); without a readable
//! bundle it falls back to the SDK's own loading.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use aws_config::{AppName, BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

pub async fn load() -> SdkConfig {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(SharedHttpClient::new(SharedHttps::default()));
    match std::env::var("AWS_LAMBDA_FUNCTION_NAME")
        .ok()
        .and_then(|name| app_name(&name))
    {
        Some(name) => loader.app_name(name),
        None => loader,
    }
    .load()
    .await
}

/// One HTTPS client for every SDK client of the process, built on first use.
#[derive(Debug, Clone, Default)]
struct SharedHttps {
    client: Arc<OnceLock<SharedHttpClient>>,
}

impl HttpClient for SharedHttps {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.client
            .get_or_init(https_client)
            .http_connector(settings, components)
    }
}

/// Where Linux distributions keep the CA bundle; `SSL_CERT_FILE` first.
const CA_BUNDLES: [&str; 4] = [
    "/etc/pki/tls/certs/ca-bundle.crt", // Amazon Linux 2023 (Lambda), Fedora
    "/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine
    "/etc/ssl/ca-bundle.pem",           // openSUSE
    "/etc/ssl/cert.pem",                // macOS, BSDs
];

fn https_client() -> SharedHttpClient {
    let builder = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
    match ca_bundle().and_then(|pem| {
        TlsContext::builder()
            .with_trust_store(
                TrustStore::empty()
                    .with_native_roots(false)
                    .with_pem_certificate(pem),
            )
            .build()
            .ok()
    }) {
        Some(context) => builder.tls_context(context).build_https(),
        None => builder.build_https(),
    }
}

/// The first readable CA bundle whose every certificate rustls accepts (the
/// SDK's TLS set-up refuses a bundle with one it cannot parse).
fn ca_bundle() -> Option<Vec<u8>> {
    std::env::var_os("SSL_CERT_FILE")
        .map(PathBuf::from)
        .into_iter()
        .chain(CA_BUNDLES.iter().map(PathBuf::from))
        .filter_map(|path| std::fs::read(path).ok())
        .find(|pem| usable_bundle(pem))
}

fn usable_bundle(pem: &[u8]) -> bool {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let mut count = 0;
    for cert in CertificateDer::pem_slice_iter(pem) {
        match cert.map(|c| roots.add(c)) {
            Ok(Ok(())) => count += 1,
            _ => return false,
        }
    }
    count > 0
}

/// The function's name as an app name: characters the user agent does not
/// allow become `-`, and it is cut to the 50 characters allowed.
fn app_name(function: &str) -> Option<AppName> {
    let cleaned: String = function
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    AppName::new(cleaned).ok()
}

#[cfg(test)]
mod tests {
    use super::{app_name, usable_bundle};

    #[test]
    fn a_function_name_becomes_a_valid_app_name() {
        assert_eq!(
            app_name("deploy-sentinel-prod-AlerterFunction-1AB2")
                .unwrap()
                .to_string(),
            "deploy-sentinel-prod-AlerterFunction-1AB2"
        );
        assert_eq!(app_name("a b/c").unwrap().to_string(), "a-b-c");
        assert_eq!(app_name(&"x".repeat(80)).unwrap().to_string().len(), 50);
        assert!(app_name("").is_none());
    }

    #[test]
    fn only_a_bundle_rustls_fully_accepts_is_used() {
        assert!(!usable_bundle(b""), "no certificate");
        assert!(!usable_bundle(
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n"
        ));
        if let Ok(system) = std::fs::read("/etc/ssl/certs/ca-certificates.crt") {
            assert!(usable_bundle(&system), "the system bundle parses");
        }
    }
}
