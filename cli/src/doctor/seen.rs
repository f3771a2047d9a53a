//! What `gather` read, area by area: the one [`Seen`] every check is
//! given, and each area's part of it. An `Err` is the call's error as text.

use std::collections::BTreeMap;

/// Everything [`gather`] read; an `Err` is the call's error as text.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    pub stack: String,
    pub environment: String,
    pub region: String,
    pub table_name: String,
    pub table: Option<Result<TableSeen, String>>,
    pub bus_name: String,
    pub bus: Option<Result<(), String>>,
    pub rules: Vec<RuleSeen>,
    pub archives: Vec<ArchiveSeen>,
    pub queues: Vec<QueueSeen>,
    pub dlq: Option<DlqSeen>,
    pub sources: Vec<SourceSeen>,
    pub topic_arn: Option<String>,
    pub subscriptions: Option<Result<Vec<SubscriptionSeen>, String>>,
    pub apps: Vec<AppSeen>,
    pub settings: BTreeMap<String, String>,
    /// GitHub: off, or the App (or token) and each app's repository.
    pub github: GitHubSeen,
    /// The local stack (moto): no event source mappings, no schedules.
    pub local: bool,
}

#[derive(Debug, Clone)]
pub struct SubscriptionSeen {
    /// `PendingConfirmation` until the endpoint confirms.
    pub arn: String,
    pub protocol: String,
    pub endpoint: String,
}

#[derive(Debug, Clone)]
pub struct AppSeen {
    pub app_id: String,
    pub answer: Result<String, String>,
    /// GetApp's repository (the GitHub checks' input).
    pub repository: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RepoSeen {
    pub app_id: String,
    pub repository: Option<String>,
    pub access: RepoAccess,
}

/// GitHub as doctor saw it.
#[derive(Debug, Clone, Default)]
pub enum GitHubSeen {
    /// No GitHub parameter is set.
    #[default]
    Off,
    /// The parameters do not make a configuration (an App id without key).
    Misconfigured(String),
    App {
        app_id: u64,
        key_parameter: String,
        /// `GET /app`: the App's name, or why not.
        app: Result<String, String>,
        repos: Vec<RepoSeen>,
    },
    Token {
        parameter: String,
        repos: Vec<RepoSeen>,
    },
}

#[derive(Debug, Clone)]
pub struct QueueSeen {
    pub name: String,
    pub function: String,
    pub read: Result<QueueDepth, String>,
}

#[derive(Debug, Clone)]
pub struct DlqSeen {
    pub arn: Option<String>,
    pub read: Result<DlqContent, String>,
}

#[derive(Debug, Clone)]
pub struct SourceSeen {
    pub function: String,
    pub queue_arn: String,
    pub found: Result<Vec<Mapping>, String>,
}

#[derive(Debug, Clone)]
pub struct RuleSeen {
    pub logical: String,
    pub bus: String,
    pub schedule: bool,
    /// The queue it must deliver to (ARN).
    pub queue_arn: String,
    /// Its name, when found.
    pub name: Option<String>,
    pub state: Option<String>,
    pub targets: Vec<String>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct TableSeen {
    pub status: String,
    /// Index name → status.
    pub indexes: BTreeMap<String, String>,
    pub ttl: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct ArchiveSeen {
    pub name: String,
    pub state: Result<String, String>,
}

/// What doctor saw of one watched app's repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoAccess {
    /// GetApp's repository is not on github.com (or the app has none).
    NotGitHub,
    /// The App is installed there; the required permissions it lacks.
    Installed { missing: Vec<String> },
    /// The token sees the repository.
    Visible,
    /// The App is not installed there (or the token cannot see it).
    NotFound(String),
    /// Another failure (GitHub unreachable, refused).
    Failed(String),
}

#[derive(Debug, Clone, Default)]
pub struct QueueDepth {
    pub visible: u64,
    pub in_flight: u64,
    /// Seconds, from CloudWatch's ApproximateAgeOfOldestMessage (none
    /// without a recent datapoint).
    pub oldest_age: Option<f64>,
    /// The redrive policy's dead-letter target.
    pub dead_letter_target: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DlqContent {
    pub depth: u64,
    /// (reason, source queue) → messages, from the messages read.
    pub reasons: BTreeMap<(String, String), usize>,
}

#[derive(Debug, Clone)]
pub struct Mapping {
    pub uuid: String,
    pub function_arn: String,
    pub state: String,
    /// From the local dispatcher's routes, not Lambda.
    pub local_route: bool,
}
