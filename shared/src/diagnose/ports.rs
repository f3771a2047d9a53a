//! The port a diagnosis reads a build's log through: a stream fed to the
//! [`Diagnoser`]. Implemented in `adapters::http_log` and
//! `adapters::memory`.

use std::future::Future;

use super::stream::Diagnoser;

/// Why a log could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// Expired, deleted, or refused: it will not come back.
    #[error("log unavailable: {0}")]
    Unavailable(String),
    /// The connection broke or timed out.
    #[error("log read failed: {0}")]
    Failed(String),
}

/// Reads a build log by URL as a stream, feeding it to the diagnoser.
pub trait LogSource: Send + Sync {
    fn read_log(
        &self,
        url: &str,
        into: &mut Diagnoser,
    ) -> impl Future<Output = Result<(), LogError>> + Send;
}
