"""GitHub (issue #29 items 1 and 3): off by default, one parameter when on."""

import json
import re

import pytest

import iam_documents
import provision

from .fixtures import ACCOUNT, WATCHED, receive_all, template


GITHUB_KEY = "/deploy-sentinel/dev/github-app-key"
GITHUB = {
    "off": {},
    "app": {"GitHubAppId": "4242", "GitHubPrivateKeyParameter": GITHUB_KEY},
    # A name without the leading /: the ARN has one / all the same.
    "token": {"GitHubTokenParameter": "deploy-sentinel/dev/github-token"},
    # Both: the App's key is read, the token never.
    "both": {"GitHubAppId": "4242", "GitHubPrivateKeyParameter": GITHUB_KEY,
             "GitHubTokenParameter": "/deploy-sentinel/dev/github-token"},
}
GITHUB_ARN = {
    "app": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/deploy-sentinel/dev/github-app-key",
    "token": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/deploy-sentinel/dev/github-token",
    "both": f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/deploy-sentinel/dev/github-app-key",
}
GITHUB_FUNCTIONS = {"AlerterFunction", "ValidatorFunction"}
GITHUB_EVENTS = {"Build Started", "Build Cancelled", "Build Skipped"}
GITHUB_VARIABLES = {"GITHUB_APP_ID", "GITHUB_KEY_PARAMETER", "GITHUB_TOKEN_PARAMETER", "SENTINEL_ALERTER_QUEUE_URL"}


def resolved(github):
    """The template resolved offline (creating nothing) under the local
    parameters and GitHub's: (resolver, every policy document)."""
    acct = iam_documents.Account(params=dict(provision.LOCAL_PARAMS, **GITHUB[github]))
    tmpl = iam_documents.template(iam_documents.TEMPLATE)
    return iam_documents.Resolver(tmpl, acct), iam_documents.documents_of(iam_documents.TEMPLATE, acct)


def function_variables(r, logical):
    """A function's environment as Lambda gets it: the Globals' and its own."""
    own = r.tmpl["Resources"][logical]["Properties"].get("Environment", {}).get("Variables", {})
    return dict(r.value(r.tmpl["Globals"]["Function"]["Environment"]["Variables"]), **r.value(own))


def grants(documents, action):
    """(document, statement) of each identity policy's Allow naming the
    action (the key, queue and bus policies name AWS's services)."""
    return [(d, st) for d in documents if d.kind in ("inline", "managed") for st in d.policy["Statement"]
            if st["Effect"] == "Allow" and action in iam_documents.as_list(st.get("Action", []))]


def alert_rule_types(r):
    return set(r.value(r.tmpl["Resources"]["AlertRule"]["Properties"]["EventPattern"])["detail-type"])


def test_github_is_off_by_default_no_variable_no_permission_no_event_more():
    for name, spec in template()["Parameters"].items():
        if name.startswith("GitHub"):
            assert spec["Default"] == "", name
    r, documents = resolved("off")
    for cond in ("GitHubOn", "GitHubUsesApp", "GitHubUsesToken"):
        assert r.condition(cond) is False, cond
    assert grants(documents, "ssm:GetParameter") == []
    alert_key = r.resource("AlertTopicKey")[1]["Arn"]
    for d, st in grants(documents, "kms:Decrypt"):
        assert st["Resource"] == alert_key, f"{d} {st['Sid']}: kms:Decrypt beyond the alert topic's key"
    for d, st in grants(documents, "sqs:SendMessage"):
        assert st["Resource"] != r.resource("AlerterQueue")[1]["Arn"], (
            f"{d} {st['Sid']}: the alerter sends to its own queue with GitHub off")
    for logical, res in r.tmpl["Resources"].items():
        if res["Type"] == "AWS::Serverless::Function":
            assert not GITHUB_VARIABLES & set(function_variables(r, logical)), logical
    assert not GITHUB_EVENTS & alert_rule_types(r), "with GitHub off the alerter takes no build start, cancel or skip"


