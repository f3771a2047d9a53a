//! Untrusted text made safe for each place an alert is shown, in one place.
//!
//! Every text field of an alert can carry text someone outside the team
//! controls: a committer writes the commit message and the branch name (git
//! accepts `<!channel>`), the build log gives the evidence lines and the
//! failed command, the site answers with the bodies and errors behind
//! health reasons. [`super::message::render`] passes every field through
//! [`untrusted`] first, then through the function of its target:
//!
//! - all targets: [`untrusted`] masks secrets
//!   ([`crate::core::redact::mask_in_text`]) and removes control
//!   characters (a line break becomes a space, so a field cannot forge
//!   lines of its own) and the bidi embeddings, overrides and isolates
//!   (U+202A–U+202E, U+2066–U+2069), which can make text read other than
//!   it is;
//! - the SNS subject: [`super::message::subject`] keeps printable ASCII;
//! - e-mail (plain text): nothing more; it is shown as text;
//! - AWS Chatbot (Slack markdown): [`chat_text`] outside code, [`chat_code`]
//!   inside a code block, [`chat_link`] for the URL of a link.
//!
//! Slack's rules: `&`, `<` and `>` must be sent as `&amp;`, `&lt;`, `&gt;`;
//! unescaped, `<!channel>`, `<!here>`, `<@U123>` mention people and
//! `<url|text>` is a link whose text hides its target. Backticks open and
//! close code spans and fences; they become `ˋ` (U+02CB, a look-alike) in
//! untrusted text, so no field can close the evidence's code block or open
//! one. `*` (bold) and `~` (strike) become `∗` (U+2217) and `∼` (U+223C)
//! outside code blocks, so untrusted text cannot format, nor strike out,
//! the words around it. `_` (italic) is kept: it is in most environment
//! variable names and paths a reader copies, and italics cannot hide, link
//! or mention.

use crate::core::redact::mask_in_text;

/// Bidi embeddings and overrides (U+202A–U+202E) and isolates
/// (U+2066–U+2069).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// One line of text with no control characters: line breaks and tabs
/// become spaces; other C0 and C1 controls, and bidi controls, are removed.
pub fn clean(text: &str) -> String {
    text.chars()
        .filter_map(|c| match c {
            '\n' | '\r' | '\t' => Some(' '),
            c if c.is_control() || is_bidi_control(c) => None,
            c => Some(c),
        })
        .collect()
}

/// What every target gets: secrets masked, then [`clean`].
pub fn untrusted(text: &str) -> String {
    clean(&mask_in_text(text))
}

fn slack_entities(c: char, out: &mut String) -> bool {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '`' => out.push('\u{02CB}'),
        _ => return false,
    }
    true
}

/// Text for Slack markdown outside code: no mentions, links, code spans,
/// bold or strike (see the module's documentation).
pub fn chat_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        if slack_entities(c, &mut out) {
            continue;
        }
        match c {
            '*' => out.push('\u{2217}'),
            '~' => out.push('\u{223C}'),
            c => out.push(c),
        }
    }
    out
}

/// Text for a line inside a code block: no mentions, and no backtick that
/// could close the block.
pub fn chat_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        if !slack_entities(c, &mut out) {
            out.push(c);
        }
    }
    out
}

/// The target of a Slack link `<target|text>`: an absolute http(s) URL,
/// with `|`, `<`, `>` (and what else URLs do not carry raw) percent-encoded
/// and `&` as `&amp;`; `None` for anything else, which is then shown as
/// text, not linked.
pub fn chat_link(url: &str) -> Option<String> {
    let parsed = url::Url::parse(&clean(url)).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return None;
    }
    let mut out = String::new();
    for c in parsed.as_str().chars() {
        match c {
            '|' => out.push_str("%7C"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '`' => out.push_str("%60"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_links_and_fences_are_defused() {
        assert_eq!(
            chat_text("<!channel> <@U123|x> *b* ~s~ a_b `c` & ```"),
            "&lt;!channel&gt; &lt;@U123|x&gt; ∗b∗ ∼s∼ a_b ˋcˋ &amp; ˋˋˋ"
        );
        assert_eq!(chat_code("```\n<!here> *x*"), "ˋˋˋ &lt;!here&gt; *x*");
    }

    #[test]
    fn controls_and_bidi_overrides_are_removed() {
        assert_eq!(
            clean("a\u{202E}b\u{2066}c\u{2069}\u{7}d\r\ne\u{9b}"),
            "abcd  e"
        );
    }

    #[test]
    fn only_http_urls_are_links() {
        assert_eq!(
            chat_link("https://x.example/a|b>c?q=1&r=<2>").as_deref(),
            Some("https://x.example/a%7Cb%3Ec?q=1&amp;r=%3C2%3E")
        );
        assert_eq!(chat_link("javascript:alert(1)"), None);
        assert_eq!(chat_link("not a url"), None);
    }
}
