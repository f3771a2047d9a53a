//! GitHub: the verdict where developers look (`docs/github.md`).
//!
//! Off unless the stack names a GitHub App (or a fine-grained token): with
//! neither, no function builds a client and no request is made.
//!
//! - [`api`]: the port ([`api::GitHubApi`]), its request and answer types,
//!   and the repository of an Amplify app ([`api::Repo`]). The HTTPS
//!   adapter is `adapters::github`, the in-memory one
//!   `adapters::memory::MemoryGitHub`.
//! - [`permissions`]: the App's permissions (the manifest's, doctor's check).

pub mod api;
pub mod permissions;
pub mod settings;
