//! How deployments are shown: a table for people, JSON for machines.

use std::fmt::Write;

use sentinel_shared::core::deployment::Deployment;
use sentinel_shared::core::model::Source;
use serde_json::{Value, json};

pub fn json(found: &[Deployment]) -> Value {
    Value::Array(
        found
            .iter()
            .map(|d| {
                json!({
                    "source": d.key.app_id.source().as_str(),
                    "appId": d.key.app_id,
                    "branchName": d.key.branch_name,
                    "jobId": d.key.job_id,
                    "environment": d.environment,
                    "status": d.status,
                    "commitId": d.details.commit_id,
                    "commitMessage": d.details.commit_message,
                    "jobType": d.details.job_type,
                    "startTime": d.started_at(),
                    "endTime": d.ended_at(),
                    "durationSeconds": d.duration_seconds(),
                    "isRollback": d.is_rollback(),
                    "transitions": d.transitions,
                    "validation": d.validation,
                    "health": d.health,
                    "bake": d.bake,
                    "diagnosis": d.diagnosis,
                    "rollbackOf": d.rollback_of,
                    "observed": d.observed,
                    "skipped": d.skipped,
                    "firstCommitAt": d.details.first_commit_at,
                    "deliveries": d.event_ids.len(),
                })
            })
            .collect(),
    )
}

pub fn table(found: &[Deployment]) -> String {
    if found.is_empty() {
        return "no deployments recorded\n".into();
    }
    let mut out = String::new();
    // A reported deploy's id is a run id or a time in ms: the column fits
    // the longest shown.
    let job_width = found
        .iter()
        .map(|d| d.key.job_id.to_string().len())
        .max()
        .unwrap_or(0)
        .max(5);
    let _ = writeln!(
        out,
        "{:<24} {:<14} {:<20} {:<16} {:>job_width$} {:<9} {:<8} {:>8}  TRANSITIONS",
        "STARTED", "SOURCE", "APP", "BRANCH", "JOB", "STATUS", "COMMIT", "DURATION"
    );
    for d in found {
        let started = d
            .started_at()
            .map(|t| crate::term::time(t, "%Y-%m-%d %H:%M:%S"))
            .unwrap_or_else(|| "-".into());
        let commit: String = d
            .details
            .commit_id
            .as_deref()
            .unwrap_or("-")
            .chars()
            .take(7)
            .collect();
        let duration = d
            .duration_seconds()
            .map(|s| format!("{}m{:02}s", s / 60, s % 60))
            .unwrap_or_else(|| "-".into());
        let transitions = d
            .transitions
            .iter()
            .map(|t| format!("{} {}", t.status, crate::term::time(t.at, "%H:%M:%S")))
            .collect::<Vec<_>>()
            .join(" → ");
        let deliveries = d.event_ids.len();
        let repeats = if deliveries > d.transitions.len() {
            format!(" ({deliveries} deliveries)")
        } else {
            String::new()
        };
        // The app column shows the stack's or service's name; SOURCE says
        // which it is.
        let _ = writeln!(
            out,
            "{:<24} {:<14} {:<20} {:<16} {:>job_width$} {:<9} {:<8} {:>8}  {transitions}{repeats}",
            started,
            d.key.app_id.source().as_str(),
            truncate(d.key.app_id.name(), 20),
            truncate(d.key.branch_name.as_str(), 16),
            d.key.job_id.to_string(),
            d.status.as_str(),
            commit,
            duration,
        );
        if let Some(h) = &d.health {
            let _ = writeln!(out, "{:>24} health: {:?}: {}", "└", h.verdict, h.reason);
        }
        if let Some(b) = &d.bake {
            let _ = writeln!(out, "{:>24} bake: {}", "└", bake_line(b));
        }
        if let Some(from) = d.rollback_of {
            let _ = writeln!(out, "{:>24} rollback of job {from}", "└");
        }
        for a in &d.observed {
            let _ = writeln!(out, "{:>24} observe mode: {}", "└", a.summary);
        }
        if let Some(s) = &d.skipped {
            let stopped = match s.stop_result.as_deref() {
                Some("stopped") => "build stopped".to_owned(),
                Some(other) => other.to_owned(),
                None => "stop pending".to_owned(),
            };
            let _ = writeln!(out, "{:>24} skipped: {} ({stopped})", "└", s.reason);
        }
        if let Some(g) = &d.diagnosis {
            // A stack's diagnosis names the resource that failed (its path
            // and type); a build's, the log line.
            let at = match (d.key.app_id.source(), &g.phase) {
                (Source::CloudFormation, Some(resource)) => match &g.command {
                    Some(kind) => format!(" (resource {resource}, {kind})"),
                    None => format!(" (resource {resource})"),
                },
                _ => g
                    .evidence
                    .first()
                    .map_or(String::new(), |e| format!(" (log line {})", e.line)),
            };
            let _ = writeln!(
                out,
                "{:>24} diagnosis: {}: {}{at}",
                "└", g.category, g.title
            );
        }
        if let Some(v) = d
            .validation
            .as_ref()
            .filter(|v| !v.report.findings.is_empty())
        {
            let rules: Vec<&str> = v.report.findings.iter().map(|f| f.rule.as_str()).collect();
            let stopped = match v.stop_result.as_deref() {
                Some("stopped") => ", build stopped",
                _ => "",
            };
            let _ = writeln!(
                out,
                "{:>24} validation: {} error(s), {} warning(s){stopped}: {}",
                "└",
                v.report.errors,
                v.report.warnings,
                rules.join(", ")
            );
        }
    }
    out
}

