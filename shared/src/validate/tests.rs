//! Every rule against its failing and passing fixture
//! (`tests/fixtures/validate/<rule>/{fail,pass}`), plus the guarantees that
//! cut across rules.

use std::path::{Path, PathBuf};

use super::local::input_from_dir;
use super::*;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/validate")
}

/// Loads a fixture directory the way `sentinel validate --dir D --env-file
/// D/case.env --policy D/policy.yaml $(cat D/args)` does.
pub fn run_fixture(dir: &Path) -> Report {
    let args = std::fs::read_to_string(dir.join("args")).unwrap_or_default();
    let words: Vec<&str> = args.split_whitespace().collect();
    let arg = |flag: &str| {
        words
            .iter()
            .position(|w| *w == flag)
            .and_then(|i| words.get(i + 1))
            .copied()
    };
    let environment = arg("--env").unwrap_or("dev").parse().unwrap();
    let platform = arg("--platform").and_then(Platform::parse);
    let input = input_from_dir(
        dir,
        Some(&dir.join("case.env")),
        std::iter::empty(),
        environment,
        platform,
        8,
    )
    .unwrap();
    let policy = match std::fs::read_to_string(dir.join("policy.yaml")) {
        Ok(text) => BranchPolicy::parse(&text, "policy.yaml").unwrap(),
        Err(_) => BranchPolicy::default(),
    };
    validate(&input, &policy).unwrap()
}

#[test]
fn every_rule_has_a_failing_and_a_passing_fixture() {
    for (rule, _, _) in RULES {
        let fail = run_fixture(&fixtures().join(rule).join("fail"));
        let pass = run_fixture(&fixtures().join(rule).join("pass"));
        assert!(
            fail.findings.iter().any(|f| f.rule == *rule),
            "{rule}/fail: {:#?}",
            fail.findings
        );
        assert!(
            !pass.findings.iter().any(|f| f.rule == *rule),
            "{rule}/pass: {:#?}",
            pass.findings
        );
        for f in &fail.findings {
            assert!(!f.message.is_empty() && !f.fix.is_empty(), "{rule}: {f:?}");
        }
    }
}

#[test]
fn the_passing_project_is_clean() {
    let report = run_fixture(&fixtures().join("deps.lockfile-missing/pass"));
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert!(report.passed);
}

#[test]
fn a_policy_raises_and_lowers_severities() {
    let dir = fixtures().join("buildspec.node-memory/fail");
    let input = input_from_dir(
        &dir,
        Some(&dir.join("case.env")),
        std::iter::empty(),
        Environment::Prod,
        Some(Platform::WebCompute),
        8,
    )
    .unwrap();
    let raised = BranchPolicy::parse("severity:\n  buildspec.node-memory: error\n", "p").unwrap();
    let report = validate(&input, &raised).unwrap();
    assert_eq!(report.errors, 1);
    assert!(!report.passed);
    let off = BranchPolicy::parse("severity:\n  buildspec.node-memory: off\n", "p").unwrap();
    assert!(validate(&input, &off).unwrap().findings.is_empty());
}

#[test]
fn secret_values_never_appear_in_a_report() {
    const CANARY: &str = "sk_live_CANARY0123456789abcdefghijKLMNOP";
    let mut input = ValidationInput::new(Environment::Prod);
    input.platform = Some(Platform::WebCompute);
    for name in [
        "NEXT_PUBLIC_STRIPE_SECRET",
        "DATABASE_URL",
        "API_URL",
        "NEXT_PUBLIC_X",
        "WORKER_TIMEOUT_MS",
        "SERVER_ONLY",
    ] {
        input.variables.insert(name.into(), CANARY.into());
        input.declared.push(name.into());
    }
    input.build_spec = Some(SourceFile {
        name: "amplify.yml".into(),
        text: format!("version: 1\nfrontend: [{CANARY}\n"),
    });
    let report = validate(&input, &BranchPolicy::default()).unwrap();
    assert!(report.errors >= 3, "{report:#?}");
    let text = serde_json::to_string(&report).unwrap();
    assert!(!text.contains("CANARY0123"), "{text}");
}

#[test]
fn malformed_package_files_name_the_file_and_place() {
    let mut input = ValidationInput::new(Environment::Dev);
    input.package_json = Some(SourceFile {
        name: "package.json".into(),
        text: "{\n  \"name\": \"x\",\n  oops\n}".into(),
    });
    let err = validate(&input, &BranchPolicy::default()).unwrap_err();
    assert_eq!((err.file.as_str(), err.line), ("package.json", 3));
    input.package_json = Some(SourceFile {
        name: "package.json".into(),
        text: "{}".into(),
    });
    input.package_lock = Some(SourceFile {
        name: "package-lock.json".into(),
        text: "{\"packages\": [}".into(),
    });
    let err = validate(&input, &BranchPolicy::default()).unwrap_err();
    assert_eq!(err.file, "package-lock.json");
    assert_eq!(err.line, 1);
}

#[test]
fn a_build_spec_that_is_not_yaml_is_a_finding_with_its_place() {
    let mut input = ValidationInput::new(Environment::Dev);
    input.build_spec = Some(SourceFile {
        name: "amplify.yml".into(),
        text: "version: 1\nfrontend:\n  phases: [\n".into(),
    });
    let report = validate(&input, &BranchPolicy::default()).unwrap();
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == "buildspec.invalid")
        .unwrap();
    assert!(f.message.starts_with("amplify.yml:"), "{}", f.message);
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
