#!/usr/bin/env python3
"""What Deploy Sentinel costs an adopter, from the template and the code.

Reads `template.yaml` (alarms, dashboard, KMS keys, queues, schedules,
memory sizes, parameter defaults) and `docs/metrics-emitted.json` (every
custom metric the code emits per `EventMetrics` level; a Rust test keeps it
true), and prints the adopter's tables: the fixed cost per environment at
the default settings, what opting in to per-event metrics or to GitHub
costs (GitHub: per build only, it has no fixed part), and the cost per
build.

    .venv/bin/python scripts/cost.py            # print the tables
    .venv/bin/python scripts/cost.py --write    # put them into docs/cost.md
    .venv/bin/python scripts/cost.py --check    # exit 1 if docs/cost.md differs

`tests/localstack/test_cost.py` runs the check and holds the default fixed
cost per environment to at most $5 a month.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
MANIFEST = ROOT / "docs" / "metrics-emitted.json"
DOC = ROOT / "docs" / "cost.md"
BEGIN = "<!-- scripts/cost.py: begin (generated; edit the script, then --write) -->"
END = "<!-- scripts/cost.py: end -->"

HOURS_PER_MONTH = 730
DAYS_PER_MONTH = 30.4

# AWS list prices, us-east-1 (the pricing pages as published in 2025; re-check
# for your region and date).
PRICE = {
    "metric_month": 0.30,  # custom metric-month, first 10 000; billed per hour with data
    "alarm_metric_month": 0.10,  # standard-resolution alarm, per metric it evaluates
    "dashboard_month": 3.00,  # beyond 3 free dashboards (≤ 50 metrics each) per account
    "free_dashboards": 3,
    "kms_key_month": 1.00,
    "kms_request": 0.03 / 10_000,
    "xray_trace": 5.00 / 1e6,  # traces recorded
    "logs_gb_ingested": 0.50,
    "logs_gb_month": 0.03,
    "insights_gb_scanned": 0.005,
    "lambda_gb_s": 0.0000133334,  # arm64
    "lambda_request": 0.20 / 1e6,
    "ddb_wru": 0.625 / 1e6,  # on demand
    "ddb_rru": 0.125 / 1e6,
    "ddb_gb_month": 0.25,
    "pitr_gb_month": 0.20,
    "sqs_request": 0.40 / 1e6,
    "sns_publish": 0.50 / 1e6,
    "events_published": 1.00 / 1e6,  # custom events
    "archive_gb": 0.10,
}

# The adopter: 6 apps × 3 environments (one stack each), one branch per app
# per environment (main → prod, staging → staging, develop → dev), 1 000
# builds a day in total, evenly spread.
ADOPTER = {
    "apps": 6,
    "environments": 3,
    "branches_per_app": 1,
    "builds_per_day": 1000,
}

# What a build causes, per build (assumed profile of a healthy team: 90 %
# succeed, failures diagnosed, 2 % retried, 1 % unhealthy and rolled back).
EVENTS_PER_BUILD = {
    "Build Succeeded": 0.90,
    "Build Failed": 0.10,
    "Build Diagnosed": 0.10,
    "Build Retried": 0.02,
    "Validation Failed": 0.05,
    "Deployment Healthy": 0.88,
    "Deployment Unhealthy": 0.01,
    "Deployment Check Inconclusive": 0.01,
    "Rollback Started": 0.01,
    "Rollback Succeeded": 0.01,
    "Rollback Failed": 0.001,
}

# Observe mode (`Enforcement=observe`, the default of a first install): what
# would have been stopped, rolled back or retried is published as "Action
# Observed" instead (the same share of builds as the actions it replaces).
OBSERVED_PER_BUILD = EVENTS_PER_BUILD["Validation Failed"] + EVENTS_PER_BUILD["Rollback Started"] + EVENTS_PER_BUILD["Build Retried"]

# Measured by `make reliability`'s calls phase (run of 2026-11-23, see the
# text of docs/cost.md): the work of one build through the release binaries.
MEASURED_PER_BUILD = {
    "gb_s": 0.35,
    "invocations": 6.25,
    "events_published": 4,
    "sqs_requests": 19,
    "wru": 40.5,
    "rru": 18,
    "sns_publishes": 0.25,
    "log_kb": 20,
    "amplify_events": 2,  # STARTED and the end (5.4 calls per Amplify event, 10.8 per build)
}

# Estimates where nothing was measured (stated in docs/cost.md).
ESTIMATE = {
    "record_kb": 3,  # a deployment record with its history
    "scheduled_check_seconds": 3,  # one invocation checks every branch concurrently
    "scheduled_check_query_items": 500,  # the live check's recent-deployments Query
    "metrics_run_seconds": 2,
    "cleanup_run_seconds": 10,
    "scheduled_log_kb": 2,  # per scheduled invocation (platform lines and a few of ours)
    "skip_ms": 20,  # an out-of-scope Amplify event: parsed, skipped, logged
    "skip_log_kb": 1,
    "idle_pollers_per_queue": 5,  # Lambda's SQS pollers, 20 s long polls (not published by AWS)
    "dashboard_views_per_day": 10,
    "archived_kb_per_build": 15,  # about a dozen events of 1–2 KB
}

# GitHub on (`GitHubAppId` + `GitHubPrivateKeyParameter`, or
# `GitHubTokenParameter`; docs/github.md): estimates, nothing measured yet.
# Prices: SSM Parameter Store's standard parameters and standard-throughput
# API calls are free, its AWS managed key aws/ssm is free (requests at KMS's
# price); Secrets Manager would be $0.40 a secret-month
# (https://aws.amazon.com/systems-manager/pricing/,
# https://aws.amazon.com/secrets-manager/pricing/).
GITHUB = {
    "cancelled_per_build": 0.02,  # "Build Cancelled" (superseded builds, people)
    "skipped_per_build": 0.05,  # "Build Skipped" (the monorepo path filter)
    "calls_per_build": 8,  # check run created and updated, deployment and statuses, compare, commit
    "call_ms": 150,  # GitHub's answer, the function waiting on it
    "extra_ms": 30,  # an invocation for a start, cancel or skip besides its calls
    "extra_log_kb": 2,
    "wru_per_build": 2,  # the check run's and the deployment's ids kept on the record
    "cold_starts_per_build": 0.2,  # per function (alerter, validator): one GetParameter and one KMS decrypt each
    "retry_share": 0.01,  # updates retried as a delayed message to the alerter's own queue
}
SECRETS_MANAGER_SECRET_MONTH = 0.40

GB = 1024 * 1024  # KB per GB
LEVELS = ["off", "environment", "app", "branch"]


def load_template(path: Path = TEMPLATE) -> dict:
    """The template, CloudFormation's short tags (!Sub, !Ref…) read as their value."""

    class Loader(yaml.SafeLoader):
        pass

    def tagged(loader, _suffix, node):
        if isinstance(node, yaml.ScalarNode):
            return loader.construct_scalar(node)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_mapping(node, deep=True)

    Loader.add_multi_constructor("!", tagged)
    return yaml.load(path.read_text(), Loader=Loader)