/// A bake's outcome, or how far it got, in one line.
fn bake_line(b: &sentinel_shared::core::bake::BakeRecord) -> String {
    use sentinel_shared::core::bake::BakeOutcome;
    let judged = format!("{} of {} intervals judged", b.steps.len(), b.steps_total);
    let outcome = match b.outcome {
        None => return format!("baking, {judged}"),
        Some(BakeOutcome::Passed) => "passed",
        Some(BakeOutcome::Failed) => "failed",
        Some(BakeOutcome::Inconclusive) => "inconclusive",
        Some(BakeOutcome::Superseded) => "superseded",
    };
    match &b.reason {
        Some(reason) => format!(
            "{outcome} ({judged}): {}",
            reason.strip_prefix("bake: ").unwrap_or(reason)
        ),
        None => format!("{outcome} ({judged})"),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A validation report for people: one block per finding, then a summary.
pub fn report(report: &sentinel_shared::validate::Report) -> String {
    use sentinel_shared::validate::Severity;
    let mut out = String::new();
    for f in &report.findings {
        let mark = if f.severity == Severity::Error {
            crate::term::paint("✗ error  ", false)
        } else {
            "! warning".to_owned()
        };
        let _ = writeln!(
            out,
            "{mark} {:<30} {}",
            f.rule,
            f.location.as_deref().unwrap_or("")
        );
        let _ = writeln!(out, "          {}", f.message);
        let _ = writeln!(out, "          fix: {}", f.fix);
    }
    let _ = writeln!(
        out,
        "{} — {} error(s), {} warning(s){}",
        crate::term::paint(
            if report.passed { "passed" } else { "FAILED" },
            report.passed
        ),
        report.errors,
        report.warnings,
        if report.skipped.is_empty() {
            String::new()
        } else {
            format!("; not checked (no input): {}", report.skipped.join(", "))
        }
    );
    out
}

/// A health report for people: one line per endpoint, then the verdict.
pub fn health(report: &sentinel_shared::health::HealthReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<50} {:>6} {:>8} {:>7} {:>7}  RESULT",
        "URL", "STATUS", "LAST ms", "p50 ms", "p95 ms"
    );
    for e in &report.endpoints {
        let status = e.last_status.map_or("-".to_owned(), |s| s.to_string());
        let result = match &e.reason {
            Some(reason) => format!("{:?}: {reason}", e.verdict),
            None => format!("{:?}", e.verdict),
        };
        let _ = writeln!(
            out,
            "{:<50} {:>6} {:>8} {:>7} {:>7}  {result}",
            truncate(&e.url, 50),
            status,
            e.last_latency_ms,
            e.p50_ms,
            e.p95_ms
        );
    }
    let _ = writeln!(
        out,
        "{:?} after {} round(s) in {} ms: {}",
        report.verdict, report.rounds, report.elapsed_ms, report.reason
    );
    out
}

