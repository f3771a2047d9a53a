//! Which lines are worth a look, found at memory speed.
//!
//! Every catalogue literal (trigger or marker) must be found wherever it
//! is, but almost no line of a build log holds one. One Aho-Corasick
//! automaton over all of them reads every byte through a large state
//! machine (about 400 MB/s); Teddy, the SIMD searcher of the `aho-corasick`
//! crate (`packed`), is several times faster but takes at most 64 patterns
//! well, and the catalogue has some 160 literals. So Teddy looks for
//! *fragments*: 4-byte substrings such that every literal contains one,
//! chosen to be rare in ordinary log text and shared by several literals
//! where that keeps them rare. Rarity is judged on `noise.txt` (the lines
//! of the fixtures' logs that hold no literal: npm, webpack, Next.js and
//! Amplify's own chatter) and, for what it lacks, on how common each byte
//! is in logs. Where Teddy finds a fragment, the literals holding it are
//! compared in place (a `memcmp` each); only a real literal makes a hit.
//! The result is exact: a line holding a literal is always reported, a
//! line without one never. The catalogue's ~160 literals make ~60
//! fragments: one Teddy group, one pass over a buffer in cache.
//!
//! Without SIMD (Teddy needs SSSE3/AVX2 or NEON), an Aho-Corasick DFA over
//! the literals does the same job, slower.

use aho_corasick::packed;
use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

/// Teddy's fat variant holds up to 64 patterns at full speed.
const GROUP: usize = 64;

/// Ordinary build-log lines, none holding a catalogue literal.
const NOISE: &str = include_str!("noise.txt");

/// How much a fragment seen in [`NOISE`] costs more, per sighting.
const SEEN: f64 = 1000.0;

/// What one more fragment costs, in the unit of a fragment's expected
/// frequency, is searched between these bounds: the least that needs the
/// fewest Teddy groups wins. Each group is one more pass over the buffer,
/// which costs more than the lines a commoner, shared fragment finds; past
/// that, the rarer the fragments the better.
const OVERHEAD: (f64, f64) = (1e-6, 10.0);

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
    // One searcher per literal, not per pair: this runs at every start.
    let mut keep = vec![true; literals.len()];
    for o in &literals {
        let finder = memchr::memmem::Finder::new(o);
        for (l, keep) in literals.iter().zip(keep.iter_mut()) {
            if *keep && o.len() < l.len() && finder.find(l).is_some() {
                *keep = false;
            }
        }
    }
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

/// The fragments [`choose`] picks for the catalogue, kept here so that a
/// process does not choose them again; a test keeps them equal
/// (`UPDATE_FRAGMENTS=1 cargo test -p sentinel-shared --lib fragments`).
const CHOSEN: &[&[u8]] = include!("fragments.in");

/// Teddy over fragments of the literals, if this machine has the SIMD it
/// needs. The fragments are [`CHOSEN`] when they still cover every literal
/// (choosing them again is most of a process's start-up), else chosen now.
fn teddy(literals: &[Vec<u8>]) -> Option<Imp> {
    let fragments = committed(literals, CHOSEN).unwrap_or_else(|| choose(literals));
    build(literals, &fragments)
}

/// The committed fragments with the literals holding them, if every
/// literal holds one.
fn committed<'a>(literals: &[Vec<u8>], chosen: &[&'a [u8]]) -> Option<Vec<Candidate<'a>>> {
    let mut covered = vec![false; literals.len()];
    let fragments: Vec<Candidate> = chosen
        .iter()
        .map(|&fragment| {
            let mut holders = Vec::new();
            for (i, literal) in literals.iter().enumerate() {
                let n = FRAGMENT.min(literal.len());
                if n != fragment.len() {
                    continue;
                }
                for offset in 0..=literal.len() - n {
                    if &literal[offset..offset + n] == fragment {
                        holders.push((i, offset));
                        covered[i] = true;
                    }
                }
            }
            Candidate {
                fragment,
                holders,
                cost: 0.0,
            }
        })
        .collect();
    covered.iter().all(|&c| c).then_some(fragments)
}

