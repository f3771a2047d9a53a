//! The compiled rule set the stream engine searches with: the literal
//! finder, the automaton that names every literal a line holds, and each
//! rule's regexes, compiled on their first use.

use std::sync::{LazyLock, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use regex::Regex;

use super::catalogue::{MARKERS, Marker, RULES};
use super::finder::Finder;

#[derive(Debug, Clone, Copy)]
pub(super) enum Kind {
    Rule(usize),
    Marker(Marker),
}

pub(super) struct Engine {
    /// Finds the lines holding a literal: most lines hold none.
    pub(super) finder: Finder,
    /// Names every literal a found line holds.
    pub(super) automaton: AhoCorasick,
    pub(super) kinds: Vec<Kind>,
    pub(super) confirms: Vec<Lazy>,
    pub(super) platforms: Vec<Lazy>,
    pub(super) exit_code: Lazy,
}

/// A rule's regex, compiled on its first use: a log needs a few of them,
/// and compiling all of them would be most of the start-up.
pub(super) struct Lazy {
    pub(super) source: Option<&'static str>,
    pub(super) regex: OnceLock<Regex>,
}

impl Lazy {
    pub(super) fn new(source: Option<&'static str>) -> Self {
        Self {
            source,
            regex: OnceLock::new(),
        }
    }

    pub(super) fn get(&self) -> Option<&Regex> {
        let source = self.source?;
        Some(
            self.regex
                .get_or_init(|| Regex::new(source).expect("catalogue regexes compile")),
        )
    }
}

pub(super) static ENGINE: LazyLock<Engine> = LazyLock::new(|| {
    let mut literals: Vec<&str> = Vec::new();
    let mut kinds = Vec::new();
    for (index, rule) in RULES.iter().enumerate() {
        for trigger in rule.triggers {
            literals.push(trigger);
            kinds.push(Kind::Rule(index));
        }
    }
    for (literal, marker) in MARKERS {
        literals.push(literal);
        kinds.push(Kind::Marker(*marker));
    }
    Engine {
        finder: Finder::new(&literals),
        // Run on found lines only: quick to build matters more than speed.
        automaton: AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&literals)
            .expect("the catalogue's literals build an automaton"),
        kinds,
        confirms: RULES.iter().map(|r| Lazy::new(r.confirm)).collect(),
        platforms: RULES.iter().map(|r| Lazy::new(r.platform)).collect(),
        exit_code: Lazy::new(Some(r"exit code:? (\d+)")),
    }
});

/// How the engine finds candidate lines on this machine (`teddy: …` or
/// `automaton`), for the benchmark's record.
pub fn searcher() -> String {
    ENGINE.finder.describe()
}

/// Compiles every rule's regexes now (they are otherwise compiled on first
/// use): a test's way to know they all compile.
pub fn compile_all() -> usize {
    ENGINE
        .confirms
        .iter()
        .chain(&ENGINE.platforms)
        .filter_map(Lazy::get)
        .count()
}
