use chrono::TimeZone;

use super::*;
use crate::alert::message::{Content, Context, render};

fn state() -> AlertState {
    AlertState::new(
        "d1abc".parse::<AppId>().unwrap(),
        "main".parse::<BranchName>().unwrap(),
        Environment::Prod,
    )
}

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 8, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn failure(category: &str, job: u64) -> Signal {
    Signal::Failure {
        key: format!("build:{category}"),
        job: Some(JobId::new(job)),
        severity: Severity::Error,
    }
}

#[test]
fn repeats_join_the_incident_and_remind_once_per_interval() {
    let policy = AlertPolicy::default();
    let mut s = state();
    assert!(matches!(
        s.decide("e1", &failure("node-heap-oom", 1), at(0), &policy),
        Decision::Opened(_)
    ));
    assert!(matches!(
        s.decide("e2", &failure("node-heap-oom", 2), at(10), &policy),
        Decision::Joined(_)
    ));
    assert!(matches!(
        s.decide("e3", &failure("node-heap-oom", 3), at(20), &policy),
        Decision::Joined(_)
    ));
    let Decision::Reminder(i) = s.decide("e4", &failure("node-heap-oom", 4), at(250), &policy)
    else {
        panic!("a reminder is due after the repeat interval");
    };
    assert_eq!(i.count, 4);
    assert!(matches!(
        s.decide("e5", &failure("node-heap-oom", 5), at(260), &policy),
        Decision::Joined(_)
    ));
    assert_eq!(s.open.len(), 1);
}

#[test]
fn the_same_event_twice_is_a_duplicate() {
    let policy = AlertPolicy::default();
    let mut s = state();
    s.decide("e1", &failure("lint-error", 1), at(0), &policy);
    let before = s.clone();
    assert_eq!(
        s.decide("e1", &failure("lint-error", 1), at(1), &policy),
        Decision::Duplicate
    );
    assert_eq!(s, before);
}

#[test]
fn a_different_category_is_another_incident() {
    let policy = AlertPolicy::default();
    let mut s = state();
    s.decide("e1", &failure("lint-error", 1), at(0), &policy);
    assert!(matches!(
        s.decide("e2", &failure("typescript-error", 2), at(1), &policy),
        Decision::Opened(_)
    ));
    assert_eq!(s.open.len(), 2);
}

#[test]
fn a_success_resolves_build_incidents_with_the_time_to_restore() {
    let policy = AlertPolicy::default();
    let mut s = state();
    s.decide("e1", &failure("lint-error", 1), at(0), &policy);
    s.decide(
        "u1",
        &Signal::Failure {
            key: "unhealthy".into(),
            job: Some(JobId::new(1)),
            severity: Severity::Critical,
        },
        at(1),
        &policy,
    );
    let Decision::Resolved(done) = s.decide(
        "ok2",
        &Signal::Recovery {
            job: JobId::new(2),
            healthy: false,
        },
        at(72),
        &policy,
    ) else {
        panic!("a success resolves the build incident");
    };
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].key, "build:lint-error");
    assert_eq!(done[0].time_to_restore(), Some(Duration::minutes(72)));
    assert!(
        s.open.contains_key("unhealthy"),
        "a build success says nothing about health"
    );
    assert_eq!(
        s.decide(
            "ok3",
            &Signal::Recovery {
                job: JobId::new(3),
                healthy: false
            },
            at(80),
            &policy
        ),
        Decision::NothingOpen
    );
}

#[test]
fn a_failure_older_than_the_last_success_is_stale_in_any_order() {
    let policy = AlertPolicy::default();
    let mut s = state();
    s.decide(
        "ok5",
        &Signal::Recovery {
            job: JobId::new(5),
            healthy: false,
        },
        at(0),
        &policy,
    );
    assert_eq!(
        s.decide("f4", &failure("lint-error", 4), at(1), &policy),
        Decision::Stale
    );
    assert!(s.open.is_empty());
}

