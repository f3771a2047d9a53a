use super::*;

const ACCOUNT: &str = "123456789012";

fn arn(queue: &str) -> String {
    format!("arn:aws:sqs:eu-west-1:{ACCOUNT}:deploy-sentinel-prod-{queue}")
}

/// A stack on AWS where everything is as deployed.
fn healthy() -> Seen {
    let mut seen = Seen {
        stack: "deploy-sentinel-prod".into(),
        environment: "prod".into(),
        region: "eu-west-1".into(),
        table_name: "deploy-sentinel-prod".into(),
        table: Some(Ok(TableSeen {
            status: "ACTIVE".into(),
            indexes: [(INDEX.to_owned(), "ACTIVE".to_owned())].into(),
            ttl: Some((TTL_ATTRIBUTE.into(), "ENABLED".into())),
        })),
        bus_name: "sentinel-prod".into(),
        bus: Some(Ok(())),
        topic_arn: Some(format!("arn:aws:sns:eu-west-1:{ACCOUNT}:alerts")),
        subscriptions: Some(Ok(vec![SubscriptionSeen {
            arn: format!("arn:aws:sns:eu-west-1:{ACCOUNT}:alerts:1"),
            protocol: "email".into(),
            endpoint: "team@example.com".into(),
        }])),
        apps: vec![AppSeen {
            app_id: "d1shop".into(),
            answer: Ok("shop".into()),
            repository: None,
        }],
        settings: [
            ("AmplifyAppIds", "d1shop"),
            ("WatchedBranches", "main,release/*"),
            ("Enforcement", "observe"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        dlq: Some(DlqSeen {
            arn: Some(arn("dlq")),
            read: Ok(DlqContent::default()),
        }),
        ..Default::default()
    };
    for w in WIRING {
        for r in w.rules {
            seen.rules.push(RuleSeen {
                logical: r.logical.into(),
                bus: if r.default_bus {
                    "default".into()
                } else {
                    "sentinel-prod".into()
                },
                schedule: r.schedule,
                queue_arn: arn(w.queue),
                name: Some(format!("deploy-sentinel-prod-{}-ABC123", r.logical)),
                state: Some("ENABLED".into()),
                targets: vec![arn(w.queue)],
                error: None,
            });
        }
        seen.queues.push(QueueSeen {
            name: format!("deploy-sentinel-prod-{}", w.queue),
            function: w.function.into(),
            read: Ok(QueueDepth {
                visible: 2,
                in_flight: 1,
                oldest_age: Some(40.0),
                dead_letter_target: Some(arn("dlq")),
            }),
        });
        seen.sources.push(SourceSeen {
            function: w.function.into(),
            queue_arn: arn(w.queue),
            found: Ok(vec![Mapping {
                uuid: format!("uuid-{}", w.function),
                function_arn: format!(
                    "arn:aws:lambda:eu-west-1:{ACCOUNT}:function:deploy-sentinel-prod-{}",
                    w.function
                ),
                state: "Enabled".into(),
                local_route: false,
            }]),
        });
    }
    for name in ["amplify-events", "domain-events"] {
        seen.archives.push(ArchiveSeen {
            name: format!("deploy-sentinel-prod-{name}"),
            state: Ok("ENABLED".into()),
        });
    }
    seen
}

fn failed(report: &Report) -> Vec<&Check> {
    report
        .checks
        .iter()
        .filter(|c| c.status == Status::Fail)
        .collect()
}

fn only_failure(seen: &Seen) -> Check {
    let report = assess(seen);
    assert!(!report.passed);
    let failed = failed(&report);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    failed[0].clone()
}

#[test]
fn a_healthy_stack_passes_every_check() {
    let report = assess(&healthy());
    assert!(report.passed, "{:#?}", failed(&report));
    assert_eq!((report.failed, report.unchecked), (0, 0));
    // Every rule, queue and source, both archives, the table and the bus.
    let rules: usize = WIRING.iter().map(|w| w.rules.len()).sum();
    let count = |area: &str| report.checks.iter().filter(|c| c.area == area).count();
    assert_eq!(count("rule"), rules);
    assert_eq!(count("queue"), WIRING.len());
    assert_eq!(count("eventSource"), WIRING.len());
    assert_eq!(count("archive"), 2);
    let text = render(&report);
    assert!(text.contains("✓ rule AlertRule (stack bus)"), "{text}");
    // Reported services' checks: their own rule and queue (#28 item 3).
    assert!(
        text.contains("✓ rule ReportedBuildSucceededRule (stack bus)"),
        "{text}"
    );
    assert!(
        text.contains("deploy-sentinel-prod-reported-health"),
        "{text}"
    );
    assert!(!text.contains('✗'), "{text}");
    let enforcement = report
        .checks
        .iter()
        .find(|c| c.name == "enforcement")
        .unwrap();
    assert!(
        enforcement.detail.starts_with("observe: nothing acts"),
        "{enforcement:?}"
    );
}

#[test]
fn a_disabled_rule_fails_with_the_command_that_enables_it() {
    let mut seen = healthy();
    let alert = seen
        .rules
        .iter_mut()
        .find(|r| r.logical == "AlertRule")
        .unwrap();
    alert.state = Some("DISABLED".into());
    let c = only_failure(&seen);
    assert_eq!(c.name, "rule AlertRule (stack bus)");
    assert!(c.detail.contains("DISABLED"), "{c:?}");
    let fix = c.fix.unwrap();
    assert!(
        fix.contains("aws events enable-rule --name deploy-sentinel-prod-AlertRule-ABC123 --event-bus-name sentinel-prod"),
        "{fix}"
    );
    assert!(fix.contains("replay"), "{fix}");
    // A schedule on the default bus: no bus flag, nothing to replay.
    let mut seen = healthy();
    let cleanup = seen
        .rules
        .iter_mut()
        .find(|r| r.logical == "CleanupScheduleRule")
        .unwrap();
    cleanup.state = Some("DISABLED".into());
    let fix = only_failure(&seen).fix.unwrap();
    assert!(
        fix.contains("--name deploy-sentinel-prod-CleanupScheduleRule-ABC123;"),
        "{fix}"
    );
    assert!(!fix.contains("event-bus-name"), "{fix}");
}

#[test]
fn a_missing_rule_or_a_rule_without_its_queue_fails() {
    let mut seen = healthy();
    seen.rules[0].name = None;
    seen.rules[0].error =
        Some("no rule deploy-sentinel-prod-AmplifyStatusRule* on the default bus".into());
    assert!(only_failure(&seen).fix.unwrap().contains("sam deploy"));
    let mut seen = healthy();
    seen.rules[1].targets = vec![arn("other")];
    let c = only_failure(&seen);
    assert!(c.detail.contains("does not deliver to"), "{c:?}");
}

#[test]
fn an_unconfirmed_subscription_fails_even_beside_a_confirmed_one() {
    let mut seen = healthy();
    let Some(Ok(subs)) = &mut seen.subscriptions else {
        unreachable!()
    };
    subs.push(SubscriptionSeen {
        arn: "PendingConfirmation".into(),
        protocol: "email".into(),
        endpoint: "oncall@example.com".into(),
    });
    let c = only_failure(&seen);
    assert_eq!(c.name, "subscription email oncall@example.com");
    let fix = c.fix.unwrap();
    assert!(fix.contains("Confirm subscription"), "{fix}");
    assert!(
        fix.contains("aws sns subscribe --topic-arn arn:aws:sns:eu-west-1:123456789012:alerts"),
        "{fix}"
    );
    // Only pending ones: nobody gets anything.
    seen.subscriptions = Some(Ok(vec![SubscriptionSeen {
        arn: "PendingConfirmation".into(),
        protocol: "email".into(),
        endpoint: "oncall@example.com".into(),
    }]));
    let report = assess(&seen);
    let names: Vec<_> = failed(&report).iter().map(|c| c.name.clone()).collect();
    assert_eq!(
        names,
        [
            "a confirmed subscription",
            "subscription email oncall@example.com"
        ]
    );
}

#[test]
fn messages_in_the_dlq_fail_with_their_top_reasons_and_the_redrive() {
    let mut seen = healthy();
    let reasons = [
        (("Retryable.Store", "deploy-sentinel-prod-ingest"), 1),
        (("NonRetryable.Event", "deploy-sentinel-prod-alerter"), 3),
        (
            (
                "moved by the redrive policy (failed 5 times)",
                "deploy-sentinel-prod-rollback",
            ),
            2,
        ),
        (("Retryable.Amplify", "deploy-sentinel-prod-validator"), 1),
    ];
    seen.dlq.as_mut().unwrap().read = Ok(DlqContent {
        depth: 7,
        reasons: reasons
            .iter()
            .map(|((r, s), n)| ((r.to_string(), s.to_string()), *n))
            .collect(),
    });
    let c = only_failure(&seen);
    assert_eq!(c.area, "dlq");
    assert!(
        c.detail.starts_with("7 message(s); top reasons: 3 × NonRetryable.Event (from deploy-sentinel-prod-alerter); 2 × moved by"),
        "{c:?}"
    );
    // The top three only.
    assert!(c.detail.contains("Retryable.Amplify"), "{c:?}");
    assert!(!c.detail.contains("Retryable.Store"), "{c:?}");
    assert!(
        c.fix
            .unwrap()
            .contains("sentinel --stack deploy-sentinel-prod dlq show")
    );
}

#[test]
fn a_disabled_or_missing_event_source_mapping_fails() {
    let mut seen = healthy();
    let alerter = WIRING.iter().position(|w| w.function == "alerter").unwrap();
    let Ok(found) = &mut seen.sources[alerter].found else {
        unreachable!()
    };
    found[0].state = "Disabled".into();
    let c = only_failure(&seen);
    assert_eq!(
        c.name,
        "event source deploy-sentinel-prod-alerter → alerter"
    );
    assert_eq!(
        c.fix.as_deref(),
        Some("aws lambda update-event-source-mapping --uuid uuid-alerter --enabled")
    );
    // A mapping of another function on the queue is not this function's.
    let mut seen = healthy();
    let Ok(found) = &mut seen.sources[0].found else {
        unreachable!()
    };
    found[0].function_arn = "arn:aws:lambda:eu-west-1:1:function:someone-else".into();
    assert!(only_failure(&seen).detail.contains("not found"));
}

#[test]
fn a_stuck_queue_or_one_without_the_dlq_fails() {
    let mut seen = healthy();
    if let Ok(d) = &mut seen.queues[2].read {
        d.oldest_age = Some(STUCK_AGE_SECONDS + 1.0);
    }
    let c = only_failure(&seen);
    assert!(c.detail.contains("oldest 60 min"), "{c:?}");
    assert!(
        c.fix
            .unwrap()
            .contains("health-checker is not consuming it")
    );
    let mut seen = healthy();
    if let Ok(d) = &mut seen.queues[0].read {
        d.dead_letter_target = None;
    }
    assert!(only_failure(&seen).detail.contains("redrive policy"));
}

#[test]
fn the_table_needs_its_index_and_ttl_and_an_app_must_answer() {
    let mut seen = healthy();
    if let Some(Ok(t)) = &mut seen.table {
        t.indexes.clear();
    }
    let c = only_failure(&seen);
    assert!(
        c.detail.contains("index by-environment-time: missing"),
        "{c:?}"
    );
    let mut seen = healthy();
    seen.apps[0].answer = Err("NotFoundException: App d1shop not found".into());
    let c = only_failure(&seen);
    assert!(c.fix.as_deref().unwrap().contains("AmplifyAppIds"), "{c:?}");
}

#[test]
fn the_local_stack_says_what_it_cannot_check_and_still_passes() {
    let mut seen = healthy();
    seen.local = true;
    for s in &mut seen.sources {
        s.found = Ok(vec![Mapping {
            uuid: "local".into(),
            function_arn: s.function.clone(),
            state: "Routed".into(),
            local_route: true,
        }]);
    }
    for r in seen.rules.iter_mut().filter(|r| r.schedule) {
        r.targets.clear();
    }
    for q in &mut seen.queues {
        if let Ok(d) = &mut q.read {
            d.oldest_age = None;
        }
    }
    let report = assess(&seen);
    assert!(report.passed, "{:#?}", failed(&report));
    let schedules = WIRING
        .iter()
        .flat_map(|w| w.rules)
        .filter(|r| r.schedule)
        .count();
    assert_eq!(report.unchecked, WIRING.len() + schedules);
    let text = render(&report);
    assert!(text.contains("– event source"), "{text}");
    assert!(text.contains("not checkable here"), "{text}");
    assert!(text.contains("no CloudWatch metrics"), "{text}");
    // But a schedule without its target on AWS is a failure.
    seen.local = false;
    let report = assess(&seen);
    assert!(!report.passed);
}

/// template.yaml's resource `name` (its lines up to the next resource).
fn resource(name: &str) -> String {
    sentinel_shared::template_text::resource(include_str!("../../../template.yaml"), name)
}

#[test]
fn the_wiring_is_the_templates() {
    let template = include_str!("../../../template.yaml");
    let rules_in_template = template.matches("Type: AWS::Events::Rule").count();
    let rules: usize = WIRING.iter().map(|w| w.rules.len()).sum();
    assert_eq!(
        rules, rules_in_template,
        "every rule of the template is checked"
    );
    let functions = template.matches("Type: AWS::Serverless::Function").count();
    // A function may read several queues (the health checker: Amplify's
    // and reported services' checks); every function reads one.
    let mut fed: Vec<&str> = WIRING.iter().map(|w| w.function).collect();
    fed.sort_unstable();
    fed.dedup();
    assert_eq!(fed.len(), functions);
    for w in WIRING {
        let queue = resource(w.queue_logical);
        assert!(
            queue.contains(&format!(
                "QueueName: !Sub deploy-sentinel-${{Environment}}-{}\n",
                w.queue
            )),
            "{queue}"
        );
        assert!(
            queue.contains("deadLetterTargetArn: !GetAtt DeadLetterQueue.Arn"),
            "{queue}"
        );
        assert!(
            template.contains(&format!(
                "FunctionName: !Sub deploy-sentinel-${{Environment}}-{}\n",
                w.function
            )),
            "{}",
            w.function
        );
        for r in w.rules {
            let text = resource(r.logical);
            assert!(text.contains("Type: AWS::Events::Rule"), "{text}");
            assert!(
                text.contains(&format!("Arn: !GetAtt {}.Arn", w.queue_logical)),
                "{text}"
            );
            assert_eq!(text.contains("ScheduleExpression"), r.schedule, "{text}");
            assert_eq!(
                text.contains("EventBusName: !Ref SentinelBus"),
                !r.default_bus,
                "{text}"
            );
        }
    }
    assert!(template.contains(&format!("IndexName: {INDEX}\n")));
    assert!(template.contains(&format!("AttributeName: {TTL_ATTRIBUTE}\n")));
}

fn subscription(arn: &str, protocol: &str, endpoint: &str) -> SubscriptionSeen {
    SubscriptionSeen {
        arn: arn.into(),
        protocol: protocol.into(),
        endpoint: endpoint.into(),
    }
}

/// Webhook URLs whose path or query is the integration's key.
const WEBHOOKS: &[(&str, &str)] = &[
    (
        "https",
        "https://hooks.example.com/services/T000/B000/XXXXSECRET",
    ),
    ("https", "https://hooks.example.com/alert?token=XXXXSECRET"),
    ("http", "http://user:XXXXSECRET@hooks.example.com:8080/in"),
    ("https", "https://hooks.example.com/in#XXXXSECRET"),
];

#[test]
fn a_webhook_endpoint_shows_its_scheme_and_host_and_hides_its_key() {
    for (protocol, endpoint) in WEBHOOKS {
        let shown = endpoint_shown(&subscription("arn:x", protocol, endpoint));
        assert!(!shown.contains("XXXXSECRET"), "{shown}");
        assert!(!shown.contains("user"), "{shown}");
        assert!(
            shown.starts_with(&format!("{protocol}://hooks.example.com/…(")),
            "{shown}"
        );
    }
    let bare = subscription("arn:x", "https", "https://hooks.example.com");
    assert_eq!(endpoint_shown(&bare), "https://hooks.example.com/");
    let broken = subscription("arn:x", "https", "https://hooks example/XXXXSECRET");
    assert!(!endpoint_shown(&broken).contains("XXXXSECRET"));
    let email = subscription("arn:x", "email", "oncall@example.com");
    assert_eq!(endpoint_shown(&email), "oncall@example.com");
}

#[test]
fn the_doctor_report_never_prints_a_webhook_s_key() {
    for (protocol, endpoint) in WEBHOOKS {
        for arn in [
            "arn:aws:sns:eu-west-1:123456789012:alerts:0000",
            "PendingConfirmation",
        ] {
            let mut seen = healthy();
            let Some(Ok(subs)) = &mut seen.subscriptions else {
                unreachable!()
            };
            subs.push(subscription(arn, protocol, endpoint));
            let report = assess(&seen);
            let text = format!(
                "{}{}",
                render(&report),
                serde_json::to_string(&report).unwrap()
            );
            assert!(!text.contains("XXXXSECRET"), "{arn}: {text}");
            assert!(text.contains("hooks.example.com"), "{arn}: {text}");
        }
    }
}
