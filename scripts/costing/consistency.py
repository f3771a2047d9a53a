"""What the template refers to is emitted: every custom metric an alarm or
the dashboard uses, at the default level; every metric's source priced."""

from __future__ import annotations

from .prices import EVENTS_PER_BUILD
from .template import dashboard_body, default, resources


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