#[test]
fn a_flapping_branch_is_held_to_the_hourly_budget_but_critical_goes() {
    let policy = AlertPolicy::default();
    let mut s = state();
    let mut sent = 0;
    for n in 0..20u64 {
        let signal = if n % 2 == 0 {
            failure("lint-error", n + 1)
        } else {
            Signal::Recovery {
                job: JobId::new(n + 1),
                healthy: false,
            }
        };
        let decision = s.decide(&format!("e{n}"), &signal, at(n as i64), &policy);
        if decision.sends() && s.admit(Severity::Error, at(n as i64), &policy) {
            sent += 1;
        }
    }
    assert_eq!(sent, policy.max_messages_per_hour);
    assert!(s.suppressed > 0);
    assert!(s.admit(Severity::Critical, at(30), &policy));
    assert!(
        s.admit(Severity::Error, at(121), &policy),
        "the budget refills after an hour"
    );
}

fn ctx() -> Context {
    Context {
        environment: Environment::Prod,
        app_id: "d1abc".parse::<AppId>().unwrap(),
        branch_name: "feature/a-very-long-branch-name-that-goes-on-and-on-and-on-forever-and-ever".parse::<BranchName>().unwrap(),
        job_id: Some(JobId::new(42)),
        commit_id: Some("4f2a9c1e0b7d4f2a9c1e0b7d".into()),
        commit_message: Some("Add pricing page — with ünïcode\nsecond line".into()),
        console_url: Some("https://eu-west-1.console.aws.amazon.com/amplify/apps/d1abc/branches/main/deployments/42".into()),
        site_url: Some("https://main.d1abc.amplifyapp.com/".into()),
        author: None,
        custom_site_url: None,
    }
}

fn content() -> Content {
    Content {
        event_type: "Build Failed".into(),
        headline: "Build failed".into(),
        category: "node-heap-oom".into(),
        severity: Severity::Error,
        summary: "Job 42 failed in phase build.".into(),
        diagnosis: Some((
            "Node.js ran out of heap memory during the build".into(),
            false,
        )),
        fix: Some("Raise NODE_OPTIONS=--max-old-space-size".into()),
        evidence: vec![crate::diagnose::Evidence {
            line: 57,
            text: "FATAL ERROR: Reached heap limit".into(),
        }],
        details: vec![],
    }
}

#[test]
fn messages_fit_sns_and_chatbot() {
    let policy = AlertPolicy::default();
    let mut s = state();
    let decision = s.decide("e1", &failure("node-heap-oom", 42), at(0), &policy);
    let n = render("e1", &ctx(), &content(), &decision, 2).unwrap();
    assert!(n.subject.len() <= 100, "{}", n.subject);
    assert!(n.subject.is_ascii() && !n.subject.contains('\n'));
    assert!(
        n.subject.starts_with("[prod] d1abc/feature/"),
        "{}",
        n.subject
    );
    for part in [
        "FIX",
        "Raise NODE_OPTIONS",
        "57: FATAL ERROR",
        "4f2a9c1e0b7d \"Add pricing page",
        "deployments/42",
        "held back",
    ] {
        assert!(n.email.contains(part), "{part} missing from {}", n.email);
    }
    let chat: serde_json::Value = serde_json::from_str(&n.chat).unwrap();
    assert_eq!(chat["version"], "1.0");
    assert_eq!(chat["source"], "custom");
    assert_eq!(chat["content"]["textType"], "client-markdown");
    assert!(
        chat["content"]["description"]
            .as_str()
            .unwrap()
            .contains("node-heap-oom")
    );
    assert_eq!(n.attributes["severity"], "error");
    assert_eq!(n.attributes["category"], "node-heap-oom");
    assert_eq!(n.attributes["environment"], "prod");
}

