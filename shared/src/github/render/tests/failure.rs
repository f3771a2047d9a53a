//! A failed build's summary: what the alert says, hostile evidence kept in
//! its code block, a huge diagnosis within GitHub's limit.

use super::*;

#[test]
fn the_failure_summary_is_what_the_alert_says() {
    let r = failed_with(fixture("typescript-error"));
    let c = RenderContext {
        author: Some(&CommitInfo {
            sha: SHA.into(),
            author_name: Some("Jane Doe".into()),
            author_login: Some("jdoe".into()),
            authored_at: None,
            committed_at: None,
        }),
        ..ctx()
    };
    let d = desired(&r, &c, PrComment::Never);
    let s = &d.check_run.summary;
    assert_eq!(
        d.check_run.title,
        "Build failed: TypeScript type checking failed"
    );
    assert!(
        s.contains("**Why:** TypeScript type checking failed (`typescript-error`)"),
        "{s}"
    );
    assert!(s.contains("**Fix:** Fix the type error shown"), "{s}");
    assert!(s.contains("Not transient"), "{s}");
    assert!(
        s.contains("#### Evidence (from the build log; secrets masked)\n\n```text\n"),
        "{s}"
    );
    assert!(
        s.contains(
            "    47: Type error: Property 'discountCode' does not exist on type 'CartSummary'."
        ),
        "{s}"
    );
    assert!(s.contains("Pushed by Jane Doe (@\u{200D}jdoe)"), "{s}");
    assert!(
        s.contains("[Job 12 in the Amplify console](https://eu-west-1.console.aws.amazon.com/"),
        "{s}"
    );
    assert!(
        s.contains("[Open the site](https://www.shop.example.com/)"),
        "{s}"
    );
    assert!(
        s.contains("Commit `5d8e2a0c7b1f` Checkout: discount codes"),
        "{s}"
    );
}

#[test]
fn hostile_evidence_cannot_escape_its_code_block_ping_or_link() {
    let mut d = fixture("typescript-error");
    d.title = "<b>@channel</b> see #1".into();
    d.fix = "run `rm -rf` [here](https://evil.example) @here fixes #1 and GH-2".into();
    d.evidence = vec![
        Evidence {
            line: 1,
            text: "```` then <script>alert(1)</script>".into(),
        },
        Evidence {
            line: 2,
            text: "@channel @here fixes #1 owner/repo#2".into(),
        },
        Evidence {
            line: 3,
            text: "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        },
    ];
    let s = desired(&failed_with(d), &ctx(), PrComment::Never)
        .check_run
        .summary;
    // Outside code: no raw HTML, no mention, no reference, no link.
    let outside: String = s.lines().filter(|l| !l.starts_with("     ")).collect();
    assert!(
        !outside.contains('<') && !outside.contains("@channel"),
        "{s}"
    );
    assert!(
        s.contains("&lt;b&gt;@\u{200D}channel&lt;/b&gt; see #\u{200D}1"),
        "{s}"
    );
    assert!(s.contains("run `rm -rf` \\[here\\](https://evil.example) @\u{200D}here fixes #\u{200D}1 and GH-\u{200D}2"), "{s}");
    // The evidence: a fence longer than the longest backtick run, closed
    // after the last line, each line as it was (secrets masked).
    let open = s.find("`````text\n").expect("a five-backtick fence");
    let rest = &s[open + 10..];
    let close = rest.find("\n`````\n").expect("closed");
    let block = &rest[..close];
    assert_eq!(block.lines().count(), 3, "{block}");
    assert!(
        block.contains("     2: @channel @here fixes #1 owner/repo#2"),
        "{block}"
    );
    assert!(!s.contains("wJalrXUtnFEMI"), "the secret is masked: {s}");
}

#[test]
fn a_huge_diagnosis_fits_github_s_65535_characters_with_a_note() {
    let mut d = fixture("typescript-error");
    d.fix = "<&>".repeat(5_000);
    d.title = "t".repeat(10_000);
    d.evidence = (1..=2_000)
        .map(|i| Evidence {
            line: i,
            text: format!("{i}: {}", "x<`@#".repeat(120)),
        })
        .collect();
    let mut r = failed_with(d);
    let mut v = validation(false);
    v.report.findings = (0..300)
        .map(|i| Finding {
            rule: format!("rule.{i}"),
            severity: Severity::Error,
            message: "<>".repeat(1_000),
            fix: "&".repeat(1_000),
            location: Some(format!("src/f{i}.ts:{}", i + 1)),
        })
        .collect();
    r.validation = Some(v);
    let run = desired(&r, &ctx(), PrComment::Never).check_run;
    let n = run.summary.chars().count();
    assert!(n <= SUMMARY_MAX, "{n}");
    assert!(n > SUMMARY_MAX / 2, "the budget is used, not wasted: {n}");
    assert!(
        run.summary.contains("more evidence lines left out"),
        "the note"
    );
    assert!(run.summary.contains("more findings"), "the findings' note");
    // The evidence block is closed.
    let fence = "`".repeat(3);
    assert_eq!(run.summary.matches(&format!("{fence}text\n")).count(), 1);
    assert!(run.summary.contains(&format!("\n{fence}\n")));
    assert!(run.title.chars().count() <= 300);
    assert_eq!(run.annotations.len(), annotate::MAX);
}
