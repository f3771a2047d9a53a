//! The pull request comment: which branches are PRs, the policy's choice,
//! escaped and bounded.

use super::*;

fn on_pr(mut r: Deployment) -> Deployment {
    r.key.branch_name = "pr-7".parse().unwrap();
    r
}

#[test]
fn pr_numbers_are_amplify_s_preview_branches_only() {
    let n = |b: &str| pr_number(&b.parse().unwrap());
    assert_eq!(n("pr-7"), Some(7));
    assert_eq!(n("pr-12345"), Some(12345));
    for other in [
        "main",
        "pr-",
        "pr-0",
        "pr-7a",
        "pr-+7",
        "xpr-7",
        "pr-99999999999",
        "PR-7",
    ] {
        assert_eq!(n(other), None, "{other}");
    }
}

#[test]
fn the_pr_comment_follows_the_policy() {
    let failed = on_pr(failed_with(fixture("typescript-error")));
    let building = on_pr(record("main", BuildStatus::Started));
    let healthy = on_pr(succeeded(Some(Verdict::Healthy)));
    let unhealthy = on_pr(succeeded(Some(Verdict::Unhealthy)));
    let c = ctx();
    let comment = |r: &Deployment, p| {
        let d = desired(r, &c, p);
        (d.pr_comment, d.pr_comment_may_create)
    };
    // never
    for r in [&failed, &building, &healthy] {
        assert_eq!(comment(r, PrComment::Never), (None, false));
    }
    // failures: posted on a failure, else only edits the one there is.
    let (body, create) = comment(&failed, PrComment::Failures);
    let body = body.unwrap();
    assert!(create);
    assert!(body.starts_with(COMMENT_MARKER));
    assert!(
        body.contains("❌ Deploy Sentinel: Build failed: TypeScript type checking failed"),
        "{body}"
    );
    assert!(body.contains("**Fix:** Fix the type error shown"), "{body}");
    assert!(body.contains("47: Type error"), "{body}");
    assert!(
        body.contains("Job 12 in the Amplify console"),
        "it names the latest job"
    );
    assert!(
        comment(&unhealthy, PrComment::Failures).1,
        "an unhealthy deploy is a failure"
    );
    let (body, create) = comment(&healthy, PrComment::Failures);
    assert!(!create);
    assert!(body.unwrap().contains("**Fixed:**"));
    let (body, create) = comment(&building, PrComment::Failures);
    assert!(
        !create
            && body
                .unwrap()
                .contains("⏳ Deploy Sentinel: Building job 12")
    );
    // always: on every build, never "fixed".
    for r in [&failed, &building, &healthy] {
        let (body, create) = comment(r, PrComment::Always);
        assert!(create);
        assert!(!body.unwrap().contains("Fixed"));
    }
    // Not a preview: no comment.
    assert_eq!(
        comment(&failed_with(fixture("typescript-error")), PrComment::Always),
        (None, false)
    );
}

#[test]
fn a_pr_comment_is_escaped_and_bounded() {
    let mut d = fixture("typescript-error");
    d.fix = "@channel <img src=x> #3 ".repeat(2_000);
    d.evidence = vec![
        Evidence {
            line: 1,
            text: "```\n@here".repeat(1_000)
        };
        100
    ];
    let body = desired(&on_pr(failed_with(d)), &ctx(), PrComment::Failures)
        .pr_comment
        .unwrap();
    assert!(body.chars().count() <= COMMENT_MAX);
    assert!(!body.contains("<img") && !body.contains("@channel") && !body.contains(" #3"));
    assert_eq!(body.matches(COMMENT_MARKER).count(), 1);
}
