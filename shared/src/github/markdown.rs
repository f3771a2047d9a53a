//! Untrusted text made safe for GitHub markdown (check run summaries, pull
//! request comments), in one place, as `alert::escape` does for Chatbot.
//!
//! Every field starts as [`crate::alert::escape::untrusted`] (secrets
//! masked by `core::redact`, control and bidi characters removed, one
//! line), then:
//!
//! - outside code, [`text`]: no raw HTML (`<`, `>`, `&` become entities),
//!   no markdown formatting or links (`\` escapes `` ` * _ [ ] | ~ ! \ ``),
//!   no `@mentions` that notify people and no `#123` / `GH-123` references
//!   that link and cross-reference issues: a zero-width joiner (U+200D)
//!   follows every `@`, every `#` and the `-` of `GH-`, so GitHub's
//!   reference filters, which run on the rendered text, see no name or
//!   number glued to them (a backslash escape would not do: it is gone by
//!   the time they run);
//! - inside a fenced code block, [`code_block`]: nothing is rendered,
//!   mentioned or linked there; the fence is longer than any backtick run
//!   of the lines, so no line can close it;
//! - inline code, [`code_span`]: the same rule for a span;
//! - a link, [`link`]: only an absolute http(s) URL, its `(`, `)`, `<`,
//!   `>` and spaces percent-encoded; anything else is shown as text.
//!
//! Every field also gets a size budget ([`cut`]) before it is escaped.

use crate::alert::escape::untrusted;

/// Zero-width joiner: invisible, and neither a letter nor a digit, so a
/// mention or a reference no longer starts where it is inserted.
pub const ZWJ: char = '\u{200D}';

/// At most `max` characters of `text`: longer text keeps its first
/// `max - 1` characters and ends with `…`.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Untrusted text for GitHub markdown outside code: cut to `max`
/// characters first (the budget is the source's, before escapes grow it).
pub fn text(raw: &str, max: usize) -> String {
    let safe = cut(&untrusted(raw), max);
    let mut out = String::with_capacity(safe.len() + 8);
    let mut chars = safe.chars().peekable();
    let mut prev: Option<char> = None;
    while let Some(c) = chars.next() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '@' | '#' => {
                out.push(c);
                out.push(ZWJ);
            }
            '-' if matches!(prev, Some('H' | 'h'))
                && out.to_ascii_lowercase().ends_with("gh")
                && chars.peek().is_some_and(char::is_ascii_digit) =>
            {
                out.push(c);
                out.push(ZWJ);
            }
            c => out.push(c),
        }
        prev = Some(c);
    }
    out
}

/// Like [`text`], but the `` `code` `` spans of the text (balanced single
/// backticks, as the catalogue's fixes and the validator's findings write
/// commands) stay code: each through [`code_span`], where nothing is
/// rendered, mentioned or linked. Unbalanced backticks: all [`text`].
pub fn text_with_code(raw: &str, max: usize) -> String {
    let safe = cut(&untrusted(raw), max);
    let parts: Vec<&str> = safe.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return text(&safe, max);
    }
    let mut out = String::with_capacity(safe.len() + 8);
    let mut after_code = false;
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 0 {
            let t = text(part, max);
            after_code &= t.is_empty();
            out.push_str(&t);
            continue;
        }
        let code = code_span(part, max);
        if code.is_empty() {
            continue;
        }
        // Two spans side by side would merge their fences into one longer
        // run, which closes neither: a space keeps them apart.
        if after_code {
            out.push(' ');
        }
        out.push_str(&code);
        after_code = true;
    }
    out
}

