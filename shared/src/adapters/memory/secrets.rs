//! Amplify's secrets in memory: parameter names a test sets up (never
//! values), and a failure it asks for.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::ports::{SecretNames, SecretsError};

use super::lock;

/// Full parameter names (`/amplify/d1/main/DATABASE_URL`); `fail` answers
/// every call with that error.
#[derive(Default)]
pub struct MemorySecrets {
    pub names: Mutex<BTreeSet<String>>,
    pub fail: Mutex<Option<SecretsError>>,
    pub calls: AtomicUsize,
}

impl MemorySecrets {
    pub fn with(names: &[&str]) -> Self {
        let secrets = Self::default();
        lock(&secrets.names).extend(names.iter().map(|n| (*n).to_owned()));
        secrets
    }
}

impl SecretNames for MemorySecrets {
    async fn names_under(&self, path: &str) -> Result<Vec<String>, SecretsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(e) = lock(&self.fail).clone() {
            return Err(e);
        }
        Ok(lock(&self.names)
            .iter()
            .filter_map(|name| crate::adapters::ssm::one_level(path, name))
            .map(str::to_owned)
            .collect())
    }
}
