"""Every IAM policy document the project ships, as IAM receives it: the
docs/iam files, and the identity, resource and trust policies of
template.yaml and bootstrap/github-deploy-role.yaml with their intrinsic
functions resolved for a given account, region and set of parameters. Used
by the size test (tests/localstack/test_iam_sizes.py), the derived
permissions (test_iam.py) and the linter (scripts/lint-iam.py)."""

import fnmatch
import glob
import json
import os
import re

import yaml

from provision import cfn_loader

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IAM = os.path.join(ROOT, "docs", "iam")
TEMPLATE = os.path.join(ROOT, "template.yaml")
BOOTSTRAP = os.path.join(ROOT, "bootstrap", "github-deploy-role.yaml")

# The deploy role's managed policies, one per concern (IAM caps a managed
# policy at 6,144 characters: the deployer's statements do not fit in one).
DEPLOYER_FILES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(IAM, "deployer-*.json")))


def load(name):
    with open(os.path.join(IAM, name)) as f:
        return json.load(f)


def deployer():
    """The deploy role's policies as one document (IAM's evaluation is the
    union of a role's policies)."""
    return {"Version": "2012-10-17",
            "Statement": [s for name in DEPLOYER_FILES for s in load(name)["Statement"]]}


def as_list(value):
    return value if isinstance(value, list) else [value]


# ----- a small model of IAM's evaluation, for the few requests tests ask about


def _condition_holds(op, key, wants, context):
    """One condition operator on one key, as IAM evaluates it (the operators
    the project's policies use). A key the request lacks fails every
    operator but the negated ones and Null, as IAM documents."""
    wants = [str(w).lower() if isinstance(w, bool) else str(w) for w in as_list(wants)]
    qualifier, _, base = op.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base.removesuffix("IfExists")
    have = context.get(key)
    if base == "Null":
        return (have is None) == (wants[0] == "true")
    if have is None:
        return if_exists or base.startswith(("StringNot", "ArnNot"))
    values = as_list(have)
    match = {"StringEquals": lambda v, w: v == w,
             "StringNotEquals": lambda v, w: v == w,
             "StringLike": fnmatch.fnmatchcase,
             "StringNotLike": fnmatch.fnmatchcase,
             "ArnEquals": lambda v, w: v == w,
             "ArnLike": fnmatch.fnmatchcase,
             "ArnNotEquals": lambda v, w: v == w,
             "ArnNotLike": fnmatch.fnmatchcase,
             "Bool": lambda v, w: str(v).lower() == w}
    if base not in match:
        raise AssertionError(f"condition operator {op} is not modelled here")
    negated = "Not" in base
    hits = [any(match[base](str(v), w) for w in wants) for v in values]
    if qualifier == "ForAllValues":
        ok = all(hits)
        return ok if not negated else not any(hits)
    ok = any(hits)
    return not ok if negated else ok


def statement_applies(statement, action, resource, context):
    def matches(patterns):
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in as_list(patterns))

    def covers(patterns):
        return any(fnmatch.fnmatchcase(resource, p) for p in as_list(patterns))

    if "Action" in statement and not matches(statement["Action"]):
        return False
    if "NotAction" in statement and matches(statement["NotAction"]):
        return False
    if "Resource" in statement and not covers(statement["Resource"]):
        return False
    if "NotResource" in statement and covers(statement["NotResource"]):
        return False
    return all(_condition_holds(op, key, wants, context)
               for op, keys in statement.get("Condition", {}).items() for key, wants in keys.items())


def allows(policy, action, resource, context=None):
    """Whether the identity policy allows the request: some Allow applies
    and no Deny does."""
    context = context or {}
    statements = policy["Statement"]
    if any(s["Effect"] == "Deny" and statement_applies(s, action, resource, context) for s in statements):
        return False
    return any(s["Effect"] == "Allow" and statement_applies(s, action, resource, context) for s in statements)


# ----- the templates' documents, resolved


