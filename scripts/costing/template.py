"""What template.yaml says that costs: resources at the parameters'
defaults, alarms and their metrics, schedules, the dashboard, memory sizes,
SQS-triggered functions, the events GitHub on adds to the alerter's rule."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from .prices import DAYS_PER_MONTH

ROOT = Path(__file__).resolve().parent.parent.parent


TEMPLATE = ROOT / "template.yaml"
MANIFEST = ROOT / "docs" / "metrics-emitted.json"


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
