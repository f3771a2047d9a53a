"""The costs: custom metrics billed per hour with data, the fixed cost of an
environment, a build's own work and what it costs the other stacks, GitHub
on; and dollars as the tables write them."""

from __future__ import annotations

import math

from .prices import (ADOPTER, DAYS_PER_MONTH, ESTIMATE, EVENTS_PER_BUILD, GB, GITHUB, MEASURED_PER_BUILD,
                     OBSERVED_PER_BUILD, PRICE)
from .template import alarms, default, github_events, memory_mb, resources, runs_per_month, sqs_triggered


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
