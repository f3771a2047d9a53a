//! What the value of a `NEXT_PUBLIC_` variable is, judged by its format
//! first: a key made to be public (it ships to every browser by design), a
//! secret (it must never), or a format this rule does not know. A name that
//! sounds secret only counts when the format does not decide.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use regex::Regex;

use crate::core::redact::secret_by_value;

/// What a value's format says about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exposure {
    /// A key made to be public, named by its kind.
    Public(&'static str),
    /// A secret, named by its kind.
    Secret(&'static str),
    /// A long random token of no known kind: it may be either.
    Suspect,
    /// Nothing to say.
    Plain,
}

/// Keys whose vendors publish them to browsers by design.
static PUBLIC_FORMATS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        (
            "a Mapbox public token",
            r"^pk\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
        ),
        (
            "a Stripe publishable key",
            r"^pk_(live|test)_[0-9A-Za-z]{10,}$",
        ),
        ("a Google browser API key", r"^AIza[0-9A-Za-z_-]{35}$"),
        (
            "a Sentry DSN",
            r"^https://[0-9a-f]{32}@[A-Za-z0-9.-]+(:[0-9]+)?/[0-9]+$",
        ),
        ("a PostHog project key", r"^phc_[0-9A-Za-z]{20,}$"),
        ("a Firebase web app id", r"^1:[0-9]+:web:[0-9a-f]+$"),
        (
            "a Google Analytics id",
            r"^(G-[0-9A-Z]{6,}|UA-[0-9]+-[0-9]+)$",
        ),
    ]
    .into_iter()
    .map(|(what, re)| (what, Regex::new(re).expect("public format regex compiles")))
    .collect()
});

/// Secrets whose format `core::redact` does not single out (it masks them
/// as high-entropy text anyway), and that must fail the rule.
static SECRET_FORMATS: LazyLock<Vec<(&'static str, Regex)>> = LazyLock::new(|| {
    [
        (
            "a Mapbox secret token",
            r"^sk\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
        ),
        ("an npm token", r"^npm_[0-9A-Za-z]{36}$"),
        ("a PostHog personal API key", r"^phx_[0-9A-Za-z]{20,}$"),
    ]
    .into_iter()
    .map(|(what, re)| (what, Regex::new(re).expect("secret format regex compiles")))
    .collect()
});

/// An Algolia key is 32 hex characters whether it is the search-only key
/// (public by design) or the admin key: only the name can tell them apart.
static HEX32: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("^[0-9a-f]{32}$").expect("hex regex compiles"));

/// Judges `value`, the value of `NEXT_PUBLIC_{name}`.
pub fn classify(name: &str, value: &str) -> Exposure {
    let value = value.trim();
    if let Some(role) = supabase_role(value) {
        return match role.as_str() {
            "anon" => Exposure::Public("a Supabase anon key"),
            "service_role" => Exposure::Secret("a Supabase service-role key"),
            _ => Exposure::Secret("a JSON Web Token"),
        };
    }
    if let Some((what, _)) = PUBLIC_FORMATS.iter().find(|(_, re)| re.is_match(value)) {
        return Exposure::Public(what);
    }
    let upper = name.to_ascii_uppercase();
    if HEX32.is_match(value) && upper.contains("ALGOLIA") {
        return if upper.contains("SEARCH") {
            Exposure::Public("an Algolia search-only key")
        } else {
            Exposure::Suspect
        };
    }
    if let Some((what, _)) = SECRET_FORMATS.iter().find(|(_, re)| re.is_match(value)) {
        return Exposure::Secret(what);
    }
    if aws_secret_key(value) {
        return Exposure::Secret("an AWS secret access key");
    }
    match secret_by_value(value) {
        Some("a long high-entropy string") => Exposure::Suspect,
        Some(what) => Exposure::Secret(what),
        None => Exposure::Plain,
    }
}

/// 40 characters of base64 with upper case, lower case and digits: the shape
/// of an AWS secret access key (a 40-character commit SHA is lower-case hex,
/// and stays plain).
fn aws_secret_key(value: &str) -> bool {
    value.len() == 40
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && value.bytes().any(|b| b.is_ascii_uppercase())
        && value.bytes().any(|b| b.is_ascii_lowercase())
        && value.bytes().any(|b| b.is_ascii_digit())
}

/// The `role` claim of a Supabase key (a JWT issued by `supabase`), read
/// without verifying it: the signature says who issued it, the claim says
/// what it may do, and only the second matters here.
fn supabase_role(value: &str) -> Option<String> {
    let mut parts = value.split('.');
    let (header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !header.starts_with("eyJ") || !payload.starts_with("eyJ") {
        return None;
    }
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?)
            .ok()?;
    if claims.get("iss").and_then(|i| i.as_str()) != Some("supabase") {
        return None;
    }
    claims.get("role")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `kind<TAB>name<TAB>value` lines; `#` starts a comment.
    fn samples(file: &str) -> Vec<(String, String, String)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fixtures/public-values")
            .join(file);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let mut f = l.split('\t');
                let mut next = || f.next().unwrap_or_default().to_owned();
                (next(), next(), next())
            })
            .collect()
    }

    #[test]
    fn keys_made_to_be_public_are_public_by_their_format() {
        let public = samples("public.tsv");
        assert!(public.len() >= 9, "{public:?}");
        for (kind, name, value) in public {
            match classify(&name, &value) {
                Exposure::Public(what) => assert_eq!(what, kind, "{name}={value}"),
                other => panic!("{name}={value}: {other:?}, not {kind}"),
            }
        }
    }

    #[test]
    fn secrets_are_secrets_by_their_format_whatever_their_name() {
        let secret = samples("secret.tsv");
        assert!(secret.len() >= 9, "{secret:?}");
        for (kind, name, value) in secret {
            match classify(&name, &value) {
                Exposure::Secret(what) => assert_eq!(what, kind, "{name}={value}"),
                other => panic!("{name}={value}: {other:?}, not {kind}"),
            }
        }
    }

    #[test]
    fn unknown_formats_are_suspect_or_plain_never_secret() {
        for (name, value, want) in [
            (
                "ALGOLIA_ADMIN_KEY",
                "0123456789abcdef0123456789abcdef",
                Exposure::Suspect,
            ),
            (
                "API_TOKEN",
                "Zx9Qp2Lm7Rt4Vb8Nc1Kd6Hf3Jg5Ws0Ye",
                Exposure::Suspect,
            ),
            ("SITE_NAME", "Storefront", Exposure::Plain),
            (
                "COMMIT_SHA",
                "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
                Exposure::Plain,
            ),
            ("API_URL", "https://api.example.com/v1", Exposure::Plain),
        ] {
            assert_eq!(classify(name, value), want, "{name}={value}");
        }
    }
}
