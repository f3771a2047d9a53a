"""bootstrap/github-deploy-role.yaml: the deploy roles trust GitHub's tokens
with `aud` sts.amazonaws.com and the one `sub` of main's deploy workflow in
their environment, hold docs/iam's policies, and are out of those policies'
reach; scripts/github-setup.sh sets the GitHub side (subject claim,
environments) and shows it without touching GitHub."""

import fnmatch
import importlib.util
import json
import os
import re
import shutil
import subprocess

import pytest
import yaml

import localservers
from provision import cfn_loader

ROOT = localservers.ROOT
BOOTSTRAP = os.path.join(ROOT, "bootstrap", "github-deploy-role.yaml")
SETUP = os.path.join(ROOT, "scripts", "github-setup.sh")
ISSUER = "token.actions.githubusercontent.com"
REPO = "acme/shop"
ACCOUNT = "123456789012"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
# Each role: the GitHub environment it trusts (from the bootstrap's
# Environment) and the workflow of main it trusts.
ROLES = {"DeployRole": ("{env}", "deploy.yml"), "PlanRole": ("{env}-plan", "deploy.yml"),
         "SmokeRole": ("{env}", "smoke.yml")}


def bootstrap():
    with open(BOOTSTRAP) as f:
        return yaml.load(f, Loader=cfn_loader())


def iam_policy(name):
    with open(os.path.join(ROOT, "docs", "iam", name)) as f:
        return json.load(f)


