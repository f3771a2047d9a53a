#!/usr/bin/env python3
"""Creates the stack's resources on moto *from template.yaml*.

moto's CloudFormation ignores the SAM transform, so the resources the local
stack needs are created here one by one, with the template's own properties:
the table (keys, index, TTL), the buses, the queues (redrive policies), the
rules (the exact event patterns and their SQS targets) and the topics. The
Lambda event sources become routes (queue -> function binary) for
dispatcher.py, and every endpoint and function variable is written to
.local/env for shells, tests and `cargo lambda watch`.

Usage: provision.py [--template template.yaml] [--out .local]
                    [--param Name=Value ...] [--visibility-timeout SECONDS]
"""

import argparse
import json
import os
import re
import sys

import boto3
import yaml

ACCOUNT = "123456789012"
# Where a test serves a reported service's site (scripts/local-up.sh).
REPORT_SITE_PORT = int(os.environ.get(
    "REPORT_SITE_PORT", int(os.environ.get("AMPLIFY_PORT", "4520")) + 10))

# What the local functions run with besides the template's environment: they
# watch every app, so that tests can make apps of their own (unique ids keep
# them apart); the Amplify rule still takes only AmplifyAppIds' events
# (provision_tests/), the functions' app scope is unit-tested
# (shared/src/lambda/runtime.rs), and the branch scope — `unwatched/*` left
# out below — is tested through the real binaries (tests/it/scope.rs).
# The GitHub emulator (tests/localstack/github_emulator.py), as local-up
# starts it: the local App's id and the SSM SecureString holding its private
# key (local-up puts it into moto's SSM).
GITHUB_API_URL = os.environ.get("GITHUB_API_URL") or "http://127.0.0.1:%s" % os.environ.get("GITHUB_PORT", "4540")
GITHUB_APP_ID = "4242"
GITHUB_KEY_PARAMETER = "/deploy-sentinel/dev/github-app-key"

LOCAL_FUNCTION_ENV = {
    "SENTINEL_APP_IDS": "",
    # GitHub is the emulator, over http on 127.0.0.1; a deployed function
    # talks to https://api.github.com only (shared/src/github/settings.rs).
    "GITHUB_API_URL": GITHUB_API_URL,
    "SENTINEL_GITHUB_ORIGINS": GITHUB_API_URL,
    # The emulator serves build logs over http on 127.0.0.1; a deployed
    # stack reads them only from S3 over https (shared/src/adapters/http_log.rs).
    "SENTINEL_LOG_ORIGINS": os.environ.get("AWS_ENDPOINT_URL_AMPLIFY")
    or "http://127.0.0.1:%s" % os.environ.get("AMPLIFY_PORT", "4520"),
    # Sites too are the emulator's; a deployed health checker requests
    # https on public addresses only (shared/src/outbound).
    # And the port where a test serves a reported service's site
    # (`sentinel report --url`, tests/it/report.rs and examples/pm2), and
    # the next one, where nothing listens: a reported service whose server
    # refuses connections (tests/it/report.rs).
    "SENTINEL_SITE_ORIGINS": ",".join([
        os.environ.get("AWS_ENDPOINT_URL_AMPLIFY")
        or "http://127.0.0.1:%s" % os.environ.get("AMPLIFY_PORT", "4520"),
        "http://127.0.0.1:%s" % REPORT_SITE_PORT,
        "http://127.0.0.1:%s" % (REPORT_SITE_PORT + 1),
    ]),
}

# A watched app with no repository, as `make smoke-aws-app` creates on AWS.
SMOKE_APP = "dsentinelsmoke"

LOCAL_PARAMS = {
    "Environment": "dev",
    # The third is the smoke app (SMOKE_APP): `make smoke-aws` deploys its
    # throwaway branches (local-up registers it with no repository).
    "AmplifyAppIds": "dsentinel0001,dsentinel0002,dsentinelsmoke",
    # Every branch but `unwatched/*`: the scope tests build such a branch.
    "WatchedBranches": "*,!unwatched/*",
    "AlertEmail": "",
    "RetentionDays": "90",
    "LogRetentionDays": "30",
    "AutoRollback": "auto",
    # The tests of what the stack does need it to act; observe mode (the
    # template's default) is tested with a policy's `enforcement: observe`
    # (tests/it/observe.rs) and the default itself in provision_tests/.
    "Enforcement": "enforce",
    # Branch sites are the Amplify emulator's, never a real *.amplifyapp.com
    # or custom domain: {host} (where users reach the branch) becomes a path
    # the emulator serves as that host would be served.
    # The integration tests' and the demo's stacks (tests/it/stacks.rs,
    # scripts/demo.sh), scripted in the emulator (docs/stacks.md).
    "WatchedStacks": "it-*,demo-*",
    "SiteUrlTemplate": "http://127.0.0.1:%s/_sites/{host}/" % os.environ.get("AMPLIFY_PORT", "4520"),
}

