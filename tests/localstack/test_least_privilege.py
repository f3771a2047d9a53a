"""Each function's role grants exactly what its code calls (issue #18 item
12), its table access is held to the partition keys its code uses, its
Amplify ARNs name the stack's partition, region and account, and the
stack's bus takes only the stack's own events from the stack's own roles
(item 10). What the code calls is read from the Rust source by
least_privilege.py (a static scan: every path counts, however rare);
`make reliability` confirms it with the calls the functions really make.

No network: the template and the source are read; nothing is deployed."""

import copy
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

import least_privilege as lp

FUNCTIONS = sorted(lp.deployed_functions())
ROLES = {f: lp.deployed_functions()[f][1] for f in FUNCTIONS}
# The local parameters with GitHub off (the template's default), and on by
# the App or by a token (issue #29): each !If of the roles taken both ways.
GITHUB = {
    "github-off": {},
    "github-app": {"GitHubAppId": "4242", "GitHubPrivateKeyParameter": "/deploy-sentinel/dev/github-app-key"},
    "github-token": {"GitHubTokenParameter": "deploy-sentinel-github-token"},
}


def raw(logical):
    return lp.template()["Resources"][logical]


def role(function):
    return ROLES[function]


# ----- the scan itself ----------------------------------------------------

def test_the_scan_finds_each_functions_code_and_its_aws_calls():
    assert len(FUNCTIONS) == 7, FUNCTIONS
    for f in FUNCTIONS:
        assert len(lp.reached(f)) > 20, f"{f}: the scan reached {len(lp.reached(f))} function bodies only"
        assert "send" in lp.port_calls(f), f"{f}: every function dead-letters through its runtime"
    # The adapters' requests, as IAM names them (botocore's models).
    accesses = lp.adapter_accesses()
    assert accesses["publish"] == {lp.Access("events:PutEvents")}
    assert accesses["get_policy"] == {lp.Access("dynamodb:GetItem", "table", "POLICY#")}
    assert accesses["deployments_between"] == {lp.Access("dynamodb:Query", "index/by-environment-time")}
    assert accesses["inventory"] == {lp.Access("dynamodb:Scan", "table")}
    assert accesses["set_auto_build"] == {lp.Access("amplify:UpdateBranch")}
    assert accesses["read_log"] == set(), "the log reader fetches a pre-signed URL: no AWS permission"
    every_port_method = set(lp.port_methods())
    assert set(accesses) == every_port_method, f"no AWS adapter found for {every_port_method - set(accesses)}"


def test_list_deployments_has_the_two_paths_the_scan_assumes():
    """The scan counts a list_deployments call whose filter names no app
    and no branch as an index query only; that holds while the adapter's
    code has this shape."""
    assert lp.list_deployments_paths() is not None, (
        "adapters/dynamodb/deployments.rs list_deployments no longer matches (Some(app), Some(branch)) => "
        "table, _ => index: update least_privilege.code_accesses's reading of it")


def test_the_health_checkers_listing_is_an_index_query_only():
    accesses = lp.code_table_accesses("health-checker")
    assert lp.Access("dynamodb:Query", "index/by-environment-time") in accesses
    assert not [a for a in accesses if a.action == "dynamodb:Query" and a.target == "table"], accesses


# ----- item 12: the roles -------------------------------------------------

