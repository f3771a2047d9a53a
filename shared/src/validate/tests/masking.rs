//! Secrets in a report: values never shown, URL passwords masked wherever a
//! rule quotes them, a secret's name alone a warning the policy can raise.

use super::*;

#[test]
fn secret_values_never_appear_in_a_report() {
    const CANARY: &str = "sk_live_CANARY0123456789abcdefghijKLMNOP";
    let mut input = ValidationInput::new(Environment::Prod);
    input.platform = Some(Platform::WebCompute);
    declare(
        &mut input,
        &[
            "NEXT_PUBLIC_STRIPE_SECRET",
            "DATABASE_URL",
            "API_URL",
            "NEXT_PUBLIC_X",
            "WORKER_TIMEOUT_MS",
            "SERVER_ONLY",
        ],
        CANARY,
    );
    input.build_spec = Some(SourceFile {
        name: "amplify.yml".into(),
        text: format!("version: 1\nfrontend: [{CANARY}\n"),
    });
    let report = validate(&input, &BranchPolicy::default()).unwrap();
    assert!(report.errors >= 3, "{report:#?}");
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("CANARY0123"), "{text}");
}

/// Characters a password is typed with, unencoded, that end a URL's
/// authority for a parser (issue #28, item 7).
const AWKWARD: [char; 5] = ['/', '@', ':', '#', '?'];

fn leaked(text: &str) -> bool {
    text.contains("Kq7vWx") || text.contains("Zt9wPm")
}

#[test]
fn a_url_password_never_appears_in_a_finding_or_its_json() {
    for c in AWKWARD {
        let value = format!("redis://default:Kq7vWx{c}Zt9wPm@cache.internal:6379");
        let mut input = ValidationInput::new(Environment::Prod);
        declare(
            &mut input,
            &[
                "REDIS_URL",
                "CACHE_URI",
                "DATABASE_URL",
                "NEXTAUTH_URL",
                "NEXT_PUBLIC_REDIS_URL",
            ],
            &value,
        );
        let report = validate(&input, &BranchPolicy::default()).unwrap();
        let json = serde_json::to_string(&report).unwrap();
        assert!(!leaked(&json), "{c:?}: {json}");
        // The public one is a secret sent to browsers, whatever its password holds.
        assert!(
            report
                .findings
                .iter()
                .any(|f| f.rule == "env.secret-exposed"
                    && f.location.as_deref() == Some("NEXT_PUBLIC_REDIS_URL")),
            "{c:?}: {json}"
        );
    }
}

#[test]
fn a_url_that_does_not_parse_is_named_not_quoted() {
    let mut input = ValidationInput::new(Environment::Dev);
    input.variables.insert(
        "REDIS_URL".into(),
        "redis://default:Kq7vWx/Zt9wPm@cache.internal:6379".into(),
    );
    let report = validate(&input, &BranchPolicy::default()).unwrap();
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == "env.malformed")
        .unwrap_or_else(|| panic!("{report:#?}"));
    assert!(
        f.message.starts_with("REDIS_URL is not a URL"),
        "{}",
        f.message
    );
    assert!(!f.message.contains("redis:"), "{}", f.message);
    assert!(f.fix.contains("percent-encode"), "{}", f.fix);
}

#[test]
fn the_central_masker_masks_a_url_password_any_rule_quotes() {
    for c in AWKWARD {
        let quoted = format!("postgres://app:Kq7vWx{c}Zt9wPm@db.internal:5432/shop");
        let finding = Finding::new(
            "buildspec.invalid",
            format!("amplify.yml:3: the command `psql {quoted}` fails"),
            format!("replace {quoted} by a secret"),
        )
        .at(format!("{quoted} (line 3)"))
        .masked();
        let json = serde_json::to_string(&finding).unwrap();
        assert!(!leaked(&json), "{c:?}: {json}");
        // A build spec that quotes one reaches a report masked.
        let mut input = ValidationInput::new(Environment::Dev);
        input.build_spec = Some(SourceFile {
            name: "amplify.yml".into(),
            text: format!("version: 1\nfrontend: [{quoted}\n"),
        });
        let json =
            serde_json::to_string(&validate(&input, &BranchPolicy::default()).unwrap()).unwrap();
        assert!(!leaked(&json), "{c:?}: {json}");
    }
}

/// The `env.secret*` findings of one `NEXT_PUBLIC_` variable.
fn exposure_findings(name: &str, value: &str, policy: &BranchPolicy) -> Vec<(String, Severity)> {
    let mut input = ValidationInput::new(Environment::Prod);
    input.variables.insert(name.into(), value.into());
    input.declared.push(name.into());
    validate(&input, policy)
        .unwrap()
        .findings
        .into_iter()
        .filter(|f| f.rule.starts_with("env.secret"))
        .map(|f| (f.rule, f.severity))
        .collect()
}

#[test]
fn a_secret_name_alone_warns_and_the_policy_can_make_it_an_error() {
    let default = BranchPolicy::default();
    let warned = exposure_findings("NEXT_PUBLIC_API_TOKEN", "storefront-search", &default);
    assert_eq!(
        warned,
        vec![("env.secret-suspected".to_owned(), Severity::Warning)]
    );
    // A name the team declares secret in its policy is its own word: an error.
    let declared = BranchPolicy::parse("secret_names: [SEARCH]\n", "p").unwrap();
    let refused = exposure_findings("NEXT_PUBLIC_SEARCH_ID", "storefront-search", &declared);
    assert_eq!(
        refused,
        vec![("env.secret-exposed".to_owned(), Severity::Error)]
    );
    // A public format passes whatever the name; a secret fails whatever it.
    let mapbox = "pk.eyJ1Ijoic3RvcmVmcm9udCIsImEiOiJjbHh5ejEyMzQwMDAwMmpwZzRrZzVhYmNkIn0.AbCdEfGhIjKlMnOpQrStUv";
    assert!(exposure_findings("NEXT_PUBLIC_MAPBOX_SECRET_TOKEN", mapbox, &default).is_empty());
    let stripe = "sk_live_51H8aBcDeFgHiJkLmNoPqRsTuVwXyZ";
    assert_eq!(
        exposure_findings("NEXT_PUBLIC_CHECKOUT", stripe, &default),
        vec![("env.secret-exposed".to_owned(), Severity::Error)]
    );
    // A commit SHA is neither.
    let sha = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678";
    assert!(exposure_findings("NEXT_PUBLIC_COMMIT", sha, &default).is_empty());
}

/// `names` declared and set to `value`.
fn declare(input: &mut ValidationInput, names: &[&str], value: &str) {
    for name in names {
        input.variables.insert((*name).into(), value.into());
        input.declared.push((*name).into());
    }
}