# GitHub on, as the local App (the GitHub emulator checks its JWTs with the
# public half of the key local-up puts into SSM): `--github-app`, which
# local-up passes. Kept apart from LOCAL_PARAMS, which the tests take as the
# template's default (GitHub off) and turn GitHub on themselves. Only the
# parameters the template declares are passed (Stack takes the template's
# list), so a template without them provisions as before.
LOCAL_GITHUB_PARAMS = {
    "GitHubAppId": GITHUB_APP_ID,
    "GitHubPrivateKeyParameter": GITHUB_KEY_PARAMETER,
}


class Tagged:
    """A CloudFormation short-form tag (!Ref, !Sub, ...) as its long form."""


def cfn_loader():
    loader = type("CfnLoader", (yaml.SafeLoader,), {})

    def construct(tag):
        # Ref and Condition have no Fn:: in their long form.
        name = tag if tag in ("Ref", "Condition") else f"Fn::{tag}"

        def build(ld, node):
            if isinstance(node, yaml.ScalarNode):
                value = ld.construct_scalar(node)
                if tag == "GetAtt":
                    value = value.split(".", 1)
            elif isinstance(node, yaml.SequenceNode):
                value = ld.construct_sequence(node, deep=True)
            else:
                value = ld.construct_mapping(node, deep=True)
            return {name: value}

        return build

    for tag in ["Ref", "Sub", "GetAtt", "If", "Join", "Split", "Select", "Equals",
                "Not", "And", "Or", "FindInMap", "Base64", "Cidr", "ImportValue",
                "GetAZs", "Condition"]:
        loader.add_constructor(f"!{tag}", construct(tag))
    return loader


NO_VALUE = object()


def pattern_text(pattern):
    """An event pattern as EventBridge takes it: a JSON object, or (a
    `Json` property may be either) the JSON text itself."""
    return pattern if isinstance(pattern, str) else json.dumps(pattern)