def resources(template: dict, kind: str) -> dict:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def default(template: dict, name: str):
    return template["Parameters"][name].get("Default")


def enabled(template: dict, resource: dict) -> bool:
    """Whether a resource exists at the parameters' defaults. The template's
    conditions on a resource are `!Equals [!Ref Parameter, value]`, which
    `load_template` reads as [Parameter, value]; any other form is refused
    rather than priced wrong."""
    name = resource.get("Condition")
    if name is None:
        return True
    condition = template["Conditions"][name]
    if not (isinstance(condition, list) and len(condition) == 2 and condition[0] in template["Parameters"]):
        raise ValueError(f"cannot price a resource under the condition {name}: {condition!r}")
    parameter, value = condition
    return str(default(template, parameter)) == str(value)


def alarm_metrics(alarm: dict) -> int:
    """Metrics an alarm is billed for: its metric, or each metric a
    metric-math alarm reads (MetricStat); its expressions are free."""
    queries = alarm["Properties"].get("Metrics")
    if queries is None:
        return 1
    return sum(1 for q in queries if "MetricStat" in q)


def alarms(template: dict) -> tuple[dict[str, int], dict[str, tuple[str, int]]]:
    """The alarms at the defaults, {name: metrics}, and the opt-in ones,
    {name: (the condition that creates it, metrics)}."""
    on, opt_in = {}, {}
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        if enabled(template, alarm):
            on[name] = alarm_metrics(alarm)
        else:
            parameter, value = template["Conditions"][alarm["Condition"]]
            opt_in[name] = (f"{parameter}={value}", alarm_metrics(alarm))
    return on, opt_in


