//! The `github` section of a policy (`docs/policy.md`): what Sentinel
//! writes on GitHub for the app or branch, when GitHub is on.

use serde::{Deserialize, Serialize};

use super::render::PrComment;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitHubPolicy {
    /// When a `pr-N` preview's pull request gets Sentinel's one comment:
    /// `always`, `failures` (the default) or `never`.
    pub pr_comment: PrComment,
}