/// Chooses the fragments: rare ones, as few Teddy groups as possible.
fn choose(literals: &[Vec<u8>]) -> Vec<Candidate<'_>> {
    // Every window of every literal, with the literals (and offsets) that
    // hold it; sorted, so that the choice does not depend on a hash order.
    let mut windows: Vec<(&[u8], usize, usize)> = Vec::new();
    for (i, literal) in literals.iter().enumerate() {
        let n = FRAGMENT.min(literal.len());
        for offset in 0..=literal.len() - n {
            windows.push((&literal[offset..offset + n], i, offset));
        }
    }
    windows.sort_unstable();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (window, literal, offset) in windows {
        match candidates.last_mut() {
            Some(c) if c.fragment == window => c.holders.push((literal, offset)),
            _ => candidates.push(Candidate {
                fragment: window,
                holders: vec![(literal, offset)],
                cost: 0.0,
            }),
        }
    }
    // How often each candidate appears in ordinary log lines.
    let mut seen = vec![0u32; candidates.len()];
    let keys: Vec<(u32, usize)> = {
        let mut keys: Vec<(u32, usize)> = candidates
            .iter()
            .enumerate()
            .filter_map(|(c, cand)| {
                <[u8; 4]>::try_from(cand.fragment)
                    .ok()
                    .map(|w| (u32::from_le_bytes(w), c))
            })
            .collect();
        keys.sort_unstable();
        keys
    };
    for w in NOISE.as_bytes().windows(4) {
        let key = u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
        if let Ok(at) = keys.binary_search_by_key(&key, |k| k.0) {
            seen[keys[at].1] += 1;
        }
    }
    for (c, cand) in candidates.iter().enumerate() {
        if cand.fragment.len() < 4 {
            seen[c] = memchr::memmem::find_iter(NOISE.as_bytes(), cand.fragment).count() as u32;
        }
    }
    for (cand, seen) in candidates.iter_mut().zip(seen) {
        let prior: f64 = cand.fragment.iter().map(|&b| frequency(b)).product();
        cand.cost = prior * (1.0 + SEEN * f64::from(seen));
    }
    // Bisection, on a log scale, for the least overhead whose cover needs
    // no more groups than the largest overhead's.
    let groups = |cover: &Vec<usize>| cover.len().div_ceil(GROUP);
    let (mut low, mut high) = (OVERHEAD.0.ln(), OVERHEAD.1.ln());
    let mut chosen = greedy(literals.len(), &candidates, high.exp());
    let fewest = groups(&chosen);
    let cheapest = greedy(literals.len(), &candidates, low.exp());
    if groups(&cheapest) == fewest {
        chosen = cheapest;
    } else {
        for _ in 0..6 {
            let mid = (low + high) / 2.0;
            let cover = greedy(literals.len(), &candidates, mid.exp());
            if groups(&cover) == fewest {
                chosen = cover;
                high = mid;
            } else {
                low = mid;
            }
        }
    }
    let mut candidates: Vec<Option<Candidate>> = candidates.into_iter().map(Some).collect();
    chosen
        .iter()
        .filter_map(|&c| candidates[c].take())
        .collect()
}

/// The searchers over `fragments` and what checks a fragment's hit.
fn build(literals: &[Vec<u8>], fragments: &[Candidate]) -> Option<Imp> {
    // A fragment found at a position is checked with the literals of every
    // fragment that is a prefix of it (only a literal shorter than
    // FRAGMENT makes one): leftmost-first reports just one of them.
    let checks: Vec<Vec<(usize, usize)>> = fragments
        .iter()
        .map(|f| {
            fragments
                .iter()
                .filter(|g| f.fragment.starts_with(g.fragment))
                .flat_map(|g| g.holders.iter().copied())
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
                .extend(group.iter().map(|f| f.fragment))
                .build()
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Imp::Teddy {
        searchers,
        checks,
        literals: literals.to_vec(),
    })
}

/// A window of the literals that could be a fragment.
struct Candidate<'a> {
    fragment: &'a [u8],
    /// The literals holding it, with its offset in each (sorted).
    holders: Vec<(usize, usize)>,
    /// Its expected frequency in log text.
    cost: f64,
}