def resolve(node, params):
    """The template's intrinsics for given parameters (those it uses)."""
    if isinstance(node, list):
        return [resolve(n, params) for n in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        return {"GitHubOidcProvider": PROVIDER, "AWS::AccountId": ACCOUNT}.get(node["Ref"], params.get(node["Ref"]))
    if set(node) == {"Fn::Sub"}:
        return re.sub(r"\$\{([\w:]+)\}", lambda m: str(resolve({"Ref": m.group(1)}, params)), node["Fn::Sub"])
    if set(node) == {"Fn::If"}:
        cond, yes, no = node["Fn::If"]
        return resolve(yes if condition(cond, params) else no, params)
    return {k: resolve(v, params) for k, v in node.items()}


def condition(name, params):
    [left, right] = bootstrap()["Conditions"][name]["Fn::Equals"]
    return resolve(left, params) == resolve(right, params)


def params(env, provider=""):
    return {"GitHubRepository": REPO, "Environment": env, "GitHubOidcProviderArn": provider}


def roles_of(env):
    """{logical id: (GitHub environment trusted, resolved role)} of a stack."""
    out = {}
    for logical, resource in bootstrap()["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        if "Condition" in resource and not condition(resource["Condition"], params(env)):
            continue
        github_env, workflow = ROLES[logical]
        out[logical] = (github_env.format(env=env), workflow, resolve(resource["Properties"], params(env)))
    return out


def token(env="prod", repo=REPO, ref="refs/heads/main", workflow="deploy.yml", event="push",
          subject="customized", aud="sts.amazonaws.com"):
    """A GitHub Actions token's claims. `customized`: the subject that
    scripts/github-setup.sh sets (repo, context, job_workflow_ref)."""
    context = f"environment:{env}" if env else ("pull_request" if event == "pull_request" else f"ref:{ref}")
    job_workflow_ref = f"{repo}/.github/workflows/{workflow}@{ref}"
    sub = f"repo:{repo}:{context}"
    if subject == "customized":
        sub += f":job_workflow_ref:{job_workflow_ref}"
    return {"aud": aud, "sub": sub, "job_workflow_ref": job_workflow_ref, "ref": ref}


def admits(role, claims):
    """IAM's evaluation of the trust policy for AssumeRoleWithWebIdentity
    with GitHub's token: every condition holds; an operator this test does
    not model fails it rather than passing unseen."""
    for statement in role["AssumeRolePolicyDocument"]["Statement"]:
        if statement["Effect"] != "Allow" or statement["Action"] != "sts:AssumeRoleWithWebIdentity":
            continue
        if statement["Principal"] != {"Federated": PROVIDER}:
            continue
        ok = True
        for op, conditions in statement.get("Condition", {}).items():
            for key, want in conditions.items():
                issuer, _, claim = key.partition(":")
                assert issuer == ISSUER, key
                have, wants = claims.get(claim), want if isinstance(want, list) else [want]
                if op == "StringEquals":
                    ok &= have in wants
                elif op == "StringLike":
                    ok &= have is not None and any(fnmatch.fnmatchcase(have, w) for w in wants)
                else:
                    raise AssertionError(f"operator {op} is not modelled here")
        if ok:
            return True
    return False


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_each_role_trusts_exactly_aud_and_the_sub_of_its_workflow_on_main(env):
    roles = roles_of(env)
    assert set(roles) == ({"DeployRole", "PlanRole", "SmokeRole"} if env == "prod"
                          else {"DeployRole", "SmokeRole"})
    for logical, (github_env, workflow, role) in roles.items():
        [statement] = role["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Effect"] == "Allow" and statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"] == {"Federated": PROVIDER}
        sub = (f"repo:{REPO}:environment:{github_env}:job_workflow_ref:"
               f"{REPO}/.github/workflows/{workflow}@refs/heads/main")
        assert statement["Condition"] == {"StringEquals": {f"{ISSUER}:aud": "sts.amazonaws.com",
                                                           f"{ISSUER}:sub": sub}}, logical
        # An existing provider is trusted instead of a new one.
        other = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{ISSUER}"
        existing = resolve(bootstrap()["Resources"][logical]["Properties"], params(env, other))
        assert existing["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Federated": other}


def test_the_trust_conditions_hold_no_pattern():
    """StringEquals compares literally; no StringLike, no `*` or `?` that a
    later edit could turn into a pattern admitting other refs."""
    for resource in bootstrap()["Resources"].values():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
            assert set(statement["Condition"]) == {"StringEquals"}
            for value in statement["Condition"]["StringEquals"].values():
                text = value["Fn::Sub"] if isinstance(value, dict) else value
                assert not re.search(r"[*?]", text), text
                if isinstance(value, dict):
                    assert text.endswith((":job_workflow_ref:${GitHubRepository}/.github/workflows/deploy.yml"
                                          "@refs/heads/main",
                                          ":job_workflow_ref:${GitHubRepository}/.github/workflows/smoke.yml"
                                          "@refs/heads/main")), text


@pytest.mark.parametrize("claims, admitted", [
    (token(), True),
    (token(env="staging"), False),
    (token(env="prod-plan"), False),
    (token(env=None), False),                                  # main, no environment
    (token(ref="refs/heads/feature"), False),                  # another branch naming the environment
    (token(ref="refs/heads/main-old"), False),
    (token(ref="refs/tags/v1.0.0"), False),
    (token(ref="refs/pull/7/merge", env=None, event="pull_request"), False),
    (token(workflow="ci.yml"), False),                         # another workflow on main
    (token(workflow="sam-deploy.yml"), False),                 # a reusable workflow's job
    (token(repo="acme/shop-fork"), False),
    (token(repo="evil/shop"), False),
    (token(subject="default"), False),                         # the subject not customized yet
    (token(aud="https://github.com/acme"), False),
])
def test_only_mains_deploy_workflow_in_the_roles_environment_gets_in(claims, admitted):
    role = roles_of("prod")["DeployRole"][2]
    assert admits(role, claims) is admitted, claims["sub"]


def test_the_plan_role_takes_only_the_plan_environment():
    roles = roles_of("prod")
    assert admits(roles["PlanRole"][2], token(env="prod-plan"))
    assert not admits(roles["PlanRole"][2], token(env="prod"))
    assert not admits(roles["DeployRole"][2], token(env="prod-plan"))


def test_the_smoke_role_takes_only_mains_smoke_workflow_and_the_deploy_roles_never_it():
    roles = roles_of("prod")
    smoke, deploy = roles["SmokeRole"][2], roles["DeployRole"][2]
    assert admits(smoke, token(env="prod", workflow="smoke.yml"))
    assert not admits(smoke, token(env="prod"))                              # deploy.yml
    assert not admits(smoke, token(env="staging", workflow="smoke.yml"))
    assert not admits(smoke, token(env="prod", workflow="smoke.yml", ref="refs/heads/feature"))
    assert not admits(deploy, token(env="prod", workflow="smoke.yml"))


def test_the_repository_parameter_takes_no_wildcard():
    pattern = bootstrap()["Parameters"]["GitHubRepository"]["AllowedPattern"]
    for good in ["acme/shop", "Acme-Co/shop.web_1"]:
        assert re.fullmatch(pattern, good), good
    for bad in ["acme/*", "*/*", "acme/shop*", "acme/sho?", "acme", "acme/shop:environment:prod",
                "acme/shop/x", "-acme/shop"]:
        assert not re.fullmatch(pattern, bad), bad


def test_the_provider_is_githubs_for_sts_and_outlives_the_stack():
    template = bootstrap()
    provider = template["Resources"]["GitHubOidcProvider"]
    assert provider["Condition"] == "CreateOidcProvider"
    assert provider["Properties"] == {"Url": f"https://{ISSUER}", "ClientIdList": ["sts.amazonaws.com"]}
    assert provider["DeletionPolicy"] == provider["UpdateReplacePolicy"] == "Retain"
    assert condition("CreateOidcProvider", params("dev"))
    assert not condition("CreateOidcProvider", params("dev", PROVIDER))
    pattern = template["Parameters"]["GitHubOidcProviderArn"]["AllowedPattern"]
    assert re.fullmatch(pattern, PROVIDER) and re.fullmatch(pattern, "")
    assert not re.fullmatch(pattern, f"arn:aws:iam::{ACCOUNT}:oidc-provider/example.com")


# The deploy role's managed policies: one per docs/iam/deployer-<concern>.json.
DEPLOYER_FILES = sorted(n for n in os.listdir(os.path.join(ROOT, "docs", "iam"))
                        if n.startswith("deployer-") and n.endswith(".json"))


def deployer():
    """The deploy role's policies as one document (IAM evaluates their union)."""
    return {"Statement": [s for doc in DEPLOYER_FILES for s in iam_policy(doc)["Statement"]]}


def managed_policy_holding(resources, doc):
    [logical] = [k for k, r in resources.items() if r["Type"] == "AWS::IAM::ManagedPolicy"
                 and r["Properties"]["Description"].startswith(f"docs/iam/{doc} ")]
    return logical


def test_the_roles_hold_docs_iam_policies_as_they_are():
    resources = bootstrap()["Resources"]
    assert DEPLOYER_FILES, "docs/iam/deployer-*.json"
    deploy_policies = [managed_policy_holding(resources, doc) for doc in DEPLOYER_FILES]
    for logical, doc in zip(deploy_policies, DEPLOYER_FILES):
        assert resources[logical]["Properties"]["PolicyDocument"] == iam_policy(doc), (
            f"{logical} differs from docs/iam/{doc}: run scripts/sync-bootstrap-policies.py")
        assert "Condition" not in resources[logical], f"{logical}: every environment's deploy role holds it"
    attached = resources["DeployRole"]["Properties"]["ManagedPolicyArns"]
    assert sorted(r["Ref"] for r in attached) == sorted(deploy_policies), "DeployRole holds every deployer policy"
    planner = managed_policy_holding(resources, "planner.json")
    assert resources[planner]["Properties"]["PolicyDocument"] == iam_policy("planner.json")
    assert resources["PlanRole"]["Properties"]["ManagedPolicyArns"] == [{"Ref": planner}]
    smoke = managed_policy_holding(resources, "smoke.json")
    assert resources[smoke]["Properties"]["PolicyDocument"] == iam_policy("smoke.json")
    assert resources["SmokeRole"]["Properties"]["ManagedPolicyArns"] == [{"Ref": smoke}]
    for role in ["DeployRole", "PlanRole", "SmokeRole"]:
        assert "Policies" not in resources[role]["Properties"], f"{role}: only docs/iam's policies"
    assert resources[planner]["Condition"] == resources["PlanRole"]["Condition"] == "IsProd"
    # Each managed policy is named per environment, so that the stacks of an account do not collide.
    for logical in deploy_policies + [planner, smoke]:
        assert resources[logical]["Properties"]["ManagedPolicyName"]["Fn::Sub"].endswith("-${Environment}")


def sync_module():
    spec = importlib.util.spec_from_file_location("sync", os.path.join(ROOT, "scripts", "sync-bootstrap-policies.py"))
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    return sync


def test_the_sync_script_rewrites_a_stale_copy():
    sync = sync_module()
    with open(BOOTSTRAP) as f:
        text = f.read()
    assert sync.synced(text) == text, "run scripts/sync-bootstrap-policies.py"
    stale = text.replace('"cloudformation:ExecuteChangeSet",\n', "", 1)
    assert stale != text and sync.synced(stale) == text
    # Every deployer file has its block, once: a concern added to docs/iam
    # without its managed policy in the bootstrap is refused.
    assert sync.problems(text) == []
    assert sorted(sync.blocks(text)) == sorted([f"docs/iam/{d}" for d in DEPLOYER_FILES]
                                               + ["docs/iam/planner.json", "docs/iam/smoke.json"])
    first = DEPLOYER_FILES[0]
    without = re.sub(rf"^ *# BEGIN docs/iam/{re.escape(first)}\n.*?^ *# END docs/iam/{re.escape(first)}\n", "", text,
                     flags=re.M | re.S)
    assert sync.problems(without) == [f"no '# BEGIN docs/iam/{first}' block"]
    with pytest.raises(SystemExit):
        sync.synced(without)
    gone = text.replace(f"docs/iam/{first}", "docs/iam/deployer-gone.json")
    assert "'# BEGIN docs/iam/deployer-gone.json' names no policy the pipeline holds" in sync.problems(gone)


def test_the_planner_can_plan_but_not_execute_or_change_the_stack():
    deployer_, planner = deployer(), iam_policy("planner.json")

    def pairs(policy):
        return {(a, r) for s in policy["Statement"] if s["Effect"] == "Allow"
                for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
                for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])}

    assert pairs(planner) <= pairs(deployer_), "the planner holds only what the deployer holds"
    assert {a.split(":")[0] for a, _ in pairs(planner)} == {"cloudformation", "s3"}
    stack = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/deploy-sentinel-prod/0f0e"
    executes = [r for a, r in pairs(planner) if fnmatch.fnmatchcase("cloudformation:ExecuteChangeSet", a)]
    assert not [r for r in executes if fnmatch.fnmatchcase(stack, r)], "the planner executes no prod change set"
    for needed in ["cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet",
                   "cloudformation:DescribeStacks", "cloudformation:GetTemplateSummary"]:
        assert any(a == needed and fnmatch.fnmatchcase(stack, r) for a, r in pairs(planner)), needed


