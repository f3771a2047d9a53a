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
fn an_image_that_cannot_run_the_toolchain_is_the_cause_of_what_failed_before() {
    let d = diagnose_bytes(
        failing(&[
            "Error: Cannot find module '/root/.nvm/versions/node/v20.11.1/lib/node_modules/pnpm/package.json'",
            "node: /lib64/libc.so.6: version `GLIBC_2.28' not found (required by node)",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "build-image-glibc", "{d:#?}");
    assert_eq!(d.secondary.len(), 1);
    assert_eq!(d.secondary[0].category, "module-not-found");
}

#[test]
fn unknowns_suspects_come_from_the_logs_end_whatever_its_length_and_chunking() {
    let noise = vec!["Generating static pages (12/40)"; 20_000];
    let mut middle: Vec<&str> = vec!["Error: an early error, far from the end"];
    middle.extend(noise);
    middle.push("SSR build failed");
    let text = failing(&middle);
    let failed_at = text
        .lines()
        .position(|l| l.ends_with("SSR build failed"))
        .expect("the line") as u64
        + 1;
    for buffer in [256, 4096, BUFFER] {
        let mut d = Diagnoser::with_buffer(buffer);
        for chunk in text.as_bytes().chunks(1000) {
            d.feed(chunk);
        }
        let d = d.finish();
        assert_eq!(d.category, "unknown");
        let lines: Vec<u64> = d.evidence.iter().map(|e| e.line).collect();
        // The command, the failure, the trailer; the early error is out
        // of the tail.
        assert!(lines.contains(&failed_at), "{buffer}: {lines:?}");
        assert!(
            d.evidence.iter().all(|e| !e.text.contains("early error")),
            "{buffer}: {:?}",
            d.evidence
        );
    }
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

/// A build whose phases all completed, then Amplify's verdict.
fn deployed(verdict: &str) -> String {
    let mut lines: Vec<&str> = HEAD.to_vec();
    lines.extend([
        "Compiled successfully",
        "# Completed phase: build",
        "## Completed Frontend Build",
        "## Build completed successfully",
        "# Starting caching...",
        "# Caching completed",
    ]);
    let mut text = log(&lines);
    text.push_str(&format!(
        "2024-03-01T10:00:00.000Z [ERROR]: !!! {verdict}\n"
    ));
    text.push_str(&log(&[
        "# Starting environment caching...",
        "Terminating logging...",
    ]));
    text
}

#[test]
fn amplifys_verdict_after_a_completed_build_is_the_cause() {
    for (verdict, category) in [
        // A trigger, in wordings the category's confirmation does not know.
        (
            "CustomerError: Failed to find the deploy-manifest.json file in the build output. Please verify that it exists within the \"baseDirectory\" specified in your buildSpec.",
            "deploy-manifest-missing",
        ),
        // No trigger: the category's own pattern for Amplify's verdict.
        (
            "CustomerError: Unable to find the server.js file in .next/standalone",
            "deploy-manifest-missing",
        ),
        (
            "CustomerError: The build output directory 'dist' does not exist",
            "artifact-directory-missing",
        ),
        (
            "CustomerError: The size of the build output (292254632) exceeds the max allowed size of 230686720 bytes.",
            "build-output-too-large",
        ),
    ] {
        let d = diagnose_bytes(deployed(verdict).as_bytes());
        assert_eq!(d.category, category, "{verdict}");
        assert!(
            d.evidence[0].text.contains("CustomerError"),
            "{:?}",
            d.evidence
        );
    }
}

#[test]
fn an_unrecognised_verdict_is_unknown_with_the_verdict_as_evidence() {
    let d = diagnose_bytes(
        deployed("CustomerError: The artifacts key was not provided in the build spec").as_bytes(),
    );
    assert_eq!(d.category, "unknown");
    assert!(
        d.evidence
            .iter()
            .any(|e| e.text.contains("artifacts key was not provided")),
        "{:?}",
        d.evidence
    );
}

#[test]
fn a_survived_warning_does_not_swallow_a_later_failure() {
    // stderr's block (the warning, then the failure) printed after stdout's
    // progress lines: no line between them ends the block.
    for (failure, category) in [
        (
            "Error occurred prerendering page \"/products\". Read more: https://nextjs.org/docs/messages/prerender-error",
            "prerender-error",
        ),
        (
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            "node-heap-oom",
        ),
    ] {
        let d = diagnose_bytes(
            failing(&[
                "Collecting page data ...",
                "Compiled with warnings",
                "./node_modules/node-fetch/lib/index.js",
                "Module not found: Can't resolve 'encoding' in '/codebuild/output/src1/src/shop/node_modules/node-fetch/lib'",
                failure,
            ])
            .as_bytes(),
        );
        assert_eq!(d.category, category);
        assert!(
            d.secondary.is_empty(),
            "the warning is no cause: {:?}",
            d.secondary
        );
    }
}

#[test]
fn a_connection_error_by_a_failed_page_is_its_evidence_not_a_transient_cause() {
    // Under the page, or printed before the page-data failure it caused.
    for lines in [
        &[
            "Error occurred prerendering page \"/dashboard\". Read more: https://nextjs.org/docs/messages/prerender-error",
            "Error: connect ECONNREFUSED 10.0.3.14:5432",
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1595:16)",
        ][..],
        &[
            "Collecting page data ...",
            "Error: connect ECONNREFUSED 127.0.0.1:3000",
            "    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1595:16)",
            "> Build error occurred",
            "Error: Failed to collect page data for /dashboard",
        ][..],
    ] {
        let d = diagnose_bytes(failing(lines).as_bytes());
        assert_eq!(d.category, "prerender-error");
        assert!(!d.transient, "a retry does not bring the page's API up");
        assert!(
            d.evidence.iter().any(|e| e.text.contains("ECONNREFUSED")),
            "{:?}",
            d.evidence
        );
        assert!(
            d.evidence.iter().all(|e| !e.text.starts_with("at ")),
            "stack frames are no evidence: {:?}",
            d.evidence
        );
    }
}

#[test]
fn a_symptom_names_the_survived_warning_that_explains_it() {
    let warning = "Attempted import error: 'formatPrice' is not exported from '@/lib/currency' (imported as 'formatPrice').";
    let d = diagnose_bytes(
        failing(&[
            "Compiled with warnings",
            "./src/components/PriceTag.tsx",
            warning,
            "Linting and checking validity of types ...",
            "Collecting page data ...",
            "TypeError: (0 , _lib_currency__WEBPACK_IMPORTED_MODULE_2__.formatPrice) is not a function",
            "    at PriceTag (/codebuild/output/src1/src/shop/.next/server/app/page.js:1:4410)",
            "> Build error occurred",
            "Error: Failed to collect page data for /products/[id]",
        ])
        .as_bytes(),
    );
    assert_eq!(d.category, "missing-export");
    assert_eq!(d.evidence[0].line, 11);
    assert_eq!(d.evidence[0].text, warning);
    assert!(
        d.evidence[1]
            .text
            .contains("formatPrice) is not a function")
    );
    assert_eq!(d.secondary[0].category, "prerender-error");
}

#[test]
fn a_symptom_of_another_module_or_name_is_not_linked() {
    for symptom in [
        "TypeError: (0 , _lib_money__WEBPACK_IMPORTED_MODULE_2__.formatPrice) is not a function",
        "TypeError: (0 , _lib_currency__WEBPACK_IMPORTED_MODULE_2__.parsePrice) is not a function",
    ] {
        let d = diagnose_bytes(
            failing(&[
                "Compiled with warnings",
                "Attempted import error: 'formatPrice' is not exported from '@/lib/currency' (imported as 'formatPrice').",
                "Collecting page data ...",
                symptom,
                "Error: Failed to collect page data for /products/[id]",
            ])
            .as_bytes(),
        );
        assert_eq!(d.category, "prerender-error", "{symptom}");
        assert!(
            d.evidence.iter().any(|e| e.text == symptom),
            "the error it wraps is shown: {:?}",
            d.evidence
        );
    }
}

#[test]
fn every_catalogue_regex_compiles() {
    assert!(compile_all() >= 20);
}

#[test]
fn patterns_for_grep_are_escaped() {
    let patterns = trigger_patterns();
    assert!(patterns.contains(&"Permission denied \\(publickey\\)".to_owned()));
    assert!(patterns.iter().all(|p| !p.is_empty()));
}

/// Every fixture of issue #19's three classes, coloured: the linking and
/// the verdict survive any chunking too.
fn class_fixtures() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/diagnose");
    [
        "platform-error-after-build.log",
        "warning-then-prerender-failure.log",
        "warning-explains-prerender-failure.log",
    ]
    .iter()
    .map(|f| {
        let raw = std::fs::read_to_string(dir.join(f)).expect("fixture");
        raw.replace(
            "Module not found",
            "\x1b[1m\x1b[31mModule not found\x1b[39m\x1b[22m",
        )
        .replace("TypeError", "\x1b[31mType\x1b[0mError")
        .replace('\n', "\r\n")
        .into_bytes()
    })
    .collect()
}

proptest! {
    #[test]
    fn chunking_never_changes_a_linked_or_platform_diagnosis(
        which in 0usize..3,
        cuts in proptest::collection::vec(1usize..700, 1..40),
        extra in 1usize..1700,
    ) {
        let text = &class_fixtures()[which];
        // Any buffer that holds the longest line: a longer line is examined
        // only as far as the buffer goes (see
        // `a_line_longer_than_the_buffer_gives_no_second_evidence_line`).
        let longest = text.split(|&b| b == b'\n').map(<[u8]>::len).max().unwrap_or(0);
        let buffer = longest + extra;
        let whole = diagnose_bytes(text);
        let mut diagnoser = Diagnoser::with_buffer(buffer);
        let mut rest = &text[..];
        for cut in cuts.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = (*cut).min(rest.len());
            diagnoser.feed(&rest[..n]);
            rest = &rest[n..];
        }
        prop_assert_eq!(diagnoser.finish(), whole);
    }

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

/// A line longer than the buffer is examined as far as the buffer goes; the
/// rest of it is neither a new line nor a line of evidence after it, and
/// the numbering of the lines after it is unchanged.
#[test]
fn a_line_longer_than_the_buffer_gives_no_second_evidence_line() {
    let long = format!(
        "!!! CustomerError: Failed to find the deploy-manifest.json file in the build output. {}",
        "Please verify that it exists within the baseDirectory specified in your buildSpec. "
            .repeat(4)
    );
    let text = failing(&[
        "# Completed phase: build",
        "# Starting phase: deploy",
        &long,
        "!!! Build failed",
    ]);
    let whole = diagnose_bytes(text.as_bytes());
    assert_eq!(whole.category, "deploy-manifest-missing", "{whole:?}");
    assert!(long.len() > 256);
    let mut small = Diagnoser::with_buffer(256);
    small.feed(text.as_bytes());
    let cut = small.finish();
    assert_eq!(cut.category, whole.category, "{cut:?}");
    assert_eq!(cut.lines, whole.lines);
    let lines: Vec<u64> = cut.evidence.iter().map(|e| e.line).collect();
    let mut unique = lines.clone();
    unique.dedup();
    assert_eq!(lines, unique, "one line, one evidence entry: {cut:?}");
    assert_eq!(cut.evidence[0].line, whole.evidence[0].line);
}
