//! Every category against a realistic log in Amplify's shape (real error
//! lines from public Amplify Hosting issues, noise before and after; see
//! `fixtures/diagnose/SOURCES.md`), as written, with CRLF line ends, and
//! with ANSI colours added: the category, the root line and the secondary
//! causes are the same. Also keeps `docs/diagnosis.md` equal to the
//! catalogue.

use std::collections::BTreeSet;
use std::path::PathBuf;

use sentinel_shared::core::redact::mask_in_text;
use sentinel_shared::diagnose::{Diagnosis, catalogue, diagnose_bytes};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Case {
    file: String,
    category: String,
    root_line: u64,
    root_text: String,
    #[serde(default)]
    secondary: Vec<String>,
    /// Texts some evidence line must hold besides the root line (the
    /// symptom that was linked to its cause, the error under a wrapper).
    #[serde(default)]
    evidence: Vec<String>,
}

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose")
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(dir().join("index.json")).expect("index.json");
    serde_json::from_str(&text).expect("index.json parses")
}

fn check(case: &Case, d: &Diagnosis, variant: &str) {
    let what = format!("{} ({variant})", case.file);
    assert_eq!(d.category, case.category, "{what}: {d:#?}");
    if case.category != "unknown" {
        assert!(
            d.evidence
                .iter()
                .any(|e| e.line == case.root_line && e.text.contains(case.root_text.trim())),
            "{what}: line {} {:?} not in the evidence {:#?}",
            case.root_line,
            case.root_text,
            d.evidence
        );
    }
    for expected in &case.evidence {
        assert!(
            d.evidence
                .iter()
                .any(|e| e.text.contains(expected.as_str())),
            "{what}: no evidence holds {expected:?}: {:#?}",
            d.evidence
        );
    }
    let found: BTreeSet<&str> = d.secondary.iter().map(|s| s.category.as_str()).collect();
    for expected in &case.secondary {
        assert!(
            found.contains(expected.as_str()),
            "{what}: secondary {expected} missing from {found:?}"
        );
    }
    for e in &d.evidence {
        assert_eq!(
            mask_in_text(&e.text),
            e.text,
            "{what}: a secret is left in {:?}",
            e.text
        );
        assert!(
            !e.text.contains('\x1b') && !e.text.contains('\r'),
            "{what}: {:?}",
            e.text
        );
    }
}

/// Colours every third line's text, the way npm and webpack do.
fn coloured(raw: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::new();
    for (i, line) in text.split_inclusive('\n').enumerate() {
        if i % 3 == 0 {
            match line.find("]: ") {
                Some(at) => {
                    out.push_str(&line[..at + 3]);
                    out.push_str("\x1b[1m\x1b[31m");
                    out.push_str(line[at + 3..].trim_end_matches('\n'));
                    out.push_str("\x1b[39m\x1b[22m\n");
                }
                None => out.push_str(line),
            }
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

#[test]
fn every_fixture_gives_its_category_root_line_and_secondary_causes() {
    let cases = cases();
    assert!(cases.len() >= 25, "{} fixtures", cases.len());
    for case in &cases {
        let raw =
            std::fs::read(dir().join(&case.file)).unwrap_or_else(|e| panic!("{}: {e}", case.file));
        check(case, &diagnose_bytes(&raw), "as written");
        let crlf = String::from_utf8_lossy(&raw)
            .replace("\r\n", "\n")
            .replace('\n', "\r\n");
        check(case, &diagnose_bytes(crlf.as_bytes()), "CRLF");
        check(case, &diagnose_bytes(&coloured(&raw)), "coloured");
    }
}

#[test]
fn every_category_has_a_fixture() {
    let covered: BTreeSet<String> = cases().into_iter().map(|c| c.category).collect();
    let missing: Vec<&str> = catalogue::ids()
        .into_iter()
        .filter(|id| *id != catalogue::LOG_UNAVAILABLE.id && !covered.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "categories without a fixture: {missing:?}"
    );
}

#[test]
fn the_documented_catalogue_is_the_catalogue() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/diagnosis.md");
    let doc = std::fs::read_to_string(&path).expect("docs/diagnosis.md");
    let (start, end) = ("<!-- catalogue:start -->\n", "<!-- catalogue:end -->");
    let (head, rest) = doc.split_once(start).expect("the start marker");
    let (_, tail) = rest.split_once(end).expect("the end marker");
    let expected = format!("{head}{start}{}{end}{tail}", catalogue::markdown());
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    assert!(
        doc == expected,
        "docs/diagnosis.md is out of date: run `UPDATE_DOCS=1 cargo test -p sentinel-shared --test diagnose_fixtures`"
    );
}
