#!/usr/bin/env bash
# The GitHub side of the deploy roles (docs/deployment.md, "GitHub setup").
# These are repository settings, not files: this writes them as a script of
# `gh api` calls and prints it (the default), or runs that same script
# (--apply: gh logged in as an admin of the repository).
#
#   scripts/github-setup.sh --repo OWNER/REPO --reviewer team:SLUG|user:LOGIN [--reviewer ...]
#                           [--role ENV=ROLE_ARN ...] [--smoke-role ENV=ROLE_ARN ...] [--apply]
#
# 1. The OIDC subject of the repository's tokens names the job's workflow:
#    include_claim_keys [repo, context, job_workflow_ref], so a deploy job's
#    sub is repo:OWNER/REPO:environment:ENV:job_workflow_ref:OWNER/REPO/.github/workflows/deploy.yml@refs/heads/main,
#    the only sub the roles of bootstrap/github-deploy-role.yaml accept.
#    It applies to every workflow of the repository.
# 2. The environments dev, staging, prod-plan and prod take deployments from
#    main only (a branch policy `main`; any other is deleted); prod waits for
#    the reviewers, not the one who started the run, and admins cannot
#    bypass it.
# 3. With --role ENV=ARN (the bootstrap stacks' DeployRoleArn, and PlanRoleArn
#    for prod-plan): the environment's secret AWS_DEPLOY_ROLE_ARN; with
#    --smoke-role ENV=ARN (SmokeRoleArn): AWS_SMOKE_ROLE_ARN, the role of
#    .github/workflows/smoke.yml (make smoke-aws).
set -euo pipefail

usage() {
  sed -n '7,8p' "$0" | sed 's/^# \{0,3\}//' >&2
  exit 2
}

repo= apply=0
reviewers=() roles=() smoke_roles=()
while [ $# -gt 0 ]; do
  case "$1" in
    --repo) repo=${2:-}; shift 2 ;;
    --reviewer) reviewers+=("${2:-}"); shift 2 ;;
    --role) roles+=("${2:-}"); shift 2 ;;
    --smoke-role) smoke_roles+=("${2:-}"); shift 2 ;;
    --apply) apply=1; shift ;;
    *) usage ;;
  esac
done

