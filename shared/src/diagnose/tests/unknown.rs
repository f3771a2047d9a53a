//! A failure no category names: the command, the lines most like an error,
//! suspects from the log's end however it is chunked.

use super::*;

#[test]
fn the_generic_trailer_alone_is_unknown_and_names_the_command() {
    let d = diagnose_failing(&["Creating an optimized production build ..."]);
    assert_eq!(d.category, "unknown");
    assert_eq!(d.exit_code, Some(1));
    assert_eq!(d.command.as_deref(), Some("npm run build"));
    assert!(d.fix.contains("`npm run build` (phase build)"), "{}", d.fix);
    let lines: Vec<u64> = d.evidence.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![7, 10]);
}

#[test]
fn unknown_shows_the_lines_most_like_an_error() {
    let d = diagnose_failing(&[
        "npm WARN deprecated inflight@1.0.6: This module is not supported",
        "Starting SSR Build...",
        "TypeError: Cannot read properties of undefined (reading 'map')",
        "    at build (/codebuild/output/src1/src/shop/scripts/ssr.js:12:5)",
        "SSR build failed",
    ]);
    assert_eq!(d.category, "unknown");
    let lines: Vec<u64> = d.evidence.iter().map(|e| e.line).collect();
    // The command, the two error lines (not the warning, not the stack
    // frame), then the trailer.
    assert_eq!(lines, vec![7, 11, 13, 14], "{:#?}", d.evidence);
    assert!(d.evidence[1].text.starts_with("TypeError: Cannot read"));
    assert!(d.fix.contains("look most like an error"), "{}", d.fix);
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