class Stack:
    def __init__(self, template, params, region, visibility_timeout):
        self.t = template
        self.region = region
        self.visibility_timeout = visibility_timeout
        self.params = {}
        for name, spec in template.get("Parameters", {}).items():
            raw = params.get(name, spec.get("Default"))
            if raw is None:
                sys.exit(f"provision: parameter {name} has no value (pass --param {name}=...)")
            raw = str(raw)
            self.params[name] = [v.strip() for v in raw.split(",")] if spec["Type"] == "CommaDelimitedList" else raw
        self.conditions = {}
        self.attrs = {}  # logical id -> {"Ref": ..., "Arn": ..., ...}
        self.ddb = boto3.client("dynamodb", region_name=region)
        self.sqs = boto3.client("sqs", region_name=region)
        self.events = boto3.client("events", region_name=region)
        self.sns = boto3.client("sns", region_name=region)
        self.kms = boto3.client("kms", region_name=region)

    # ----- intrinsic functions -----
    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.resolve(self.t["Conditions"][name]))
        return self.conditions[name]

    def pseudo(self, name):
        return {"AWS::Region": self.region, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                "AWS::StackName": f"deploy-sentinel-{self.params.get('Environment', 'local')}",
                "AWS::NoValue": NO_VALUE, "AWS::URLSuffix": "amazonaws.com"}[name]

    def ref(self, name):
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.params:
            return self.params[name]
        return self.ensure(name)["Ref"]

    def getatt(self, logical, attr):
        return self.ensure(logical)[attr]

    def sub(self, text, extra=None):
        extra = extra or {}

        def repl(m):
            key = m.group(1)
            if key in extra:
                return str(extra[key])
            if "." in key:
                logical, attr = key.split(".", 1)
                return str(self.getatt(logical, attr))
            return str(self.ref(key))

        return re.sub(r"\$\{([^}!]+)\}", repl, text)

    def resolve(self, v):
        if isinstance(v, list):
            return [x for x in (self.resolve(i) for i in v) if x is not NO_VALUE]
        if not isinstance(v, dict):
            return v
        if len(v) == 1:
            (k, arg), = v.items()
            if k == "Ref":
                return self.ref(arg)
            if k == "Fn::GetAtt":
                return self.getatt(arg[0], arg[1])
            if k == "Fn::Sub":
                if isinstance(arg, list):
                    return self.sub(arg[0], {n: self.resolve(x) for n, x in arg[1].items()})
                return self.sub(arg)
            if k == "Fn::Join":
                return arg[0].join(str(x) for x in self.resolve(arg[1]))
            if k == "Fn::Split":
                return self.resolve(arg[1]).split(arg[0])
            if k == "Fn::Select":
                return self.resolve(arg[1])[int(self.resolve(arg[0]))]
            if k == "Fn::If":
                return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
            if k == "Fn::Equals":
                return self.resolve(arg[0]) == self.resolve(arg[1])
            if k == "Fn::Not":
                return not self.resolve(arg[0])
            if k == "Fn::And":
                return all(self.resolve(x) for x in arg)
            if k == "Fn::Or":
                return any(self.resolve(x) for x in arg)
            if k == "Condition":
                return self.condition(arg)
        out = {}
        for key, val in v.items():
            r = self.resolve(val)
            if r is not NO_VALUE:
                out[key] = r
        return out

    # ----- resources -----
    def ensure(self, logical):
        if logical in self.attrs:
            return self.attrs[logical]
        res = self.t["Resources"][logical]
        if "Condition" in res and not self.condition(res["Condition"]):
            self.attrs[logical] = {"Ref": NO_VALUE}
            return self.attrs[logical]
        kind = res["Type"]
        props = res.get("Properties", {})
        create = {
            "AWS::DynamoDB::Table": self.table,
            "AWS::Events::EventBus": self.bus,
            "AWS::SQS::Queue": self.queue,
            "AWS::SNS::Topic": self.topic,
            "AWS::Events::Rule": self.rule,
            "AWS::KMS::Key": self.key,
            "AWS::KMS::Alias": self.alias,
            "AWS::Events::Archive": self.archive,
            "AWS::IAM::Role": self.role,
        }.get(kind)
        # Placeholder first, so that a rule's own ARN can be referenced.
        self.attrs[logical] = {"Ref": f"{logical}-unprovisioned", "Arn": f"arn:aws:local:::{logical}"}
        if create:
            self.attrs[logical] = create(logical, props)
        return self.attrs[logical]

    def archive(self, logical, props):
        p = self.resolve(props)
        name = p["ArchiveName"]
        known = {a["ArchiveName"] for a in self.events.list_archives()["Archives"]}
        if name not in known:
            self.events.create_archive(
                ArchiveName=name, EventSourceArn=p["SourceArn"], Description=p.get("Description", ""),
                EventPattern=pattern_text(p["EventPattern"]), RetentionDays=int(p["RetentionDays"]))
        arn = self.events.describe_archive(ArchiveName=name)["ArchiveArn"]
        return {"Ref": name, "Arn": arn}

    def table(self, logical, props):
        p = self.resolve(props)
        name = p["TableName"]
        if name not in self.ddb.list_tables()["TableNames"]:
            args = {k: p[k] for k in ["TableName", "AttributeDefinitions", "KeySchema", "BillingMode",
                                      "GlobalSecondaryIndexes"] if k in p}
            sse = p.get("SSESpecification")
            if sse:  # CloudFormation's SSEEnabled is the API's Enabled
                args["SSESpecification"] = {"Enabled": bool(sse.get("SSEEnabled")),
                                            **{k: sse[k] for k in ["SSEType", "KMSMasterKeyId"] if k in sse}}
            self.ddb.create_table(**args)
        # TTL and backups are set apart from creation, as DynamoDB's API wants;
        # checked first so that a re-run changes nothing.
        ttl = p.get("TimeToLiveSpecification")
        current = self.ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if ttl and ttl.get("Enabled") and current.get("TimeToLiveStatus") != "ENABLED":
            self.ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
                "AttributeName": ttl["AttributeName"], "Enabled": True})
        if p.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            self.ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={
                "PointInTimeRecoveryEnabled": True})
        arn = f"arn:aws:dynamodb:{self.region}:{ACCOUNT}:table/{name}"
        return {"Ref": name, "Arn": arn}

    def bus(self, logical, props):
        p = self.resolve(props)
        name = p["Name"]
        try:
            self.events.create_event_bus(Name=name)
        except self.events.exceptions.ResourceAlreadyExistsException:
            pass
        if "Policy" in p:
            # Who may publish (the functions' roles, as named below). moto
            # keeps the policy but does not enforce it.
            self.events.put_permission(EventBusName=name, Policy=json.dumps(p["Policy"]))
        return {"Ref": name, "Name": name, "Arn": f"arn:aws:events:{self.region}:{ACCOUNT}:event-bus/{name}"}

    def role(self, logical, props):
        """A role's ARN as IAM would give it (the bus's policy names the
        functions' roles); the local functions run with dummy credentials,
        so no role is created."""
        name = f"{self.pseudo('AWS::StackName')}-{logical}"
        return {"Ref": name, "Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "RoleId": name}

    def queue(self, logical, props):
        p = self.resolve(props)
        name = p.get("QueueName", logical)
        attributes = {}
        for key in ["VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds"]:
            if key in p:
                attributes[key] = str(p[key])
        if self.visibility_timeout is not None and "VisibilityTimeout" in attributes:
            attributes["VisibilityTimeout"] = str(self.visibility_timeout)
        if "RedrivePolicy" in p:
            attributes["RedrivePolicy"] = json.dumps(p["RedrivePolicy"])
        try:
            url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except self.sqs.exceptions.QueueNameExists:
            # A re-run with other attributes (e.g. another --visibility-timeout).
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        arn = f"arn:aws:sqs:{self.region}:{ACCOUNT}:{name}"
        return {"Ref": url, "Arn": arn, "QueueName": name, "QueueUrl": url}

    def key(self, logical, props):
        """A key per stack, found again by its description on a re-run."""
        p = self.resolve(props)
        description = p.get("Description", logical)
        for k in self.kms.list_keys()["Keys"]:
            meta = self.kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]
            if meta.get("Description") == description and meta.get("KeyState") == "Enabled":
                return {"Ref": meta["KeyId"], "Arn": meta["Arn"], "KeyId": meta["KeyId"]}
        meta = self.kms.create_key(Description=description, Policy=json.dumps(p["KeyPolicy"]))["KeyMetadata"]
        if p.get("EnableKeyRotation"):
            self.kms.enable_key_rotation(KeyId=meta["KeyId"])
        return {"Ref": meta["KeyId"], "Arn": meta["Arn"], "KeyId": meta["KeyId"]}

    def alias(self, logical, props):
        p = self.resolve(props)
        aliases = [a["AliasName"] for a in self.kms.list_aliases()["Aliases"]]
        if p["AliasName"] not in aliases:
            self.kms.create_alias(AliasName=p["AliasName"], TargetKeyId=p["TargetKeyId"])
        return {"Ref": p["AliasName"]}

    def topic(self, logical, props):
        p = self.resolve(props)
        attributes = {k: str(p[k]) for k in ["KmsMasterKeyId", "DisplayName"] if k in p}
        arn = self.sns.create_topic(Name=p.get("TopicName", logical), Attributes=attributes)["TopicArn"]
        return {"Ref": arn, "TopicArn": arn, "TopicName": p.get("TopicName", logical)}

    def rule(self, logical, props):
        name = f"{self.pseudo('AWS::StackName')}-{logical}"
        p = self.resolve(props)
        bus = p.get("EventBusName", "default")
        # A schedule rule is created as declared; the local stack does not
        # fire it (tests deliver the scheduled event themselves).
        trigger = ({"ScheduleExpression": p["ScheduleExpression"]} if "ScheduleExpression" in p
                   else {"EventPattern": pattern_text(p["EventPattern"])})
        arn = self.events.put_rule(Name=name, EventBusName=bus, State=p.get("State", "ENABLED"), **trigger)["RuleArn"]
        keep = ["Id", "Arn", "RetryPolicy", "DeadLetterConfig", "Input", "InputPath", "InputTransformer"]
        targets = [{k: t[k] for k in keep if k in t} for t in p.get("Targets", [])]
        if "ScheduleExpression" in p:
            # moto matches every event of the bus against a rule without a
            # pattern, which AWS never does for a schedule: no targets here.
            targets = []
        if targets:
            self.events.put_targets(Rule=name, EventBusName=bus, Targets=targets)
        return {"Ref": name, "Arn": arn}

    # ----- functions -----
    def functions(self):
        globals_env = self.t.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        env, routes = {}, []
        env.update({k: str(v) for k, v in self.resolve(globals_env).items()})
        for logical, res in self.t["Resources"].items():
            if res["Type"] != "AWS::Serverless::Function":
                continue
            binary = res.get("Metadata", {}).get("BuildProperties", {}).get("Binary", logical)
            props = res.get("Properties", {})
            variables = props.get("Environment", {}).get("Variables", {})
            env.update({k: str(v) for k, v in self.resolve(variables).items()})
            for event_name, event in props.get("Events", {}).items():
                if event.get("Type") != "SQS":
                    continue
                ep = self.resolve(event["Properties"])
                queue_name = ep["Queue"].rsplit(":", 1)[1]
                routes.append({
                    "function": binary,
                    "event": event_name,
                    "queueUrl": self.sqs.get_queue_url(QueueName=queue_name)["QueueUrl"],
                    "queueArn": ep["Queue"],
                    "batchSize": int(ep.get("BatchSize", 10)),
                    "reportBatchItemFailures": "ReportBatchItemFailures" in ep.get("FunctionResponseTypes", []),
                })
        env.update(LOCAL_FUNCTION_ENV)
        return env, routes


