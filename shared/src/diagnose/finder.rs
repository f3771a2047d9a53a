//! Which lines are worth a look, found at memory speed.
//!
//! Every catalogue literal (trigger or marker) must be found wherever it
//! is, but almost no line of a build log holds one. One Aho-Corasick
//! automaton over all of them reads every byte through a large state
//! machine (about 400 MB/s); Teddy, the SIMD searcher of the `aho-corasick`
//! crate (`packed`), is several times faster but takes at most 64 patterns
//! well, and the catalogue has some 160 literals. So Teddy looks for
//! *fragments*: a few 4-byte substrings such that every literal contains
//! one, chosen to be rare in ordinary log text (uppercase letters,
//! punctuation, rare letters) and shared by several literals where they can
//! be. Where Teddy finds a fragment, the literals holding it are compared
//! in place (a `memcmp` each); only a real literal makes a hit. The result
//! is exact: a line holding a literal is always reported, a line without
//! one never.
//!
//! Without SIMD (Teddy needs SSSE3/AVX2 or NEON), an Aho-Corasick DFA over
//! the literals does the same job, slower.

use std::collections::HashMap;

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// Teddy's fat variant holds up to 64 patterns at full speed.
const GROUP: usize = 64;

pub(super) struct Finder {
    imp: Imp,
}

enum Imp {
    Teddy {
        /// One searcher per group of at most [`GROUP`] fragments; usually one.
        searchers: Vec<packed::Searcher>,
        /// Per fragment (numbered across groups): the literals holding it
        /// and the fragment's offset in each.
        checks: Vec<Vec<(usize, usize)>>,
        /// The literals, deduplicated, none containing another.
        literals: Vec<Vec<u8>>,
    },
    Automaton(AhoCorasick),
}

impl Finder {
    pub(super) fn new<S: AsRef<[u8]>>(all: &[S]) -> Self {
        let literals = cover(all);
        if let Some(imp) = teddy(&literals) {
            return Self { imp };
        }
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostFirst)
            .kind(Some(AhoCorasickKind::DFA))
            .build(&literals)
            .expect("the catalogue's literals build an automaton");
        Self {
            imp: Imp::Automaton(automaton),
        }
    }

    /// Which searcher runs: `"teddy"` (with its fragment count) or
    /// `"automaton"`.
    pub(super) fn describe(&self) -> String {
        match &self.imp {
            Imp::Teddy {
                searchers, checks, ..
            } => format!(
                "teddy: {} fragments in {} group(s)",
                checks.len(),
                searchers.len()
            ),
            Imp::Automaton(_) => "automaton".to_owned(),
        }
    }

    /// The literals' occurrences in `haystack`, in order.
    pub(super) fn hits<'a>(&'a self, haystack: &'a [u8]) -> Hits<'a> {
        let next = match &self.imp {
            Imp::Teddy { searchers, .. } => vec![None; searchers.len()],
            Imp::Automaton(_) => vec![None],
        };
        Hits {
            finder: self,
            haystack,
            next,
            floor: 0,
        }
    }
}

/// A cursor over one haystack's literal occurrences.
pub(super) struct Hits<'a> {
    finder: &'a Finder,
    haystack: &'a [u8],
    /// Per group, its next fragment (start, fragment number): `None` not
    /// searched yet, `Some(None)` none left.
    next: Vec<Option<Option<(usize, usize)>>>,
    /// Just past the last fragment reported: each is reported once.
    floor: usize,
}

impl Hits<'_> {
    /// The start of a literal occurrence after `from`: the one whose rare
    /// fragment comes first (so, line by line, in order).
    pub(super) fn next_from(&mut self, from: usize) -> Option<usize> {
        let hay = self.haystack;
        let from = from.max(self.floor);
        if from >= hay.len() {
            return None;
        }
        let (searchers, checks, literals) = match &self.finder.imp {
            Imp::Automaton(automaton) => {
                let input = aho_corasick::Input::new(hay).span(from..hay.len());
                let found = automaton.find(input)?;
                self.floor = found.start() + 1;
                return Some(found.start());
            }
            Imp::Teddy {
                searchers,
                checks,
                literals,
            } => (searchers, checks, literals),
        };
        for (g, searcher) in searchers.iter().enumerate() {
            if self.next[g].is_none_or(|n| n.is_some_and(|(at, _)| at < from)) {
                self.next[g] = Some(search(searcher, g, hay, from));
            }
        }
        loop {
            let (group, (at, fragment)) = self
                .next
                .iter()
                .enumerate()
                .filter_map(|(g, n)| n.flatten().map(|n| (g, n)))
                .min_by_key(|(_, (at, _))| *at)?;
            let real = checks[fragment].iter().find(|&&(literal, offset)| {
                at >= offset && hay[at - offset..].starts_with(&literals[literal])
            });
            if let Some((_, offset)) = real {
                self.floor = at + 1;
                return Some(at - offset);
            }
            // A fragment outside any literal: its group searches on.
            self.next[group] = Some(search(&searchers[group], group, hay, at + 1));
        }
    }
}

