//! The `rollback` section of a policy (`docs/policy.md`), and the stack's
//! `AutoRollback` parameter it refines.

use serde::{Deserialize, Serialize};

use crate::core::model::Environment;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RollbackPolicy {
    /// Roll back an unhealthy deploy on its own: `null` follows the stack's
    /// `AutoRollback` (default: on in staging and prod, off in dev).
    pub automatic: Option<bool>,
    /// At most this many automatic rollbacks per branch per `window_hours`;
    /// beyond, it only alerts ("Rollback Recommended").
    pub max_automatic: u32,
    pub window_hours: u64,
    /// Retries of a build that failed transiently (a network error), per
    /// job lineage.
    pub max_retries: u32,
    /// How long an invocation holds the branch while starting a rollback.
    pub lease_seconds: u64,
}

impl Default for RollbackPolicy {
    fn default() -> Self {
        Self {
            automatic: None,
            max_automatic: 1,
            window_hours: 6,
            max_retries: 1,
            lease_seconds: 120,
        }
    }
}

/// The stack's `AutoRollback` parameter (`SENTINEL_AUTO_ROLLBACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoRollback {
    /// On in staging and prod, off in dev.
    #[default]
    Auto,
    On,
    Off,
}

impl AutoRollback {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Some(Self::Auto),
            "on" | "true" => Some(Self::On),
            "off" | "false" => Some(Self::Off),
            _ => None,
        }
    }
}

impl RollbackPolicy {
    /// Whether automatic rollback is on: the policy's word, else the stack's.
    pub fn automatic_in(&self, environment: Environment, stack: AutoRollback) -> bool {
        self.automatic.unwrap_or(match stack {
            AutoRollback::On => true,
            AutoRollback::Off => false,
            AutoRollback::Auto => environment != Environment::Dev,
        })
    }
}