def register(stack, template, routes):
    """Makes the stack known to CloudFormation as `sam deploy` would:
    `deploy-sentinel-{Environment}` with the parameters it was provisioned
    with and the template's outputs, so that `sentinel --stack` reads its
    settings (DescribeStacks) here as it does on AWS. The resources
    themselves were created above; the registered stack holds none of them
    (a WaitConditionHandle, which creates nothing)."""
    cfn = boto3.client("cloudformation", region_name=stack.region)
    name = stack.pseudo("AWS::StackName")
    outputs = {}
    for key, spec in template.get("Outputs", {}).items():
        if "Condition" in spec and not stack.condition(spec["Condition"]):
            continue
        value = stack.resolve(spec["Value"])
        if isinstance(value, (str, int, float)):
            outputs[key] = {"Value": str(value)}
    body = {
        "Parameters": {k: {"Type": "String"} for k in stack.params},
        "Resources": {"Settings": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
        "Outputs": outputs,
    }
    # The local stack only (never on AWS): the dispatcher's routes, which
    # play the Lambda event source mappings here, for `sentinel doctor`.
    outputs["LocalDispatcherRoutes"] = {"Value": json.dumps(
        [{"function": r["function"], "queueArn": r["queueArn"]} for r in routes])}
    params = [{"ParameterKey": k, "ParameterValue": ",".join(v) if isinstance(v, list) else v}
              for k, v in stack.params.items()]
    try:
        cfn.delete_stack(StackName=name)
    except Exception:  # noqa: BLE001 - a first provisioning has none
        pass
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(body), Parameters=params)
    return name


