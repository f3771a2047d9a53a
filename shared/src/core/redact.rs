//! Recognising secrets by name and by value shape, and masking them.

use std::sync::LazyLock;

use regex::Regex;

/// Name fragments that mark a variable as secret.
pub const SECRET_NAME_PARTS: &[&str] = &[
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PRIVATE_KEY",
    "DATABASE_URL",
    "DB_URL",
    "CONNECTION_STRING",
    "CREDENTIAL",
    "SERVICE_ROLE",
    "SIGNING_KEY",
    "WEBHOOK_SECRET",
    "APIKEY",
    "ACCESSKEY",
];

/// Name words that mark a variable as secret only as a whole word of the
/// name (split on `_`, `-`, `.`): `API_KEY`, `MAPBOX_KEY`, `AUTH_HEADER`
/// and `BASIC_AUTH` are secret-looking names; `KEYBOARD_LAYOUT`,
/// `MONKEY_MODE`, `AUTHOR_NAME` and `NEXTAUTH_URL` are not.
pub const SECRET_NAME_WORDS: &[&str] = &["KEY", "KEYS", "AUTH"];

const CONNECTION_STRING: &str = "a connection string with a password";

/// Value shapes of known secrets: (what it is, pattern).
static VALUE_SHAPES: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        ("an AWS access key id", r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
        ("a private key block", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
        (
            "a JSON Web Token",
            r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
        ),
        // The password runs to the last `@` of the value: people paste
        // passwords with `/ @ : # ?` unencoded, and a pattern that stops at
        // the first of them would call the value harmless.
        (
            CONNECTION_STRING,
            r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s?#]+:[^\s]*@",
        ),
        // Prefixes distinctive enough to be found glued to other text
        // (`Aghp_…`, `x=ghp_…` in a URL path): no word boundary needed.
        (
            "a Stripe secret key",
            r"(sk|rk)_(live|test)_[0-9A-Za-z]{16,}",
        ),
        (
            "a GitHub token",
            r"(ghp|gho|ghu|ghs|ghr)_[0-9A-Za-z]{30,}|github_pat_[0-9A-Za-z_]{40,}",
        ),
        ("a Slack token", r"xox[abposr]-[0-9A-Za-z-]{10,}"),
        ("a GitLab token", r"glpat-[0-9A-Za-z_-]{20,}"),
        ("an OpenAI key", r"\bsk-(proj-)?[A-Za-z0-9_-]{32,}"),
    ]
    .into_iter()
    .filter_map(|(what, re)| Regex::new(re).ok().map(|r| (what, r)))
    .collect()
});

/// Why a variable looks secret by its name, if it does.
pub fn secret_by_name<'a>(name: &str, extra: &'a [String]) -> Option<&'a str> {
    let upper = name.to_ascii_uppercase();
    let builtin = SECRET_NAME_PARTS
        .iter()
        .find(|p| upper.contains(*p))
        .copied()
        .or_else(|| {
            upper
                .split(['_', '-', '.'])
                .find_map(|w| SECRET_NAME_WORDS.iter().find(|k| **k == w).copied())
        });
    match builtin {
        Some(_) => Some(""),
        None => extra
            .iter()
            .find(|p| upper.contains(&p.to_ascii_uppercase()))
            .map(String::as_str),
    }
}

/// Prefixes of keys made to be public (Stripe publishable keys, Google
/// browser keys, analytics ids): never reported as secrets by shape.
const PUBLIC_KEY_PREFIXES: &[&str] = &["pk_live_", "pk_test_", "AIza", "G-", "UA-", "phc_"];

