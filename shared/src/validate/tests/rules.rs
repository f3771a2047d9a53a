//! Every rule against its fixtures, the policy's severities, and the places
//! malformed files are named at.

use super::*;

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