def local_inbox(stack):
    """The local stand-in for a team's inbox and chat channel: a queue
    subscribed to the alert topic (SQS subscriptions need no confirmation),
    where `sentinel alert test` is seen to arrive (`make demo`). Messages
    are kept an hour: the tests' alerts land here too."""
    topic = stack.attrs["AlertTopic"]["Ref"]
    name = f"{stack.pseudo('AWS::StackName')}-local-inbox"
    url = stack.sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "3600"})["QueueUrl"]
    arn = f"arn:aws:sqs:{stack.region}:{ACCOUNT}:{name}"
    stack.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--template", default="template.yaml")
    ap.add_argument("--out", default=".local")
    ap.add_argument("--param", action="append", default=[])
    ap.add_argument("--github-app", action="store_true",
                    help="GitHub on, as the local App (LOCAL_GITHUB_PARAMS), where the template declares it")
    ap.add_argument("--visibility-timeout", type=int, default=None,
                    help="override queues' VisibilityTimeout (seconds) so local retries come quickly")
    args = ap.parse_args()

    params = dict(LOCAL_PARAMS, **(LOCAL_GITHUB_PARAMS if args.github_app else {}))
    params.update(dict(p.split("=", 1) for p in args.param))
    with open(args.template) as f:
        template = yaml.load(f, Loader=cfn_loader())
    region = os.environ.get("AWS_REGION", "us-east-1")
    stack = Stack(template, params, region, args.visibility_timeout)
    for logical in template["Resources"]:
        stack.ensure(logical)
    env, routes = stack.functions()
    register(stack, template, routes)
    inbox = local_inbox(stack)

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "routes.json"), "w") as f:
        json.dump(routes, f, indent=2)
    lines = [f"export {k}={json.dumps(v)}" for k, v in sorted(env.items())]
    for logical, attrs in stack.attrs.items():
        if "QueueUrl" in attrs:
            lines.append(f"export SENTINEL_QUEUE_{snake(logical)}={json.dumps(attrs['QueueUrl'])}")
        if logical in template["Resources"] and template["Resources"][logical]["Type"] == "AWS::SNS::Topic":
            lines.append(f"export SENTINEL_TOPIC_{snake(logical)}={json.dumps(attrs['Ref'])}")
    lines.append(f"export SENTINEL_LOCAL_INBOX_URL={json.dumps(inbox)}")
    with open(os.path.join(args.out, "stack.env"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"provisioned {len(stack.attrs)} resources, {len(routes)} routes")


if __name__ == "__main__":
    main()