def test_the_pipelines_policies_cannot_reach_the_bootstrap():
    """The deployer may create, change and pass roles named deploy-sentinel-*
    and change deploy-sentinel-* stacks: the bootstrap's stack, roles,
    policies and provider must be named outside the resources of every
    statement that changes IAM or CloudFormation, or a deploy could rewrite
    its own trust."""
    names = []
    for env in ["dev", "staging", "prod"]:
        p = params(env)
        for logical, resource in bootstrap()["Resources"].items():
            if "Condition" in resource and not condition(resource["Condition"], p):
                continue
            props = resolve(resource["Properties"], p)
            if resource["Type"] == "AWS::IAM::Role":
                names.append(f"arn:aws:iam::{ACCOUNT}:role/{props['RoleName']}")
            elif resource["Type"] == "AWS::IAM::ManagedPolicy":
                names.append(f"arn:aws:iam::{ACCOUNT}:policy/{props['ManagedPolicyName']}")
        names.append(f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/sentinel-github-deploy-{env}/0f0e")
    names.append(PROVIDER)
    for doc in DEPLOYER_FILES + ["planner.json", "smoke.json"]:
        for s in iam_policy(doc)["Statement"]:
            actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
            acting = [a for a in actions if a.startswith(("iam:", "cloudformation:"))
                      and not a.split(":")[1].startswith(("Describe", "Get", "List", "Validate"))]
            if not acting:
                continue
            for r in s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]:
                reached = [n for n in names if fnmatch.fnmatchcase(n, r)]
                assert not reached, f"{doc} {s['Sid']} ({r}) reaches {reached}"
    with open(os.path.join(ROOT, "docs", "deployment.md")) as f:
        stacks = set(re.findall(r"--stack-name (sentinel-github-deploy-\S+)", f.read()))
    assert stacks, "docs/deployment.md names the bootstrap stack"