fn search(
    searcher: &packed::Searcher,
    group: usize,
    hay: &[u8],
    from: usize,
) -> Option<(usize, usize)> {
    if from >= hay.len() {
        return None;
    }
    searcher
        .find_in(hay, aho_corasick::Span::from(from..hay.len()))
        .map(|m| (m.start(), group * GROUP + m.pattern().as_usize()))
}

/// The literals a line must be checked for: deduplicated, and without
/// those that contain another (the line holding `Error: Failed to collect
/// page data` holds `Failed to collect page data`).
fn cover<S: AsRef<[u8]>>(all: &[S]) -> Vec<Vec<u8>> {
    let mut literals: Vec<Vec<u8>> = all.iter().map(|l| l.as_ref().to_vec()).collect();
    literals.sort();
    literals.dedup();
    let keep: Vec<bool> = literals
        .iter()
        .map(|l| {
            !literals
                .iter()
                .any(|o| o.len() < l.len() && memchr::memmem::find(l, o).is_some())
        })
        .collect();
    literals
        .into_iter()
        .zip(keep)
        .filter_map(|(l, k)| k.then_some(l))
        .collect()
}

/// How often a byte appears in build-log text, roughly: spaces and common
/// lowercase letters most, digits (timestamps) and the letters of the
/// `[INFO]`/`[WARNING]` prefixes next, other uppercase letters and
/// punctuation rarely. A fragment's expected frequency is the product over
/// its bytes.
fn frequency(byte: u8) -> f64 {
    match byte {
        b' ' => 0.15,
        b'e' | b't' | b'a' | b'o' | b'i' | b'n' | b's' | b'r' => 0.06,
        b'j' | b'q' | b'x' | b'z' => 0.002,
        b'a'..=b'z' => 0.02,
        b'0'..=b'9' => 0.03,
        b'A' | b'E' | b'F' | b'G' | b'I' | b'N' | b'O' | b'R' | b'T' | b'W' | b'Z' => 0.01,
        b'A'..=b'Z' => 0.005,
        b'.' | b':' | b'-' | b'/' | b'_' | b'\'' | b'"' | b'(' | b')' | b'[' | b']' | b','
        | b'=' | b'@' => 0.01,
        _ => 0.001,
    }
}

/// The fragment length: Teddy compares at most 4 bytes per position.
const FRAGMENT: usize = 4;

