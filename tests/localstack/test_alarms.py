"""The alarms and the schedules' delivery, read from template.yaml (#18 item
13): where failures could hide, something notifies the alert topic. Every
queue's records are watched (their age, or the DLQ's depth), at thresholds
that follow each queue's retry window; the alert topic's failed deliveries
and the table's throttles (opt-in) have their alarm; every rule's target
retries, then dead-letters to the stack's DLQ, whose policy lets exactly
those rules send to it. No stack needed: moto's CloudFormation creates no
alarm and no queue policy (test_cloudformation.py, MOTO_GAPS), so they are
checked here; the rule targets moto does create are checked there."""

import json
import os
import re

import pytest
import yaml

from provision import cfn_loader

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
RUNBOOKS = os.path.join(ROOT, "docs", "runbooks.md")
# The share of a queue's retry window (visibility timeout x maxReceiveCount)
# after which RecordsRetryingAlarm fires: 1.5 visibility timeouts.
RETRY_WINDOW_SHARE = 0.3
SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


@pytest.fixture(scope="module")
def template():
    with open(os.path.join(ROOT, "template.yaml")) as f:
        return yaml.load(f, Loader=cfn_loader())


def of_type(template, kind):
    return {n: r for n, r in template["Resources"].items() if r["Type"] == kind}


def getatt(value, attribute):
    """The logical id of `!GetAtt X.attribute`, else None."""
    if isinstance(value, dict) and list(value) == ["Fn::GetAtt"] and value["Fn::GetAtt"][1] == attribute:
        return value["Fn::GetAtt"][0]
    return None


def alarm_queries(alarm):
    """(metric id, namespace, metric name, {dimension: value}) of what an
    alarm reads: its metric, or each MetricStat of a metric-math alarm."""
    p = alarm["Properties"]
    if "Metrics" not in p:
        return [(None, p["Namespace"], p["MetricName"], {d["Name"]: d["Value"] for d in p.get("Dimensions", [])})]
    out = []
    for q in p["Metrics"]:
        if "MetricStat" in q:
            m = q["MetricStat"]["Metric"]
            out.append((q["Id"], m["Namespace"], m["MetricName"], {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}))
    return out


def watched(template, namespace, metric, dimension, attribute):
    """{logical id: (alarm, metric id)} of the resources whose `metric` some
    alarm reads, the dimension being `!GetAtt <resource>.<attribute>`."""
    out = {}
    for name, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        for qid, ns, m, dims in alarm_queries(alarm):
            logical = getatt(dims.get(dimension), attribute)
            if ns == namespace and m == metric and logical:
                out[logical] = (name, qid)
    return out


def age_thresholds(alarm):
    """{metric id: seconds} of the records-retrying expression: each queue's
    age divided by its threshold, the alarm returning their MAX at 1."""
    p = alarm["Properties"]
    exprs = {q["Id"]: q for q in p["Metrics"] if "Expression" in q}
    (returned,) = [q for q in exprs.values() if q.get("ReturnData")]
    assert all(q.get("ReturnData") is False for q in p["Metrics"] if q is not returned)
    m = re.fullmatch(r"MAX\(\[(.*)\]\)", returned["Expression"])
    assert m, returned["Expression"]
    thresholds = {}
    for ratio in (r.strip() for r in m.group(1).split(",")):
        term = re.fullmatch(r"FILL\((\w+), 0\) / (\d+)", exprs[ratio]["Expression"])
        assert term, exprs[ratio]["Expression"]
        thresholds[term.group(1)] = int(term.group(2))
    assert p["Threshold"] == 1 and p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    return thresholds


def consumer(template, queue):
    """The function reading `queue`, and the longest time from a record's
    receive to its delete (its timeout and its batching window)."""
    timeout = template["Globals"]["Function"]["Timeout"]
    for name, fn in of_type(template, "AWS::Serverless::Function").items():
        for event in fn["Properties"].get("Events", {}).values():
            if event["Type"] == "SQS" and getatt(event["Properties"]["Queue"], "Arn") == queue:
                p = event["Properties"]
                return name, fn["Properties"].get("Timeout", timeout) + p.get("MaximumBatchingWindowInSeconds", 0)
    raise AssertionError(f"no function reads {queue}")


# ----- queues -----

