//! GitHub: the verdict where developers look (`docs/github.md`).
//!
//! Off unless the stack names a GitHub App (or a fine-grained token): with
//! neither, no function builds a client and no request is made.
//!
//! - [`api`]: the port ([`api::GitHubApi`]), its request and answer types,
//!   and the repository of an Amplify app ([`api::Repo`]). The HTTPS
//!   adapter is `adapters::github`, the in-memory one
//!   `adapters::memory::MemoryGitHub`.
//! - [`render`]: what appears on GitHub for a job (check run, commit
//!   status, deployment, pull request comment), pure functions of its
//!   record; [`markdown`] escapes untrusted text for GitHub markdown, and
//!   [`annotate`] finds the `file:line`s of a diagnosis's evidence.
//! - [`policy`]: the policy's `github` section.
//! - [`permissions`]: the App's permissions (the manifest's, doctor's check).
//! - [`state`]: what was written to GitHub per job, and the lease.
//! - [`reaction`]: the alerter's reconciler, retries and breaker.

pub mod annotate;
pub mod api;
pub mod markdown;
pub mod permissions;
pub mod policy;
pub mod ports;
pub mod reaction;
pub mod render;
pub mod settings;
pub mod state;

pub use policy::GitHubPolicy;
pub use render::PrComment;