def template(path):
    with open(path) as f:
        return yaml.load(f, Loader=cfn_loader())


class Account:
    """Where a stack is deployed and with what: the pseudo parameters, the
    parameters, and the names CloudFormation would generate."""

    def __init__(self, partition="aws", region="us-east-1", account="123456789012",
                 stack="deploy-sentinel-dev", params=None, suffix="ABCDEFGHIJKL"):
        self.partition, self.region, self.account, self.stack = partition, region, account, stack
        self.params = params or {}
        # CloudFormation's generated names end in a random suffix (12-13 characters).
        self.suffix = suffix

    def arn(self, service, resource, region=True, account=True):
        return (f"arn:{self.partition}:{service}:{self.region if region else ''}:"
                f"{self.account if account else ''}:{resource}")


# What a resource's Ref and Fn::GetAtt return, by type: (name property,
# Ref, {attribute: value}), from the name (given or generated).
def _resource_values(acct, logical, resource, name, bus="default"):
    t = resource["Type"]
    a = acct
    if t == "AWS::IAM::Role":
        arn = a.arn("iam", f"role/{name}", region=False)
        return name, {"Arn": arn, "RoleId": "AROA" + "X" * 17}
    if t == "AWS::IAM::ManagedPolicy":
        arn = a.arn("iam", f"policy/{name}", region=False)
        return arn, {"PolicyArn": arn}
    if t == "AWS::IAM::OIDCProvider":
        return a.arn("iam", "oidc-provider/token.actions.githubusercontent.com", region=False), {}
    if t == "AWS::SQS::Queue":
        return (f"https://sqs.{a.region}.amazonaws.com/{a.account}/{name}",
                {"Arn": a.arn("sqs", name), "QueueName": name, "QueueUrl": f"https://sqs.{a.region}.amazonaws.com/{a.account}/{name}"})
    if t == "AWS::Logs::LogGroup":
        return name, {"Arn": a.arn("logs", f"log-group:{name}:*")}
    if t == "AWS::Events::EventBus":
        return name, {"Arn": a.arn("events", f"event-bus/{name}"), "Name": name}
    if t == "AWS::Events::Rule":
        path = f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}"
        return name, {"Arn": a.arn("events", path)}
    if t == "AWS::Events::Archive":
        return name, {"Arn": a.arn("events", f"archive/{name}")}
    if t == "AWS::SNS::Topic":
        return a.arn("sns", name), {"TopicName": name, "TopicArn": a.arn("sns", name)}
    if t == "AWS::KMS::Key":
        key = "1234abcd-12ab-34cd-56ef-1234567890ab"
        return key, {"Arn": a.arn("kms", f"key/{key}"), "KeyId": key}
    if t == "AWS::DynamoDB::Table":
        return name, {"Arn": a.arn("dynamodb", f"table/{name}")}
    if t in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
        return name, {"Arn": a.arn("lambda", f"function:{name}")}
    return name, {}


NAME_PROPERTY = {
    "AWS::IAM::Role": "RoleName", "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::SQS::Queue": "QueueName", "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Events::EventBus": "Name", "AWS::Events::Rule": "Name", "AWS::Events::Archive": "ArchiveName",
    "AWS::SNS::Topic": "TopicName", "AWS::DynamoDB::Table": "TableName",
    "AWS::Serverless::Function": "FunctionName", "AWS::Lambda::Function": "FunctionName",
}
# The longest name CloudFormation generates for each type (stack-logical-suffix, cut).
NAME_LIMIT = {"AWS::IAM::Role": 64, "AWS::IAM::ManagedPolicy": 128, "AWS::Events::Rule": 64,
              "AWS::SQS::Queue": 80, "AWS::SNS::Topic": 256}

NO_VALUE = object()


