//! Untrusted input, generated: what a committer (branch names, commit
//! messages), a build (log lines, the failed command), a site (reasons,
//! redirects, addresses) or a policy author (URL templates) controls,
//! thrown at the places that must hold whatever it is (`docs/security.md`,
//! threat model). Part of `make reliability`'s malformed-input suite, beside
//! `malformed.rs`; proptest shrinks any failure to its smallest input.
//!
//! - alerts: no Slack mention, no link of the text's own, no code fence
//!   opened or closed, no bidi control, no secret, a printable-ASCII subject
//!   of at most 100 characters, and a message inside SNS's 256 KB;
//! - URL templates: a branch name never moves the host, port, credentials,
//!   query or path segments of the URL checked;
//! - outbound requests: a non-public address is refused in every spelling;
//!   a redirect never switches scheme or port;
//! - budgets: text cut to its budget is a prefix within it, on a character
//!   boundary;
//! - log URLs: only https on an S3 host;
//! - GitHub (check run summaries, pull request comments): outside code no
//!   raw HTML, no `@mention`, no `#123` reference, no secret; evidence only
//!   inside its one fenced block; GitHub's size limits.

use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use sentinel_shared::alert::message::{Content, Context, render};
use sentinel_shared::alert::{AlertPolicy, AlertState, Severity, Signal};
use sentinel_shared::core::budget;
use sentinel_shared::core::model::{AppId, BranchName, Environment, JobId};
use sentinel_shared::diagnose::Evidence;
use sentinel_shared::health::site;
use sentinel_shared::outbound::Outbound;

const CASES: u32 = 300;

/// A canary secret: a GitHub token shape the masking knows.
const TOKEN: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";

/// What GitHub markdown shows of [`TOKEN`] once escaped (its `_` gets a
/// backslash): the part that must never appear.
const SECRET_PART: &str = "0123456789abcdefghijABCDEFGHIJ012345";

/// Text a hostile committer, build or site would write: Slack's control
/// sequences, markdown, bidi overrides, line breaks, a secret.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("<!channel>".to_owned()),
        Just("<!here>".to_owned()),
        Just("<@U024BE7LH>".to_owned()),
        Just("<#C024BE7LR>".to_owned()),
        Just("<https://evil.example|click here>".to_owned()),
        Just("```".to_owned()),
        Just("`".to_owned()),
        Just("*bold*".to_owned()),
        Just("~strike~".to_owned()),
        Just("\u{202E}".to_owned()),
        Just("\u{2066}".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("&amp;".to_owned()),
        Just("|".to_owned()),
        Just(TOKEN.to_owned()),
        "[a-zA-Z0-9 ./:_-]{0,12}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|parts| parts.concat())
}

/// A branch name git and Amplify would take: no control characters.
fn hostile_branch() -> impl Strategy<Value = BranchName> {
    hostile().prop_filter_map("not a branch name", |s| {
        let s: String = s.chars().filter(|c| !c.is_control()).take(200).collect();
        s.parse().ok()
    })
}

fn context(branch: BranchName, commit_message: String, site_url: String) -> Context {
    Context {
        environment: Environment::Prod,
        app_id: "d1abc".parse::<AppId>().unwrap(),
        branch_name: branch,
        job_id: Some(JobId::new(42)),
        commit_id: Some("4f2a9c1e0b7d4f2a9c1e0b7d".into()),
        commit_message: Some(commit_message),
        console_url: Some(
            "https://eu-west-1.console.aws.amazon.com/amplify/apps/d1abc/branches/main".into(),
        ),
        site_url: Some(site_url),
        author: None,
        custom_site_url: None,
    }
}