/// Teddy over fragments of the literals, if this machine has the SIMD it
/// needs.
fn teddy(literals: &[Vec<u8>]) -> Option<Imp> {
    // Every window of every literal, with the literals (and offsets) that
    // hold it.
    let mut windows: HashMap<&[u8], Vec<(usize, usize)>> = HashMap::new();
    for (i, literal) in literals.iter().enumerate() {
        let n = FRAGMENT.min(literal.len());
        for offset in 0..=literal.len() - n {
            windows
                .entry(&literal[offset..offset + n])
                .or_default()
                .push((i, offset));
        }
    }
    let mut candidates: Vec<(&[u8], Vec<(usize, usize)>, f64)> = windows
        .into_iter()
        .map(|(w, holders)| {
            let cost = w.iter().map(|&b| frequency(b)).product();
            (w, holders, cost)
        })
        .collect();
    // Deterministic whatever the hash map's order.
    candidates.sort_by(|a, b| a.0.cmp(b.0));
    // Weighted set cover, greedily: the fragment with the least cost per
    // literal newly covered, where each fragment also costs `overhead`.
    // A higher overhead favours fragments shared by more literals; it is
    // raised until the fragments fit one Teddy group, or can go no lower.
    let mut best: Option<Vec<usize>> = None;
    for overhead in [0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1.0] {
        let chosen = greedy(literals.len(), &candidates, overhead);
        if best.as_ref().is_none_or(|b| chosen.len() < b.len()) {
            best = Some(chosen);
        }
        if best.as_ref().is_some_and(|b| b.len() <= GROUP) {
            break;
        }
    }
    let chosen = best?;
    let fragments: Vec<(&[u8], &Vec<(usize, usize)>)> = chosen
        .iter()
        .map(|&c| (candidates[c].0, &candidates[c].1))
        .collect();
    // A fragment found at a position is checked with the literals of every
    // fragment that is a prefix of it (only a literal shorter than
    // FRAGMENT makes one): leftmost-first reports just one of them.
    let checks: Vec<Vec<(usize, usize)>> = fragments
        .iter()
        .map(|(f, _)| {
            fragments
                .iter()
                .filter(|(g, _)| f.starts_with(g))
                .flat_map(|(_, holders)| holders.iter().copied())
                .collect()
        })
        .collect();
    let searchers = fragments
        .chunks(GROUP)
        .map(|group| {
            packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostFirst)
                .heuristic_pattern_limits(false)
                .builder()
                .extend(group.iter().map(|(f, _)| f))
                .build()
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Imp::Teddy {
        searchers,
        checks,
        literals: literals.to_vec(),
    })
}

/// Indices of `candidates` covering every literal.
fn greedy(
    literals: usize,
    candidates: &[(&[u8], Vec<(usize, usize)>, f64)],
    overhead: f64,
) -> Vec<usize> {
    let mut covered = vec![false; literals];
    let mut left = literals;
    let mut chosen = Vec::new();
    while left > 0 {
        let pick = candidates
            .iter()
            .enumerate()
            .filter_map(|(c, (_, holders, cost))| {
                let mut new = 0;
                let mut last = usize::MAX;
                for &(literal, _) in holders {
                    if literal != last && !covered[literal] {
                        new += 1;
                    }
                    last = literal;
                }
                (new > 0).then(|| (c, (cost + overhead) / new as f64))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(c, _)| c);
        let Some(c) = pick else { break };
        for &(literal, _) in &candidates[c].1 {
            if !covered[literal] {
                covered[literal] = true;
                left -= 1;
            }
        }
        chosen.push(c);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_hits(finder: &Finder, hay: &[u8]) -> Vec<usize> {
        let mut hits = finder.hits(hay);
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(at) = hits.next_from(from) {
            out.push(at);
            from = at + 1;
        }
        out
    }

    #[test]
    fn every_literal_is_found_wherever_it_is_and_nothing_else() {
        let literals = [
            "Module not found",
            "Cannot find module",
            "ERR_PNPM_FETCH_",
            "ERR_PNPM_OUTDATED_LOCKFILE",
            "E503",
            "Killed",
            "not found",
            "OOM",
        ];
        let finder = Finder::new(&literals);
        // "not found" covers "Module not found"; each literal where it is.
        let hay = b"xx Module not found yy ERR_PNPM_FETCH_ zz E50 E503 OOM Kille Killed";
        let expected: Vec<usize> = ["not found", "ERR_PNPM_FETCH_", "E503", "OOM", "Killed"]
            .iter()
            .map(|l| memchr::memmem::find(hay, l.as_bytes()).unwrap())
            .collect();
        assert_eq!(all_hits(&finder, hay), expected, "{}", finder.describe());
        assert!(all_hits(&finder, b"nothing to see: Cannot find modul, ERR_PNPM_").is_empty());
    }

    #[test]
    fn many_literals_are_split_into_groups_and_merged_in_order() {
        let literals: Vec<String> = (0..300).map(|i| format!("Q{i:03}Z")).collect();
        let finder = Finder::new(&literals);
        let hay: Vec<u8> = (0..300)
            .rev()
            .flat_map(|i| format!("..Q{i:03}Z..").into_bytes())
            .collect();
        let hits = all_hits(&finder, &hay);
        assert_eq!(hits.len(), 300, "{}", finder.describe());
        assert!(hits.windows(2).all(|w| w[0] < w[1]));
    }
}
