"""The parameters provision.py resolves (the watch scope, enforcement, the
local GitHub App) and what it writes for the local stack (routes, stack.env),
once or twice."""

import provision

from .fixtures import ACCOUNT, template


def test_the_rule_filters_apps_and_every_function_gets_the_branch_scope():
    stack = provision.Stack(template(), dict(provision.LOCAL_PARAMS, WatchedBranches="main,release/*"), "us-east-1", None)
    rule = stack.resolve(stack.t["Resources"]["AmplifyStatusRule"]["Properties"]["EventPattern"])
    assert rule["detail"] == {"appId": ["dsentinel0001", "dsentinel0002", "dsentinelsmoke"]}
    # Only the two variables: the others name resources (resolving them would
    # create them).
    variables = stack.t["Globals"]["Function"]["Environment"]["Variables"]
    assert stack.resolve(variables["SENTINEL_BRANCHES"]) == "main,release/*"
    assert stack.resolve(variables["SENTINEL_APP_IDS"]) == "dsentinel0001,dsentinel0002,dsentinelsmoke"

def test_a_first_install_observes_and_the_local_stack_enforces():
    # The template's default acts on nothing (docs/rollout.md); every
    # function reads the one parameter.
    t = template()
    assert t["Parameters"]["Enforcement"]["Default"] == "observe"
    assert t["Parameters"]["Enforcement"]["AllowedValues"] == ["observe", "enforce"]
    chosen = {k: v for k, v in provision.LOCAL_PARAMS.items() if k != "Enforcement"}
    for params, want in [(chosen, "observe"), (provision.LOCAL_PARAMS, "enforce")]:
        stack = provision.Stack(t, params, "us-east-1", None)
        variables = stack.t["Globals"]["Function"]["Environment"]["Variables"]
        assert stack.resolve(variables["SENTINEL_ENFORCEMENT"]) == want
    # The alerter hears the would-haves.
    alert = t["Resources"]["AlertRule"]["Properties"]["EventPattern"]
    assert "Action Observed" in alert["detail-type"]


def test_routes_name_each_sqs_event_source_and_its_binary(stack):
    routes = {r["function"]: r for r in stack.routes()}
    ingest = routes["build-event-handler"]
    assert ingest["queueUrl"] == stack.queue_url("deploy-sentinel-dev-ingest")
    assert ingest["queueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:deploy-sentinel-dev-ingest"
    assert ingest["batchSize"] == 10 and ingest["reportBatchItemFailures"] is True
    functions = [r for r in template()["Resources"].values() if r["Type"] == "AWS::Serverless::Function"]
    sqs_sources = sum(1 for f in functions for e in f["Properties"].get("Events", {}).values() if e["Type"] == "SQS")
    assert len(stack.routes()) == sqs_sources


def test_the_env_file_resolves_the_function_variables_to_local_resources(stack):
    env = stack.stack_env()
    assert env["SENTINEL_ENVIRONMENT"] == "dev"
    assert env["SENTINEL_TABLE"] == "deploy-sentinel-dev"
    assert env["SENTINEL_EVENT_BUS"] == "sentinel-dev"
    assert env["SENTINEL_DLQ_URL"] == stack.queue_url("deploy-sentinel-dev-dlq")
    assert env["SENTINEL_QUEUE_INGEST_QUEUE"] == stack.queue_url("deploy-sentinel-dev-ingest")
    assert env["SENTINEL_RETENTION_DAYS"] == "90" and env["SENTINEL_AUTO_ROLLBACK"] == "auto"
    # GitHub is the local emulator, over http, and only it is exempt from https.
    assert env["GITHUB_API_URL"] == env["SENTINEL_GITHUB_ORIGINS"] == provision.GITHUB_API_URL
    assert provision.GITHUB_API_URL.startswith("http://127.0.0.1:")


def test_the_local_app_is_passed_only_to_a_template_that_declares_githubs_parameters():
    t = template()
    github = {"GitHubAppId", "GitHubPrivateKeyParameter", "GitHubTokenParameter"}
    local = dict(provision.LOCAL_PARAMS, **provision.LOCAL_GITHUB_PARAMS)  # what --github-app passes
    without = dict(t, Parameters={k: v for k, v in t["Parameters"].items() if k not in github})
    stack = provision.Stack(without, local, "us-east-1", None)
    assert not github & set(stack.params)
    stack = provision.Stack(t, local, "us-east-1", None)
    assert stack.params["GitHubAppId"] == "4242"
    assert stack.params["GitHubPrivateKeyParameter"] == "/deploy-sentinel/dev/github-app-key"
    assert stack.params["GitHubTokenParameter"] == ""  # the App, not the token fallback
    # Without the flag, the template's default: off.
    stack = provision.Stack(t, provision.LOCAL_PARAMS, "us-east-1", None)
    assert (stack.params["GitHubAppId"], stack.params["GitHubPrivateKeyParameter"]) == ("", "")


def test_local_up_provisions_github_on_as_the_local_app(stack):
    """`provision.py --github-app` (local-up's call): the functions get the
    App's id and key parameter, as the template resolves them, and the
    emulator's origin."""
    assert not {"GITHUB_APP_ID", "GITHUB_KEY_PARAMETER"} & set(stack.stack_env())
    env = stack.run("--github-app").stack_env()
    assert (env["GITHUB_APP_ID"], env["GITHUB_KEY_PARAMETER"]) == ("4242", "/deploy-sentinel/dev/github-app-key")
    assert env["GITHUB_API_URL"] == provision.GITHUB_API_URL


def test_provisioning_twice_changes_nothing_but_what_was_asked(stack):
    before = (stack.routes(), stack.stack_env())
    stack.run()
    assert (stack.routes(), stack.stack_env()) == before
    stack.run("--visibility-timeout", "2")
    attrs = stack.client("sqs").get_queue_attributes(QueueUrl=stack.queue_url("deploy-sentinel-dev-ingest"),
                                                     AttributeNames=["VisibilityTimeout"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "2"
    # The template's queues, and the local inbox subscribed to the alert topic.
    assert len(stack.client("sqs").list_queues()["QueueUrls"]) == 1 + len(
        [r for r in template()["Resources"].values() if r["Type"] == "AWS::SQS::Queue"])
    topic = stack.stack_env()["SENTINEL_TOPIC_ALERT_TOPIC"]
    subscriptions = stack.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["Endpoint"].rsplit(":", 1)[1] for s in subscriptions] == ["deploy-sentinel-dev-local-inbox"]