/// What kind of secret a value looks like, if it does.
pub fn secret_by_value(value: &str) -> Option<&'static str> {
    // A known secret's shape wins over a public prefix: `G-ghp_…` is a
    // GitHub token behind an analytics id's prefix, not an analytics id.
    let shape = |(what, re): &&(&str, Regex)| {
        re.is_match(value) && !(*what == CONNECTION_STRING && PORT_THEN_AT.is_match(value))
    };
    if let Some((what, _)) = VALUE_SHAPES.iter().find(shape) {
        return Some(what);
    }
    if PUBLIC_KEY_PREFIXES.iter().any(|p| value.starts_with(p)) {
        return None;
    }
    looks_random(value).then_some("a long high-entropy string")
}

/// `https://host:8443/path?by=a@b`: a host, a port and an `@` further on,
/// which the connection-string shape (a password up to the last `@`) would
/// take for `user:password@` and fail a build over a public URL.
static PORT_THEN_AT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s?#]+:[0-9]+([/?#]|$)")
        .expect("port regex compiles")
});

/// A long token of mixed character classes with high Shannon entropy:
/// the shape of generated keys, not of words, URLs or ids.
fn looks_random(value: &str) -> bool {
    if value.len() < 32 || value.len() > 512 || value.contains(char::is_whitespace) {
        return false;
    }
    if value.contains("://") || value.starts_with('/') {
        return false;
    }
    // A bundler's import variable (`_lib_currency__WEBPACK_IMPORTED_MODULE_2__`)
    // is a module's name, and the evidence that links a symptom to its cause.
    if value.contains("__WEBPACK_IMPORTED_MODULE_") || value.contains("__TURBOPACK__") {
        return false;
    }
    let classes = [
        value.bytes().any(|b| b.is_ascii_lowercase()),
        value.bytes().any(|b| b.is_ascii_uppercase()),
        value.bytes().any(|b| b.is_ascii_digit()),
    ]
    .iter()
    .filter(|c| **c)
    .count();
    classes >= 3 && shannon_entropy(value) >= 4.0
}

fn shannon_entropy(value: &str) -> f64 {
    let mut counts = [0usize; 256];
    for b in value.bytes() {
        counts[b as usize] += 1;
    }
    let len = value.len() as f64;
    counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = *c as f64 / len;
            -p * p.log2()
        })
        .sum()
}

/// A masked rendering: the first four characters of a value long enough to
/// keep them harmless, and its length (`sk_l…(40 chars)`).
pub fn mask(value: &str) -> String {
    let len = value.chars().count();
    if len >= 16 {
        let head: String = value.chars().take(4).collect();
        format!("{head}…({len} chars)")
    } else {
        format!("…({len} chars)")
    }
}

/// What a URL may show of itself in a message: its scheme and host
/// (`redis://cache.internal`), never its user, password, port, path, query
/// or fragment. `None` for a value that does not parse, or has no host:
/// such a value shows no part of itself.
pub fn url_origin(value: &str) -> Option<String> {
    let url = url::Url::parse(value.trim()).ok()?;
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(format!("{}://{host}", url.scheme()))
}

/// `NAME=value`, `NAME: value`, `"NAME":"value"` assignments in free text.
static ASSIGNMENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"([A-Za-z_][A-Za-z0-9_.-]*)["']?\s*[=:]\s*["']?([^\s"',;]{4,})"#)
        .expect("assignment regex compiles")
});

/// `Bearer <token>`, `Basic <token>`, and `user:password@` in URLs. A
/// URL's password is taken up to the last `@` before the text's next
/// space or quote: typed unencoded, it may hold `/ @ : # ?`, which end an
/// authority for a URL parser but not for the person who wrote it. Over
/// masking a URL whose query holds an `@` is the price; a leak is not.
static CREDENTIAL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(?:bearer|basic|token)\s+([A-Za-z0-9._~+/=-]{8,})|://[^:/@\s?#"'<>`]+:([^\s"'<>`]+)@"#,
    )
    .expect("credential regex compiles")
});

/// A PEM private key block (a GitHub App's key, any other), whole: its
/// base64 lines are not each shaped like a secret (a short last line, one
/// starting with `/`), so the block is masked from its `BEGIN` line to its
/// `END` line, or to the end of the text when that was cut off.
static PEM_PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?s:.*?)(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\z)",
    )
    .expect("PEM regex compiles")
});