def test_the_bootstrap_template_lints():
    cfn_lint = os.path.join(ROOT, ".venv", "bin", "cfn-lint")
    if not os.access(cfn_lint, os.X_OK):
        pytest.skip("cfn-lint is not installed (make bootstrap)")
    out = subprocess.run([cfn_lint, BOOTSTRAP], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, **localservers.DUMMY_AWS))
    assert out.returncode == 0, out.stdout + out.stderr


# scripts/github-setup.sh


@pytest.fixture
def fake_gh(tmp_path):
    """A `gh` first on PATH that logs each call (arguments, stdin) and
    answers the lookups: team platform is 42, user alice 7; prod has a
    branch policy `release/*` (id 9) and no `main`, the others have `main`."""
    bin_dir, log = tmp_path / "bin", tmp_path / "gh.log"
    bin_dir.mkdir()
    script = bin_dir / "gh"
    script.write_text(f"""#!{shutil.which('python3')}
import json, sys
args = sys.argv[1:]
stdin = sys.stdin.read() if "--input" in args else ""
with open({str(log)!r}, "a") as f:
    f.write(json.dumps({{"args": args, "stdin": stdin}}) + "\\n")
path = next((a for a in args if a.startswith(("repos/", "orgs/", "users/"))), "")
jq = args[args.index("--jq") + 1] if "--jq" in args else ""
if path == "orgs/acme/teams/platform":
    print(42)
elif path == "users/alice":
    print(7)
elif path.endswith("/deployment-branch-policies") and "--method" not in args:
    prod = "/environments/prod/" in path
    if 'select(.name != "main"' in jq:
        print("9" if prod else "")
    elif 'select(.name == "main"' in jq:
        print("" if prod else "5")
""")
    script.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}")
    return env, log


