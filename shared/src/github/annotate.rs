//! Check run annotations from a diagnosis's evidence: each `file:line` the
//! build log names inside the repository.
//!
//! The shapes read (each as Amplify's log prints them, one evidence line
//! each):
//!
//! - TypeScript's `tsc`: `src/app/page.tsx(12,5): error TS2322: …`;
//! - `path:line[:column]`, alone (Next.js's type error, whose message is the
//!   next evidence line) or followed by the message (ESLint's unix format,
//!   a stack frame's `(…/src/lib/x.ts:10:5)`);
//! - a file named alone on its line, then `line:column  Error: …` lines
//!   (webpack's and Next.js's ESLint blocks).
//!
//! A path is kept only inside the repository: the build's checkout prefix
//! (`/codebuild/output/src…/src/<repo>/`, and the caller's hints) is
//! stripped, a relative path is taken from the app's root; `node_modules`,
//! the build output (`.next/`), absolute paths left after that, `..` and
//! URLs are never annotated. At most [`MAX`], one per file and line.

use std::sync::LazyLock;

use regex::Regex;

use super::api::{Annotation, AnnotationLevel};
use super::markdown::cut;
use crate::alert::escape::untrusted;
use crate::core::verdicts::Evidence;

/// GitHub takes at most 50 annotations per request
/// (docs.github.com/en/rest/checks/runs#update-a-check-run, `output.annotations`);
/// Sentinel sends one request's worth.
pub const MAX: usize = 50;

/// An annotation's message: GitHub allows 64 KB; a log line is shorter.
const MESSAGE_MAX: usize = 1_000;

/// A path this long is no source file of a repository.
const PATH_MAX: usize = 512;

/// A file with an extension: the extension starts with a letter, so that
/// `127.0.0.1:3000` is no file; it does not start with the `(` or `[`
/// around a stack frame's location.
const FILE: &str = r"[^\s'`(\[][^\s'`]*?\.[A-Za-z][A-Za-z0-9]{0,9}";

static TSC: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?:^|[\s(\['"])(?P<path>{FILE})\((?P<line>\d{{1,7}}),\d{{1,7}}\)(?::\s*(?P<rest>.*))?"#
    ))
    .expect("tsc pattern")
});

static COLON: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r#"(?:^|[\s(\['"])(?P<path>{FILE}):(?P<line>\d{{1,7}})(?::\d{{1,7}})?\)?(?P<rest>.*)$"#
    ))
    .expect("colon pattern")
});

static FILE_ALONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^(?P<path>{FILE})$")).expect("file pattern"));

static POSITION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<line>\d{1,7}):\d{1,7}\s+(?P<rest>\S.*)$").expect("position pattern")
});

static CHECKOUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^/codebuild/output/src\d+/src/[^/]+/").expect("checkout pattern")
});

/// The repository path of `raw`, or `None` when it is outside the
/// repository (see the module's documentation).
pub fn repo_path(raw: &str, hints: &[String], app_root: Option<&str>) -> Option<String> {
    let raw = raw.trim();
    if raw.contains("://") || raw.contains('\\') || raw.len() > PATH_MAX {
        return None;
    }
    let mut hints: Vec<&str> = hints
        .iter()
        .map(|h| h.trim_end_matches('/'))
        .filter(|h| !h.is_empty())
        .collect();
    hints.sort_by_key(|h| std::cmp::Reverse(h.len()));
    let stripped = hints
        .iter()
        .find_map(|h| raw.strip_prefix(h).and_then(|rest| rest.strip_prefix('/')))
        .map(str::to_owned)
        .or_else(|| CHECKOUT.find(raw).map(|m| raw[m.end()..].to_owned()));
    let path = match stripped {
        Some(from_root) => from_root,
        None if raw.starts_with('/') || raw.starts_with('~') => return None,
        None => {
            let relative = raw.trim_start_matches("./");
            match app_root
                .map(|r| r.trim_matches('/'))
                .filter(|r| !r.is_empty())
            {
                Some(root) => format!("{root}/{relative}"),
                None => relative.to_owned(),
            }
        }
    };
    let path = path.trim_start_matches("./").to_owned();
    let inside = !path.is_empty()
        && !path.starts_with('/')
        && path
            .split('/')
            .all(|part| !matches!(part, "" | "." | ".." | "node_modules" | ".next"));
    inside.then_some(path)
}