/// A value [`mask`] produced: masking text twice changes nothing.
fn already_masked(value: &str) -> bool {
    value.contains('…')
}

/// Free text (a log line, an error) with every secret value masked:
/// values assigned to secret-looking names, credentials in headers and
/// URLs, and values shaped like known secrets.
pub fn mask_in_text(text: &str) -> String {
    let mut spans: Vec<(usize, usize)> = PEM_PRIVATE_KEY
        .find_iter(text)
        .map(|m| (m.start(), m.end()))
        .collect();
    for c in ASSIGNMENT.captures_iter(text) {
        if let (Some(name), Some(value)) = (c.get(1), c.get(2))
            && secret_by_name(name.as_str(), &[]).is_some()
            && !already_masked(value.as_str())
        {
            spans.push((value.start(), value.end()));
        }
    }
    for c in CREDENTIAL.captures_iter(text) {
        if let Some(value) = c.get(1).or_else(|| c.get(2))
            && !already_masked(value.as_str())
        {
            spans.push((value.start(), value.end()));
        }
    }
    let mut start = None;
    for (i, ch) in text.char_indices().chain([(text.len(), ' ')]) {
        let separator = ch.is_whitespace() || "\"'`=,;()[]{}<>".contains(ch);
        match (separator, start) {
            (false, None) => start = Some(i),
            (true, Some(s)) => {
                if secret_by_value(&text[s..i]).is_some() {
                    spans.push((s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    if spans.is_empty() {
        return text.to_owned();
    }
    spans.sort_unstable();
    // Overlapping spans (a PEM block and its lines) are masked as one.
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        match merged.last_mut() {
            Some(last) if s < last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (s, e) in merged {
        out.push_str(&text[at..s]);
        out.push_str(&mask(&text[s..e]));
        at = e;
    }
    out.push_str(&text[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_in_free_text_are_masked() {
        let line = "STRIPE_SECRET_KEY=sk_live_51Habcdefghijklmnopqrstuvwx Authorization: Bearer abcdefgh12345678 postgres://app:hunter2pass@db:5432/x AKIAIOSFODNN7EXAMPLE";
        let masked = mask_in_text(line);
        for secret in [
            "sk_live_51Habcdefghijklmnopqrstuvwx",
            "abcdefgh12345678",
            "hunter2pass",
            "AKIAIOSFODNN7EXAMPLE",
        ] {
            assert!(!masked.contains(secret), "{secret} leaked: {masked}");
        }
        assert!(masked.starts_with("STRIPE_SECRET_KEY=sk_l…("), "{masked}");
        let harmless = "Module not found: Can't resolve './aws-exports' in '/codebuild/src'";
        assert_eq!(mask_in_text(harmless), harmless);
    }

    /// Characters people leave unencoded in a password, each of which ends
    /// a URL's authority for a parser.
    const AWKWARD: [char; 5] = ['/', '@', ':', '#', '?'];

    /// A password holding `c`, whose halves are each long enough to find.
    fn password(c: char) -> String {
        format!("Kq7vWx{c}Zt9wPm")
    }

    fn leaked(text: &str) -> bool {
        text.contains("Kq7vWx") || text.contains("Zt9wPm")
    }

    #[test]
    fn a_url_password_holding_separators_is_masked_in_free_text() {
        for c in AWKWARD {
            let pw = password(c);
            for text in [
                format!("redis://default:{pw}@cache.internal:6379"),
                format!("connecting to postgres://app:{pw}@db.internal:5432/shop failed"),
                format!("url=\"amqp://guest:{pw}@mq.internal/\" refused"),
            ] {
                let masked = mask_in_text(&text);
                assert!(!leaked(&masked), "{c:?}: {masked}");
                assert_eq!(mask_in_text(&masked), masked, "{c:?}: masking twice");
            }
        }
    }

    #[test]
    fn a_url_password_holding_separators_is_a_connection_string() {
        for c in AWKWARD {
            let value = format!("redis://default:{}@cache.internal:6379", password(c));
            assert_eq!(
                secret_by_value(&value),
                Some("a connection string with a password"),
                "{value}"
            );
        }
    }

    #[test]
    fn a_public_url_with_a_port_and_an_at_sign_is_no_connection_string() {
        for value in [
            "https://api.example.com:8443/v1?contact=ops@example.com",
            "https://example.com/@someone",
        ] {
            assert_eq!(secret_by_value(value), None, "{value}");
        }
    }

    #[test]
    fn a_url_shows_only_its_scheme_and_host() {
        assert_eq!(
            url_origin("redis://default:Kq7vWx:Zt9wPm@cache.internal:6379/0?x=1#f").as_deref(),
            Some("redis://cache.internal")
        );
        for c in AWKWARD {
            let value = format!("redis://default:{}@cache.internal:6379", password(c));
            if let Some(origin) = url_origin(&value) {
                assert!(!leaked(&origin), "{c:?}: {origin}");
            }
        }
        assert_eq!(url_origin("not a url"), None);
        assert_eq!(url_origin("mailto:someone@example.com"), None);
    }

    #[test]
    fn known_shapes_are_recognised() {
        let cases = [
            ("AKIAIOSFODNN7EXAMPLE", "an AWS access key id"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIE",
                "a private key block",
            ),
            (
                "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                "a JSON Web Token",
            ),
            (
                "postgres://app:hunter2@db.example.com:5432/shop",
                "a connection string with a password",
            ),
            ("sk_live_51H8aBcDeFgHiJkLmNoPqRsTu", "a Stripe secret key"),
            ("ghp_0123456789abcdefghijABCDEFGHIJ012345", "a GitHub token"),
            ("xoxb-123456789012-abcdefghijkl", "a Slack token"),
            (
                "q8Xv2LmZ9rT4kW7pN1cB6yH3jF5dS0aGqE8uR2tY",
                "a long high-entropy string",
            ),
        ];
        for (value, what) in cases {
            assert_eq!(secret_by_value(value), Some(what), "{value}");
        }
    }

    #[test]
    fn ordinary_values_are_not_secrets() {
        for value in [
            "https://api.example.com/v1/graphql",
            "production",
            "G-ABCDEF1234",
            "pk_live_51H8aBcDeFgHiJkLmNoPqRsTu",
            "postgres://db.example.com:5432/shop",
            "00000000-0000-4000-8000-000000000000",
            "(0,_aws_amplify_core_internals_utils__WEBPACK_IMPORTED_MODULE_3__.getDeviceName)",
        ] {
            assert_eq!(secret_by_value(value), None, "{value}");
        }
    }

    /// A public key's prefix does not hide a secret's shape behind it (the
    /// fuzzed alert fields found `G-ghp_…` printed: `G-` is an analytics
    /// id's prefix).
    #[test]
    fn a_public_prefix_does_not_hide_a_secret_shape() {
        for value in [
            "G-ghp_0123456789abcdefghijABCDEFGHIJ012345",
            "UA-sk_live_0123456789abcdefABCDEF",
            "AIzaxoxb-0123456789abcdef",
        ] {
            assert!(secret_by_value(value).is_some(), "{value}");
            assert!(!mask_in_text(value).contains(&value[3..12]), "{value}");
        }
    }

    #[test]
    fn names_are_matched_case_insensitively_with_extras() {
        assert!(secret_by_name("NEXT_PUBLIC_STRIPE_SECRET", &[]).is_some());
        assert!(secret_by_name("NEXT_PUBLIC_SITE_NAME", &[]).is_none());
        assert!(secret_by_name("NEXT_PUBLIC_MAPBOX_KEY", &["mapbox".into()]).is_some());
    }

    #[test]
    fn key_and_auth_are_secret_words_not_substrings() {
        for name in [
            "API_KEY",
            "NEXT_PUBLIC_MAPBOX_KEY",
            "STRIPE_KEYS",
            "AUTH",
            "BASIC_AUTH",
            "AUTH_HEADER",
            "OPENAI_APIKEY",
            "AWS_SECRET_ACCESS_KEY",
            "my-service.key",
        ] {
            assert!(secret_by_name(name, &[]).is_some(), "{name}");
        }
        for name in [
            "KEYBOARD_LAYOUT",
            "MONKEY_MODE",
            "AUTHOR_NAME",
            "NEXTAUTH_URL",
            "OAUTH_CALLBACK_PATH",
        ] {
            assert!(secret_by_name(name, &[]).is_none(), "{name}");
        }
        let masked = mask_in_text("API_KEY=abcd1234 AUTH: hunter22 KEYBOARD_LAYOUT=dvorak");
        assert!(
            !masked.contains("abcd1234") && !masked.contains("hunter22"),
            "{masked}"
        );
        assert!(masked.contains("KEYBOARD_LAYOUT=dvorak"), "{masked}");
    }

    #[test]
    fn masking_twice_changes_nothing() {
        let line = "TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345 Bearer abcdefgh12345678 API_KEY=abcd1234";
        let once = mask_in_text(line);
        assert_eq!(mask_in_text(&once), once);
    }

    #[test]
    fn githubs_token_forms_are_masked_in_free_text() {
        for token in [
            "ghs_16C7e42F292c6912E7710c838347Ae178B4a",
            "ghp_0123456789abcdefghijABCDEFGHIJ012345",
            "gho_16C7e42F292c6912E7710c838347Ae178B4a",
            "ghu_16C7e42F292c6912E7710c838347Ae178B4a",
            "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498",
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUV01",
        ] {
            for text in [
                format!("Authorization: token {token}"),
                format!(r#"{{"token":"{token}","expires_at":"2026-12-07T02:00:00Z"}}"#),
                format!("git clone https://x-access-token:{token}@github.com/o/r"),
                format!("minted {token}."),
            ] {
                let masked = mask_in_text(&text);
                assert!(!masked.contains(&token[6..]), "{token}: {masked}");
            }
        }
    }

    #[test]
    fn a_pem_private_key_is_masked_whole_even_cut_off() {
        // Base64 lines that are not each secret-shaped: a short one, one
        // starting with `/`, one of a single character class.
        let body = "MIIEowIBAAKCAQEAq8Xv2LmZ9rT4kW7pN1cB6yH3jF5dS0aGqE8uR2tYq8Xv2Lm\n/9rT4kW7pN1cB6yH3jF5dS0aGqE8uR2tYq8Xv2LmZ9rT4kW7pN1cB6yH3jF5dS0\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nK7pN1c==";
        for label in ["RSA PRIVATE KEY", "PRIVATE KEY", "EC PRIVATE KEY"] {
            let block = format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----");
            let text = format!("key parameter value: {block}\nnext line stays");
            let masked = mask_in_text(&text);
            for line in body.lines() {
                assert!(!masked.contains(line), "{label}: {line} in {masked}");
            }
            assert!(masked.ends_with("\nnext line stays"), "{masked}");
            assert_eq!(mask_in_text(&masked), masked);
            // Cut before its END line (a truncated log or error).
            let cut = &block[..block.len() / 2];
            let masked = mask_in_text(&format!("read: {cut}"));
            assert!(!masked.contains("MIIEowIBAAKCAQEA"), "{masked}");
            assert!(!masked.contains("AAAAAAAAAAAAAAAA"), "{masked}");
        }
    }

    #[test]
    fn masks_keep_at_most_four_characters() {
        assert_eq!(
            mask("sk_live_0123456789abcdefghijklmnopqrstuv"),
            "sk_l…(40 chars)"
        );
        assert_eq!(mask("hunter2"), "…(7 chars)");
    }
}