def setup(env, *args):
    return subprocess.run([SETUP, *args], capture_output=True, text=True, env=env, timeout=60)


def calls(log):
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_the_dry_run_shows_every_setting_and_calls_nothing(fake_gh):
    env, log = fake_gh
    out = setup(env, "--repo", REPO, "--reviewer", "team:platform")
    assert out.returncode == 0, out.stderr
    assert calls(log) == [], "a dry run calls no gh"
    text = out.stdout
    assert (f"gh api --method PUT repos/{REPO}/actions/oidc/customization/sub --input - <<'JSON'\n"
            '{"use_default":false,"include_claim_keys":["repo","context","job_workflow_ref"]}\n') in text
    for env_name in ["dev", "staging", "prod-plan", "prod"]:
        assert f"PUT repos/{REPO}/environments/{env_name} " in text, env_name
        assert (f"POST repos/{REPO}/environments/{env_name}/deployment-branch-policies "
                "-f name=main -f type=branch") in text, env_name
    assert text.count('"custom_branch_policies":true') == 4 and text.count('"reviewers"') == 1
    assert '"prevent_self_review":true,"can_admins_bypass":false' in text
    assert "--apply" in out.stderr


def test_apply_runs_the_same_calls(fake_gh):
    env, log = fake_gh
    out = setup(env, "--repo", REPO, "--reviewer", "team:platform", "--reviewer", "user:alice",
                "--role", f"prod=arn:aws:iam::{ACCOUNT}:role/sentinel-github-deploy-prod",
                "--role", f"prod-plan=arn:aws:iam::{ACCOUNT}:role/sentinel-github-plan-prod", "--apply")
    assert out.returncode == 0, out.stdout + out.stderr
    made = calls(log)
    puts = {c["args"][3]: json.loads(c["stdin"]) for c in made if c["args"][:3] == ["api", "--method", "PUT"]}
    assert puts[f"repos/{REPO}/actions/oidc/customization/sub"] == {
        "use_default": False, "include_claim_keys": ["repo", "context", "job_workflow_ref"]}
    only_main = {"protected_branches": False, "custom_branch_policies": True}
    for env_name in ["dev", "staging", "prod-plan"]:
        assert puts[f"repos/{REPO}/environments/{env_name}"] == {"deployment_branch_policy": only_main}
    assert puts[f"repos/{REPO}/environments/prod"] == {
        "deployment_branch_policy": only_main,
        "reviewers": [{"type": "Team", "id": 42}, {"type": "User", "id": 7}],
        "prevent_self_review": True, "can_admins_bypass": False}
    changed = [c["args"][1:4] for c in made if c["args"][1:2] == ["--method"] and c["args"][2] in ("POST", "DELETE")]
    assert changed == [["--method", "DELETE", f"repos/{REPO}/environments/prod/deployment-branch-policies/9"],
                       ["--method", "POST", f"repos/{REPO}/environments/prod/deployment-branch-policies"]]
    secrets = [c["args"] for c in made if c["args"][:2] == ["secret", "set"]]
    assert [s[s.index("--env") + 1] for s in secrets] == ["prod-plan", "prod"]