class Resolver:
    def __init__(self, tmpl, acct):
        self.tmpl, self.acct = tmpl, acct
        params = {}
        for name, spec in tmpl.get("Parameters", {}).items():
            value = acct.params.get(name, spec.get("Default"))
            if spec.get("Type") == "CommaDelimitedList":
                value = value if isinstance(value, list) else ([] if value in (None, "") else str(value).split(","))
                value = value or [""]
            params[name] = value
        self.params = params
        self.pseudo = {"AWS::Partition": acct.partition, "AWS::Region": acct.region,
                       "AWS::AccountId": acct.account, "AWS::StackName": acct.stack,
                       "AWS::StackId": acct.arn("cloudformation", f"stack/{acct.stack}/"
                                                                  "0f0e1d2c-3b4a-5968-7788-99aabbccddee"),
                       "AWS::URLSuffix": "amazonaws.com", "AWS::NoValue": NO_VALUE}
        self._values = {}

    def condition(self, name):
        return self.value(self.tmpl["Conditions"][name])

    def _generated(self, logical, resource):
        t = resource["Type"]
        prop = NAME_PROPERTY.get(t)
        given = resource.get("Properties", {}).get(prop) if prop else None
        if given is not None:
            return self.value(given)
        name = f"{self.acct.stack}-{logical}-{self.acct.suffix}"
        return name[:NAME_LIMIT.get(t, 64)]

    def resource(self, logical):
        if logical not in self._values:
            resource = self.tmpl["Resources"][logical]
            bus = self.value(resource.get("Properties", {}).get("EventBusName", "default"))
            self._values[logical] = _resource_values(self.acct, logical, resource,
                                                     self._generated(logical, resource), bus)
        return self._values[logical]

    def ref(self, name):
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.params:
            return self.params[name]
        return self.resource(name)[0]

    def value(self, node):
        if isinstance(node, list):
            out = [self.value(n) for n in node]
            return [o for o in out if o is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            [(fn, arg)] = node.items()
            if fn == "Ref":
                return self.ref(arg)
            if fn == "Fn::GetAtt":
                logical, attr = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.resource(logical)[1][attr]
            if fn == "Fn::Sub":
                text, extra = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                extra = {k: self.value(v) for k, v in extra.items()}

                def one(m):
                    name = m.group(1)
                    if name in extra:
                        return str(extra[name])
                    if "." in name:
                        logical, attr = name.split(".", 1)
                        return str(self.resource(logical)[1][attr])
                    value = self.ref(name)
                    return ",".join(value) if isinstance(value, list) else str(value)

                return re.sub(r"\$\{([\w:.]+)\}", one, text)
            if fn == "Fn::Join":
                sep, items = arg
                items = self.value(items)
                return sep.join(str(i) for i in as_list(items))
            if fn == "Fn::Split":
                sep, text = arg
                return str(self.value(text)).split(sep)
            if fn == "Fn::Select":
                index, items = arg
                return self.value(items)[int(self.value(index))]
            if fn == "Fn::If":
                cond, yes, no = arg
                return self.value(yes if self.condition(cond) else no)
            if fn == "Fn::Equals":
                left, right = self.value(arg[0]), self.value(arg[1])
                return left == right
            if fn == "Fn::Not":
                return not self.value(arg[0])
            if fn == "Fn::And":
                return all(self.value(a) for a in arg)
            if fn == "Fn::Or":
                return any(self.value(a) for a in arg)
            if fn == "Condition":
                return self.condition(arg)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}


class Document:
    """One policy document: where it is, its kind and what it is
    (identity: a managed or inline policy; resource; trust)."""

    def __init__(self, where, kind, policy, holder=None):
        self.where, self.kind, self.policy, self.holder = where, kind, policy, holder

    def __repr__(self):
        return f"{self.where} ({self.kind})"


