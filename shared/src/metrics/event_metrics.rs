//! Whether, and how finely, the per-event figures (builds, durations,
//! health verdicts, rollbacks) become CloudWatch metrics: the stack's
//! `EventMetrics` parameter (`SENTINEL_EVENT_METRICS`).
//!
//! Each combination of dimension values is a custom metric, billed for every
//! hour it receives data (docs/cost.md): per-event metrics cost about $2.30 a
//! month per environment, and as much again per app (or per branch) when
//! split by app (or branch). By default (`off`) the collector still prints
//! one line per event with every value and its `Environment`, `App`, `Branch`
//! (and `Category`), but without the metric directive: CloudWatch Logs
//! Insights reads them (the dashboard's widgets, per branch too) at no fixed
//! cost, `sentinel metrics --app/--branch` computes from the table, and the
//! daily delivery figures stay metrics.

use std::fmt;

/// The dimension sets of the per-event metrics; each level keeps the
/// coarser ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum EventMetrics {
    /// No per-event metric: log lines for Logs Insights only.
    #[default]
    Off,
    /// `[Environment]`.
    Environment,
    /// Also `[Environment, App]`, and failures per category
    /// (`[Environment, Category]`).
    App,
    /// Also `[Environment, App, Branch]` (pull-request previews share the
    /// branch value `previews`).
    Branch,
}

impl EventMetrics {
    pub const ALL: [Self; 4] = [Self::Off, Self::Environment, Self::App, Self::Branch];

    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "off" => Some(Self::Off),
            "environment" => Some(Self::Environment),
            "app" => Some(Self::App),
            "branch" => Some(Self::Branch),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Environment => "environment",
            Self::App => "app",
            Self::Branch => "branch",
        }
    }

    /// The dimension sets of a per-event line (none: no metric).
    pub fn event_sets(self) -> &'static [&'static [&'static str]] {
        match self {
            Self::Off => &[],
            Self::Environment => &[&["Environment"]],
            Self::App => &[&["Environment"], &["Environment", "App"]],
            Self::Branch => &[
                &["Environment"],
                &["Environment", "App"],
                &["Environment", "App", "Branch"],
            ],
        }
    }

    /// Whether failures per diagnosed category are a metric (one per
    /// category seen); otherwise the line's `Category` tells them.
    pub fn failures_by_category(self) -> bool {
        self >= Self::App
    }
}

impl fmt::Display for EventMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_keep_the_coarser_sets() {
        assert_eq!(EventMetrics::parse(""), Some(EventMetrics::Off));
        assert_eq!(EventMetrics::default(), EventMetrics::Off);
        for level in EventMetrics::ALL {
            assert_eq!(EventMetrics::parse(level.as_str()), Some(level));
        }
        assert_eq!(EventMetrics::parse("Branch"), Some(EventMetrics::Branch));
        assert_eq!(EventMetrics::parse("true"), None);
        assert!(EventMetrics::Off.event_sets().is_empty());
        for (finer, coarser) in [
            (EventMetrics::App, EventMetrics::Environment),
            (EventMetrics::Branch, EventMetrics::App),
        ] {
            assert!(
                coarser
                    .event_sets()
                    .iter()
                    .all(|s| finer.event_sets().contains(s)),
                "{finer} keeps {coarser}'s sets"
            );
        }
        assert!(
            !EventMetrics::Environment
                .event_sets()
                .iter()
                .any(|s| s.contains(&"Branch") || s.contains(&"App"))
        );
    }
}