def test_every_queue_is_watched_by_the_age_of_its_records_or_its_depth(template):
    queues = of_type(template, "AWS::SQS::Queue")
    retrying = {n for n, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    dead_letter = {getatt(q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"], "Arn")
                   for n, q in queues.items() if n in retrying}
    assert retrying and dead_letter and retrying | dead_letter == set(queues), queues.keys()
    ages = watched(template, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "QueueName")
    assert set(ages) == retrying, "each function queue's age, and no other"
    # All in the one metric-math alarm, whose MAX takes each of them.
    (alarm,) = {a for a, _ in ages.values()}
    thresholds = age_thresholds(template["Resources"][alarm])
    assert set(thresholds) == {qid for _, qid in ages.values()}
    # What nothing retries any more is alarmed the moment it arrives.
    depths = watched(template, "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "QueueName")
    assert set(depths) == dead_letter
    for name, _ in depths.values():
        p = template["Resources"][name]["Properties"]
        assert (p["Statistic"], p["Threshold"], p["ComparisonOperator"]) == ("Maximum", 0, "GreaterThanThreshold")


def test_each_queues_threshold_follows_its_retry_window(template):
    """A record that failed once and succeeded when redelivered stays below
    (it is deleted by V + the function's time at the latest); a record that
    fails again crosses it before its third receive at 2V, after which SQS
    leaves it out of ApproximateAgeOfOldestMessage."""
    ages = watched(template, "AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "QueueName")
    (alarm,) = {a for a, _ in ages.values()}
    thresholds = age_thresholds(template["Resources"][alarm])
    description = template["Resources"][alarm]["Properties"]["AlarmDescription"]
    dashboard = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for queue, (_, qid) in ages.items():
        p = template["Resources"][queue]["Properties"]
        visibility, receives = p["VisibilityTimeout"], p["RedrivePolicy"]["maxReceiveCount"]
        _, busy = consumer(template, queue)
        threshold = thresholds[qid]
        assert visibility + busy < threshold < 2 * visibility, (queue, threshold)
        assert threshold == RETRY_WINDOW_SHARE * visibility * receives, (queue, threshold)
        # Said where the operator reads it: the notice and the dashboard.
        assert f"{threshold} s" in description, (queue, threshold)
        name = p["QueueName"]["Fn::Sub"].removeprefix("deploy-sentinel-${Environment}-")
        assert f'"label": "{name} (alarm at {threshold} s)"' in dashboard, name


# ----- the alert topic, the table -----

def test_every_topics_failed_deliveries_are_alarmed(template):
    topics = of_type(template, "AWS::SNS::Topic")
    failed = watched(template, "AWS/SNS", "NumberOfNotificationsFailed", "TopicName", "TopicName")
    assert topics and set(failed) == set(topics)
    for name, _ in failed.values():
        alarm = template["Resources"][name]
        assert "Condition" not in alarm, "on by default"
        p = alarm["Properties"]
        assert (p["Statistic"], p["Threshold"], p["ComparisonOperator"]) == ("Sum", 0, "GreaterThanThreshold")


def test_the_tables_and_its_indexes_throttles_are_alarmed_when_asked(template):
    table = template["Resources"]["DeploymentsTable"]["Properties"]
    name = table["TableName"]  # fixed: the alarm holds with AdoptTable=true too
    indexes = [i["IndexName"] for i in table["GlobalSecondaryIndexes"]]
    wanted = {(metric, index) for metric in ("ReadThrottleEvents", "WriteThrottleEvents")
              for index in [None, *indexes]}
    seen = {}
    for alarm_name, alarm in of_type(template, "AWS::CloudWatch::Alarm").items():
        for qid, ns, metric, dims in alarm_queries(alarm):
            if ns == "AWS/DynamoDB" and dims.get("TableName") == name:
                seen[(metric, dims.get("GlobalSecondaryIndexName"))] = (alarm_name, qid)
    assert set(seen) == wanted, seen
    (alarm_name,) = {a for a, _ in seen.values()}
    alarm = template["Resources"][alarm_name]
    # Summed: any of the four counts.
    (returned,) = [q for q in alarm["Properties"]["Metrics"] if q.get("ReturnData")]
    assert sorted(re.findall(r"FILL\((\w+), 0\)", returned["Expression"])) == sorted(q for _, q in seen.values())
    assert " + ".join(f"FILL({q}, 0)" for q in re.findall(r"FILL\((\w+), 0\)", returned["Expression"])) \
        == returned["Expression"]
    # Opt-in through its parameter, off by default (docs/cost.md prices it).
    condition = template["Conditions"][alarm["Condition"]]
    (parameter, value) = condition["Fn::Equals"]
    assert template["Parameters"][parameter["Ref"]]["Default"] == "off" and value == "on"


def test_every_alarm_notifies_the_alert_topic_and_names_its_runbook(template):
    with open(RUNBOOKS) as f:
        sections = {line[3:].strip() for line in f if line.startswith("## ")}
    alarms = of_type(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 4
    for name, alarm in alarms.items():
        p = alarm["Properties"]
        assert p["AlarmActions"] == [{"Ref": "AlertTopic"}] == p["OKActions"], name
        assert p["TreatMissingData"] == "notBreaching", name
        runbook = re.search(r'docs/runbooks\.md, "([^"]+)"', p["AlarmDescription"])
        assert runbook and runbook.group(1) in sections, (name, sorted(sections))
        assert len(p["AlarmDescription"]) <= 1024, name  # CloudWatch's limit


# ----- rules: retry, then the DLQ -----

def period_seconds(expression):
    m = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression)
    if m:
        return int(m.group(1)) * SECONDS[m.group(2)]
    assert re.fullmatch(r"cron\(\d+ \d+ \* \* \? \*\)", expression), expression
    return SECONDS["day"]


def test_every_rule_target_retries_then_dead_letters_to_the_stacks_dlq(template):
    rules = of_type(template, "AWS::Events::Rule")
    schedules = {n for n, r in rules.items() if "ScheduleExpression" in r["Properties"]}
    assert schedules == {"LiveHealthScheduleRule", "MetricsScheduleRule", "CleanupScheduleRule"}
    for name, rule in rules.items():
        for target in rule["Properties"]["Targets"]:
            assert getatt(target.get("DeadLetterConfig", {}).get("Arn"), "Arn") == "DeadLetterQueue", name
            retry = target.get("RetryPolicy", {})
            assert 0 < retry.get("MaximumRetryAttempts", 0) <= 185, name
            assert 60 <= retry.get("MaximumEventAgeInSeconds", 0) <= 86400, name
            if name in schedules:
                # Retried for one period of the default schedule: a later
                # run then takes the missed one's place.
                expression = template["Parameters"][rule["Properties"]["ScheduleExpression"]["Ref"]]["Default"]
                assert retry["MaximumEventAgeInSeconds"] == period_seconds(expression), name


def allowed_rules(template):
    """{queue: {rule}}: the rules the queue policies let EventBridge send
    from, per queue. Every grant to EventBridge must name its rules."""
    out = {}
    for policy in of_type(template, "AWS::SQS::QueuePolicy").values():
        for st in policy["Properties"]["PolicyDocument"]["Statement"]:
            if set(st) == {"Fn::If"}:
                # A statement under a condition (StackRuleDelivers: only
                # with WatchedStacks): the statement it gives when it holds.
                st = st["Fn::If"][1]
            if st["Effect"] != "Allow" or st["Principal"] != {"Service": "events.amazonaws.com"}:
                continue
            assert st["Action"] == "sqs:SendMessage", st
            source = st.get("Condition", {}).get("ArnEquals", {}).get("aws:SourceArn")
            assert source, f"{st['Sid']}: EventBridge may send for any rule"
            sources = source if isinstance(source, list) else [source]
            rules = {getatt(s, "Arn") for s in sources}
            assert None not in rules, st["Sid"]
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            for r in resources:
                out.setdefault(getatt(r, "Arn"), set()).update(rules)
    return out


def test_the_dlqs_policy_lets_exactly_the_rules_that_dead_letter_to_it_send(template):
    rules = of_type(template, "AWS::Events::Rule")
    dead_lettering = {n for n, r in rules.items()
                      if any(getatt(t.get("DeadLetterConfig", {}).get("Arn"), "Arn") == "DeadLetterQueue"
                             for t in r["Properties"]["Targets"])}
    allowed = allowed_rules(template)
    assert allowed.get("DeadLetterQueue") == dead_lettering
    assert {"LiveHealthScheduleRule", "MetricsScheduleRule", "CleanupScheduleRule"} <= dead_lettering
    # And each function queue lets exactly the rules that target it.
    for queue in of_type(template, "AWS::SQS::Queue"):
        if queue == "DeadLetterQueue":
            continue
        targeting = {n for n, r in rules.items()
                     if any(getatt(t["Arn"], "Arn") == queue for t in r["Properties"]["Targets"])}
        assert allowed.get(queue, set()) == targeting, queue
