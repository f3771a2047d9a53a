//! The diagnosis engine: reads a failed build's log as a stream and names
//! the root cause, its fix, and the evidence.
//!
//! How it stays fast and small:
//! - the log is fed in chunks ([`Diagnoser::feed`], or read straight into
//!   the buffer with [`Diagnoser::read_from`]) into a buffer of at most
//!   [`BUFFER`] bytes; nothing else grows with the log (at most one
//!   candidate per category and a few remembered warnings are kept), so
//!   memory is constant whatever its size;
//! - per buffer, not per line: ANSI escape codes (which can split a literal)
//!   are removed in place when `memchr` finds one, then Teddy, the SIMD
//!   searcher of `aho-corasick`, looks for rare fragments of every trigger
//!   and marker literal ([`finder`]); lines are counted with `memchr`. Only a
//!   line holding a literal is cleaned (CR, invalid UTF-8, Amplify's prefix)
//!   and checked against the rules' regexes.
//!
//! How it finds the root cause, not a symptom (`docs/diagnosis.md` has
//! examples):
//! - the generic trailer (`!!! Build failed`, `Command failed with exit
//!   code 1`) is never a cause, only the fallback's evidence; Amplify's own
//!   verdict (`!!! CustomerError: …`) is one, after a build that completed;
//! - warnings the build survived are not causes: inside a "Compiled with
//!   warnings" block, categories a compiler reports as warnings are
//!   remembered, not candidates; a line of any other category ends the
//!   block and counts. Candidates of a phase that later completed
//!   (`# Completed phase: build`) are dropped;
//! - a symptom (`TypeError: x is not a function`) that a remembered warning
//!   explains (`'x' is not exported from '…'`, the same name and module)
//!   makes that warning the cause, with both lines as evidence;
//! - a build image that cannot run the toolchain (`GLIBC_2.27 not found`)
//!   is the cause wherever it appears: what failed before it failed for
//!   that reason;
//! - the earliest remaining candidate wins, except that a wrapper symptom
//!   (a pre-render error) yields to a specific cause printed right after
//!   it, and takes a connection error next to it as its own evidence; the
//!   others are listed as secondary.

pub mod catalogue;
mod engine;
mod finder;
mod link;
pub mod ports;
mod report;
pub mod stack;
mod stream;
mod suspect;
pub mod text;

pub use crate::core::verdicts::{Diagnosis, Evidence, Secondary};
pub use engine::{compile_all, searcher};
pub use stream::{BUFFER, Diagnoser};

use std::io::Read;

use catalogue::RULES;

/// Diagnoses a whole log from a reader, in chunks.
pub fn diagnose_reader<R: Read>(mut reader: R) -> std::io::Result<Diagnosis> {
    let mut diagnoser = Diagnoser::new();
    while diagnoser.read_from(&mut reader)? > 0 {}
    Ok(diagnoser.finish())
}

/// Diagnoses a log held in memory.
pub fn diagnose_bytes(log: &[u8]) -> Diagnosis {
    let mut diagnoser = Diagnoser::new();
    diagnoser.feed(log);
    diagnoser.finish()
}

/// The catalogue's trigger literals as extended regular expressions, one
/// per line (for comparing with `grep -E -f`).
pub fn trigger_patterns() -> Vec<String> {
    let mut out: Vec<String> = RULES
        .iter()
        .flat_map(|r| r.triggers.iter())
        .map(|t| ere_escape(t))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Escapes the characters special in a POSIX extended regular expression.
fn ere_escape(literal: &str) -> String {
    let mut out = String::with_capacity(literal.len() + 4);
    for c in literal.chars() {
        if ".[]()*+?{}|^$\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