#[test]
fn a_resolve_notice_names_the_time_to_restore() {
    let policy = AlertPolicy::default();
    let mut s = state();
    s.decide("e1", &failure("node-heap-oom", 41), at(0), &policy);
    let decision = s.decide(
        "ok",
        &Signal::Recovery {
            job: JobId::new(42),
            healthy: false,
        },
        at(75),
        &policy,
    );
    let n = render("ok", &ctx(), &content(), &decision, 0).unwrap();
    assert_eq!(n.id, "ok/resolved");
    assert!(
        n.subject
            .contains("RESOLVED build:node-heap-oom after 1h15m"),
        "{}",
        n.subject
    );
    assert_eq!(n.attributes["severity"], "info");
    assert!(
        render(
            "x",
            &ctx(),
            &content(),
            &Decision::Joined(s.resolved[0].clone()),
            0
        )
        .is_none()
    );
}

/// Text a committer, a build log or a site controls, through the real
/// renderer: no mention, link, closed fence, secret or bidi override
/// reaches Chatbot or the e-mail.
#[test]
fn hostile_text_is_escaped_for_each_target() {
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let mut ctx = ctx();
    ctx.branch_name = "<!channel>".parse::<BranchName>().unwrap();
    ctx.commit_message = Some(format!(
        "fix \u{202E}txt.exe\u{202C} *urgent* push {token}\nsecond line"
    ));
    ctx.site_url = Some("https://evil.example/a|Open the console>x?a=1&b=2".into());
    let mut content = content();
    content.summary = "Job 42 failed, command \"npm run `x` <@U123>\".".into();
    content.evidence = vec![crate::diagnose::Evidence {
        line: 7,
        text: "``` <!channel> pwned <https://evil.example|click> ~gone~".into(),
    }];
    content.details = vec!["GET /health: body says <!here> & *bold*".into()];
    let policy = AlertPolicy::default();
    let mut s = state();
    let decision = s.decide("e1", &failure("node-heap-oom", 42), at(0), &policy);
    let n = render("e1", &ctx, &content, &decision, 0).unwrap();

    let chat: serde_json::Value = serde_json::from_str(&n.chat).unwrap();
    let description = chat["content"]["description"].as_str().unwrap();
    let title = chat["content"]["title"].as_str().unwrap();
    let steps = chat["content"]["nextSteps"].to_string();
    let keywords = chat["content"]["keywords"].to_string();
    for text in [description, title, &steps, &keywords] {
        for bad in [
            "<!channel>",
            "<!here>",
            "<@U123>",
            "<https://evil.example|click>",
            "\u{202E}",
            token,
        ] {
            assert!(!text.contains(bad), "{bad:?} in {text}");
        }
    }
    // One code block, opened and closed by the renderer only.
    assert_eq!(description.matches("```").count(), 2, "{description}");
    assert!(
        description
            .contains("7: ˋˋˋ &lt;!channel&gt; pwned &lt;https://evil.example|click&gt; ~gone~"),
        "{description}"
    );
    assert!(description.contains("∗urgent∗"), "{description}");
    assert!(
        description.contains("&lt;@U123&gt;") && description.contains("ˋxˋ"),
        "{description}"
    );
    assert!(title.contains("d1abc/&lt;!channel&gt;"), "{title}");
    assert!(
        steps.contains(
            "<https://evil.example/a%7COpen%20the%20console%3Ex?a=1&amp;b=2|Open the site>"
        ),
        "{steps}"
    );

    for bad in ["\u{202E}", "\u{202C}", token] {
        assert!(!n.email.contains(bad), "{bad:?} in {}", n.email);
    }
    assert!(
        n.email
            .contains("Commit: 4f2a9c1e0b7d \"fix txt.exe *urgent* push ghp_…(40 chars)\""),
        "{}",
        n.email
    );
    assert!(n.email.contains("branch <!channel> (prod)"), "{}", n.email);
    assert!(n.subject.is_ascii(), "{}", n.subject);
}