/// Indices of `candidates` covering every literal: weighted set cover,
/// greedily, taking the fragment with the least cost (its own and the
/// overhead) per literal it newly covers. Lazily: a fragment's score only
/// grows as literals get covered, so a popped score still the least after
/// updating is the least of all.
fn greedy(literals: usize, candidates: &[Candidate], overhead: f64) -> Vec<usize> {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let mut covered = vec![false; literals];
    let new = |c: &Candidate, covered: &[bool]| {
        let mut n = 0;
        let mut last = usize::MAX;
        for &(literal, _) in &c.holders {
            if literal != last && !covered[literal] {
                n += 1;
            }
            last = literal;
        }
        n
    };
    // Scores are positive, so their bits order like them.
    let score = |c: &Candidate, n: usize| ((c.cost + overhead) / n as f64).to_bits();
    let mut heap: BinaryHeap<Reverse<(u64, usize)>> = candidates
        .iter()
        .enumerate()
        .map(|(i, c)| Reverse((score(c, new(c, &covered)), i)))
        .collect();
    let mut chosen = Vec::new();
    while let Some(Reverse((_, i))) = heap.pop() {
        let n = new(&candidates[i], &covered);
        if n == 0 {
            continue;
        }
        let now = score(&candidates[i], n);
        if heap.peek().is_some_and(|Reverse(next)| (now, i) > *next) {
            heap.push(Reverse((now, i)));
            continue;
        }
        for &(literal, _) in &candidates[i].holders {
            covered[literal] = true;
        }
        chosen.push(i);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::diagnose::catalogue::{MARKERS, RULES};

    fn catalogue() -> Vec<&'static str> {
        RULES
            .iter()
            .flat_map(|r| r.triggers.iter().copied())
            .chain(MARKERS.iter().map(|(l, _)| *l))
            .collect()
    }

    /// The starts of the lines `finder` reports, scanning as the engine
    /// does (from each found line's end).
    fn found_lines(finder: &Finder, hay: &[u8]) -> Vec<usize> {
        let mut hits = finder.hits(hay);
        let mut lines = Vec::new();
        let mut from = 0;
        while let Some(at) = hits.next_from(from) {
            let start = memchr::memrchr(b'\n', &hay[..at]).map_or(0, |i| i + 1);
            lines.push(start);
            from = memchr::memchr(b'\n', &hay[at..]).map_or(hay.len(), |i| at + i + 1);
        }
        lines
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Lines of catalogue literals, pieces of them (a fragment without
        /// its literal), and noise: the lines found are exactly those that
        /// hold a literal.
        #[test]
        fn the_lines_found_are_exactly_those_holding_a_literal(
            pieces in proptest::collection::vec((0usize..10_000, 0u8..6, 0usize..40), 1..80),
        ) {
            let literals = catalogue();
            let finder = Finder::new(&literals);
            let mut hay = Vec::new();
            for (pick, what, cut) in pieces {
                let literal = literals[pick % literals.len()].as_bytes();
                match what {
                    0 => hay.extend_from_slice(literal),
                    1 => hay.extend_from_slice(&literal[..cut.min(literal.len() - 1)]),
                    2 => hay.extend_from_slice(&literal[cut.min(literal.len() - 1)..]),
                    3 => hay.push(b'\n'),
                    4 => hay.extend_from_slice(b" npm WARN deprecated inflight@1.0.6: could "),
                    _ => hay.extend_from_slice(b"2024-03-01T10:00:00.000Z [INFO]: "),
                }
            }
            let mut expected = Vec::new();
            let mut start = 0;
            for line in hay.split(|&b| b == b'\n') {
                if literals.iter().any(|l| memchr::memmem::find(line, l.as_bytes()).is_some()) {
                    expected.push(start);
                }
                start += line.len() + 1;
            }
            prop_assert_eq!(found_lines(&finder, &hay), expected);
        }
    }

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

    /// `fragments.in` as `choose` makes it for the catalogue.
    fn chosen_for_the_catalogue() -> String {
        let literals = cover(&catalogue());
        let mut out = String::from(
            "// Generated by finder.rs's tests from the catalogue and noise.txt.\n&[\n",
        );
        for f in choose(&literals) {
            out.push_str(&format!("    b\"{}\",\n", f.fragment.escape_ascii()));
        }
        out.push_str("]\n");
        out
    }

    #[test]
    fn the_committed_fragments_are_those_chosen_for_the_catalogue() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/diagnose/fragments.in");
        let expected = chosen_for_the_catalogue();
        if std::env::var_os("UPDATE_FRAGMENTS").is_some() {
            std::fs::write(&path, &expected).unwrap();
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == expected,
            "src/diagnose/fragments.in is stale: run `UPDATE_FRAGMENTS=1 cargo test -p sentinel-shared --lib fragments`"
        );
        assert!(committed(&cover(&catalogue()), CHOSEN).is_some());
    }

    #[test]
    fn stale_fragments_are_chosen_again() {
        let literals = cover(&["Module not found", "ETIMEDOUT"]);
        assert!(committed(&literals, &[b"ETIM"]).is_none());
        assert!(committed(&literals, &[b"ETIM", b"e no"]).is_some());
        let finder = Finder::new(&["Module not found", "ETIMEDOUT", "Zz9Q"]);
        let hay = b"a ETIMEDOUT b Zz9Q c Module not found";
        assert_eq!(all_hits(&finder, hay).len(), 3, "{}", finder.describe());
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
