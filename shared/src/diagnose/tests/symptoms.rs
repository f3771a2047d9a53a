//! Survived warnings and the failures they explain (issue #19's classes):
//! linked only within one module or name, whatever the chunking.

use super::*;

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
        let d = diagnose_failing(&[
            "Collecting page data ...",
            "Compiled with warnings",
            "./node_modules/node-fetch/lib/index.js",
            "Module not found: Can't resolve 'encoding' in '/codebuild/output/src1/src/shop/node_modules/node-fetch/lib'",
            failure,
        ]);
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
    let d = diagnose_failing(&[
        "Compiled with warnings",
        "./src/components/PriceTag.tsx",
        warning,
        "Linting and checking validity of types ...",
        "Collecting page data ...",
        "TypeError: (0 , _lib_currency__WEBPACK_IMPORTED_MODULE_2__.formatPrice) is not a function",
        "    at PriceTag (/codebuild/output/src1/src/shop/.next/server/app/page.js:1:4410)",
        "> Build error occurred",
        "Error: Failed to collect page data for /products/[id]",
    ]);
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
        let d = diagnose_failing(&[
            "Compiled with warnings",
            "Attempted import error: 'formatPrice' is not exported from '@/lib/currency' (imported as 'formatPrice').",
            "Collecting page data ...",
            symptom,
            "Error: Failed to collect page data for /products/[id]",
        ]);
        assert_eq!(d.category, "prerender-error", "{symptom}");
        assert!(
            d.evidence.iter().any(|e| e.text == symptom),
            "the error it wraps is shown: {:?}",
            d.evidence
        );
    }
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
        let chunked = fed_in_chunks(&text[..], buffer, &cuts);
        prop_assert_eq!(chunked, whole);
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
        let mut chunked = fed_in_chunks(text.as_bytes(), buffer, &cuts);
        prop_assert_eq!(chunked.bytes, whole.bytes);
        chunked.bytes = whole.bytes;
        prop_assert_eq!(chunked, whole);
    }
}
