//! Whether the site serves the expected version: a commit matched by
//! prefix (git's short hashes), or a reported version matched as itself,
//! in a header or in the page.

pub(super) fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

/// A served version matches when one is a prefix of the other and the
/// shorter has at least 7 characters (git's short hashes).
/// A version that is not a commit (a reported `--version 1.4.2`) matches
/// only itself.
pub fn commit_matches(expected: &str, served: &str) -> bool {
    let (e, s) = (
        expected.trim().to_ascii_lowercase(),
        served.trim().to_ascii_lowercase(),
    );
    if !is_commit(&e) {
        return !e.is_empty() && e == s;
    }
    let shorter = e.len().min(s.len());
    shorter >= 7 && (e.starts_with(&s) || s.starts_with(&e))
}

pub(super) fn is_commit(text: &str) -> bool {
    crate::core::model::is_git_commit(text)
}

/// Whether `text` carries the commit, in full or as a prefix of at least 7;
/// or, for a version that is not a commit, the version as a whole token
/// (`1.4.2` is not in `1.4.20`).
pub fn mentions_commit(expected: &str, text: &str) -> bool {
    let expected = expected.trim().to_ascii_lowercase();
    if !expected.is_empty() && !is_commit(&expected) {
        return mentions_version(&expected, &text.to_ascii_lowercase());
    }
    if expected.len() < 7 {
        return false;
    }
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let mut from = 0;
    while let Some(at) = lower[from..].find(&expected[..7]) {
        let start = from + at;
        let before_ok = start == 0 || !bytes[start - 1].is_ascii_hexdigit();
        let run: String = lower[start..]
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        if before_ok && commit_matches(&expected, &run) {
            return true;
        }
        from = start + 1;
    }
    false
}

pub(super) fn mentions_version(expected: &str, lower: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+');
    lower.match_indices(expected).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + expected.len()..].chars().next();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}