def test_the_smoke_role_goes_to_its_own_secret(fake_gh):
    env, log = fake_gh
    role = f"arn:aws:iam::{ACCOUNT}:role/sentinel-github-smoke-staging"
    out = setup(env, "--repo", REPO, "--reviewer", "team:platform", "--smoke-role", f"staging={role}", "--apply")
    assert out.returncode == 0, out.stdout + out.stderr
    secrets = [c["args"] for c in calls(log) if c["args"][:2] == ["secret", "set"]]
    assert secrets == [["secret", "set", "AWS_SMOKE_ROLE_ARN", "--repo", REPO, "--env", "staging", "--body", role]]


@pytest.mark.parametrize("args, says", [
    (["--repo", REPO], "--reviewer"),
    (["--repo", "acme/*", "--reviewer", "team:platform"], "--repo"),
    (["--repo", REPO, "--reviewer", "platform"], "team:SLUG or user:LOGIN"),
    (["--repo", REPO, "--reviewer", "team:platform",
      "--role", f"prod-plan=arn:aws:iam::{ACCOUNT}:role/sentinel-github-deploy-prod"], "sentinel-github-plan-prod"),
    (["--repo", REPO, "--reviewer", "team:platform",
      "--role", f"qa=arn:aws:iam::{ACCOUNT}:role/sentinel-github-deploy-qa"], "no environment qa"),
    (["--repo", REPO, "--reviewer", "team:platform",
      "--smoke-role", f"prod=arn:aws:iam::{ACCOUNT}:role/sentinel-github-deploy-prod"], "sentinel-github-smoke-prod"),
])
def test_the_setup_refuses_what_would_weaken_it(fake_gh, args, says):
    env, log = fake_gh
    out = setup(env, *args, "--apply")
    assert out.returncode == 2 and says in out.stderr, out.stderr
    assert calls(log) == []