@pytest.mark.parametrize("github", sorted(GITHUB))
@pytest.mark.parametrize("function", FUNCTIONS)
def test_each_role_grants_exactly_what_its_code_calls(function, github):
    missing, extra = lp.drift(function, params=GITHUB[github])
    lines = []
    for a in missing:
        action = a.split(" ")[0]
        lines.append(f"  lacks {a}: its code calls it through {lp.why(function, action) or 'Lambda'}")
    for a in extra:
        lines.append(f"  grants {a}, which no code of the function calls and Lambda does not use")
    assert not lines, f"{role(function)} (functions/{function}) and its code differ:\n" + "\n".join(lines)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_table_items_are_granted_by_partition_key(function):
    for st in lp.role_statements(role(function)):
        actions = [a for a in lp.as_list(st["Action"]) if a.startswith("dynamodb:")]
        if not actions:
            continue
        where = f"{role(function)} {st['Sid']}"
        resources = lp.as_list(st["Resource"])
        indexes = [r for r in resources if "/index/" in r]
        if indexes:
            assert actions == ["dynamodb:Query"] and indexes == resources, f"{where}: an index is only queried"
            assert "Condition" not in st, f"{where}: LeadingKeys do not apply to the index (docs/security.md)"
        elif actions == ["dynamodb:Scan"]:
            assert "Condition" not in st, f"{where}: a Scan has no key to hold it to"
        else:
            assert "dynamodb:Scan" not in actions, f"{where}: a Scan would pass a LeadingKeys condition"
            condition = st.get("Condition", {})
            leading = condition.get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
            assert leading, f"{where}: {actions} on the table without dynamodb:LeadingKeys"
            assert condition.get("Null") == {"dynamodb:LeadingKeys": "false"}, (
                f"{where}: ForAllValues is true for a request without keys; Null false must require them")
            assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*#\*", p) for p in leading), f"{where}: {leading}"


