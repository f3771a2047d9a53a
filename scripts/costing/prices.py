"""The prices, the adopter's profile, what a build causes, what was
measured and what is estimated: data only."""


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