fn content(summary: String, evidence: Vec<String>, details: Vec<String>) -> Content {
    Content {
        event_type: "Build Failed".into(),
        headline: "Build failed".into(),
        category: "node-heap-oom".into(),
        severity: Severity::Error,
        summary,
        diagnosis: Some(("Node.js ran out of heap memory".into(), false)),
        fix: Some("Raise NODE_OPTIONS=--max-old-space-size".into()),
        evidence: evidence
            .into_iter()
            .enumerate()
            .map(|(i, text)| Evidence {
                line: i as u64 + 1,
                text,
            })
            .collect(),
        details,
    }
}

/// Slack sequences that mention people or make links.
const SLACK_CONTROL: &[&str] = &["<!", "<@", "<#"];

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn hostile_alert_fields_mention_no_one_link_nowhere_and_leak_nothing(
        branch in hostile_branch(),
        commit in hostile(),
        site in hostile(),
        summary in hostile(),
        evidence in prop::collection::vec(hostile(), 0..6),
        details in prop::collection::vec(hostile(), 0..4),
    ) {
        let ctx = context(branch, commit, format!("https://shop.example.com/{site}"));
        let content = content(summary, evidence.clone(), details);
        let mut state = AlertState::new(ctx.app_id.clone(), ctx.branch_name.clone(), Environment::Prod);
        let signal = Signal::Failure {
            key: "build:node-heap-oom".into(),
            job: Some(JobId::new(42)),
            severity: Severity::Error,
        };
        let at = Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap();
        let decision = state.decide("e1", &signal, at, &AlertPolicy::default());
        let n = render("e1", &ctx, &content, &decision, 0).expect("an opened incident is sent");

        let chat: serde_json::Value = serde_json::from_str(&n.chat).expect("chat JSON");
        let description = chat["content"]["description"].as_str().unwrap_or_default();
        let texts = [
            description.to_owned(),
            chat["content"]["title"].as_str().unwrap_or_default().to_owned(),
            chat["content"]["keywords"].to_string(),
        ];
        for text in &texts {
            for bad in SLACK_CONTROL {
                prop_assert!(!text.contains(bad), "{bad:?} in {text}");
            }
            prop_assert!(!text.contains('\u{202E}') && !text.contains('\u{2066}'), "bidi in {text}");
            prop_assert!(!text.contains(TOKEN), "the token in {text}");
        }
        // Every link is the renderer's: `<https://…|text>` with no `<` or
        // `>` inside the target.
        for link in description.split('<').skip(1) {
            let target = link.split('|').next().unwrap_or_default();
            prop_assert!(target.starts_with("https://"), "a link of the text's own: <{link}");
            prop_assert!(!target.contains('>') && !target.contains(' '), "<{link}");
        }
        let fences = description.matches("```").count();
        let shown = evidence.iter().any(|e| !e.trim().is_empty());
        prop_assert!(fences == 0 || fences == 2, "{fences} fences in {description}");
        prop_assert!(!shown || fences == 2, "evidence outside its block: {description}");

        prop_assert!(!n.email.contains(TOKEN), "the token in the e-mail");
        prop_assert!(!n.email.contains('\u{202E}'), "bidi in the e-mail");
        prop_assert!(n.subject.len() <= 100, "{}", n.subject);
        prop_assert!(n.subject.bytes().all(|b| (0x20..0x7f).contains(&b)), "{:?}", n.subject);
        // SNS: 256 KB for the message, whichever protocol gets it.
        prop_assert!(n.email.len() < 256 * 1024 && n.chat.len() < 256 * 1024);
        for (k, v) in &n.attributes {
            prop_assert!(!v.contains(TOKEN), "the token in attribute {k}");
        }
    }

    #[test]
    fn a_branch_name_never_moves_the_url_a_template_makes(branch in hostile_branch()) {
        let app: AppId = "d1abc".parse().unwrap();
        let filled = site::fill(
            "https://preview.example.com/sites/{branch}/{displayName}/health",
            &app,
            &branch,
            None,
        );
        let url = url::Url::parse(&filled).map_err(|e| TestCaseError::fail(format!("{filled}: {e}")))?;
        prop_assert_eq!(url.host_str(), Some("preview.example.com"), "{}", filled);
        prop_assert_eq!(url.port(), None);
        prop_assert_eq!(url.username(), "");
        prop_assert_eq!(url.password(), None);
        prop_assert_eq!(url.query(), None);
        prop_assert_eq!(url.fragment(), None);
        prop_assert_eq!(url.path_segments().map(|s| s.count()), Some(4), "{}", filled);

        // In the host: no URL, or one on the template's domain.
        let filled = site::fill("https://{displayName}.preview.example.com/", &app, &branch, None);
        if let Ok(url) = url::Url::parse(&filled) {
            prop_assert!(
                url.host_str().is_some_and(|h| h.ends_with(".preview.example.com")),
                "{}", filled
            );
            prop_assert_eq!(url.username(), "");
            prop_assert_eq!(url.port(), None);
        }
        // Amplify's own host: a valid DNS name or none.
        if let Some(host) = site::amplify_host(&app, &branch.display_name(), None) {
            prop_assert!(host.ends_with(".d1abc.amplifyapp.com"), "{}", host);
            prop_assert!(host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.'));
        }
    }

    #[test]
    fn a_non_public_address_is_refused_in_every_spelling(
        which in 0usize..6,
        a in any::<u8>(), b in any::<u8>(), c in any::<u8>(),
        spelling in 0usize..4,
    ) {
        let v4 = match which {
            0 => [127, a, b, c],
            1 => [10, a, b, c],
            2 => [192, 168, b, c],
            3 => [169, 254, b, c],
            4 => [172, 16 + (a % 16), b, c],
            _ => [100, 64 + (a % 64), b, c],
        };
        let n = u32::from_be_bytes(v4);
        let host = match spelling {
            0 => format!("{}.{}.{}.{}", v4[0], v4[1], v4[2], v4[3]),
            1 => n.to_string(),
            2 => format!("0x{n:x}"),
            _ => format!("[::ffff:{}.{}.{}.{}]", v4[0], v4[1], v4[2], v4[3]),
        };
        let url = url::Url::parse(&format!("https://{host}/")).unwrap();
        let refused = Outbound::public().check(&url);
        prop_assert!(refused.is_err(), "{} was allowed", url);
    }

    #[test]
    fn a_redirect_never_switches_scheme_or_port(
        scheme in prop_oneof![Just("http"), Just("https"), Just("ftp")],
        port in prop::option::of(1u16..),
        host in "[a-z]{1,10}\\.example\\.com",
    ) {
        let first = url::Url::parse("https://shop.example.com/").unwrap();
        let raw = match port {
            Some(p) => format!("{scheme}://{host}:{p}/"),
            None => format!("{scheme}://{host}/"),
        };
        let Ok(hop) = url::Url::parse(&raw) else { return Ok(()) };
        let kept = hop.scheme() == "https" && hop.port_or_known_default() == Some(443);
        prop_assert_eq!(Outbound::public().check_hop(&first, &hop).is_ok(), kept, "{}", raw);
    }

    #[test]
    fn text_cut_to_its_budget_fits_it_and_keeps_a_prefix(text in hostile(), max in 0usize..200) {
        let cut = budget::truncate_to(&text, max);
        prop_assert!(cut.len() <= max || cut == text, "{} bytes > {}", cut.len(), max);
        if text.len() <= max {
            prop_assert_eq!(&cut, &text);
        } else {
            let kept = cut.split("…(cut").next().unwrap_or_default();
            prop_assert!(text.starts_with(kept), "{:?} is not a prefix of {:?}", kept, text);
        }
    }

    #[test]
    fn a_log_url_is_fetched_only_over_https_from_an_s3_host(
        scheme in prop_oneof![Just("http"), Just("https")],
        host in prop_oneof![
            "[a-z0-9-]{1,20}\\.s3\\.[a-z]{2}-[a-z]{4}-[1-3]\\.amazonaws\\.com",
            "[a-z0-9.-]{1,30}",
            Just("169.254.169.254".to_owned()),
            Just("s3.amazonaws.com.evil.example".to_owned()),
        ],
    ) {
        let is_s3 = sentinel_shared::adapters::http_log::is_amplify_log_host(&host);
        prop_assert!(!is_s3 || host.ends_with(".amazonaws.com"), "{}", host);
        let url = url::Url::parse(&format!("{scheme}://{host}/log.txt"));
        if let (true, Ok(url)) = (is_s3 && scheme == "https", url) {
            prop_assert!(Outbound::public().check(&url).is_ok(), "{}", url);
        }
    }

    #[test]
    fn hostile_github_fields_mention_no_one_reference_nothing_and_stay_in_their_code(
        branch in hostile_branch(),
        commit in hostile(),
        title in hostile(),
        fix in hostile(),
        author in hostile(),
        reason in hostile(),
        evidence in prop::collection::vec(hostile(), 0..8),
        findings in prop::collection::vec((hostile(), hostile(), hostile()), 0..4),
        unhealthy in any::<bool>(),
    ) {
        use sentinel_shared::core::deployment::{Deployment, DeploymentKey, HealthRecord, ValidationRecord};
        use sentinel_shared::core::model::BuildStatus;
        use sentinel_shared::core::verdicts::{Diagnosis, Finding, Report, Verdict};
        use sentinel_shared::github::api::CommitInfo;
        use sentinel_shared::github::render::{desired, PrComment, RenderContext, COMMENT_MARKER, SUMMARY_MAX, COMMENT_MAX};

        let branch = if unhealthy { "pr-7".parse().unwrap() } else { branch };
        let mut r = Deployment::new(
            DeploymentKey { app_id: "d1abc".parse().unwrap(), branch_name: branch, job_id: JobId::new(42) },
            Environment::Prod,
        );
        r.details.commit_id = Some("4f2a9c1e0b7d4f2a9c1e0b7d".into());
        r.details.commit_message = Some(commit);
        if unhealthy {
            r.status = BuildStatus::Succeeded;
            r.health = Some(HealthRecord {
                verdict: Verdict::Unhealthy,
                reason: reason.clone(),
                url: "https://shop.example.com/".into(),
                checked_at: Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap(),
                rounds: 3,
                endpoints: Vec::new(),
            });
        } else {
            r.status = BuildStatus::Failed;
        }
        r.diagnosis = Some(Diagnosis {
            category: reason,
            title,
            transient: false,
            fix,
            evidence: evidence.iter().enumerate().map(|(i, t)| Evidence { line: i as u64 + 1, text: t.clone() }).collect(),
            secondary: Vec::new(),
            command: None,
            phase: None,
            exit_code: None,
            cut: None,
            lines: 0,
            bytes: 0,
            from_report: false,
        });
        r.validation = Some(ValidationRecord {
            report: Report {
                passed: false,
                errors: findings.len(),
                warnings: 0,
                findings: findings.into_iter().map(|(message, fix, location)| Finding {
                    rule: "env.required-missing".into(),
                    severity: sentinel_shared::core::verdicts::Severity::Error,
                    message,
                    fix,
                    location: Some(location),
                }).collect(),
                skipped: Vec::new(),
                notes: Vec::new(),
            },
            policy: "branch".into(),
            validated_at: Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap(),
            stop_requested: false,
            stop_result: None,
        });
        let author = CommitInfo {
            sha: "4f2a9c1e0b7d".into(),
            author_name: Some(author),
            author_login: Some("jdoe".into()),
            authored_at: None,
            committed_at: None,
        };
        let ctx = RenderContext {
            region: "eu-west-1",
            site_url: Some("https://shop.example.com/"),
            author: Some(&author),
            ..Default::default()
        };
        let d = desired(&r, &ctx, PrComment::Always);
        let summary = d.check_run.summary;
        prop_assert!(summary.chars().count() <= SUMMARY_MAX);
        check_github_markdown(&summary, true)?;
        if let Some(comment) = d.pr_comment {
            prop_assert!(comment.chars().count() <= COMMENT_MAX);
            let rest = comment.strip_prefix(COMMENT_MARKER).expect("the marker first");
            check_github_markdown(&rest.replace("<sub>", "").replace("</sub>", ""), false)?;
        }
        prop_assert!(d.commit_status.description.chars().count() <= 140);
        for text in [&d.check_run.title, &d.check_run.name, &d.commit_status.description] {
            prop_assert!(!text.contains(SECRET_PART) && !text.contains('\n') && !text.contains('\u{202E}'), "{text:?}");
        }
        for a in &d.check_run.annotations {
            prop_assert!(!a.message.contains(SECRET_PART) && !a.path.contains("..") && !a.path.starts_with('/'), "{a:?}");
        }
    }
}