/// A diagnosis for a terminal.
pub fn diagnosis(d: &sentinel_shared::diagnose::Diagnosis) -> String {
    let mut out = format!("{}: {}\n", d.category, d.title);
    out.push_str(if d.transient {
        "  transient: yes (a retry of the same commit can succeed)\n"
    } else {
        "  transient: no (a retry of the same commit will fail the same way)\n"
    });
    if let Some(command) = &d.command {
        out.push_str(&format!("  last command: `{command}`"));
        if let Some(phase) = &d.phase {
            out.push_str(&format!(" (phase {phase})"));
        }
        if let Some(code) = d.exit_code {
            out.push_str(&format!(", exit code {code}"));
        }
        out.push('\n');
    }
    out.push_str(&format!("\nfix:\n  {}\n", d.fix));
    if !d.evidence.is_empty() {
        out.push_str("\nevidence:\n");
        for e in &d.evidence {
            out.push_str(&format!("  {:>7} | {}\n", e.line, e.text));
        }
    }
    if !d.secondary.is_empty() {
        out.push_str("\nalso seen:\n");
        for s in &d.secondary {
            out.push_str(&format!(
                "  {} at line {}: {}\n",
                s.category, s.line, s.title
            ));
        }
    }
    out.push_str(&format!("\n({} lines, {} bytes read)\n", d.lines, d.bytes));
    out
}

/// A window's delivery figures as a short report.
pub fn metrics(
    f: &sentinel_shared::metrics::dora::Figures,
    items_read: usize,
    scope: Option<&str>,
) -> String {
    use sentinel_shared::alert::message::human;
    use sentinel_shared::metrics::dora::Tier;
    let secs = |s: f64| human(chrono::Duration::seconds(s.round() as i64));
    let tier = |t: Option<Tier>| match t {
        Some(t) => serde_json::to_value(t)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        None => "-".into(),
    };
    let pct = |r: Option<f64>| r.map_or("-".into(), |r| format!("{:.1} %", r * 100.0));
    let opt = |s: Option<f64>| s.map_or("-".into(), secs);
    let mut out = format!(
        "Delivery metrics: {}{}, {} day{} ({} to {}), {items_read} records read\n\n",
        f.environment,
        scope.map(|s| format!(" ({s})")).unwrap_or_default(),
        f.window_days,
        if f.window_days == 1 { "" } else { "s" },
        crate::term::time(f.from, "%Y-%m-%d %H:%M"),
        crate::term::time(f.to, "%Y-%m-%d %H:%M"),
    );
    let rows = [
        (
            "Deployment frequency",
            format!(
                "{:.2} per day ({} deploys)",
                f.deployment_frequency_per_day, f.deployments
            ),
            tier(Some(f.tiers.deployment_frequency)),
        ),
        (
            "Lead time for changes",
            format!(
                "median {} · p90 {}",
                opt(f.lead_time_median_seconds),
                opt(f.lead_time_p90_seconds)
            ),
            tier(f.tiers.lead_time),
        ),
        (
            "Change failure rate",
            format!(
                "{} ({} of {})",
                pct(f.change_failure_rate),
                f.failed_deployments,
                f.deployments
            ),
            tier(f.tiers.change_failure_rate),
        ),
        (
            "Recovery time",
            format!(
                "median {} ({} recovered, {} open)",
                opt(f.recovery_time_median_seconds),
                f.recoveries,
                f.open_incidents
            ),
            tier(f.tiers.recovery_time),
        ),
        (
            "Builds",
            format!(
                "{}: {} succeeded, {} failed, success rate {}",
                f.builds,
                f.builds_succeeded,
                f.builds_failed,
                pct(f.build_success_rate)
            ),
            String::new(),
        ),
        (
            "Build duration",
            format!(
                "p50 {} · p90 {} · p99 {}",
                opt(f.build_duration_p50_seconds),
                opt(f.build_duration_p90_seconds),
                opt(f.build_duration_p99_seconds)
            ),
            String::new(),
        ),
        ("Rollbacks", f.rollbacks.to_string(), String::new()),
    ];
    let o = &f.observed;
    let observed = (o.stop_build + o.rollback + o.retry + o.skip > 0).then(|| {
        (
            "Observe mode",
            format!(
                "would have stopped {} build(s), rolled back {}, retried {}, skipped {}",
                o.stop_build, o.rollback, o.retry, o.skip
            ),
            String::new(),
        )
    });
    let rows = rows.into_iter().chain(observed);
    for (name, value, tier) in rows {
        out.push_str(format!("  {name:<22} {value:<48} {tier}").trim_end());
        out.push('\n');
    }
    out.push_str(
        "\nTiers: DORA's 2023 clusters (elite, high, medium, low); see docs/metrics.md.\n",
    );
    out
}

