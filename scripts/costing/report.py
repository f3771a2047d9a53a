"""The adopter's tables (Markdown), and the figures the tests hold."""

from __future__ import annotations

from .prices import ADOPTER, DAYS_PER_MONTH, ESTIMATE, GB, LEVELS, PRICE, SECRETS_MANAGER_SECRET_MONTH
from .pricing import fixed_per_environment, github, metric_months, money, per_build
from .template import alarms, dashboard_body, default


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
