//! In-memory ports for unit tests. They keep the same contracts as the AWS
//! adapters (conditional writes, per-entry publish failures), and can be told
//! to fail, so domain logic is tested without a server.
//!
//! One file per kind: the table's stores (`store.rs`), Amplify
//! (`amplify.rs`), Amplify's secrets' names (`secrets.rs`), and what leaves
//! the stack: events, alerts, logs, dead letters (`outbound.rs`).

mod amplify;
mod cloudformation;
mod github;
mod metrics;
mod outbound;
mod secrets;
mod store;

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::core::deployment::DeploymentKey;

pub use amplify::MemoryAmplify;
pub use cloudformation::MemoryCloudFormation;
pub use github::{GitHubCall, MemoryGitHub};
pub use metrics::{MemoryMetrics, MemoryRetries, MemorySteps};
pub use outbound::{MemoryDeadLetter, MemoryLogs, MemoryNotifier, MemoryPublisher};
pub use secrets::MemorySecrets;
pub use store::{MemoryPolicies, MemoryStore};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another test thread panicked; the data is
    // still usable for the assertion that follows.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The stack in memory, for unit tests.
pub struct InMemory;

impl crate::stack::Stack for InMemory {
    type Store = MemoryStore;
    type Amplify = MemoryAmplify;
    type CloudFormation = MemoryCloudFormation;
    type Publisher = MemoryPublisher;
    type DeadLetter = MemoryDeadLetter;
    type Notifier = MemoryNotifier;
    type Logs = MemoryLogs;
    type Secrets = MemorySecrets;
    type GitHub = MemoryGitHub;
}

fn take_one(counter: &AtomicUsize) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

fn dkey(k: &DeploymentKey) -> (String, String, u64) {
    (
        k.app_id.to_string(),
        k.branch_name.to_string(),
        k.job_id.number(),
    )
}