/// The longest run of backticks in `text`.
fn longest_backtick_run(text: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

/// A fenced code block of untrusted lines (each cleaned and masked, one
/// line each), fenced with more backticks than any run in them.
pub fn code_block<'a>(lines: impl IntoIterator<Item = &'a str>) -> String {
    let lines: Vec<String> = lines.into_iter().map(untrusted).collect();
    let run = lines
        .iter()
        .map(|l| longest_backtick_run(l))
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(run.max(2) + 1);
    let mut out = format!("{fence}text\n");
    for line in &lines {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str(&fence);
    out.push('\n');
    out
}

/// Inline code of untrusted text (cut to `max` characters); nothing for
/// text that is empty or blank (an empty span is no span in markdown: its
/// backticks would pair with the next ones on the line).
pub fn code_span(raw: &str, max: usize) -> String {
    let safe = cut(&untrusted(raw), max);
    if safe.trim().is_empty() {
        return String::new();
    }
    let fence = "`".repeat(longest_backtick_run(&safe) + 1);
    if safe.starts_with('`') || safe.ends_with('`') || fence.len() > 1 {
        format!("{fence} {safe} {fence}")
    } else {
        format!("{fence}{safe}{fence}")
    }
}

/// The longest URL a link keeps (longer ones are shown as nothing: a cut
/// URL would lead elsewhere).
pub const URL_MAX: usize = 2_000;

/// An absolute http(s) URL fit to stand in a markdown link's target, or
/// `None` (not http(s), not a URL, longer than [`URL_MAX`]).
pub fn url(raw: &str) -> Option<String> {
    let cleaned = untrusted(raw);
    if cleaned.chars().count() > URL_MAX || cleaned != raw {
        return None;
    }
    let parsed = url::Url::parse(&cleaned).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    let mut out = String::with_capacity(parsed.as_str().len());
    for c in parsed.as_str().chars() {
        match c {
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            ' ' => out.push_str("%20"),
            '`' => out.push_str("%60"),
            c => out.push(c),
        }
    }
    Some(out)
}

/// `[label](url)`; the label alone (escaped) when the URL may not be linked.
pub fn link(label: &str, raw_url: &str) -> String {
    match url(raw_url) {
        Some(target) => format!("[{}]({target})", text(label, 200)),
        None => text(label, 200),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_formatting_mentions_and_references_are_defused() {
        let out = text(
            "<img src=x onerror=alert(1)> @channel @here *b* _i_ [x](http://e) fixes #12 and GH-7 `c` ~s~ \\",
            1000,
        );
        assert!(!out.contains('<') && !out.contains('>'), "{out}");
        assert!(out.contains("&lt;img"), "{out}");
        assert!(out.contains("@\u{200D}channel") && out.contains("@\u{200D}here"));
        assert!(out.contains("#\u{200D}12") && out.contains("GH-\u{200D}7"));
        assert!(out.contains("\\*b\\*") && out.contains("\\[x\\]") && out.contains("\\`c\\`"));
        assert!(out.ends_with("\\\\"), "{out}");
    }

    #[test]
    fn empty_and_adjacent_code_spans_never_leave_text_outside_code() {
        assert_eq!(code_span("", 10), "");
        assert_eq!(code_span("  ", 10), "");
        // "``` ``````<!channel>```": spans side by side, kept apart.
        let out = text_with_code("``` ``````<!channel>```", 200);
        assert!(!out.contains("``<"), "{out}");
        let runs: Vec<usize> = out
            .split(|c| c != '`')
            .filter(|r| !r.is_empty())
            .map(str::len)
            .collect();
        assert!(
            runs.chunks(2).all(|p| p.len() == 2 && p[0] == p[1]),
            "{out}: {runs:?}"
        );
        assert_eq!(text_with_code("`a``b`", 50), "`a` `b`");
    }

    #[test]
    fn code_spans_of_a_fix_stay_code_and_the_rest_is_escaped() {
        assert_eq!(
            text_with_code("run `npx tsc --noEmit` for @team <b>", 200),
            "run `npx tsc --noEmit` for @\u{200D}team &lt;b&gt;"
        );
        assert_eq!(text_with_code("a `b", 200), "a \\`b");
        assert_eq!(text_with_code("`<!-- x -->`", 200), "`<!-- x -->`");
    }

    #[test]
    fn a_fence_is_longer_than_any_backtick_run_inside() {
        let block = code_block(["ok", "````` closes?", "```"]);
        let fence = block.lines().next().unwrap().trim_end_matches("text");
        assert_eq!(fence, "``````");
        assert_eq!(block.lines().last(), Some(fence));
        assert_eq!(block.lines().filter(|l| l.starts_with(fence)).count(), 2);
        assert!(code_block(["a"]).starts_with("```text\n"));
    }

    #[test]
    fn lines_are_masked_and_cannot_break_out() {
        let block = code_block(["token=ghp_0123456789abcdefghijABCDEFGHIJ0123\n```\n@here"]);
        assert!(!block.contains("ghp_0123456789abcdefghij"), "{block}");
        assert_eq!(block.lines().count(), 3, "one line: {block}");
    }

    #[test]
    fn only_http_urls_are_linked() {
        assert_eq!(
            link("site", "https://x.example/a(b) c").as_str(),
            "[site](https://x.example/a%28b%29%20c)"
        );
        assert_eq!(link("x", "javascript:alert(1)"), "x");
        assert_eq!(link("x", "https://a.example/\u{202E}"), "x");
        assert_eq!(code_span("a`b", 10), "`` a`b ``");
        assert_eq!(code_span("ab", 10), "`ab`");
        assert_eq!(cut("abcdef", 4), "abc…");
    }
}