/// One `file:line` found, before the path is judged.
struct Found {
    path: String,
    line: u32,
    /// The text after the location, if any.
    rest: String,
}

fn found(caps: &regex::Captures<'_>) -> Option<Found> {
    let line: u32 = caps.name("line")?.as_str().parse().ok()?;
    (line > 0).then(|| Found {
        path: caps["path"].to_owned(),
        line,
        rest: caps
            .name("rest")
            .map(|r| r.as_str().trim().trim_start_matches(':').trim().to_owned())
            .unwrap_or_default(),
    })
}

fn level_of(text: &str) -> AnnotationLevel {
    let lower = text.trim_start().to_ascii_lowercase();
    if lower.starts_with("warning") || lower.starts_with("warn ") {
        AnnotationLevel::Warning
    } else {
        AnnotationLevel::Failure
    }
}

/// The annotations of `evidence` (in its order), titled `title`.
pub fn from_evidence(
    evidence: &[Evidence],
    title: &str,
    hints: &[String],
    app_root: Option<&str>,
) -> Vec<Annotation> {
    let title = cut(&untrusted(title), 255);
    let mut out: Vec<Annotation> = Vec::new();
    let push = |path: &str, line: u32, message: &str, out: &mut Vec<Annotation>| {
        let Some(path) = repo_path(path, hints, app_root) else {
            return;
        };
        if out.len() >= MAX || out.iter().any(|a| a.path == path && a.start_line == line) {
            return;
        }
        out.push(Annotation {
            path,
            start_line: line,
            end_line: line,
            annotation_level: level_of(message),
            message: cut(&untrusted(message), MESSAGE_MAX),
            title: Some(title.clone()),
        });
    };
    // The file an ESLint or webpack block is about, and the evidence line
    // it was named on.
    let mut block_file: Option<(String, u64)> = None;
    for (i, e) in evidence.iter().enumerate() {
        let text = untrusted(&e.text);
        let text = text.trim();
        if let Some(caps) = FILE_ALONE.captures(text) {
            block_file = Some((caps["path"].to_owned(), e.line));
            continue;
        }
        if let (Some(caps), Some((file, _))) = (POSITION.captures(text), &block_file) {
            if let Ok(line) = caps["line"].parse::<u32>()
                && line > 0
            {
                push(file, line, &caps["rest"], &mut out);
            }
            continue;
        }
        let hit = TSC
            .captures(text)
            .and_then(|c| found(&c))
            .or_else(|| COLON.captures(text).and_then(|c| found(&c)));
        if let Some(f) = hit {
            // Next.js prints the location alone and the error on the next
            // line.
            let next = evidence.get(i + 1).map(|n| untrusted(&n.text));
            let message = if f.rest.is_empty() || f.rest == ")" {
                next.as_deref()
                    .filter(|n| COLON.captures(n).is_none() && TSC.captures(n).is_none())
                    .unwrap_or(text)
                    .to_owned()
            } else {
                f.rest.clone()
            };
            push(&f.path, f.line, &message, &mut out);
            block_file = None;
            continue;
        }
        // A line that is neither a position nor a file ends the block
        // unless it is the block's blank or trailing noise.
        if !text.is_empty() {
            block_file = None;
        }
    }
    out
}

/// An annotation for a validation finding located at `file:line` in the
/// repository (`amplify.yml:12`); `None` for a variable name or a file
/// without a line.
pub fn from_location(
    location: &str,
    level: AnnotationLevel,
    message: &str,
    title: &str,
    app_root: Option<&str>,
) -> Option<Annotation> {
    let (path, line) = location.rsplit_once(':')?;
    let line: u32 = line.parse().ok().filter(|l| *l > 0)?;
    if !FILE_ALONE.is_match(path) {
        return None;
    }
    let path = repo_path(path, &[], app_root)?;
    Some(Annotation {
        path,
        start_line: line,
        end_line: line,
        annotation_level: level,
        message: cut(&untrusted(message), MESSAGE_MAX),
        title: Some(cut(&untrusted(title), 255)),
    })
}