die() { echo "github-setup: $*" >&2; exit 2; }
[[ $repo =~ ^[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}$ ]] || die "--repo OWNER/REPO is required"
[ ${#reviewers[@]} -gt 0 ] || die "prod needs at least one --reviewer team:SLUG or user:LOGIN"
owner=${repo%%/*}

ENVIRONMENTS=(dev staging prod-plan prod)
CLAIM_KEYS='["repo","context","job_workflow_ref"]'
WORKFLOW=".github/workflows/deploy.yml@refs/heads/main"

# The reviewers' ids are looked up when the script runs (lookups), then
# named in prod's protection rule (reviewer_json).
lookups=() reviewer_json=()
for r in "${reviewers[@]}"; do
  n=$(( ${#lookups[@]} + 1 ))
  case "$r" in
    team:*) [[ ${r#team:} =~ ^[A-Za-z0-9._-]+$ ]] || die "bad team slug: $r"
      lookups+=("reviewer_$n=\$(gh api orgs/$owner/teams/${r#team:} --jq .id)   # team ${r#team:}")
      reviewer_json+=("{\"type\":\"Team\",\"id\":\$reviewer_$n}") ;;
    user:*) [[ ${r#user:} =~ ^[A-Za-z0-9-]{1,39}$ ]] || die "bad user login: $r"
      lookups+=("reviewer_$n=\$(gh api users/${r#user:} --jq .id)   # user ${r#user:}")
      reviewer_json+=("{\"type\":\"User\",\"id\":\$reviewer_$n}") ;;
    *) die "a reviewer is team:SLUG or user:LOGIN, not $r" ;;
  esac
done

declare -A role_of=()
for r in "${roles[@]}"; do
  env=${r%%=*} arn=${r#*=}
  case "$env" in
    prod-plan) want=sentinel-github-plan-prod ;;
    dev|staging|prod) want=sentinel-github-deploy-$env ;;
    *) die "--role: no environment $env (dev, staging, prod-plan, prod)" ;;
  esac
  [[ $arn =~ ^arn:aws[a-z-]*:iam::[0-9]{12}:role/$want$ ]] \
    || die "--role $env=…: expected the bootstrap's role $want, got $arn"
  role_of[$env]=$arn
done

declare -A smoke_of=()
for r in "${smoke_roles[@]}"; do
  env=${r%%=*} arn=${r#*=}
  case "$env" in
    dev|staging|prod) want=sentinel-github-smoke-$env ;;
    *) die "--smoke-role: no environment $env (dev, staging, prod)" ;;
  esac
  [[ $arn =~ ^arn:aws[a-z-]*:iam::[0-9]{12}:role/$want$ ]] \
    || die "--smoke-role $env=…: expected the bootstrap's role $want, got $arn"
  smoke_of[$env]=$arn
done

script() {
  local IFS=,
  cat <<EOF
#!/usr/bin/env bash
# scripts/github-setup.sh for $repo
set -euo pipefail

# 1. OIDC subject: repository, environment and the job's workflow file@ref.
gh api --method PUT repos/$repo/actions/oidc/customization/sub --input - <<'JSON'
{"use_default":false,"include_claim_keys":$CLAIM_KEYS}
JSON
EOF
  echo
  echo "# 2. Environments: deployments from main only; prod behind its reviewers."
  printf '%s\n' "${lookups[@]}"
  local env
  for env in "${ENVIRONMENTS[@]}"; do
    local branch_policy='"deployment_branch_policy":{"protected_branches":false,"custom_branch_policies":true}'
    if [ "$env" = prod ]; then
      # Unquoted heredoc: it takes the reviewers' ids.
      cat <<EOF
gh api --method PUT repos/$repo/environments/$env --input - <<JSON
{$branch_policy,"reviewers":[${reviewer_json[*]}],"prevent_self_review":true,"can_admins_bypass":false}
JSON
EOF
    else
      cat <<EOF
gh api --method PUT repos/$repo/environments/$env --input - <<'JSON'
{$branch_policy}
JSON
EOF
    fi
    cat <<EOF
gh api --paginate repos/$repo/environments/$env/deployment-branch-policies \\
  --jq '.branch_policies[] | select(.name != "main" or (.type // "branch") != "branch") | .id' |
  while read -r id; do
    if [ -n "\$id" ]; then gh api --method DELETE "repos/$repo/environments/$env/deployment-branch-policies/\$id"; fi
  done
main=\$(gh api --paginate repos/$repo/environments/$env/deployment-branch-policies \\
  --jq '.branch_policies[] | select(.name == "main" and (.type // "branch") == "branch") | .id')
[ -n "\$main" ] || gh api --method POST repos/$repo/environments/$env/deployment-branch-policies -f name=main -f type=branch
EOF
  done
  if [ ${#role_of[@]} -gt 0 ]; then
    echo
    echo "# 3. Each environment's role (bootstrap/github-deploy-role.yaml's outputs)."
    for env in "${ENVIRONMENTS[@]}"; do
      [ -n "${role_of[$env]:-}" ] || continue
      echo "gh secret set AWS_DEPLOY_ROLE_ARN --repo $repo --env $env --body ${role_of[$env]}"
    done
  fi
  if [ ${#smoke_of[@]} -gt 0 ]; then
    echo
    echo "# The smoke workflow's role per environment (SmokeRoleArn)."
    for env in "${ENVIRONMENTS[@]}"; do
      [ -n "${smoke_of[$env]:-}" ] || continue
      echo "gh secret set AWS_SMOKE_ROLE_ARN --repo $repo --env $env --body ${smoke_of[$env]}"
    done
  fi
  echo
  echo "# The sub each role accepts:"
  for env in "${ENVIRONMENTS[@]}"; do
    echo "#   $env: repo:$repo:environment:$env:job_workflow_ref:$repo/$WORKFLOW"
  done
}

if [ "$apply" = 1 ]; then
  command -v gh >/dev/null || die "gh (GitHub CLI) is not installed"
  script | bash
  echo "github-setup: applied to $repo" >&2
else
  script
  echo "# Dry run: nothing was changed. Review, then run again with --apply (or pipe this to bash)." >&2
fi
