//! The validation rules, one file per kind of input: the build spec
//! ([`buildspec`]), the dependencies and lockfiles ([`deps`]), the
//! environment variables ([`env`]); and what they read: the manifest and
//! its lockfile ([`package`]), what a public variable's value is by its
//! format ([`public_values`]).

pub mod buildspec;
pub mod deps;
pub mod env;
pub mod package;
pub mod public_values;
