//! The diagnosis engine against a corpus of real build failures reported in
//! public issue trackers (`fixtures/diagnose-corpus/`, indexed by
//! `corpus.json`): each log holds the failing lines as reported, and its
//! category is the one a maintainer's answer or the reporter's fix confirms.
//!
//! The score is kept: overall accuracy may not fall below [`FLOOR`], a case
//! outside [`KNOWN_MISSES`] that is diagnosed wrongly fails the test, and
//! `docs/diagnosis.md` shows the per-category table this test computes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sentinel_shared::diagnose::{catalogue, diagnose_bytes};
use serde::Deserialize;

/// The lowest overall accuracy accepted (right / cases).
const FLOOR: f64 = 0.95;

/// Cases the engine gets wrong today, each with why (for the engine, not the
/// catalogue). Any other wrong case fails the test, and so does one of these
/// once it is right (take it out of the list).
const KNOWN_MISSES: &[(&str, &str)] = &[];

#[derive(Debug, Deserialize)]
struct Case {
    file: String,
    repo: String,
    issue: u64,
    url: String,
    category: String,
    context: String,
    why: String,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose-corpus")
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(dir().join("corpus.json")).expect("corpus.json");
    serde_json::from_str(&text).expect("corpus.json parses")
}

/// What the engine says of one case.
struct Outcome {
    case: Case,
    got: String,
}

impl Outcome {
    fn right(&self) -> bool {
        self.got == self.case.category
    }
}

fn run() -> Vec<Outcome> {
    cases()
        .into_iter()
        .map(|case| {
            let raw = std::fs::read(dir().join(&case.file))
                .unwrap_or_else(|e| panic!("{}: {e}", case.file));
            let got = diagnose_bytes(&raw).category;
            Outcome { case, got }
        })
        .collect()
}

/// Per category (catalogue order): (cases, right).
fn table(outcomes: &[Outcome]) -> Vec<(&'static str, usize, usize)> {
    let mut by: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for o in outcomes {
        let entry = by.entry(o.case.category.as_str()).or_default();
        entry.0 += 1;
        entry.1 += usize::from(o.right());
    }
    catalogue::ids()
        .into_iter()
        .filter_map(|id| by.get(id).map(|&(n, r)| (id, n, r)))
        .collect()
}

/// The table as `docs/diagnosis.md` shows it.
fn markdown(outcomes: &[Outcome]) -> String {
    let rows = table(outcomes);
    let (n, r) = rows
        .iter()
        .fold((0, 0), |(n, r), &(_, cn, cr)| (n + cn, r + cr));
    let mut out = String::from("| category | cases | right |\n|---|---|---|\n");
    for (id, cn, cr) in rows {
        out.push_str(&format!("| `{id}` | {cn} | {cr} |\n"));
    }
    out.push_str(&format!(
        "| **all** | **{n}** | **{r}** ({:.1} %) |\n",
        100.0 * r as f64 / n as f64
    ));
    out
}

#[test]
fn the_corpus_is_well_formed() {
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let ids: BTreeSet<&str> = catalogue::ids().into_iter().collect();
    let mut files = BTreeSet::new();
    for c in &cases {
        assert!(files.insert(c.file.as_str()), "{} listed twice", c.file);
        assert!(
            ids.contains(c.category.as_str()),
            "{}: no category {}",
            c.file,
            c.category
        );
        let issue = format!("/issues/{}", c.issue);
        let pull = format!("/pull/{}", c.issue);
        assert!(
            c.url
                .starts_with(&format!("https://github.com/{}/", c.repo))
                && (c.url.ends_with(&issue) || c.url.ends_with(&pull)),
            "{}: url {} is not {}#{}",
            c.file,
            c.url,
            c.repo,
            c.issue
        );
        assert!(
            ["amplify", "ci"].contains(&c.context.as_str()),
            "{}: context {}",
            c.file,
            c.context
        );
        assert!(!c.why.trim().is_empty(), "{}: no why", c.file);
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(dir())
        .expect("corpus dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".log"))
        .collect();
    let listed: BTreeSet<String> = files.into_iter().map(str::to_owned).collect();
    assert_eq!(on_disk, listed, "logs and corpus.json differ");
}

#[test]
fn the_corpus_score_does_not_drop() {
    let outcomes = run();
    println!("{}", markdown(&outcomes));
    let known: BTreeMap<&str, &str> = KNOWN_MISSES.iter().copied().collect();
    let mut problems = Vec::new();
    for o in &outcomes {
        match (o.right(), known.get(o.case.file.as_str())) {
            (false, None) => problems.push(format!(
                "{} ({}): expected {}, got {}",
                o.case.file, o.case.url, o.case.category, o.got
            )),
            (true, Some(_)) => problems.push(format!(
                "{} is right now: take it out of KNOWN_MISSES",
                o.case.file
            )),
            (false, Some(why)) => println!("known miss {}: {why}", o.case.file),
            (true, None) => {}
        }
    }
    let right = outcomes.iter().filter(|o| o.right()).count();
    let accuracy = right as f64 / outcomes.len() as f64;
    assert!(
        accuracy >= FLOOR,
        "accuracy {accuracy:.3} < {FLOOR}:\n{}",
        problems.join("\n")
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_documented_corpus_score_is_the_measured_one() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnosis.md");
    let doc = std::fs::read_to_string(&path).expect("docs/diagnosis.md");
    let (start, end) = ("<!-- corpus:start -->\n", "<!-- corpus:end -->");
    let (head, rest) = doc.split_once(start).expect("the corpus start marker");
    let (_, tail) = rest.split_once(end).expect("the corpus end marker");
    let expected = format!("{head}{start}{}{end}{tail}", markdown(&run()));
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    assert!(
        doc == expected,
        "docs/diagnosis.md's corpus table is out of date: run `UPDATE_DOCS=1 cargo test -p sentinel-shared --test diagnose_corpus`"
    );
}
