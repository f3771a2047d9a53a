//! Amplify's own verdict after a completed build: the cause, or unknown with
//! the verdict as evidence.

use super::*;

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
