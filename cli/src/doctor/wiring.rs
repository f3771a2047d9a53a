//! What the doctor expects of the stack: each function's queue and the
//! rules that feed it, as `template.yaml` declares them (the rules' and
//! queues' checks, and the event sources', go through this list).

/// What each function reads and what feeds it, as template.yaml declares
/// (`the_wiring_is_the_templates` keeps them equal).
pub struct Wire {
    /// The function's binary; its name is `deploy-sentinel-{env}-{function}`.
    pub function: &'static str,
    /// The queue's logical id (the template test reads it), and its name's
    /// end (`deploy-sentinel-{env}-{queue}`).
    #[cfg_attr(not(test), allow(dead_code))]
    pub queue_logical: &'static str,
    pub queue: &'static str,
    pub rules: &'static [RuleSpec],
}

pub struct RuleSpec {
    pub logical: &'static str,
    /// On the default bus (Amplify's events, schedules) or the stack's.
    pub default_bus: bool,
    pub schedule: bool,
    /// The stack parameter that creates the rule when it is not empty (a
    /// `Condition` in the template); `None`: always there.
    pub only_with: Option<&'static str>,
}

const fn rule(logical: &'static str, default_bus: bool, schedule: bool) -> RuleSpec {
    RuleSpec {
        logical,
        default_bus,
        schedule,
        only_with: None,
    }
}

pub const WIRING: &[Wire] = &[
    Wire {
        function: "build-event-handler",
        queue_logical: "IngestQueue",
        queue: "ingest",
        rules: &[
            rule("AmplifyStatusRule", true, false),
            // Only when the stack watches CloudFormation stacks (docs/stacks.md).
            RuleSpec {
                only_with: Some("WatchedStacks"),
                ..rule("StackStatusRule", true, false)
            },
            // Reports of deploys (`sentinel report`), on the stack's bus.
            rule("ReportRule", false, false),
        ],
    },
    Wire {
        function: "validator",
        queue_logical: "ValidatorQueue",
        queue: "validator",
        rules: &[rule("BuildStartedRule", false, false)],
    },
    Wire {
        function: "health-checker",
        queue_logical: "HealthCheckQueue",
        queue: "health-check",
        rules: &[
            rule("BuildSucceededRule", false, false),
            rule("LiveHealthScheduleRule", true, true),
        ],
    },
    // Reported services' deploys: the same function, its own queue and
    // share of concurrency (#28: reporters cannot starve Amplify's checks).
    Wire {
        function: "health-checker",
        queue_logical: "ReportedHealthCheckQueue",
        queue: "reported-health",
        rules: &[rule("ReportedBuildSucceededRule", false, false)],
    },
    Wire {
        function: "alerter",
        queue_logical: "AlerterQueue",
        queue: "alerter",
        rules: &[rule("AlertRule", false, false)],
    },
    Wire {
        function: "rollback",
        queue_logical: "RollbackQueue",
        queue: "rollback",
        rules: &[rule("RollbackRule", false, false)],
    },
    Wire {
        function: "metrics-collector",
        queue_logical: "MetricsQueue",
        queue: "metrics",
        rules: &[
            rule("MetricsRule", false, false),
            rule("MetricsScheduleRule", true, true),
        ],
    },
    Wire {
        function: "cleanup",
        queue_logical: "CleanupQueue",
        queue: "cleanup",
        rules: &[rule("CleanupScheduleRule", true, true)],
    },
];