@pytest.mark.parametrize("github", ["app", "token", "both"])
def test_github_on_the_alerter_and_validator_read_one_parameter_through_ssm_only(github):
    r, documents = resolved(github)
    assert r.condition("GitHubOn") is True
    arn = GITHUB_ARN[github]
    reads = grants(documents, "ssm:GetParameter")
    assert sorted(d.holder for d, _ in reads) == ["AlerterRole", "ValidatorRole"], reads
    for d, st in reads:
        assert st["Resource"] == arn and st["Action"] == "ssm:GetParameter", (d, st)
        assert "//" not in st["Resource"].split(":", 5)[5]
    decrypts = [(d, st) for d, st in grants(documents, "kms:Decrypt") if st.get("Sid") != "EncryptAlerts"]
    assert sorted(d.holder for d, _ in decrypts) == ["AlerterRole", "ValidatorRole"], decrypts
    for d, st in decrypts:
        assert st["Condition"] == {"StringEquals": {"kms:ViaService": "ssm.us-east-1.amazonaws.com",
                                                    "kms:EncryptionContext:PARAMETER_ARN": arn}}, (d, st)
    # The account's aws/ssm key (or the team's own), not the alert topic's.
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0000aaaa-00aa-00aa-00aa-000000aaaaaa"
    assert key != r.resource("AlertTopicKey")[1]["Arn"]
    other = arn.rsplit("/", 1)[0] + "/someone-elses-secret"
    via_ssm = {"kms:ViaService": "ssm.us-east-1.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": arn}
    queue = r.resource("AlerterQueue")[1]["Arn"]
    for d in documents:
        if d.holder in ("AlerterRole", "ValidatorRole") and d.kind == "inline":
            p = d.policy
            assert iam_documents.allows(p, "ssm:GetParameter", arn)
            assert not iam_documents.allows(p, "ssm:GetParameter", other)
            assert not iam_documents.allows(p, "ssm:GetParameters", arn)
            assert iam_documents.allows(p, "kms:Decrypt", key, via_ssm)
            assert not iam_documents.allows(p, "kms:Decrypt", key, dict(via_ssm, **{
                "kms:EncryptionContext:PARAMETER_ARN": other})), "another parameter's value"
            assert not iam_documents.allows(p, "kms:Decrypt", key, {
                "kms:EncryptionContext:PARAMETER_ARN": arn}), "a decrypt not made by SSM"
            assert iam_documents.allows(p, "sqs:SendMessage", queue) == (d.holder == "AlerterRole"), d
    for logical, res in r.tmpl["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        variables = function_variables(r, logical)
        # Local only (the emulator's URL and its http exemption): never the template's.
        assert not {"GITHUB_API_URL", "SENTINEL_GITHUB_ORIGINS"} & set(variables), logical
        given = GITHUB_VARIABLES & set(variables)
        if logical not in GITHUB_FUNCTIONS:
            assert not given, logical
            continue
        if github == "token":
            assert variables["GITHUB_TOKEN_PARAMETER"] == GITHUB["token"]["GitHubTokenParameter"], logical
            assert "GITHUB_APP_ID" not in variables and "GITHUB_KEY_PARAMETER" not in variables
        else:
            assert (variables["GITHUB_APP_ID"], variables["GITHUB_KEY_PARAMETER"]) == ("4242", GITHUB_KEY)
            assert "GITHUB_TOKEN_PARAMETER" not in variables, "the App wins: the token is never read"
        queue_url = variables.get("SENTINEL_ALERTER_QUEUE_URL")
        assert queue_url == (r.resource("AlerterQueue")[0] if logical == "AlerterFunction" else None), logical
    assert GITHUB_EVENTS <= alert_rule_types(r)


@pytest.mark.parametrize("name, arn_tail", [("/x/y", "parameter/x/y"), ("x/y", "parameter/x/y"),
                                            ("key", "parameter/key"), ("/key", "parameter/key")])
def test_the_parameters_arn_has_one_slash_with_or_without_the_names_leading_one(name, arn_tail):
    r, documents = resolved("off")
    acct = iam_documents.Account(params=dict(provision.LOCAL_PARAMS, GitHubTokenParameter=name))
    (read,) = [st for d in iam_documents.documents_of(iam_documents.TEMPLATE, acct) if d.holder == "AlerterRole"
               for st in d.policy["Statement"] if st.get("Sid") == "GitHubCredentials"]
    assert read["Resource"] == f"arn:aws:ssm:us-east-1:{ACCOUNT}:{arn_tail}"


def rules_refuse(params):
    """The template's Rules under these parameters: the descriptions of the
    assertions that fail (CloudFormation refuses the stack on any)."""
    t = template()
    r = iam_documents.Resolver(t, iam_documents.Account(params=dict(provision.LOCAL_PARAMS, **params)))
    out = []
    for rule in t.get("Rules", {}).values():
        if "RuleCondition" in rule and not r.value(rule["RuleCondition"]):
            continue
        out += [a["AssertDescription"] for a in rule["Assertions"] if not r.value(a["Assert"])]
    return out


def test_an_app_id_without_its_key_parameter_is_refused_and_the_reverse():
    for github in GITHUB.values():
        assert rules_refuse(github) == [], github
    (app_only,) = rules_refuse({"GitHubAppId": "4242"})
    assert "GitHubPrivateKeyParameter" in app_only
    (key_only,) = rules_refuse({"GitHubPrivateKeyParameter": GITHUB_KEY, "GitHubTokenParameter": "t"})
    assert "GitHubAppId" in key_only


def test_the_github_parameters_take_an_app_id_and_ssm_names_only():
    spec = template()["Parameters"]

    def takes(name, value):
        return re.fullmatch(spec[name]["AllowedPattern"], value) is not None

    assert all(takes("GitHubAppId", v) for v in ["", "4242", "123456789"])
    assert not any(takes("GitHubAppId", v) for v in ["abc", "42 ", "-1", "0x10", "0042"])
    for name in ("GitHubPrivateKeyParameter", "GitHubTokenParameter"):
        assert all(takes(name, v) for v in ["", "/deploy-sentinel/prod/github-app-key", "key", "a/b", "a.b_c-d"]), name
        # Not an ARN, no doubled or trailing slash, no space, none of SSM's reserved prefixes.
        assert not any(takes(name, v) for v in [
            GITHUB_ARN["app"], "/a//b", "a/", "a b", "/aws/service/x", "ssm-key", "AWSkey"]), name


def test_with_github_on_the_alerter_takes_build_starts_cancels_and_skips_on_the_bus(stack):
    """Through moto's EventBridge matcher: the local provisioner resolves the
    rule's !If both ways; what it delivers is what the rule says."""
    sqs, events = stack.client("sqs"), stack.client("events")
    alerter = stack.queue_url("deploy-sentinel-dev-alerter")

    def started():
        out = events.put_events(Entries=[{
            "Source": "sentinel", "DetailType": "Build Started", "EventBusName": "sentinel-dev",
            "Detail": json.dumps({"appId": WATCHED, "branchName": "main", "jobId": "9"})}])
        assert out["FailedEntryCount"] == 0
        return receive_all(sqs, alerter)

    assert started() == [], "GitHub off: a build start is not delivered to the alerter"
    env = stack.stack_env()
    assert not GITHUB_VARIABLES & set(env), "GitHub off: no GitHub variable"
    stack.run(*[a for k, v in GITHUB["app"].items() for a in ("--param", f"{k}={v}")])
    (message,) = started()
    assert json.loads(message["Body"])["detail-type"] == "Build Started"
    env = stack.stack_env()
    assert (env["GITHUB_APP_ID"], env["GITHUB_KEY_PARAMETER"]) == ("4242", GITHUB_KEY)
    assert env["SENTINEL_ALERTER_QUEUE_URL"] == alerter
    rule = events.describe_rule(Name="deploy-sentinel-dev-AlertRule", EventBusName="sentinel-dev")
    assert GITHUB_EVENTS <= set(json.loads(rule["EventPattern"])["detail-type"])