/// GitHub markdown as the renderer must write it: evidence lines only in
/// fenced blocks of its own (`{line}: text`), closed; outside code (code
/// spans removed as CommonMark reads them) no `<` or `>`, every `@` and
/// `#` followed by a zero-width joiner, no secret, no bidi control.
fn check_github_markdown(text: &str, one_block: bool) -> Result<(), TestCaseError> {
    let mut fence: Option<String> = None;
    let mut blocks = 0;
    for line in text.lines() {
        if let Some(f) = &fence {
            if line == f {
                fence = None;
            } else {
                let (number, _) = line.trim_start().split_once(": ").unwrap_or(("", ""));
                prop_assert!(
                    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()),
                    "a line in the block that is not evidence: {line:?}\n{text}"
                );
                prop_assert!(
                    !line.contains(SECRET_PART) && !line.contains('\u{202E}'),
                    "{line:?}"
                );
            }
            continue;
        }
        if let Some(open) = line
            .strip_suffix("text")
            .filter(|f| f.len() >= 3 && f.bytes().all(|b| b == b'`'))
        {
            fence = Some(open.to_owned());
            blocks += 1;
            continue;
        }
        let outside = without_code_spans(line);
        prop_assert!(
            !outside.starts_with("```"),
            "a fence of the text's own: {line:?}"
        );
        prop_assert!(
            !outside.contains('<') && !outside.contains('>'),
            "HTML in {line:?}"
        );
        prop_assert!(
            !outside.contains(SECRET_PART)
                && !outside.contains('\u{202E}')
                && !outside.contains('\u{2066}'),
            "{line:?}"
        );
        let chars: Vec<char> = outside.chars().collect();
        for (i, c) in chars.iter().enumerate() {
            if *c == '@' || (*c == '#' && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())) {
                prop_assert!(
                    chars.get(i + 1) == Some(&'\u{200D}'),
                    "a mention or reference in {line:?}"
                );
            }
        }
    }
    prop_assert!(fence.is_none(), "a block left open\n{text}");
    prop_assert!(!one_block || blocks <= 1, "{blocks} blocks\n{text}");
    Ok(())
}

/// The line with its code spans (CommonMark: a backtick run closed by the
/// next run of the same length; a backslash escapes a backtick outside
/// code) removed.
fn without_code_spans(line: &str) -> String {
    let chars: Vec<char> = line.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' {
            out.push(chars[i]);
            if let Some(next) = chars.get(i + 1) {
                out.push(*next);
            }
            i += 2;
            continue;
        }
        if chars[i] != '`' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let run = chars[i..].iter().take_while(|c| **c == '`').count();
        let mut j = i + run;
        let mut closed = None;
        while j < chars.len() {
            if chars[j] == '`' {
                let other = chars[j..].iter().take_while(|c| **c == '`').count();
                if other == run {
                    closed = Some(j + other);
                    break;
                }
                j += other;
            } else {
                j += 1;
            }
        }
        match closed {
            Some(end) => i = end,
            None => {
                out.extend(std::iter::repeat_n('`', run));
                i += run;
            }
        }
    }
    out
}
