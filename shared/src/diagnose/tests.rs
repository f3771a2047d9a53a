use proptest::prelude::*;

use super::*;

fn log(lines: &[&str]) -> String {
    lines
        .iter()
        .map(|l| format!("2024-03-01T10:00:00.000Z [INFO]: {l}\n"))
        .collect()
}

const HEAD: &[&str] = &[
    "# Cloning repository: git@github.com:acme/shop.git",
    "# Starting phase: preBuild",
    "# Executing command: npm ci",
    "added 812 packages in 14s",
    "# Completed phase: preBuild",
    "# Starting phase: build",
    "# Executing command: npm run build",
    "> next build",
];

const TAIL: &[&str] = &[
    "!!! Build failed",
    "!!! Error: Command failed with exit code 1",
    "# Starting environment caching...",
    "# Environment caching completed",
    "Terminating logging...",
];

fn failing(middle: &[&str]) -> String {
    let all: Vec<&str> = HEAD.iter().chain(middle).chain(TAIL).copied().collect();
    log(&all)
}

#[test]
fn the_generic_trailer_alone_is_unknown_and_names_the_command() {
    let d = diagnose_bytes(failing(&["Creating an optimized production build ..."]).as_bytes());
    assert_eq!(d.category, "unknown");
    assert_eq!(d.exit_code, Some(1));
    assert_eq!(d.command.as_deref(), Some("npm run build"));
    assert!(d.fix.contains("`npm run build` (phase build)"), "{}", d.fix);
    let lines: Vec<u64> = d.evidence.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![7, 10]);
}

