//! `.sentinel/policy.yaml` (YAML or JSON, with its `health`, `alerts` and
//! `rollback` sections): `BranchPolicy::parse`.
//!
//! Beyond "no panic":
//! - a rejection is located (line and column >= 1, line within the text as
//!   YAML counts lines: CR, LF, CRLF, NEL, LS and PS all end one) and
//!   explains itself (non-empty reason; Display names the file);
//! - an accepted policy passed the semantic checks (version 1, known scopes
//!   and rules) and round-trips through YAML to an equal policy.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sentinel_shared::policy::BranchPolicy;

const NAME: &str = "fuzz/policy.yaml";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match BranchPolicy::parse(text, NAME) {
        Ok(policy) => {
            assert_eq!(policy.version, 1);
            for scope in policy.required.keys() {
                assert!(
                    ["all", "dev", "staging", "prod"].contains(&scope.as_str()),
                    "accepted scope {scope:?}"
                );
            }
            for (rule, severity) in &policy.severity {
                assert_eq!(policy.severity_of(rule), *severity);
            }
            let yaml = serde_yaml_ng::to_string(&policy).expect("a policy serialises");
            match BranchPolicy::parse(&yaml, NAME) {
                Ok(again) => assert_eq!(again, policy, "YAML round-trip changed the policy"),
                Err(e) => panic!("accepted policy does not round-trip: {e}\n{yaml}"),
            }
        }
        Err(e) => {
            assert_eq!(e.source_name, NAME);
            assert!(e.line >= 1 && e.column >= 1, "unlocated error: {e:?}");
            let lines = yaml_lines(text);
            assert!(
                e.line <= lines + 1,
                "error line {} past the end of a {lines}-line text: {e:?}",
                e.line,
            );
            assert!(!e.reason.trim().is_empty(), "error without a reason: {e:?}");
            assert!(e.to_string().starts_with(NAME));
        }
    }
});

/// Lines as libyaml counts them: CRLF, CR, LF, NEL, LS and PS each end one.
fn yaml_lines(text: &str) -> usize {
    let mut n = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                n += 1;
            }
            '\n' | '\u{85}' | '\u{2028}' | '\u{2029}' => n += 1,
            _ => {}
        }
    }
    n
}