/// A cleanup run: what it did (or, dry, would do), then the counts.
pub fn cleanup(r: &sentinel_shared::cleanup::Report) -> String {
    let verb = if r.dry_run { "would" } else { "did" };
    let mut out = format!(
        "Cleanup of {}{}: {} items scanned\n",
        r.environment.map(|e| e.to_string()).unwrap_or_default(),
        if r.dry_run {
            " (dry run: nothing changed)"
        } else {
            ""
        },
        r.items_scanned
    );
    if r.is_empty() {
        out.push_str("Nothing to do.\n");
    }
    for line in &r.reconciled {
        out.push_str(&format!("  reconcile  {line}\n"));
    }
    for c in &r.changes {
        let action = serde_json::to_value(&c.action)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!(
            "  {action:<28} {} / {}  ({})\n",
            c.pk, c.sk, c.reason
        ));
    }
    out.push_str(&format!(
        "\nIt {verb}: delete {} expired deployments (keeping {} protected), remove {} items of deleted branches, \
         {} idle alert states, {} expired claims, {} old snapshots; push back {} expiries; \
         reconcile {} stuck jobs ({} still running), mark {} timed out, ingest {} missed jobs.\n",
        r.deployments_expired,
        r.protected_kept,
        r.deleted_branch_state,
        r.alert_states_expired,
        r.claims_expired,
        r.snapshots_expired,
        r.expiry_extended,
        r.stuck_reconciled,
        r.stuck_still_running,
        r.timed_out,
        r.missed_ingested
    ));
    out
}