def documents_of(path, acct):
    """The policy documents of a template's resources that exist for these
    parameters, resolved."""
    tmpl = template(path)
    r = Resolver(tmpl, acct)
    rel = os.path.relpath(path, ROOT)
    out = []
    for logical, resource in tmpl["Resources"].items():
        if "Condition" in resource and not r.condition(resource["Condition"]):
            continue
        props = resource.get("Properties", {})
        t = resource["Type"]
        if t == "AWS::IAM::ManagedPolicy":
            out.append(Document(f"{rel} {logical}", "managed", r.value(props["PolicyDocument"])))
        elif t == "AWS::IAM::Role":
            for p in props.get("Policies", []):
                out.append(Document(f"{rel} {logical} {p['PolicyName']}", "inline",
                                    r.value(p["PolicyDocument"]), holder=logical))
            out.append(Document(f"{rel} {logical} AssumeRolePolicyDocument", "trust",
                                r.value(props["AssumeRolePolicyDocument"]), holder=logical))
        elif t == "AWS::SQS::QueuePolicy":
            out.append(Document(f"{rel} {logical}", "resource", r.value(props["PolicyDocument"])))
        elif t == "AWS::Events::EventBus" and "Policy" in props:
            out.append(Document(f"{rel} {logical} Policy", "resource", r.value(props["Policy"])))
        elif t == "AWS::KMS::Key":
            out.append(Document(f"{rel} {logical} KeyPolicy", "resource", r.value(props["KeyPolicy"])))
    return out


def docs_iam():
    return [Document(f"docs/iam/{os.path.basename(p)}", "managed", load(os.path.basename(p)))
            for p in sorted(glob.glob(os.path.join(IAM, "*.json")))]


# The parameters a test or the linter resolves the templates with: the
# defaults (nothing optional), every optional part on, an adopted table,
# and GitHub on either way (each !If taken both ways).
TEMPLATE_PARAMS = {
    "defaults": {"Environment": "dev", "AmplifyAppIds": ["d1a2b3c4d5e6f7"]},
    "everything": {"Environment": "dev", "AmplifyAppIds": ["d1a2b3c4d5e6f7", "d7f6e5d4c3b2a1"],
                   "WatchedStacks": ["shop-api-prod", "billing-*"], "AlertEmail": "ops@example.com",
                   "OperatorArns": ["arn:aws:iam::123456789012:role/operators"],
                   "AdoptTable": "false", "TableThrottleAlarm": "on"},
    "adopted-table": {"Environment": "prod", "AmplifyAppIds": ["d1a2b3c4d5e6f7"], "AdoptTable": "true"},
    # GitHub on (docs/github.md), by the App (its key under a hierarchy,
    # with the leading /) and by a token (a name without it): both ARN forms.
    "github-app": {"Environment": "prod", "AmplifyAppIds": ["d1a2b3c4d5e6f7"], "GitHubAppId": "123456",
                   "GitHubPrivateKeyParameter": "/deploy-sentinel/prod/github-app-key"},
    "github-token": {"Environment": "staging", "AmplifyAppIds": ["d1a2b3c4d5e6f7"],
                     "GitHubTokenParameter": "deploy-sentinel-github-token"},
}
BOOTSTRAP_PARAMS = {
    "dev": {"GitHubRepository": "acme/shop", "Environment": "dev"},
    "prod-existing-provider": {"GitHubRepository": "acme/shop", "Environment": "prod",
                               "GitHubOidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/"
                                                        "token.actions.githubusercontent.com"},
}


def every_document(acct_for=lambda path, name, params: Account(params=params,
                                                               stack=f"deploy-sentinel-{params['Environment']}"
                                                               if path == TEMPLATE else
                                                               f"sentinel-github-deploy-{params['Environment']}")):
    """(variant, Document) for the docs/iam files and both templates under
    each parameter set: what the linter and the size test go through."""
    out = [("", d) for d in docs_iam()]
    for path, variants in [(TEMPLATE, TEMPLATE_PARAMS), (BOOTSTRAP, BOOTSTRAP_PARAMS)]:
        for name, params in variants.items():
            out += [(name, d) for d in documents_of(path, acct_for(path, name, params))]
    return out