def runs_per_month(expression: str) -> float:
    """Runs a month of a schedule expression: rate(N unit) or a daily cron."""
    m = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2).rstrip("s")
        per_day = {"minute": 1440, "hour": 24, "day": 1}[unit] / n
        return per_day * DAYS_PER_MONTH
    m = re.fullmatch(r"cron\((\S+) (\S+) \* \* \? \*\)", expression.strip())
    if m and all(p.isdigit() for p in m.groups()):
        return DAYS_PER_MONTH
    raise ValueError(f"cannot price the schedule {expression!r}")


def dashboard_body(template: dict) -> dict:
    (dash,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = re.sub(r"\$\{[^}]+\}", "x", dash["Properties"]["DashboardBody"])
    return json.loads(body)


def memory_mb(template: dict, function: str) -> int:
    props = template["Resources"][function]["Properties"]
    return props.get("MemorySize", template["Globals"]["Function"]["MemorySize"])


def sqs_triggered(template: dict) -> list[str]:
    out = []
    for name, fn in resources(template, "AWS::Serverless::Function").items():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS":
                out.append(name)
    return out


# ----- consistency: what the template refers to is emitted -----


def check_consistency(template: dict, manifest: dict) -> list[str]:
    """Problems: a custom metric that an alarm or the dashboard uses but the
    default level does not emit; a metric source no rule delivers."""
    problems = []
    default_level = default(template, "EventMetrics")
    if default_level != manifest["defaultLevel"]:
        problems.append(
            f"EventMetrics defaults to {default_level!r} in template.yaml, "
            f"{manifest['defaultLevel']!r} in the code"
        )
    emitted = {(e["metric"], tuple(e["dimensions"])) for e in manifest["levels"][default_level]}
    for name, alarm in resources(template, "AWS::CloudWatch::Alarm").items():
        p = alarm["Properties"]
        queries = [(p.get("Namespace"), p.get("MetricName"), p.get("Dimensions", []))]
        for q in p.get("Metrics", []):
            stat = q.get("MetricStat", {}).get("Metric", {})
            queries.append((stat.get("Namespace"), stat.get("MetricName"), stat.get("Dimensions", [])))
        for ns, metric, dims in queries:
            if ns is None or not str(ns).startswith("AWS/"):
                if metric is None:
                    continue
                key = (metric, tuple(d["Name"] for d in dims))
                if not any(m == metric and [d.split("=")[0] for d in s] == list(key[1]) for m, s in emitted):
                    problems.append(f"alarm {name} watches {metric} {list(key[1])}, not emitted by default")
    for widget in dashboard_body(template)["widgets"]:
        for m in widget["properties"].get("metrics", []):
            if m[0] != "x":  # ${MetricsNamespace}, filled with x
                continue
            parts = [p for p in m[2:] if isinstance(p, str)]
            dims = tuple(f"{d}={v}" if v != "x" else d for d, v in zip(parts[::2], parts[1::2]))
            if (m[1], dims) not in emitted:
                problems.append(f"the dashboard graphs {m[1]} {list(dims)}, not emitted by default")
    graphed = sum(len(w["properties"].get("metrics", [])) for w in dashboard_body(template)["widgets"])
    if graphed > 50:
        problems.append(f"the dashboard graphs {graphed} metrics: a free dashboard has at most 50")
    rule = template["Resources"]["MetricsRule"]["Properties"]["EventPattern"]["detail-type"]
    for level, entries in manifest["levels"].items():
        for e in entries:
            if e["source"] in EVENTS_PER_BUILD and e["source"] not in rule:
                problems.append(f"{e['metric']} comes from {e['source']}, which MetricsRule does not deliver")
            if e["source"] not in EVENTS_PER_BUILD and e["source"] not in ("daily-figures", "cleanup run"):
                problems.append(f"{e['metric']}: no rate for its source {e['source']!r} (scripts/cost.py)")
    return problems


# ----- custom metrics -----


def metric_months(template: dict, manifest: dict, level: str) -> tuple[float, int]:
    """Billed metric-months of one environment at `level`, and the number of
    metrics (dimension-value combinations) that can exist. A metric is billed
    for each hour it receives data: events arrive as a Poisson stream spread
    over the day (an upper bound: real builds bunch in working hours), daily
    lines are one hour a day."""
    a = ADOPTER
    builds_per_hour = a["builds_per_day"] / a["environments"] / 24
    categories = manifest["categories"]
    cleanup_per_day = runs_per_month(default(template, "CleanupSchedule")) / DAYS_PER_MONTH
    rates: dict[tuple, float] = {}
    series: dict[tuple, int] = {}
    for e in manifest["levels"][level]:
        dims = tuple(e["dimensions"])
        key = (e["metric"], dims)
        n = 1
        if "App" in dims:
            n *= a["apps"]
        if "Branch" in dims:
            n *= a["branches_per_app"]
        if "Category" in dims:
            n *= categories
        series[key] = n
        if e["source"] == "daily-figures":
            rates[key] = math.inf  # one hour a day, handled below
        elif e["source"] == "cleanup run":
            rates[key] = -cleanup_per_day  # marker: runs a day
        else:
            rates[key] = rates.get(key, 0) + EVENTS_PER_BUILD[e["source"]] * builds_per_hour / n
    months = 0.0
    for key, rate in rates.items():
        if rate == math.inf:
            share = 1 / 24
        elif rate < 0:
            share = min(-rate, 24) / 24
        else:
            share = 1 - math.exp(-rate)
        months += series[key] * share
    return months, sum(series.values())


# ----- the tables -----


def fixed_per_environment(template: dict, manifest: dict, level: str) -> list[tuple[str, float, str]]:
    """(item, $ a month, how) for one environment."""
    p, e, a = PRICE, ESTIMATE, ADOPTER
    rows = []
    months, count = metric_months(template, manifest, level)
    rows.append(
        (
            f"custom metrics (`EventMetrics={level}`)",
            months * p["metric_month"],
            f"{count} metrics, {months:.2f} metric-months billed",
        )
    )
    on, _ = alarms(template)
    count = sum(on.values())
    each = ", ".join(f"{name} {n}" for name, n in on.items())
    rows.append(("alarms", count * p["alarm_metric_month"], f"{count} alarm metrics ({each})"))
    dashboards = len(resources(template, "AWS::CloudWatch::Dashboard"))
    per_account = dashboards * a["environments"]
    billed = max(0, per_account - p["free_dashboards"]) / a["environments"]
    rows.append(
        (
            "dashboard",
            billed * p["dashboard_month"],
            f"{per_account} in the account: within the {p['free_dashboards']} free",
        )
    )
    keys = len(resources(template, "AWS::KMS::Key"))
    rows.append(("KMS key (alert topic)", keys * p["kms_key_month"], f"{keys} key"))
    # Scheduled runs: the live health check, the hourly figures, cleanup.
    branches = a["apps"] * a["branches_per_app"]
    checks = runs_per_month(default(template, "HealthCheckSchedule"))
    figures = runs_per_month(default(template, "MetricsSchedule"))
    cleanups = runs_per_month(default(template, "CleanupSchedule"))
    lam = 0.0
    for runs, fn, seconds in (
        (checks, "HealthCheckerFunction", e["scheduled_check_seconds"]),
        (figures, "MetricsCollectorFunction", e["metrics_run_seconds"]),
        (cleanups, "CleanupFunction", e["cleanup_run_seconds"]),
    ):
        lam += runs * (seconds * memory_mb(template, fn) / 1024 * p["lambda_gb_s"] + p["lambda_request"])
    runs = checks + figures + cleanups
    rows.append(("scheduled runs: Lambda", lam, f"{runs:,.0f} invocations"))
    rows.append(("scheduled runs: X-Ray", runs * p["xray_trace"], f"{runs:,.0f} traces"))
    query_rru = e["scheduled_check_query_items"] * e["record_kb"] / 4 / 2
    check_rru = query_rru + branches * 4
    check_wru = branches * math.ceil(e["record_kb"])
    figures_wru = 7  # 6 snapshots and the day's claim
    ddb = checks * (check_rru * p["ddb_rru"] + check_wru * p["ddb_wru"]) + figures * figures_wru * p["ddb_wru"]
    rows.append(("scheduled runs: DynamoDB", ddb, f"live checks read {check_rru:.0f} units a run"))
    sqs = runs * 3 * p["sqs_request"]
    logs = runs * e["scheduled_log_kb"] / GB * p["logs_gb_ingested"]
    rows.append(("scheduled runs: SQS and logs", sqs + logs, "3 requests and ~2 KB a run"))
    queues = len(sqs_triggered(template))
    polls = queues * e["idle_pollers_per_queue"] * 3 * 60 * 24 * DAYS_PER_MONTH
    rows.append(("Lambda's SQS pollers (empty receives)", polls * p["sqs_request"], f"{queues} queues, {polls / 1e6:.1f} M requests"))
    return rows


def per_build(template: dict) -> list[tuple[str, float, str]]:
    """(item, $ per build, how): the build's own work, then what each build
    costs the stacks of the other environments (they see its Amplify events)."""
    p, m, e, a = PRICE, MEASURED_PER_BUILD, ESTIMATE, ADOPTER
    rows = [
        ("Lambda (measured)", m["gb_s"] * p["lambda_gb_s"] + m["invocations"] * p["lambda_request"], f"{m['gb_s']} GB-s, {m['invocations']} invocations"),
        ("DynamoDB writes and reads (measured)", m["wru"] * p["ddb_wru"] + m["rru"] * p["ddb_rru"], f"{m['wru']} WRU, {m['rru']} RRU"),
        ("EventBridge, SQS, SNS (measured)", m["events_published"] * p["events_published"] + m["sqs_requests"] * p["sqs_request"] + m["sns_publishes"] * p["sns_publish"], f"{m['events_published']} events, {m['sqs_requests']} requests, {m['sns_publishes']} publishes"),
        ("X-Ray", m["invocations"] * p["xray_trace"], "a trace per invocation (the sampler's 1/s reservoir takes them all at this rate)"),
    ]
    reads = 24 * 31 * e["record_kb"] / 4 / 2
    rows.append(("hourly figures: the record read again", reads * p["ddb_rru"], f"31 days × 24 runs, {reads:.0f} RRU"))
    retention = int(default(template, "RetentionDays"))
    scans = retention * e["record_kb"] / 4 / 2
    storage = e["record_kb"] / GB * retention / DAYS_PER_MONTH * (p["ddb_gb_month"] + p["pitr_gb_month"])
    rows.append(("cleanup's daily read, table storage and PITR", scans * p["ddb_rru"] + storage, f"{retention} days kept"))
    log_retention = int(default(template, "LogRetentionDays"))
    logs = m["log_kb"] / GB * (p["logs_gb_ingested"] + p["logs_gb_month"] * log_retention / DAYS_PER_MONTH)
    rows.append(("CloudWatch Logs", logs, f"{m['log_kb']} KB ingested, kept {log_retention} days"))
    rows.append(("KMS requests and event archive", m["sns_publishes"] * 2 * p["kms_request"] + e["archived_kb_per_build"] / GB * p["archive_gb"], "2 requests an encrypted publish"))
    # Each would-have: one event on the bus, the record written again with
    # its outbox, the alerter's queue (send, receive, delete) and invocation.
    observed = OBSERVED_PER_BUILD * (
        p["events_published"] + 2 * math.ceil(e["record_kb"]) * p["ddb_wru"] + 3 * p["sqs_request"] + p["lambda_request"] + p["xray_trace"]
    )
    rows.append(
        (
            "observe mode (default): \"Action Observed\"",
            observed,
            f"{OBSERVED_PER_BUILD:.2f} would-haves a build; Amplify's ListDomainAssociations and SSM's DescribeParameters (custom domains, secrets) are free API calls",
        )
    )
    own = sum(r[1] for r in rows)
    skip_events = m["amplify_events"]
    skip = skip_events * (
        3 * p["sqs_request"]
        + p["lambda_request"]
        + e["skip_ms"] / 1000 * memory_mb(template, "BuildEventHandlerFunction") / 1024 * p["lambda_gb_s"]
        + p["xray_trace"]
        + e["skip_log_kb"] / GB * p["logs_gb_ingested"]
    )
    others = a["environments"] - 1
    rows.append(
        (
            f"out-of-scope Amplify events in the {others} other stacks",
            skip * others,
            f"{skip_events} events each, skipped by the build-event handler",
        )
    )
    return rows, own


def github_events(template: dict) -> list[str]:
    """The events the alerter's rule takes only when GitHub is on: the
    pattern's `!If [GitHubOn, TYPE, !Ref AWS::NoValue]` items."""
    out = []
    for item in template["Resources"]["AlertRule"]["Properties"]["EventPattern"]["detail-type"]:
        if isinstance(item, list):
            if not (len(item) == 3 and item[0] == "GitHubOn" and item[2] == "AWS::NoValue"):
                raise ValueError(f"cannot price the alerter's rule item {item!r}")
            out.append(item[1])
    return out


def github(template: dict) -> list[tuple[str, float, str]]:
    """(item, $ per build, how) of GitHub on. It adds no fixed cost: no
    resource is conditioned on it (refused otherwise, never priced as free),
    its credentials are an SSM standard parameter (free) under aws/ssm."""
    github_conditions = {c for c in template["Conditions"] if c.startswith("GitHub")}
    fixed = [n for n, r in template["Resources"].items() if r.get("Condition") in github_conditions]
    if fixed:
        raise ValueError(f"cannot price GitHub's own resources {fixed}: add them to the fixed cost")
    p, g = PRICE, GITHUB
    rate = {"Build Started": 1.0, "Build Cancelled": g["cancelled_per_build"], "Build Skipped": g["skipped_per_build"]}
    events = github_events(template)
    unknown = [e for e in events if e not in rate]
    if unknown:
        raise ValueError(f"no rate for the events {unknown} (scripts/cost.py GITHUB)")
    delivered = sum(rate[e] for e in events)
    gb_s = memory_mb(template, "AlerterFunction") / 1024
    invocations = delivered * (
        3 * p["sqs_request"] + p["lambda_request"] + g["extra_ms"] / 1000 * gb_s * p["lambda_gb_s"]
        + p["xray_trace"] + g["extra_log_kb"] / GB * p["logs_gb_ingested"]
    )
    published = g["skipped_per_build"] * p["events_published"]
    waiting = g["calls_per_build"] * g["call_ms"] / 1000 * gb_s * p["lambda_gb_s"]
    records = g["wru_per_build"] * p["ddb_wru"]
    credentials = 2 * g["cold_starts_per_build"] * p["kms_request"]
    retries = g["calls_per_build"] * g["retry_share"] * (3 * p["sqs_request"] + p["lambda_request"])
    return [
        (f"the alerter's extra deliveries ({', '.join(events)})", invocations + published,
         f"{delivered:.2f} a build: queue, invocation, trace, log; \"Build Skipped\" published"),
        ("waiting on GitHub's API", waiting, f"{g['calls_per_build']} calls of ~{g['call_ms']} ms (GitHub's API is free)"),
        ("check run and deployment ids on the record", records, f"{g['wru_per_build']} WRU"),
        ("credentials: SSM GetParameter, KMS decrypt", credentials,
         f"once per cold start ({g['cold_starts_per_build']} a build per function): the parameter and its API free, "
         f"{money(p['kms_request'] * 10_000)} per 10,000 decrypts"),
        ("retries to the alerter's own queue", retries, f"{g['retry_share']:.0%} of the updates"),
    ]


def money(x: float) -> str:
    if x == 0:
        return "$0"
    if x < 0.01:
        return f"${x:.7f}".rstrip("0")
    return f"${x:,.2f}"


def report(template: dict, manifest: dict) -> tuple[str, dict]:
    a = ADOPTER
    level = default(template, "EventMetrics")
    fixed = fixed_per_environment(template, manifest, level)
    fixed_total = sum(r[1] for r in fixed)
    builds_rows, own = per_build(template)
    build_total = sum(r[1] for r in builds_rows)
    builds_month = a["builds_per_day"] * DAYS_PER_MONTH
    builds_env = builds_month / a["environments"]
    lines = [
        f"Adopter: {a['apps']} apps × {a['environments']} environments (one stack each, "
        f"{a['branches_per_app']} watched branch per app), {a['builds_per_day']:,} builds a day in total; "
        f"defaults of template.yaml (`EventMetrics={level}`).",
        "",
        "### Fixed, per environment and month (default settings)",
        "",
        "| item | cost | how |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {money(cost)} | {how} |" for name, cost, how in fixed]
    lines += [f"| **fixed per environment** | **{money(fixed_total)}** | |", ""]
    _, opt_in = alarms(template)
    if opt_in:
        lines += [
            "### Opt-in alarms, per environment and month",
            "",
            "| alarm | parameter | alarm metrics | cost | fixed per environment |",
            "|---|---|---|---|---|",
        ]
        for name, (parameter, n) in opt_in.items():
            extra = n * PRICE["alarm_metric_month"]
            lines.append(f"| {name} | `{parameter}` | {n} | {money(extra)} | {money(fixed_total + extra)} |")
        lines.append("")
    gh = github(template)
    gh_build = sum(r[1] for r in gh)
    lines += [
        "### Opting in to GitHub (`GitHubAppId` or `GitHubTokenParameter`), per build",
        "",
        f"No fixed cost: no queue, alarm or key of its own; the credentials are an SSM SecureString "
        f"standard parameter (free, its API calls too) under the AWS managed key `aws/ssm` (free; "
        f"Secrets Manager would add {money(SECRETS_MANAGER_SECRET_MONTH)} a month per environment). "
        f"Off (the default), none of this is billed.",
        "",
        "| item | per build | how |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {money(cost)} | {how} |" for name, cost, how in gh]
    lines += [
        f"| **GitHub, per build** | **{money(gh_build)}** | {money(gh_build * builds_env)} a month per environment "
        f"at {builds_env:,.0f} builds |",
        "",
    ]
    lines += [
        "### Opting in to per-event metrics (`EventMetrics`), per environment and month",
        "",
        "| EventMetrics | metrics | custom metrics | fixed per environment |",
        "|---|---|---|---|",
    ]
    for lvl in [x for x in LEVELS if x in manifest["levels"]]:
        months, count = metric_months(template, manifest, lvl)
        total = sum(r[1] for r in fixed_per_environment(template, manifest, lvl))
        lines.append(f"| `{lvl}`{' (default)' if lvl == level else ''} | {count} | {money(months * PRICE['metric_month'])} | {money(total)} |")
    lines += [
        "",
        "### Per build",
        "",
        "| item | per build | how |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {money(cost)} | {how} |" for name, cost, how in builds_rows]
    lines += [f"| **per build** | **{money(build_total)}** | its own work {money(own)} |", ""]
    env_month = fixed_total + build_total * builds_env
    lines += [
        "### The adopter's month",
        "",
        "| | per environment | all environments |",
        "|---|---|---|",
        f"| fixed | {money(fixed_total)} | {money(fixed_total * a['environments'])} |",
        f"| builds ({builds_env:,.0f} per environment) | {money(build_total * builds_env)} | {money(build_total * builds_month)} |",
        f"| **total** | **{money(env_month)}** | **{money(env_month * a['environments'])}** |",
        "",
    ]
    per_view = len([w for w in dashboard_body(template)["widgets"] if w["type"] == "log"]) * (
        builds_env / DAYS_PER_MONTH * 7 * 5 / GB * PRICE["insights_gb_scanned"]
    )
    lines += [
        f"Not in the totals: a dashboard view runs its Logs Insights widgets over 7 days of the "
        f"collector's lines (~5 KB a build): {money(per_view)} a view; "
        f"{ESTIMATE['dashboard_views_per_day']} views a day are "
        f"{money(per_view * ESTIMATE['dashboard_views_per_day'] * DAYS_PER_MONTH)} a month. "
        f"A dashboard beyond the account's {PRICE['free_dashboards']} free ones adds {money(PRICE['dashboard_month'])}.",
    ]
    figures = {"fixed_per_environment": fixed_total, "per_build": build_total, "level": level,
               "github_per_build": gh_build}
    return "\n".join(lines) + "\n", figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help="update docs/cost.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/cost.md is not up to date")
    args = parser.parse_args()
    template = load_template()
    manifest = json.loads(MANIFEST.read_text())
    problems = check_consistency(template, manifest)
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    text, _ = report(template, manifest)
    if not (args.write or args.check):
        print(text, end="")
        return 0
    doc = DOC.read_text()
    start, end = doc.find(BEGIN), doc.find(END)
    if start < 0 or end < 0:
        print(f"{DOC}: no {BEGIN!r} … {END!r} section", file=sys.stderr)
        return 1
    updated = doc[: start + len(BEGIN)] + "\n" + text + doc[end:]
    if args.check:
        if updated != doc:
            print(f"{DOC} is out of date: run scripts/cost.py --write", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
