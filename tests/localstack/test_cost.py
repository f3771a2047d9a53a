"""docs/cost.md's tables are what scripts/cost.py computes from template.yaml
and docs/metrics-emitted.json (the metrics the code emits, kept true by a
Rust test), and the default fixed cost per environment stays within $5.50
a month ($5 until #28 gave reported services' checks a queue of their own:
its Lambda pollers and its alarm metric cost $0.36). No stack needed."""

import copy
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "cost.py"


@pytest.fixture(scope="module")
def cost():
    spec = importlib.util.spec_from_file_location("cost", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def inputs(cost):
    return cost.load_template(), json.loads(cost.MANIFEST.read_text())


def test_the_doc_has_the_scripts_tables():
    run = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_the_default_fixed_cost_per_environment_is_at_most_5_50(cost, inputs):
    _, figures = cost.report(*inputs)
    assert figures["level"] == "off"
    assert 0 < figures["fixed_per_environment"] <= 5.5, figures


def test_the_template_refers_only_to_metrics_emitted_by_default(cost, inputs):
    template, manifest = inputs
    assert cost.check_consistency(template, manifest) == []
    # An alarm on a per-branch metric would never fire by default: named.
    broken = copy.deepcopy(template)
    broken["Resources"]["BranchFailuresAlarm"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "Namespace": "${MetricsNamespace}",
            "MetricName": "BuildsFailed",
            "Dimensions": [{"Name": "Environment"}, {"Name": "App"}, {"Name": "Branch"}],
        },
    }
    problems = cost.check_consistency(broken, manifest)
    assert any("BranchFailuresAlarm" in p for p in problems), problems


def test_metrics_are_priced_from_the_manifest(cost, inputs):
    template, manifest = inputs
    levels = [cost.metric_months(template, manifest, lvl) for lvl in cost.LEVELS]
    # Each level adds dimension sets: more metrics, a higher bill.
    assert [m for m, _ in levels] == sorted(m for m, _ in levels)
    assert [n for _, n in levels] == sorted(n for _, n in levels)
    # One more metric per event at the default level costs: the manifest drives the bill.
    more = copy.deepcopy(manifest)
    more["levels"]["off"].append({"source": "Build Succeeded", "metric": "X", "dimensions": ["Environment"]})
    assert cost.metric_months(template, more, "off")[0] > levels[0][0] + 0.9


def test_alarms_are_priced_per_metric_they_read_at_the_default_parameters(cost, inputs):
    template, _ = inputs
    on, opt_in = cost.alarms(template)
    # A metric-math alarm pays for each metric it reads, not its expressions.
    assert on["RecordsRetryingAlarm"] == 8
    assert sum(1 for q in template["Resources"]["RecordsRetryingAlarm"]["Properties"]["Metrics"]
               if "Expression" in q) == 9
    # An alarm a parameter adds is priced apart, and counts once switched on.
    assert opt_in == {"TableThrottledAlarm": ("TableThrottleAlarm=on", 4)}
    switched = copy.deepcopy(template)
    switched["Parameters"]["TableThrottleAlarm"]["Default"] = "on"
    on_too, none = cost.alarms(switched)
    assert none == {} and sum(on_too.values()) == sum(on.values()) + 4
    # A condition it cannot evaluate is refused, never priced as free.
    odd = copy.deepcopy(template)
    odd["Conditions"]["HasTableThrottleAlarm"] = [["TableThrottleAlarm", "on"]]
    with pytest.raises(ValueError, match="HasTableThrottleAlarm"):
        cost.alarms(odd)


def test_github_adds_no_fixed_cost_and_is_priced_per_build_from_the_alerters_rule(cost, inputs):
    template, manifest = inputs
    _, figures = cost.report(template, manifest)
    # The events the alerter takes only with GitHub on, read from its rule.
    assert cost.github_events(template) == ["Build Started", "Build Cancelled", "Build Skipped"]
    assert 0 < figures["github_per_build"] < figures["per_build"], figures
    # Its share follows the rule: without the build starts, far less.
    fewer = copy.deepcopy(template)
    pattern = fewer["Resources"]["AlertRule"]["Properties"]["EventPattern"]
    pattern["detail-type"] = [t for t in pattern["detail-type"] if t != ["GitHubOn", "Build Started", "AWS::NoValue"]]
    assert sum(r[1] for r in cost.github(fewer)) < figures["github_per_build"] / 2
    # A resource of its own (a queue, an alarm, a secret) is refused, never priced as free.
    queued = copy.deepcopy(template)
    queued["Resources"]["GitHubQueue"] = {"Type": "AWS::SQS::Queue", "Condition": "GitHubOn", "Properties": {}}
    with pytest.raises(ValueError, match="GitHubQueue"):
        cost.github(queued)
    # An event the script has no rate for is refused too.
    odd = copy.deepcopy(template)
    odd["Resources"]["AlertRule"]["Properties"]["EventPattern"]["detail-type"].append(
        ["GitHubOn", "Build Queued", "AWS::NoValue"])
    with pytest.raises(ValueError, match="Build Queued"):
        cost.github(odd)