/// The figures of each source side by side (`sentinel metrics`).
pub fn metrics_by_source(
    by_source: &[(Source, sentinel_shared::metrics::dora::Figures)],
) -> String {
    if by_source.is_empty() {
        return String::new();
    }
    let pct = |r: Option<f64>| r.map_or("-".into(), |r| format!("{:.1} %", r * 100.0));
    let mut out = format!(
        "\n{:<15} {:>7} {:>9} {:>7} {:>10} {:>10}\n",
        "SOURCE", "DEPLOYS", "PER DAY", "FAILED", "CFR", "BUILD OK"
    );
    for (source, f) in by_source {
        let _ = writeln!(
            out,
            "{:<15} {:>7} {:>9.2} {:>7} {:>10} {:>10}",
            source.as_str(),
            f.deployments,
            f.deployment_frequency_per_day,
            f.builds_failed,
            pct(f.change_failure_rate),
            pct(f.build_success_rate),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use sentinel_shared::core::deployment::{Deployment, DeploymentKey};
    use sentinel_shared::core::model::{Environment, JobId};

    fn deployment(app: &str, branch: &str, job: u64) -> Deployment {
        Deployment::new(
            DeploymentKey {
                app_id: app.parse().unwrap(),
                branch_name: branch.parse().unwrap(),
                job_id: JobId::new(job),
            },
            Environment::Prod,
        )
    }

    #[test]
    fn every_source_is_shown_side_by_side_with_its_name() {
        let found = vec![
            deployment("d1abc", "main", 4),
            deployment("cfn:orders-api", "prod", 7),
            deployment("svc:shop-api", "prod", 1_764_000_000_000),
        ];
        let text = super::table(&found);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("SOURCE"), "{text}");
        let row = |needle: &str| {
            *lines
                .iter()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("{needle} in {text}"))
        };
        assert!(row("d1abc").contains("amplify"), "{text}");
        assert!(row("orders-api").contains("cloudformation"), "{text}");
        let svc = row("shop-api");
        assert!(svc.contains("report") && !svc.contains("svc:"), "{text}");
        // A long deploy id keeps the columns after it aligned.
        let status_at = |l: &str| l.find("NONE").or_else(|| l.find("STATUS"));
        assert_eq!(status_at(lines[0]), status_at(svc), "{text}");
        assert_eq!(status_at(row("d1abc")), status_at(svc), "{text}");
        let json = super::json(&found);
        let sources: Vec<&str> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["source"].as_str().unwrap())
            .collect();
        assert_eq!(sources, ["amplify", "cloudformation", "report"]);
    }

    #[test]
    fn a_stacks_diagnosis_names_the_resource_and_a_builds_the_log_line() {
        use sentinel_shared::core::verdicts::{Diagnosis, Evidence};
        let diagnosis = |phase: Option<&str>, command: Option<&str>| Diagnosis {
            category: "stack-permission-denied".into(),
            title: "The deploy role may not do this".into(),
            phase: phase.map(str::to_owned),
            command: command.map(str::to_owned),
            transient: false,
            fix: "Grant the deploy role the action".into(),
            evidence: vec![Evidence {
                line: 12,
                text: "User: *** is not authorized".into(),
            }],
            secondary: Vec::new(),
            exit_code: None,
            cut: None,
            lines: 0,
            from_report: false,
            bytes: 0,
        };
        let mut stack = deployment("cfn:orders-api", "prod", 7);
        stack.diagnosis = Some(diagnosis(
            Some("DatabaseStack/Table"),
            Some("AWS::DynamoDB::Table"),
        ));
        let mut build = deployment("d1abc", "main", 4);
        build.diagnosis = Some(diagnosis(None, None));
        let text = super::table(&[stack, build]);
        assert!(
            text.contains("(resource DatabaseStack/Table, AWS::DynamoDB::Table)"),
            "{text}"
        );
        assert!(text.contains("(log line 12)"), "{text}");
        assert_eq!(text.matches("log line").count(), 1, "{text}");
    }

    #[test]
    fn a_skipped_build_says_why_and_whether_it_was_stopped() {
        use sentinel_shared::core::deployment::{Skip, SkipKind};
        let mut d = deployment("d1abc", "main", 6);
        d.skipped = Some(Skip {
            kind: SkipKind::Superseded,
            reason: "superseded by job 7 (a newer build of main)".into(),
            by_job: JobId::new(7),
            at: chrono::Utc::now(),
            stop_result: Some("stopped".into()),
        });
        let text = super::table(std::slice::from_ref(&d));
        assert!(
            text.contains("skipped: superseded by job 7 (a newer build of main) (build stopped)"),
            "{text}"
        );
        let json = super::json(&[d]);
        assert_eq!(json[0]["skipped"]["kind"], "superseded");
        assert_eq!(json[0]["skipped"]["byJob"], "7");
    }
}