/// With GitHub on, the alert names who pushed (#29 item 6); without an
/// author nothing changes.
#[test]
fn an_alert_names_who_pushed_the_commit() {
    use crate::alert::message::Author;
    let policy = AlertPolicy::default();
    let mut s = state();
    let decision = s.decide("e1", &failure("node-heap-oom", 42), at(0), &policy);
    let plain = render("e1", &ctx(), &content(), &decision, 0).unwrap();
    assert!(!plain.email.contains("Pushed by") && !plain.chat.contains("Pushed by"));

    let mut ctx = ctx();
    ctx.author = Some(Author {
        name: Some("Jane Doe".into()),
        login: Some("jdoe".into()),
    });
    let n = render("e1", &ctx, &content(), &decision, 0).unwrap();
    assert!(
        n.email.contains("Pushed by: Jane Doe (@jdoe)\n"),
        "{}",
        n.email
    );
    let chat: serde_json::Value = serde_json::from_str(&n.chat).unwrap();
    let description = chat["content"]["description"].as_str().unwrap();
    assert!(
        description.contains("Pushed by Jane Doe (@\u{200D}jdoe)"),
        "{description}"
    );
    // A login GitHub would not give is left out.
    ctx.author = Some(Author {
        name: None,
        login: Some("<!here>".into()),
    });
    let n = render("e1", &ctx, &content(), &decision, 0).unwrap();
    assert!(!n.email.contains("Pushed by") && !n.chat.contains("Pushed by"));
}

/// The author's name is the committer's free text: no mention, markdown,
/// line or secret of it reaches Chatbot or the e-mail.
#[test]
fn a_hostile_author_name_is_escaped_for_each_target() {
    use crate::alert::message::Author;
    let token = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let policy = AlertPolicy::default();
    let mut s = state();
    let decision = s.decide("e1", &failure("node-heap-oom", 42), at(0), &policy);
    let mut ctx = ctx();
    ctx.author = Some(Author {
        name: Some(format!(
            "<!channel> @here *Jane* `x` [a](https://evil.example)\nFIX\n{token} {}",
            "x".repeat(500)
        )),
        login: Some("jdoe".into()),
    });
    let n = render("e1", &ctx, &content(), &decision, 0).unwrap();
    let chat: serde_json::Value = serde_json::from_str(&n.chat).unwrap();
    let description = chat["content"]["description"].as_str().unwrap();
    let line = description
        .lines()
        .find(|l| l.starts_with("Pushed by"))
        .expect("the author's line");
    for bad in ["<!channel>", "@here", "*Jane*", "`x`", token] {
        assert!(!line.contains(bad), "{bad:?} in {line}");
    }
    assert!(
        line.contains("&lt;!channel&gt; @\u{200D}here ∗Jane∗ ˋxˋ"),
        "{line}"
    );
    assert!(line.chars().count() < 160, "the name has a budget: {line}");
    let email_line = n
        .email
        .lines()
        .find(|l| l.starts_with("Pushed by:"))
        .expect("the e-mail's author line");
    assert!(!email_line.contains(token), "{email_line}");
    assert!(
        email_line.contains("FIX"),
        "the name's line break is a space: no forged section: {email_line}"
    );
    assert!(email_line.ends_with("(@jdoe)"), "{email_line}");
}

/// "Open the site" links the branch's custom domain when the reaction
/// knows it (#29 item 6), Amplify's domain otherwise.
#[test]
fn open_the_site_links_the_custom_domain_when_known() {
    let policy = AlertPolicy::default();
    let mut s = state();
    let decision = s.decide("e1", &failure("node-heap-oom", 42), at(0), &policy);
    let mut ctx = ctx();
    let n = render("e1", &ctx, &content(), &decision, 0).unwrap();
    assert!(
        n.chat
            .contains("<https://main.d1abc.amplifyapp.com/|Open the site>")
    );
    ctx.custom_site_url = Some("https://www.shop.example.com/".into());
    let n = render("e1", &ctx, &content(), &decision, 0).unwrap();
    assert!(
        n.chat
            .contains("<https://www.shop.example.com/|Open the site>"),
        "{}",
        n.chat
    );
    assert!(!n.chat.contains("amplifyapp.com"), "{}", n.chat);
    assert!(
        n.email.contains("Site: https://www.shop.example.com/\n"),
        "{}",
        n.email
    );
}