def test_amplify_arns_name_the_stacks_partition_region_and_account():
    other = {"AmplifyAppIds": "d1aaa,d2bbb,d3ccc"}
    for function in FUNCTIONS:
        statements = lp.role_statements(role(function), other)
        raw_statements = raw(role(function))["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
        allowed = {a for st in statements if st["Effect"] == "Allow"
                   for a in lp.as_list(st["Action"]) if a.startswith("amplify:")}
        scoped = allowed - {"amplify:ListApps"}
        for st, unresolved in zip(statements, raw_statements):
            amplify = [a for a in lp.as_list(st["Action"]) if a.startswith("amplify:")]
            if not amplify or st["Effect"] != "Allow":
                continue
            where = f"{role(function)} {st['Sid']}"
            if amplify == ["amplify:ListApps"]:
                assert st["Resource"] == "*", where
                continue
            assert lp.as_list(st["Resource"]) == ["arn:aws:amplify:us-east-1:123456789012:apps/*"], where
            assert unresolved["Resource"] == {
                "Fn::Sub": "arn:${AWS::Partition}:amplify:${AWS::Region}:${AWS::AccountId}:apps/*"}, (
                f"{where}: the ARN must be built from the stack's partition, region and account")
        if not scoped:
            continue
        denies = [st for st in statements if st["Effect"] == "Deny"
                  and any(a.startswith("amplify:") for a in lp.as_list(st["Action"]))]
        assert len(denies) == 1, f"{role(function)}: one Deny keeps its Amplify actions to the watched apps"
        [deny] = denies
        assert set(lp.as_list(deny["Action"])) == scoped, f"{role(function)}: the Deny covers {scoped}"
        watched = {f"arn:*:amplify:*:*:apps/{a}{tail}" for a in other["AmplifyAppIds"].split(",")
                   for tail in ("", "/*")}
        assert set(deny["NotResource"]) == watched, f"{role(function)}: {deny['NotResource']}"


def test_cloudformation_is_read_only_on_the_watched_stacks_and_only_when_some_are():
    """WatchedStacks (docs/stacks.md): DescribeStacks and DescribeStackEvents
    on the account's stacks, denied on every stack but the watched ones and
    their nested stacks; nothing at all when no stack is watched."""
    watched = {"WatchedStacks": "shop-api-prod,billing-*"}
    readers = {}
    for function in FUNCTIONS:
        statements = lp.role_statements(role(function), watched)
        allowed = [st for st in statements if st["Effect"] == "Allow"
                   and any(a.startswith("cloudformation:") for a in lp.as_list(st["Action"]))]
        if not allowed:
            continue
        [allow] = allowed
        actions = set(lp.as_list(allow["Action"]))
        readers[function] = actions
        assert actions <= {"cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents"}, actions
        assert lp.as_list(allow["Resource"]) == ["arn:aws:cloudformation:us-east-1:123456789012:stack/*"]
        [deny] = [st for st in statements if st["Effect"] == "Deny"
                  and any(a.startswith("cloudformation:") for a in lp.as_list(st["Action"]))]
        assert set(lp.as_list(deny["Action"])) == actions
        assert set(deny["NotResource"]) == {
            f"arn:*:cloudformation:*:*:stack/{n}{tail}" for n in ("shop-api-prod", "billing-*")
            for tail in ("/*", "-*/*")}, deny["NotResource"]
        none = lp.role_statements(role(function), {"WatchedStacks": ""})
        assert not [st for st in none if any(a.startswith("cloudformation:") for a in lp.as_list(st["Action"]))], (
            f"{role(function)}: no stack watched, no CloudFormation permission")
    assert set(readers) == {"build-event-handler", "alerter", "cleanup"}, readers


@pytest.mark.parametrize("github", sorted(GITHUB))
def test_no_role_allows_a_wildcard_region_or_account(github):
    for function in FUNCTIONS:
        for st in lp.role_statements(role(function), GITHUB[github]):
            if st["Effect"] != "Allow":
                continue
            for r in lp.as_list(st.get("Resource", [])):
                if r == "*" or r.startswith("<"):
                    continue
                parts = r.split(":")
                assert parts[1:2] == ["aws"] and parts[3] == "us-east-1" and parts[4] in ("123456789012", ""), (
                    f"{role(function)} {st['Sid']}: {r} is not the stack's partition, region and account")


# ----- the comparison can fail, both ways ---------------------------------

def statements_with(function, change):
    statements = copy.deepcopy(lp.role_statements(role(function)))
    change(statements)
    return statements


def test_a_permission_the_code_does_not_use_is_reported():
    def grant_scan(statements):
        statements.append({"Sid": "X", "Effect": "Allow", "Action": ["dynamodb:Scan"], "Resource": "<table>"})
    missing, extra = lp.drift("build-event-handler", statements_with("build-event-handler", grant_scan))
    assert missing == [] and "dynamodb:Scan" in extra, (missing, extra)


def test_a_permission_the_code_needs_is_reported_missing():
    def drop_get_job(statements):
        for st in statements:
            st["Action"] = [a for a in lp.as_list(st["Action"]) if a != "amplify:GetJob"]
    missing, extra = lp.drift("build-event-handler", statements_with("build-event-handler", drop_get_job))
    assert missing == ["amplify:GetJob"] and extra == [], (missing, extra)
    assert lp.why("build-event-handler", "amplify:GetJob") == ["get_job"]


def test_a_role_without_githubs_parameter_or_granting_it_with_github_off_is_reported():
    """GitHub on, the alerter reads its credentials' parameter (its
    environment names it): a role without the grant lacks it; GitHub off, a
    grant left behind is one too many."""
    app = GITHUB["github-app"]

    def drop_github(statements):
        statements[:] = [st for st in statements if not st.get("Sid", "").startswith("GitHubCredentials")]
    statements = copy.deepcopy(lp.role_statements(role("alerter"), app))
    drop_github(statements)
    missing, extra = lp.drift("alerter", statements, params=app)
    assert "ssm:GetParameter" in missing and extra == [], (missing, extra)
    left_behind = lp.role_statements(role("alerter"), app)
    missing, extra = lp.drift("alerter", left_behind, params=GITHUB["github-off"])
    assert missing == [] and "ssm:GetParameter" in extra, (missing, extra)


def test_a_wrong_partition_key_prefix_is_reported():
    def policies_instead(statements):
        for st in statements:
            leading = st.get("Condition", {}).get("ForAllValues:StringLike", {})
            if "dynamodb:LeadingKeys" in leading:
                leading["dynamodb:LeadingKeys"] = ["POLICY#*"]
    missing, extra = lp.drift("build-event-handler", statements_with("build-event-handler", policies_instead))
    assert "dynamodb:GetItem on the table under BRANCH#*" in missing, missing
    assert "dynamodb:GetItem on the table under POLICY#*" in extra, extra


@pytest.fixture(scope="module")
def copy_of_the_source(tmp_path_factory):
    """The source and the template, to alter and scan again."""
    root = tmp_path_factory.mktemp("tree")
    shutil.copytree(os.path.join(lp.ROOT, "shared", "src"), root / "shared" / "src")
    for f in FUNCTIONS:
        shutil.copytree(os.path.join(lp.ROOT, "functions", f, "src"), root / "functions" / f / "src")
    shutil.copy(os.path.join(lp.ROOT, "template.yaml"), root / "template.yaml")
    return root


def scan_altered(root, path, old, new):
    """The scan of `root` with `old` replaced by `new` in `path` (then put back)."""
    file = root / path
    text = file.read_text()
    assert text.count(old) == 1, f"{path}: the text to alter is not there once: {old!r}"
    file.write_text(text.replace(old, new))
    try:
        out = subprocess.run([sys.executable, os.path.join(lp.HERE, "least_privilege.py")],
                             env=dict(os.environ, LEAST_PRIVILEGE_ROOT=str(root), PYTHONPATH=lp.HERE),
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)
    finally:
        file.write_text(text)


def test_a_new_call_in_the_code_is_a_permission_the_role_lacks(copy_of_the_source):
    # The metrics collector starts reading the latest snapshot (GetItem).
    found = scan_altered(copy_of_the_source, "shared/src/metrics/reaction/schedule.rs",
                         "self.store.put_snapshot(&f, false).await?;",
                         "self.store.put_snapshot(&f, false).await?;\n"
                         "            self.store.latest_snapshot(self.environment, 1).await?;")
    assert found["metrics-collector"]["missing"] == [
        "dynamodb:GetItem", "dynamodb:GetItem on the table under METRICS#*"], found["metrics-collector"]
    assert all(found[f] == {"missing": [], "extra": []} for f in FUNCTIONS if f != "metrics-collector"), found


def test_a_call_gone_from_the_code_is_a_permission_the_role_no_longer_needs(copy_of_the_source):
    # Ingest stops enriching with GetJob: the build-event handler no longer
    # needs it; cleanup, which runs ingest too, still calls GetJob itself.
    found = scan_altered(copy_of_the_source, "shared/src/ingest/reaction.rs",
                         "match self.amplify.get_job(key).await {",
                         "match Err::<JobDetails, AmplifyError>(AmplifyError::NotFound(String::new())) {")
    assert found["build-event-handler"] == {"missing": [], "extra": ["amplify:GetJob"]}, found
    assert found["cleanup"] == {"missing": [], "extra": []}, found["cleanup"]


def test_a_new_request_in_an_adapter_reaches_every_function_that_calls_it(copy_of_the_source):
    # The policy read becomes a consistent read of two items (BatchGetItem).
    found = scan_altered(copy_of_the_source, "shared/src/adapters/dynamodb/policies.rs",
                         "let Some(item) = self.fetch(policy_pk(app_id), sk, Read::Eventual).await? else {",
                         "let _ = self.client.batch_get_item().send().await;\n"
                         "            let Some(item) = self.fetch(policy_pk(app_id), sk, Read::Eventual).await? else {")
    readers = {f for f in FUNCTIONS if "get_policy" in lp.port_calls(f)}
    assert readers == {"validator", "health-checker", "alerter", "rollback"}, readers
    for f in FUNCTIONS:
        lacks = [m for m in found[f]["missing"] if m.startswith("dynamodb:BatchGetItem")]
        assert bool(lacks) == (f in readers), (f, found[f])


# ----- item 10: the bus ---------------------------------------------------

def bus_policy(params=None):
    stack = lp.resolver(params)
    bus = next(name for name, r in lp.template()["Resources"].items() if r["Type"] == "AWS::Events::EventBus")
    policy = stack.resolve(raw(bus)["Properties"]["Policy"])
    return {st["Sid"]: st for st in policy["Statement"]}, stack.resolve(raw(bus)["Properties"]["Name"])


def code_constant(path, name):
    source = lp.Source(os.path.join(lp.SHARED, path), ())
    m = re.search(r'\bconst\s+%s\s*:\s*&str\s*=\s*"([^"]*)"' % name, source.full)
    assert m, f"{path}: no const {name}"
    return m.group(1)


def published_detail_types():
    """Every detail type the code can publish: the `detail_type` module's
    constants, and any other constant the code hands `outbox::entry` as
    the detail type (cleanup's `CLEANUP_COMPLETED`)."""
    events = lp.Source(os.path.join(lp.SHARED, "core", "events.rs"), ())
    module = re.search(r"pub mod detail_type\s*\{", events.code)
    body = events.full[module.end():lp.match_brace(events.code, module.end() - 1)]
    types = set(re.findall(r'const\s+\w+\s*:\s*&str\s*=\s*"([^"]*)"', body))
    constants = {}
    for s in lp.crate(lp.SHARED).values():
        constants.update(re.findall(r'\bconst\s+(\w+)\s*:\s*&str\s*=\s*"([^"]*)"', s.full))
    for s in lp.crate(lp.SHARED).values():
        for m in re.finditer(r"\boutbox::entry\s*\(", s.code):
            end = m.end()
            depth, k = 1, end
            while depth:
                depth += (s.code[k] == "(") - (s.code[k] == ")")
                k += 1
            args = [a.strip() for a in s.code[end:k - 1].split(",")]
            if len(args) >= 3:
                name = args[2].split("::")[-1]
                assert name in constants, f"{s.path}: outbox::entry's detail type {args[2]} is no constant"
                types.add(constants[name])
    return types


def test_every_statement_of_the_bus_policy_denies():
    statements, _ = bus_policy()
    assert statements, "the bus has no policy"
    for sid, st in statements.items():
        # In the stack's account a principal's own Allow is enough to publish;
        # only a Deny in the bus's policy takes that away.
        assert st["Effect"] == "Deny" and st["Principal"] == "*", f"{sid}: {st['Effect']} {st['Principal']}"
        assert st["Action"] == "events:PutEvents", sid


def test_only_the_stacks_publishing_roles_may_put_events_on_its_bus():
    statements, name = bus_policy()
    st = statements["OnlyTheStacksPublishers"]
    assert st["Resource"] == f"arn:aws:events:us-east-1:123456789012:event-bus/{name}"
    publishers = {f for f in FUNCTIONS if "events:PutEvents" in lp.code_actions(f)}
    assert publishers == {f for f in FUNCTIONS if "events:PutEvents" in lp.role_actions(role(f))}
    allowed = set(st["Condition"]["ArnNotLike"]["aws:PrincipalArn"])
    assert allowed == {f"<{role(f)}.Arn>" for f in publishers}, (
        f"the bus lets {sorted(allowed)} publish; the functions whose code publishes: {sorted(publishers)}")
    # Each role's PutEvents names this bus.
    for f in publishers:
        resources = {r for s in lp.role_statements(role(f)) if "events:PutEvents" in lp.as_list(s["Action"])
                     for r in lp.as_list(s["Resource"])}
        assert resources == {st["Resource"]}, (f, resources)


def test_operators_named_in_the_stack_may_publish_too():
    ops = "arn:aws:iam::123456789012:role/ops,arn:aws:iam::123456789012:role/aws-reserved/*/Admin*"
    statements, _ = bus_policy({"OperatorArns": ops})
    allowed = statements["OnlyTheStacksPublishers"]["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert set(ops.split(",")) <= set(allowed) and len(allowed) == len(FUNCTIONS) + 2, allowed
    assert "" not in allowed


def report_constants():
    """The sources and detail type a reporter publishes (`sentinel report`):
    `sentinel.report.<service>`, as an IAM pattern (`sentinel.report.*`)."""
    path = os.path.join("ingest", "report_event.rs")
    prefix = code_constant(path, "SOURCE_PREFIX")
    assert prefix.endswith("."), prefix
    return prefix + "*", code_constant(path, "DETAIL_TYPE")


def report_prefix():
    return code_constant(os.path.join("ingest", "report_event.rs"), "SOURCE_PREFIX")


def test_the_bus_takes_only_the_stacks_source_and_event_types():
    statements, _ = bus_policy()
    source = code_constant("core/events.rs", "SOURCE")
    report_source, report_type = report_constants()
    # StringNotLike: the reports' sources are a pattern; `sentinel` has no
    # wildcard, so it is matched exactly.
    assert "*" not in source and "?" not in source
    assert statements["OnlyTheStacksSource"]["Condition"] == dict(
        not_a_replay(), **{"ForAnyValue:StringNotLike": {"events:source": [source, report_source]}})
    types = published_detail_types()
    assert "Cleanup Completed" in types and "Alert Test" in types, types
    assert report_type not in types, "a report is the reporter's, never the functions'"
    listed = statements["OnlyTheStacksEventTypes"]["Condition"]["ForAnyValue:StringNotEquals"]["events:detail-type"]
    assert len(listed) == len(set(listed)), "a detail type is listed twice"
    assert set(listed) == types | {report_type}, (
        f"the bus denies what the code publishes: {sorted(types - set(listed))}; "
        f"lets through what nothing publishes: {sorted(set(listed) - types - {report_type})}")
    # What the stack's rules take from its bus, the bus lets in (GitHub on,
    # the alerter's rule takes more: each rule resolved both ways).
    rules = [(name, r) for name, r in lp.template()["Resources"].items()
             if r["Type"] == "AWS::Events::Rule" and r["Properties"].get("EventBusName") == {"Ref": "SentinelBus"}]
    for (name, r), github in [(rule, g) for rule in rules for g in GITHUB]:
        pattern = lp.resolver(GITHUB[github]).resolve(r["Properties"]["EventPattern"])
        if pattern["source"] == [{"prefix": report_prefix()}]:
            assert pattern["detail-type"] == [report_type], name
            assert [t["Arn"] for t in r["Properties"]["Targets"]] == [{"Fn::GetAtt": ["IngestQueue", "Arn"]}], name
            continue
        assert pattern["source"] == [source], name
        assert set(pattern.get("detail-type", [])) <= types, f"{name} ({github}): {pattern.get('detail-type')}"


def alerter_accepted():
    """The detail types the alerter parses (`alert::reaction::ACCEPTED`):
    any other delivered to it is malformed, dead-lettered."""
    source = lp.Source(os.path.join(lp.SHARED, "alert", "reaction", "mod.rs"), ())
    m = re.search(r"pub const ACCEPTED\s*:\s*&\[&str\]\s*=\s*&\[([^\]]*)\]", source.full)
    assert m, "alert/reaction/mod.rs: no ACCEPTED list"
    events = lp.Source(os.path.join(lp.SHARED, "core", "events.rs"), ())
    constants = dict(re.findall(r'const\s+(\w+)\s*:\s*&str\s*=\s*"([^"]*)"', events.full))
    return {constants[name] for name in re.findall(r"dt::(\w+)", m.group(1))}


@pytest.mark.parametrize("github", sorted(GITHUB))
def test_the_alerters_rule_delivers_only_what_the_alerter_parses(github):
    """GitHub on, the rule takes builds' starts, cancels and skips: the
    alerter must accept them, or each would be dead-lettered as malformed."""
    rule = lp.template()["Resources"]["AlertRule"]["Properties"]["EventPattern"]
    delivered = set(lp.resolver(GITHUB[github]).resolve(rule)["detail-type"])
    accepted = alerter_accepted()
    assert "Alert Test" in accepted and len(accepted) >= 10, accepted
    assert delivered <= accepted, f"AlertRule ({github}) delivers what the alerter refuses: {sorted(delivered - accepted)}"


def test_anyone_else_may_publish_only_a_report():
    statements, _ = bus_policy()
    report_source, report_type = report_constants()
    # The stack's publishers are the only ones whose other sources pass.
    publishers = statements["OnlyTheStacksPublishers"]["Condition"]
    assert publishers["ForAnyValue:StringNotLike"] == {"events:source": report_source}, publishers
    assert "ForAnyValue:StringNotEquals" not in publishers, publishers
    # A report is of its one detail type, whoever sends it.
    only = statements["ReportsOnly"]["Condition"]
    assert only == dict(not_a_replay(), **{"ForAnyValue:StringLike": {"events:source": report_source},
                                          "ForAnyValue:StringNotEquals": {"events:detail-type": report_type}}), only


def not_a_replay():
    """The condition every Deny of the bus carries: it spares a replay of the
    stack's own domain-event archive (docs/security.md, "Replays")."""
    archive = next(r for r in lp.template()["Resources"].values() if r["Type"] == "AWS::Events::Archive"
                   and r["Properties"]["SourceArn"] == {"Fn::GetAtt": ["SentinelBus", "Arn"]})
    name = lp.resolver().resolve(archive["Properties"]["ArchiveName"])
    return {"ArnNotEqualsIfExists": {"aws:SourceArn": f"arn:aws:events:us-east-1:123456789012:archive/{name}"}}


def test_every_deny_of_the_bus_spares_a_replay_of_its_archive_and_nothing_else():
    statements, _ = bus_policy()
    for sid, st in statements.items():
        spared = {k: v for k, v in st["Condition"].items() if k.startswith("ArnNotEquals")}
        assert spared == not_a_replay(), (sid, spared)


def test_the_reporter_policy_publishes_reports_and_reads_reported_verdicts_only():
    report_source, report_type = report_constants()
    doc = lp.template()["Resources"]["ReporterPolicy"]["Properties"]["PolicyDocument"]
    statements = {st["Sid"]: st for st in doc["Statement"]}
    assert set(statements) == {"PublishReports", "ReadReportedVerdicts", "FindTheStack"}, statements
    for st in statements.values():
        assert st["Effect"] == "Allow", st
    publish = statements["PublishReports"]
    assert publish["Action"] == "events:PutEvents"
    assert publish["Resource"] == {"Fn::GetAtt": ["SentinelBus", "Arn"]}
    # Every entry of the request (PutEvents takes ten) is a report of the
    # service the caller's principal is tagged with (an IAM policy variable,
    # matched exactly: StringEquals, so a tag value's `*` is no wildcard),
    # and the keys are there (ForAllValues alone passes a request without
    # them).
    assert publish["Condition"] == {
        "ForAllValues:StringEquals": {
            "events:source": report_prefix() + "${aws:PrincipalTag/sentinel-service}",
            "events:detail-type": report_type},
        "Null": {"events:source": "false", "events:detail-type": "false"}}
    with open(os.path.join(lp.ROOT, "docs", "reporting.md")) as f:
        howto = f.read()
    assert "sentinel-service" in howto and "ReporterPolicy" in howto
    read = statements["ReadReportedVerdicts"]
    assert read["Action"] == "dynamodb:GetItem", read
    # The records' partition key is BRANCH#{appId}#{branch} (the adapter's
    # branch_pk); a reported service's app is svc:NAME.
    keys = os.path.join(lp.SHARED, "adapters", "dynamodb", "mod.rs")
    with open(keys) as f:
        assert "| deployment | `BRANCH#{appId}#{branch}` |" in f.read()
    assert read["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["BRANCH#svc:*"]}}
    assert statements["FindTheStack"] == {"Sid": "FindTheStack", "Effect": "Allow",
                                          "Action": "cloudformation:DescribeStacks",
                                          "Resource": {"Fn::Sub": "arn:${AWS::Partition}:cloudformation:"
                                                                  "${AWS::Region}:${AWS::AccountId}:stack/"
                                                                  "${AWS::StackName}/*"}}


# ----- the docs -----------------------------------------------------------

def docs_table():
    """docs/security.md's table of each function's table and Amplify
    grants: {function: (table accesses, Amplify actions)}."""
    with open(os.path.join(lp.ROOT, "docs", "security.md")) as f:
        text = f.read()
    section = text[text.index("## Least privilege"):text.index("### The event bus")]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or cells[0] not in FUNCTIONS:
            continue
        table = set()
        for part in filter(None, (p.strip() for p in cells[1].split(";"))):
            actions, _, where = part.partition(" on ")
            names = re.findall(r"`(\w+)`", actions)
            if where == "the index":
                targets = [("index/by-environment-time", None)]
            else:
                targets = [("table", p) for p in re.findall(r"`([A-Z]+#)…`", where)] or [("table", None)]
            table |= {lp.Access(f"dynamodb:{n}", t, p) for n in names for t, p in targets}
        amplify = {f"amplify:{n}" for n in re.findall(r"`(\w+)`", cells[2])}
        rows[cells[0]] = (table, amplify)
    return rows


def test_the_security_docs_list_what_each_role_grants():
    rows = docs_table()
    assert set(rows) == set(FUNCTIONS), f"docs/security.md's table has rows for {sorted(rows)}"
    for f, (table, amplify) in rows.items():
        assert table == lp.code_table_accesses(f), (
            f"docs/security.md, {f}: the table row says {sorted(table)}, the code {sorted(lp.code_table_accesses(f))}")
        code = {a for a in lp.code_actions(f) if a.startswith("amplify:")}
        assert amplify == code, f"docs/security.md, {f}: Amplify {sorted(amplify)}, the code {sorted(code)}"
