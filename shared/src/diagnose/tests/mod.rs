//! The log engine against synthetic logs and the fixtures of
//! `tests/fixtures/diagnose`; the log's usual head and tail, shared by the
//! tests of each concern.

use proptest::prelude::*;

use super::*;

mod catalogue;
mod causes;
mod input;
mod platform;
mod symptoms;
mod unknown;

fn log(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| format!("2024-03-01T10:00:00.000Z [INFO]: {l}\n"))
        .collect()
}

const HEAD: &[&str] = &[
    "# Cloning repository: git@github.com:acme/shop.git",
    "# Starting phase: preBuild",
    "# Executing command: npm ci",
    "added 812 packages in 14s",
    "# Completed phase: preBuild",
    "# Starting phase: build",
    "# Executing command: npm run build",
    "> next build",
];

const TAIL: &[&str] = &[
    "!!! Build failed",
    "!!! Error: Command failed with exit code 1",
    "# Starting environment caching...",
    "# Environment caching completed",
    "Terminating logging...",
];

/// The diagnosis of [`failing`] `lines`.
fn diagnose_failing(lines: &[&str]) -> Diagnosis {
    diagnose_bytes(failing(lines).as_bytes())
}

fn failing(middle: &[&str]) -> String {
    let all: Vec<&str> = HEAD.iter().chain(middle).chain(TAIL).copied().collect();
    log(&all)
}

/// The diagnosis of `text` fed in pieces of `cuts` (over and over) to a
/// diagnoser of `buffer` bytes.
fn fed_in_chunks(text: &[u8], buffer: usize, cuts: &[usize]) -> Diagnosis {
    let mut diagnoser = Diagnoser::with_buffer(buffer);
    let mut rest = text;
    for cut in cuts.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = (*cut).min(rest.len());
        diagnoser.feed(&rest[..n]);
        rest = &rest[n..];
    }
    diagnoser.finish()
}
