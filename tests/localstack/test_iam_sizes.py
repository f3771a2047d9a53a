"""Every policy the project ships fits IAM's size quotas, measured as IAM
counts (whitespace aside) with the templates' intrinsic functions replaced
by the longest values a real installation can give them. IAM refuses a
policy over its quota at deploy time; moto does not check.

IAM's quotas (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html,
"IAM and AWS STS character limits"): a managed policy at most 6,144
characters; a role's inline policies at most 10,240 characters together;
a role trust policy at most 2,048 (the default quota); at most 10 managed
policies attached to a role (the default quota, 20 on request). "IAM does
not count white space when calculating the size of a policy."
"""

import json

import pytest

import iam_documents as docs

MANAGED_POLICY = 6144
ROLE_INLINE_AGGREGATE = 10240
TRUST_POLICY = 2048
MANAGED_POLICIES_PER_ROLE = 10

# The longest values a real installation gives the intrinsics, each bounded
# on its own: the longest partition name (aws-us-gov), a 14-character region
# (ap-southeast-5), the longest Environment (staging), CloudFormation's
# 13-character name suffix; 30 watched Amplify apps (ids are "d" and 13
# characters) and 20 watched stacks with 64-character names, the most the
# README supports (each app and stack adds to every function role that scopes
# to them); a GitHub repository of the longest owner/name GitHub allows.
WORST_TEMPLATE = {
    "Environment": "staging",
    "AmplifyAppIds": [f"d{i:013d}" for i in range(30)],
    "WatchedStacks": [f"{i:02d}" + "s" * 62 for i in range(20)],
    "AlertEmail": "alerts-of-the-platform-team@example.com",
    "OperatorArns": [f"arn:aws-us-gov:iam::123456789012:role/{'o' * 60}{i}" for i in range(5)],
    "AdoptTable": "false",
    "TableThrottleAlarm": "on",
}
WORST_BOOTSTRAP = {
    "GitHubRepository": "o" * 39 + "/" + "r" * 100,
    "Environment": "staging",
    "GitHubOidcProviderArn": "",
}


def worst(params, stack):
    return docs.Account(partition="aws-us-gov", region="ap-southeast-5", account="123456789012",
                        stack=stack, params=params, suffix="A" * 13)


def size(policy):
    """Characters IAM counts: the JSON without the whitespace between its
    tokens (compact separators; whitespace inside strings is kept, which can
    only overcount)."""
    return len(json.dumps(policy, separators=(",", ":")))


def measured():
    template = docs.documents_of(docs.TEMPLATE, worst(WORST_TEMPLATE, "deploy-sentinel-staging"))
    bootstrap = []
    for env, provider in [("staging", ""), ("prod", "")]:
        bootstrap += docs.documents_of(docs.BOOTSTRAP, worst(dict(WORST_BOOTSTRAP, Environment=env, GitHubOidcProviderArn=provider),
                                                            f"sentinel-github-deploy-{env}"))
    return docs.docs_iam() + template + bootstrap


def over_quota(documents):
    """What exceeds a quota: [(where, characters, quota)]."""
    out = []
    inline = {}
    for d in documents:
        n = size(d.policy)
        if d.kind == "managed" and n > MANAGED_POLICY:
            out.append((d.where, n, MANAGED_POLICY))
        elif d.kind == "trust" and n > TRUST_POLICY:
            out.append((d.where, n, TRUST_POLICY))
        elif d.kind == "inline":
            key = d.where.rsplit(" ", 1)[0]
            inline[key] = inline.get(key, 0) + n
    out += [(f"{role} (inline policies together)", n, ROLE_INLINE_AGGREGATE)
            for role, n in inline.items() if n > ROLE_INLINE_AGGREGATE]
    return out


def test_every_policy_fits_its_quota():
    documents = measured()
    kinds = {d.kind for d in documents}
    assert {"managed", "inline", "trust"} <= kinds, kinds
    # Every managed policy is measured: the docs/iam files, the template's
    # ReporterPolicy, the bootstrap's deployer and planner policies.
    managed = {d.where for d in documents if d.kind == "managed"}
    assert {"docs/iam/operator.json", "docs/iam/planner.json"} <= managed
    assert any("ReporterPolicy" in w for w in managed)
    assert sum("bootstrap/" in w for w in managed) >= len(docs.DEPLOYER_FILES) + 1
    assert over_quota(documents) == []


def test_the_measure_can_say_no():
    # A managed policy of one statement whose resource list passes 6,144.
    big = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                    "Resource": [f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(260)]}]}
    assert size(big) > MANAGED_POLICY
    assert over_quota([docs.Document("big", "managed", big)]) == [("big", size(big), MANAGED_POLICY)]
    # Whitespace is not counted: the file as indented is longer than what IAM counts.
    text = json.dumps(docs.load("operator.json"), indent=2)
    assert size(docs.load("operator.json")) < len(text)
    # Two inline policies of one role count together.
    half = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                     "Resource": [f"arn:aws:s3:::bucket-{i:04d}/*" for i in range(200)]}]}
    two = [docs.Document("r RoleX p1", "inline", half, "RoleX"), docs.Document("r RoleX p2", "inline", half, "RoleX")]
    assert size(half) < ROLE_INLINE_AGGREGATE < 2 * size(half)
    assert [w for w, _, _ in over_quota(two)] == ["r RoleX (inline policies together)"]


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_bootstrap_role_holds_at_most_ten_managed_policies(env):
    tmpl = docs.template(docs.BOOTSTRAP)
    resolver = docs.Resolver(tmpl, docs.Account(params=dict(WORST_BOOTSTRAP, Environment=env)))
    for logical, resource in tmpl["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        if "Condition" in resource and not resolver.condition(resource["Condition"]):
            continue
        arns = resource["Properties"].get("ManagedPolicyArns", [])
        assert 0 < len(arns) <= MANAGED_POLICIES_PER_ROLE, f"{logical}: {len(arns)} managed policies"
