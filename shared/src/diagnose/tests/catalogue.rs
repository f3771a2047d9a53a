//! The catalogue's patterns: each compiles, and grep's copies are escaped.

use super::*;

#[test]
fn every_catalogue_regex_compiles() {
    assert!(compile_all() >= 20);
}

#[test]
fn patterns_for_grep_are_escaped() {
    let patterns = trigger_patterns();
    assert!(patterns.contains(&"Permission denied \\(publickey\\)".to_owned()));
    assert!(patterns.iter().all(|p| !p.is_empty()));
}
