//! GitHub: the verdict where developers look (`docs/github.md`).
//!
//! Off unless the stack names a GitHub App (or a fine-grained token): with
//! neither, no function builds a client and no request is made.
//!
//! - [`api`]: the port ([`api::GitHubApi`]), its request and answer types,
//!   and the repository of an Amplify app ([`api::Repo`]). The HTTPS
//!   adapter is `adapters::github`, the in-memory one
//!   `adapters::memory::MemoryGitHub`.

//! - [`render`]: what GitHub should show of a job (pure).
//! - [`state`]: what was written to GitHub per job, and the lease.
//! - [`reaction`]: the alerter's reconciler, retries and breaker.

pub mod api;
pub mod reaction;
pub mod render;
pub mod settings;
pub mod state;
