//! [`LogSource`] over HTTPS: streams a build log from its pre-signed URL
//! into the diagnoser chunk by chunk, never holding the whole log. The URL
//! is a credential while it lives: errors name its host and path only.

use std::sync::OnceLock;
use std::time::Duration;

use crate::diagnose::Diagnoser;
use crate::ports::{LogError, LogSource};

pub struct HttpLogSource {
    /// Built on the first log read: most invocations read no log, and
    /// building it loads the system's root certificates (about 5 ms of a
    /// cold start). An error (no certificates at all) fails that read.
    client: OnceLock<Result<reqwest::Client, String>>,
}

impl HttpLogSource {
    pub fn new() -> Self {
        Self {
            client: OnceLock::new(),
        }
    }

    fn client(&self) -> Result<&reqwest::Client, LogError> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .read_timeout(Duration::from_secs(30))
                    .build()
                    .map_err(|e| format!("cannot build the HTTP client: {e}"))
            })
            .as_ref()
            .map_err(|e| LogError::Failed(e.clone()))
    }
}

impl Default for HttpLogSource {
    fn default() -> Self {
        Self::new()
    }
}

/// The URL without its query (the signature).
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            u.set_query(None);
            u.to_string()
        }
        Err(_) => "<unparseable URL>".into(),
    }
}

impl LogSource for HttpLogSource {
    async fn read_log(&self, url: &str, into: &mut Diagnoser) -> Result<(), LogError> {
        let shown = redact_url(url);
        let mut response = self
            .client()?
            .get(url)
            .send()
            .await
            .map_err(|e| LogError::Failed(format!("{shown}: {}", e.without_url())))?;
        let status = response.status();
        if status.is_client_error() {
            // S3 answers 403 AccessDenied "Request has expired" for an old link.
            let body = response.text().await.unwrap_or_default();
            let reason = body
                .split("<Message>")
                .nth(1)
                .and_then(|m| m.split("</Message>").next())
                .unwrap_or("");
            return Err(LogError::Unavailable(
                format!("{status} {reason} ({shown})").replace("  ", " "),
            ));
        }
        if !status.is_success() {
            return Err(LogError::Failed(format!("{status} from {shown}")));
        }
        loop {
            match response.chunk().await {
                Ok(Some(bytes)) => into.feed(&bytes),
                Ok(None) => return Ok(()),
                Err(e) => {
                    return Err(LogError::Failed(format!("{shown}: {}", e.without_url())));
                }
            }
        }
    }
}
