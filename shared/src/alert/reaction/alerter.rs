//! The alerter: the ports and settings it reacts with, and what one
//! delivery led to. Its reactions are the files beside this one.

use crate::stack::Stack;

pub struct Alerter<'a, K: Stack> {
    pub store: &'a K::Store,
    pub amplify: &'a K::Amplify,
    /// A watched stack's events, for the diagnosis of its failed operation.
    pub cloudformation: &'a K::CloudFormation,
    pub publisher: &'a K::Publisher,
    pub notifier: &'a K::Notifier,
    pub logs: &'a K::Logs,
    /// For links to the Amplify console.
    pub region: &'a str,
    /// See `Config::site_url_template`.
    pub site_url_template: Option<&'a str>,
    /// With GitHub on: who pushed, and the site (custom domain first),
    /// read before the alert (`github::reaction::GitHubReporter::alert_extras`).
    pub extras: Option<crate::github::reaction::AlertExtras>,
}

/// What one delivery led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertOutcome {
    /// `opened`, `reminder`, `joined`, `resolved`, `notice`, `duplicate`,
    /// `stale`, `nothing-open`, or `held-back` (over the hourly budget).
    pub decision: String,
    pub sent: usize,
    /// The diagnosis category, for a failed build.
    pub category: Option<String>,
}
