//! The validation rules, one file per kind of input: the build spec
//! ([`buildspec`]), the dependencies and lockfiles ([`deps`]), the
//! environment variables ([`env`]).

pub mod buildspec;
pub mod deps;
pub mod env;
pub mod package;
