//! Annotations from real build logs: inside the repository, de-duplicated,
//! at most 50.

use super::*;

#[test]
fn annotations_come_from_real_typescript_and_eslint_logs() {
    let ts = desired(
        &failed_with(fixture("typescript-error")),
        &ctx(),
        PrComment::Never,
    );
    let a = &ts.check_run.annotations;
    assert_eq!(a.len(), 1, "{a:#?}");
    assert_eq!(
        (a[0].path.as_str(), a[0].start_line, a[0].end_line),
        ("src/app/checkout/page.tsx", 42, 42)
    );
    assert_eq!(
        a[0].message,
        "Type error: Property 'discountCode' does not exist on type 'CartSummary'."
    );
    assert_eq!(a[0].annotation_level, AnnotationLevel::Failure);
    assert_eq!(
        a[0].title.as_deref(),
        Some("TypeScript type checking failed")
    );

    let lint = desired(
        &failed_with(fixture("lint-error")),
        &ctx(),
        PrComment::Never,
    );
    let got: Vec<_> = lint
        .check_run
        .annotations
        .iter()
        .map(|a| (a.path.as_str(), a.start_line, a.annotation_level))
        .collect();
    assert_eq!(
        got,
        vec![
            ("src/components/Hero.tsx", 23, AnnotationLevel::Failure),
            ("src/components/Hero.tsx", 41, AnnotationLevel::Warning),
        ]
    );
    assert!(
        lint.check_run.annotations[0]
            .message
            .starts_with("Error: `'` can be escaped")
    );

    let after = desired(
        &failed_with(fixture("lint-error-after-warnings")),
        &ctx(),
        PrComment::Never,
    );
    let got: Vec<_> = after
        .check_run
        .annotations
        .iter()
        .map(|a| (a.path.as_str(), a.start_line))
        .collect();
    assert_eq!(got, vec![("src/components/MemberCard.tsx", 14)]);

    // A file named without a line, node_modules and the build output are
    // not annotated.
    for name in ["module-not-found", "missing-export", "prerender-error"] {
        let d = desired(&failed_with(fixture(name)), &ctx(), PrComment::Never);
        assert_eq!(d.check_run.annotations, vec![], "{name}");
    }
}

#[test]
fn annotations_stay_inside_the_repository_de_duplicated_and_at_most_50() {
    let lines = [
        "src/app/page.tsx(12,5): error TS2322: Type 'string' is not assignable to type 'number'.",
        "src/app/page.tsx(12,9): error TS2322: the same line again",
        "./src/lib/a.ts:3:1",
        "error here",
        "    at load (/codebuild/output/src42/src/shop/src/lib/db.ts:10:5)",
        "    at x (/custom/root/packages/ui/button.tsx:7:1)",
        "./node_modules/next/dist/x.js:1:1 boom",
        "/usr/lib/node_modules/npm/lib/cli.js:5:3 boom",
        "../outside/file.ts:4:2 boom",
        "src/../../etc/passwd.ts:1:1 boom",
        "connect ECONNREFUSED 127.0.0.1:3000",
        "see https://nextjs.org/docs/messages/x.html:12",
    ];
    let mut evidence: Vec<Evidence> = lines
        .iter()
        .enumerate()
        .map(|(i, t)| Evidence {
            line: i as u64 + 1,
            text: (*t).into(),
        })
        .collect();
    let hints = vec!["/custom/root/".to_owned()];
    let c = RenderContext {
        repo_root_hints: &hints,
        ..ctx()
    };
    let mut d = fixture("typescript-error");
    d.evidence = evidence.clone();
    let got: Vec<_> = desired(&failed_with(d.clone()), &c, PrComment::Never)
        .check_run
        .annotations
        .into_iter()
        .map(|a| (a.path, a.start_line, a.message))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "src/app/page.tsx".into(),
                12,
                "error TS2322: Type 'string' is not assignable to type 'number'.".into()
            ),
            ("src/lib/a.ts".into(), 3, "error here".into()),
            (
                "src/lib/db.ts".into(),
                10,
                "at load (/codebuild/output/src42/src/shop/src/lib/db.ts:10:5)".into()
            ),
            (
                "packages/ui/button.tsx".into(),
                7,
                "at x (/custom/root/packages/ui/button.tsx:7:1)".into()
            ),
        ]
    );
    // In a monorepo, what the build prints relative is under the app root.
    let c = RenderContext {
        app_root: Some("apps/web"),
        ..ctx()
    };
    let first = desired(&failed_with(d), &c, PrComment::Never)
        .check_run
        .annotations;
    assert_eq!(first[0].path, "apps/web/src/app/page.tsx");
    assert_eq!(
        first[2].path, "src/lib/db.ts",
        "an absolute path is from the repository's root"
    );
    // Capped.
    evidence = (1..=200)
        .map(|i| Evidence {
            line: i,
            text: format!("src/f{i}.ts({i},1): error TS1: x"),
        })
        .collect();
    let mut d = fixture("typescript-error");
    d.evidence = evidence;
    let a = desired(&failed_with(d), &ctx(), PrComment::Never)
        .check_run
        .annotations;
    assert_eq!(a.len(), 50);
}
