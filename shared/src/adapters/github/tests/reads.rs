//! What the client reads: comparisons (renamed files, a list GitHub cut) and
//! a marked comment across pages.

use super::*;

#[tokio::test]
async fn compare_lists_renamed_files_both_ways_and_says_when_github_cut_the_list() {
    let commit = |sha: &str| serde_json::json!({"sha": sha, "commit": {"author": {"name": "Ada", "date": "2026-12-01T10:00:00Z"}, "committer": {"date": "2026-12-01T11:00:00Z"}}, "author": {"login": "ada"}});
    let c1 = commit("c1");
    let fake = Fake::start(move |r, _| {
        if r.path.contains("/compare/") {
            return ok(serde_json::json!({
                "status": "ahead", "total_commits": 1, "commits": [c1.clone()],
                "files": [
                    {"filename": "web/new.ts", "status": "renamed", "previous_filename": "shared/old.ts"},
                    {"filename": "README.md", "status": "modified"}
                ]
            }));
        }
        ok(serde_json::json!({"sha": "c2", "commit": {"author": {"name": "Bob"}}, "author": null}))
    });
    let client = token_client(&fake.origin, "ghp_x");
    let c = client.compare(&repo(), "base1", "head/2").await.unwrap();
    assert_eq!(c.files, ["README.md", "shared/old.ts", "web/new.ts"]);
    assert!(!c.truncated);
    assert_eq!(c.commits[0].author_login.as_deref(), Some("ada"));
    assert_eq!(
        c.commits[0].committed_at,
        Some(Utc.with_ymd_and_hms(2026, 12, 1, 11, 0, 0).unwrap())
    );
    let one = client.commit(&repo(), "c2").await.unwrap();
    assert_eq!(one.author_name.as_deref(), Some("Bob"));
    assert_eq!(one.author_login, None);
    // A ref's `/` stays inside its segment.
    assert_eq!(
        fake.seen()[0].path,
        "/repos/sentinel-local/shop/compare/base1...head%2F2"
    );
}

#[test]
fn a_comparison_github_cut_is_truncated() {
    let files: Vec<_> = (0..300)
        .map(|i| serde_json::json!({"filename": format!("f{i}")}))
        .collect();
    let parse = |v: serde_json::Value| -> Comparison {
        serde_json::from_value::<wire::Compare>(v).unwrap().into()
    };
    let many_files = parse(
        serde_json::json!({"status": "ahead", "total_commits": 0, "commits": [], "files": files}),
    );
    assert!(many_files.truncated);
    let more_commits = parse(
        serde_json::json!({"status": "ahead", "total_commits": 400, "commits": [{"sha": "a"}], "files": []}),
    );
    assert!(more_commits.truncated);
    let no_files = parse(
        serde_json::json!({"status": "ahead", "total_commits": 1, "commits": [{"sha": "a"}]}),
    );
    assert!(no_files.truncated, "GitHub listed no files at all");
    let identical = parse(
        serde_json::json!({"status": "identical", "total_commits": 0, "commits": [], "files": []}),
    );
    assert!(!identical.truncated);
}

#[tokio::test]
async fn a_marked_comment_is_found_across_pages_and_the_search_is_bounded() {
    let page = |from: u64, marker_at: Option<u64>| -> String {
        let v: Vec<_> = (from..from + 100)
            .map(|id| {
                let body = if Some(id) == marker_at {
                    "<!-- deploy-sentinel:d1/main -->"
                } else {
                    "lgtm"
                };
                serde_json::json!({"id": id, "body": body})
            })
            .collect();
        serde_json::json!(v).to_string()
    };
    let fake = Fake::start(move |r, _| {
        let n: u64 = r.path.rsplit("page=").next().unwrap().parse().unwrap();
        let marker = r.path.contains("/issues/1/").then_some(150);
        (200, vec![], page((n - 1) * 100, marker))
    });
    let client = token_client(&fake.origin, "ghp_x");
    let found = client
        .find_issue_comment(&repo(), 1, "deploy-sentinel:d1/main")
        .await
        .unwrap();
    assert_eq!(found, Some(150));
    assert_eq!(fake.seen().len(), 2);
    assert!(
        fake.seen()[0]
            .path
            .ends_with("/issues/1/comments?per_page=100&page=1")
    );
    // Never found, every page full: ten pages, then none.
    let found = client
        .find_issue_comment(&repo(), 2, "deploy-sentinel:d1/main")
        .await
        .unwrap();
    assert_eq!(found, None);
    assert_eq!(fake.seen().len(), 2 + COMMENT_PAGES as usize);
}