#[test]
fn unknown_shows_the_lines_most_like_an_error() {
    let d = diagnose_bytes(
        failing(&[
            "npm WARN deprecated inflight@1.0.6: This module is not supported",
            "Starting SSR Build...",
            "TypeError: Cannot read properties of undefined (reading 'map')",
            "    at build (/codebuild/output/src1/src/shop/scripts/ssr.js:12:5)",
            "SSR build failed",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "unknown");
    let lines: Vec<u64> = d.evidence.iter().map(|e| e.line).collect();
    // The command, the two error lines (not the warning, not the stack
    // frame), then the trailer.
    assert_eq!(lines, vec![7, 11, 13, 14], "{:#?}", d.evidence);
    assert!(d.evidence[1].text.starts_with("TypeError: Cannot read"));
    assert!(d.fix.contains("look most like an error"), "{}", d.fix);
}

#[test]
fn a_failed_backend_deployment_yields_to_the_denial_that_caused_it() {
    let d = diagnose_bytes(
        failing(&[
            "CloudFormationDeploymentError: The CloudFormation deployment has failed.",
            "Resolution: Find more information in the CloudFormation AWS Console for this stack.",
            "Cause: AccessDeniedException: User: arn:aws:sts::123456789012:assumed-role/AmplifyRole/BuildSession is not authorized to perform: ssm:GetParameter",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "iam-role");
    assert_eq!(d.secondary.len(), 1);
    assert_eq!(d.secondary[0].category, "backend-deploy-failed");
}

#[test]
fn the_earliest_cause_wins_and_the_rest_are_secondary() {
    let d = diagnose_bytes(
        failing(&[
            "Module not found: Can't resolve 'lodash-es' in '/codebuild/output/src1/src/shop/app'",
            "./app/page.tsx:4:1",
            "Type error: Cannot find name 'foo'.",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "module-not-found");
    assert_eq!(d.evidence[0].line, 9);
    assert_eq!(d.secondary.len(), 1);
    assert_eq!(d.secondary[0].category, "typescript-error");
    assert_eq!(d.secondary[0].line, 11);
}

#[test]
fn warnings_the_build_survived_are_not_causes() {
    let d = diagnose_bytes(
        failing(&[
            "Compiled with warnings",
            "./lib/util.js",
            "Attempted import error: 'helper' is not exported from './helpers'.",
            "Linting and checking validity of types ...",
            "Failed to compile.",
            "./app/page.tsx:12:5",
            "Type error: Property 'id' does not exist on type 'User'.",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "typescript-error");
    assert!(d.secondary.is_empty(), "{:?}", d.secondary);
    assert_eq!(d.evidence[0].text, "./app/page.tsx:12:5");
    assert_eq!(d.evidence[1].line, 15);
}

#[test]
fn an_error_in_a_phase_that_completed_is_not_the_cause() {
    let mut lines = vec![
        "# Starting phase: preBuild",
        "# Executing command: npm ci || npm install",
        "npm ERR! code ETIMEDOUT",
        "npm ERR! network request to https://registry.npmjs.org/react failed",
        "added 900 packages in 40s",
        "# Completed phase: preBuild",
        "# Starting phase: build",
        "# Executing command: npm run build",
        "Type error: Argument of type 'string' is not assignable to parameter of type 'number'.",
    ];
    lines.extend(TAIL);
    let d = diagnose_bytes(log(&lines).as_bytes());
    assert_eq!(d.category, "typescript-error");
    assert!(!d.transient, "a retry cannot fix a type error");
    assert!(d.secondary.is_empty());
}

#[test]
fn npm_retry_warnings_are_not_network_failures() {
    let d = diagnose_bytes(
        failing(&[
            "npm WARN tarball tarball data for react@18.2.0 seems to be corrupted. Trying again.",
            "npm warn retry will retry, error on last attempt: Error: read ECONNRESET",
            "Type error: Cannot find name 'x'.",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "typescript-error");
}

#[test]
fn a_real_network_failure_is_transient() {
    let d = diagnose_bytes(
        failing(&[
            "npm ERR! code ECONNRESET",
            "npm ERR! network aborted",
            "npm ERR! network This is a problem related to network connectivity.",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "network-transient");
    assert!(d.transient);
}

#[test]
fn a_wrapper_yields_to_the_specific_cause_printed_under_it() {
    let d = diagnose_bytes(
        failing(&[
            "Error occurred prerendering page \"/pricing\". Read more: https://nextjs.org/docs/messages/prerender-error",
            "Error: Missing required environment variable NEXT_PUBLIC_API_URL",
            "    at getConfig (/codebuild/output/src1/src/shop/.next/server/chunks/12.js:1:200)",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "missing-env-var");
    assert_eq!(d.secondary[0].category, "prerender-error");
}

#[test]
fn a_killed_build_without_another_cause_is_out_of_memory() {
    let mut lines: Vec<&str> = HEAD.to_vec();
    lines.extend([
        "!!! Build failed",
        "!!! Error: Command failed with exit code 137",
    ]);
    let d = diagnose_bytes(log(&lines).as_bytes());
    assert_eq!(d.category, "build-instance-oom");
    assert_eq!(d.exit_code, Some(137));
}

#[test]
fn the_caching_step_is_told_apart_from_the_build() {
    let mut lines: Vec<&str> = HEAD.to_vec();
    lines.extend([
        "Compiled successfully",
        "# Completed phase: build",
        "## Completed Frontend Build",
        "# Starting environment caching...",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "!!! Build failed",
    ]);
    let d = diagnose_bytes(log(&lines).as_bytes());
    assert_eq!(d.category, "cache-step-oom");
}

#[test]
fn ansi_colours_and_crlf_do_not_change_the_answer() {
    let plain = failing(&[
        "npm ERR! code ERESOLVE",
        "npm ERR! ERESOLVE unable to resolve dependency tree",
    ]);
    let coloured = plain
        .replace("npm ERR!", "\x1b[31mnpm\x1b[39m \x1b[31mERR!\x1b[39m")
        .replace("ERESOLVE", "\x1b[35mERE\x1b[0mSOLVE")
        .replace('\n', "\r\n");
    let a = diagnose_bytes(plain.as_bytes());
    let b = diagnose_bytes(coloured.as_bytes());
    assert_eq!(a.category, "dependency-resolution");
    assert_eq!(b.category, a.category);
    assert_eq!(b.evidence, a.evidence);
}

#[test]
fn a_very_long_line_is_survived_and_lines_stay_counted() {
    let mut text = failing(&[]);
    let long = "x".repeat(3 * 1024);
    text = text.replacen("> next build\n", &format!("> next build {long}\n"), 1);
    text = text.replacen(
        "!!! Build failed",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory\n2024-03-01T10:00:00.000Z [INFO]: !!! Build failed",
        1,
    );
    let mut diagnoser = Diagnoser::with_buffer(1024);
    diagnoser.feed(text.as_bytes());
    let d = diagnoser.finish();
    assert_eq!(d.category, "node-heap-oom");
    assert_eq!(d.evidence[0].line, 9);
    assert_eq!(d.lines, 14);
}

#[test]
fn secret_values_in_evidence_are_masked() {
    let d = diagnose_bytes(
        failing(&[
            "Error: Missing required environment variable DATABASE_URL (have STRIPE_SECRET_KEY=sk_live_51Habcdefghijklmnopqrstuvwxyz)",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "missing-env-var");
    let text = &d.evidence[0].text;
    assert!(!text.contains("abcdefghijklmnop"), "{text}");
    assert!(text.contains("sk_l…("), "{text}");
}

#[test]
fn patterns_for_grep_are_escaped() {
    let patterns = trigger_patterns();
    assert!(patterns.contains(&"Permission denied \\(publickey\\)".to_owned()));
    assert!(patterns.iter().all(|p| !p.is_empty()));
}

proptest! {
    #[test]
    fn chunking_never_changes_the_diagnosis(
        cuts in proptest::collection::vec(1usize..400, 1..40),
        buffer in 256usize..1200,
    ) {
        let text = failing(&[
            "Compiled with warnings",
            "Attempted import error: 'a' is not exported from './b'.",
            "Failed to compile.",
            "./app/page.tsx:12:5",
            "Type error: Property 'id' does not exist on type 'User'.",
            "  10 |   const user = getUser();",
            "> 12 |   return user.id;",
            "Error occurred prerendering page \"/\"",
        ]);
        let whole = diagnose_bytes(text.as_bytes());
        let mut diagnoser = Diagnoser::with_buffer(buffer);
        let mut rest = text.as_bytes();
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*cut).min(rest.len());
            diagnoser.feed(&rest[..n]);
            rest = &rest[n..];
        }
        let mut chunked = diagnoser.finish();
        prop_assert_eq!(chunked.bytes, whole.bytes);
        chunked.bytes = whole.bytes;
        prop_assert_eq!(chunked, whole);
    }
}
