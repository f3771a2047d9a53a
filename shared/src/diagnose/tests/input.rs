//! The log as it comes: colours and CRLF, very long lines, secrets in the
//! evidence, lines longer than the buffer.

use super::*;

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
    let d = diagnose_failing(&[
        "Error: Missing required environment variable DATABASE_URL (have STRIPE_SECRET_KEY=sk_live_51Habcdefghijklmnopqrstuvwxyz)",
    ]);
    assert_eq!(d.category, "missing-env-var");
    let text = &d.evidence[0].text;
    assert!(!text.contains("abcdefghijklmnop"), "{text}");
    assert!(text.contains("sk_l…("), "{text}");
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
