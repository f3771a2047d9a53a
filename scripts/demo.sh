#!/usr/bin/env bash
# The whole story on the local stack, through the real function binaries: a
# build that succeeds, one that fails (and the alert that explains it),
# duplicate and out-of-order deliveries, a build stopped by validation (and
# its alert), the failed build's check run on GitHub (the diagnosis where
# developers look), a monorepo build with no change under its app root
# skipped, a bad deploy rolled back on its own (and the branch locked),
# the same two in observe mode (recorded and alerted as "would have"), a SAM
# stack update that fails on a permission (diagnosed to the resource), a
# malformed event, the hourly delivery figures, the daily cleanup (dry),
# the functions' peak memory and the recorded timeline — then `sentinel
# doctor` (the malformed event in the DLQ caught, then every check passing)
# and a test alert arriving.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

trap 'scripts/local-down.sh >/dev/null 2>&1 || true' EXIT
scripts/local-up.sh
# shellcheck disable=SC1091
. .local/env
export PATH="$PWD/.venv/bin:$PATH"
SENTINEL="$CARGO_TARGET_DIR/debug/sentinel"

# awscli v1 ignores AWS_ENDPOINT_URL: name the endpoint on every call, so
# nothing can leave the machine.
awsl() { aws --endpoint-url "$AWS_ENDPOINT_URL" "$@"; }
awsa() { aws --endpoint-url "$AWS_ENDPOINT_URL_AMPLIFY" "$@"; }

APP=dsentinel0001
BRANCH=main
ctl() {
  curl -fsS -X POST -H 'content-type: application/json' \
    "$AWS_ENDPOINT_URL_AMPLIFY/_emulator$1" -d "$2"
}
job_of() { python3 -c 'import json,sys; d=json.load(sys.stdin); print((d.get("job") or {}).get("summary",{}).get("jobId") or d.get("jobSummary",{}).get("jobId") or d["jobId"])'; }

# Waits (at most 60 s) until job $1 is recorded with status $2 and $3 distinct deliveries.
wait_for() {
  local job=$1 status=$2 deliveries=${3:-0}
  for _ in $(seq 1 240); do
    if "$SENTINEL" deployments --app "$APP" --json | python3 -c '
import json, sys
job, status, deliveries = sys.argv[1], sys.argv[2], int(sys.argv[3])
rows = [d for d in json.load(sys.stdin) if d["jobId"] == job]
sys.exit(0 if rows and rows[0]["status"] == status and rows[0]["deliveries"] >= deliveries else 1)
' "$job" "$status" "$deliveries"; then return 0; fi
    sleep 0.25
  done
  echo "timed out waiting for job $job to be recorded as $status" >&2
  "$SENTINEL" deployments --app "$APP" >&2
  return 1
}

# A queue subscribed to the alert topic: what e-mail and Chatbot subscribers get.
ALERTS_URL=$(awsl sqs create-queue --queue-name demo-alerts --query QueueUrl --output text)
awsl sns subscribe --topic-arn "$SENTINEL_TOPIC_ALERT_TOPIC" --protocol sqs \
  --notification-endpoint "arn:aws:sqs:${AWS_REGION}:123456789012:demo-alerts" >/dev/null
# Prints the alerts that arrive until one whose subject contains $2 did
# (at most $1 seconds; fails if it never does).
alerts() {
  local got="" all=""
  for _ in $(seq 1 "$1"); do
    got=$(awsl sqs receive-message --queue-url "$ALERTS_URL" --max-number-of-messages 10 \
      --wait-time-seconds 1 --output json | python3 -c '
import json, sys
raw = sys.stdin.read().strip()
for m in (json.loads(raw) if raw else {}).get("Messages", []):
    note = json.loads(m["Body"])
    chat = json.loads(note["Message"])
    print("  subject:  " + note["Subject"])
    print("  " + chat["content"]["description"].replace(chr(10), chr(10) + "  "))
    for step in chat["content"].get("nextSteps", [])[:1]:
        print("  fix:      " + step)
')
    [ -n "$got" ] && printf '%s\n' "$got" && all="$all$got"
    case "$all" in *"$2"*) return 0 ;; esac
  done
  echo "  <no alert with \"$2\" arrived>"
  return 1
}

say "An Amplify app 'storefront' ($APP) with branch $BRANCH, watched by the stack"
# local-up made the stack's watched apps (sentinel doctor checks them).
awsa amplify update-app --app-id "$APP" --name storefront >/dev/null
ctl "/apps/$APP/branches" '{"branchName":"main","stage":"PRODUCTION","headCommit":{"commitId":"3f9a1c2e5b7d4a6c8e0f1a2b3c4d5e6f7a8b9c0d","commitMessage":"chore: initial"}}' >/dev/null

say "1. A build starts and succeeds (Amplify emits STARTED, then SUCCEED)"
JOB1=$(ctl "/apps/$APP/branches/$BRANCH/builds" '{"commitId":"3f9a1c2e5b7d4a6c8e0f1a2b3c4d5e6f7a8b9c0d","commitMessage":"feat: checkout page","outcome":"SUCCEED","mode":"auto","emit":true,"stepDelayMs":300,"durationSeconds":263}' | job_of)
wait_for "$JOB1" SUCCEED
echo "job $JOB1 recorded as SUCCEED"

say "2. A build fails (heap exhaustion in next build)"
# Who pushed it, as GitHub knows it (Amplify's job names no author).
curl -fsS -X PUT -H 'content-type: application/json' "$GITHUB_API_URL/_emulator/commits" -d "{
  \"owner\": \"sentinel-local\", \"repo\": \"$APP\", \"sha\": \"b7e4d2a19c3f5e8a0b1c2d3e4f5a6b7c8d9e0f1a\",
  \"author_name\": \"Jane Doe\", \"author_login\": \"jdoe\", \"message\": \"feat: product images\"}" >/dev/null
JOB2=$(ctl "/apps/$APP/branches/$BRANCH/builds" '{"commitId":"b7e4d2a19c3f5e8a0b1c2d3e4f5a6b7c8d9e0f1a","commitMessage":"feat: product images","outcome":"FAILED","mode":"auto","emit":true,"stepDelayMs":300,"durationSeconds":148}' | job_of)
wait_for "$JOB2" FAILED
echo "job $JOB2 recorded as FAILED; the alerter reads its log and alerts once:"
alerts 90 "Build failed (node-heap-oom)"

say "2b. Where developers look: the check run on commit b7e4d2a carries the diagnosis"
# GitHub is on in the local stack (the local App, its key in SSM); the GitHub
# emulator (tests/localstack/github_emulator.py) keeps what the alerter wrote.
# Prints the check run of commit $1 once it is completed and its summary
# says $2 (at most 60 s).
check_run() {
  for _ in $(seq 1 240); do
    if curl -fsS "$GITHUB_API_URL/_emulator/state" | python3 -c '
import json, sys
runs = [r for r in json.load(sys.stdin)["check_runs"]
        if r["head_sha"] == sys.argv[1] and r["status"] == "completed"
        and sys.argv[2] in ((r.get("output") or {}).get("summary") or "")]
if not runs:
    sys.exit(1)
r = runs[-1]
out = r.get("output") or {}
print("  %s  %s (%s)" % (r["repo"], r["name"], r["conclusion"]))
print("  title:   " + (out.get("title") or ""))
for line in (out.get("summary") or "").splitlines()[:14]:
    print("  | " + line)
print("  annotations: %d" % len(r.get("annotations") or []))
' "$1" "$2"; then return 0; fi
    sleep 0.25
  done
  echo "  <no completed check run for $1>"
  return 1
}
check_run b7e4d2a19c3f5e8a0b1c2d3e4f5a6b7c8d9e0f1a node-heap-oom

say "3. At-least-once and out of order: SUCCEED delivered twice, then the late STARTED"
JOB3=$(ctl "/apps/$APP/branches/$BRANCH/builds" '{"commitId":"c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0","commitMessage":"fix: lower NODE_OPTIONS heap","mode":"manual","emit":false,"durationSeconds":127}' | job_of)
STARTED=$(ctl "/apps/$APP/branches/$BRANCH/jobs/$JOB3/advance" '{"to":"RUNNING","emit":false}' | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["events"][0]))')
SUCCEED=$(ctl "/apps/$APP/branches/$BRANCH/jobs/$JOB3/advance" '{"to":"SUCCEED","emit":false}' | python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["events"][0]))')
# The same event (same id) twice is what a redelivery looks like to the
# function; it enters through the ingest queue like every event.
for body in "$SUCCEED" "$SUCCEED" "$STARTED"; do
  awsl sqs send-message --queue-url "$SENTINEL_QUEUE_INGEST_QUEUE" --message-body "$body" >/dev/null
done
wait_for "$JOB3" SUCCEED 2
echo "job $JOB3: SUCCEED twice (one applied, one duplicate), then STARTED: 2 transitions, still SUCCEED"
for _ in $(seq 1 240); do
  verdict=$("$SENTINEL" deployments --app "$APP" --json | python3 -c '
import json, sys
rows = [d for d in json.load(sys.stdin) if d["jobId"] == sys.argv[1]]
print(((rows[0].get("health") or {}).get("verdict")) if rows else "")' "$JOB3")
  [ -n "$verdict" ] && [ "$verdict" != "None" ] && break
  sleep 0.25
done
echo "job $JOB3: the site serves its commit: ${verdict:-no verdict yet}"

say "4. A build that cannot succeed is stopped as it starts"
# The policy requires DATABASE_URL; the branch lacks it and pastes a secret into NEXT_PUBLIC_.
printf 'required:\n  all: [DATABASE_URL]\nstop_on_error: true\n' > .local/demo-policy.yaml
"$SENTINEL" policy push .local/demo-policy.yaml --app "$APP" --branch "$BRANCH"
awsa amplify update-branch --app-id "$APP" --branch-name "$BRANCH" \
  --environment-variables NEXT_PUBLIC_STRIPE_SECRET=sk_live_51DemoDemoDemoDemoDemoDemo0123 >/dev/null
JOB4=$(ctl "/apps/$APP/branches/$BRANCH/builds" '{"commitId":"d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3","commitMessage":"feat: payments","mode":"manual","emit":false,"durationSeconds":40}' | job_of)
ctl "/apps/$APP/branches/$BRANCH/jobs/$JOB4/advance" '{"to":"RUNNING","emit":true}' >/dev/null
wait_for "$JOB4" CANCELLED
echo "job $JOB4: validation failed, build stopped (Amplify job $(awsa amplify get-job --app-id "$APP" --branch-name "$BRANCH" --job-id "$JOB4" --query job.summary.status --output text))"
alerts 60 "Validation failed"

say "4b. A monorepo build with no change under its app root is skipped"
# Branch 'web' builds the app root apps/web (AMPLIFY_MONOREPO_APP_ROOT); its
# last deploy was commit 1a2b…; the next push changes only docs/. GitHub's
# compare (scripted on the GitHub emulator) lists what changed.
WEB_BASE=1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b
WEB_HEAD=2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c
ctl "/apps/$APP/branches" "{\"branchName\":\"web\",\"stage\":\"PRODUCTION\",\"headCommit\":{\"commitId\":\"$WEB_BASE\",\"commitMessage\":\"web 1.0\"}}" >/dev/null
awsa amplify update-branch --app-id "$APP" --branch-name web \
  --environment-variables AMPLIFY_MONOREPO_APP_ROOT=apps/web >/dev/null
printf 'shared_paths: [packages/**, pnpm-lock.yaml]\n' > .local/demo-web.yaml
"$SENTINEL" policy push .local/demo-web.yaml --app "$APP" --branch web
WEB1=$(ctl "/apps/$APP/branches/web/builds" "{\"commitId\":\"$WEB_BASE\",\"commitMessage\":\"web 1.0\",\"outcome\":\"SUCCEED\",\"mode\":\"auto\",\"emit\":true,\"stepDelayMs\":300,\"durationSeconds\":90}" | job_of)
BRANCH_SAVED=$BRANCH; BRANCH=web
for _ in $(seq 1 240); do
  "$SENTINEL" deployments --app "$APP" --branch web --json | python3 -c '
import json, sys
sys.exit(0 if any(d["jobId"] == sys.argv[1] and d["status"] == "SUCCEED" for d in json.load(sys.stdin)) else 1)' "$WEB1" && break
  sleep 0.25
done
curl -fsS -X PUT -H 'content-type: application/json' "$GITHUB_API_URL/_emulator/compare" -d "{
  \"owner\": \"sentinel-local\", \"repo\": \"$APP\", \"base\": \"$WEB_BASE\", \"head\": \"$WEB_HEAD\",
  \"files\": [\"docs/deploying.md\", \"apps/api/README.md\"],
  \"commits\": [{\"sha\": \"$WEB_HEAD\", \"author_name\": \"Jane Doe\", \"author_login\": \"jdoe\", \"date\": \"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}]}" >/dev/null
curl -fsS -X PUT -H 'content-type: application/json' "$GITHUB_API_URL/_emulator/commits" -d "{
  \"owner\": \"sentinel-local\", \"repo\": \"$APP\", \"sha\": \"$WEB_HEAD\",
  \"author_name\": \"Jane Doe\", \"author_login\": \"jdoe\", \"message\": \"docs: deploying\"}" >/dev/null
WEB2=$(ctl "/apps/$APP/branches/web/builds" "{\"commitId\":\"$WEB_HEAD\",\"commitMessage\":\"docs: deploying\",\"mode\":\"manual\",\"emit\":false,\"durationSeconds\":90}" | job_of)
ctl "/apps/$APP/branches/web/jobs/$WEB2/advance" '{"to":"RUNNING","emit":true}' >/dev/null
for _ in $(seq 1 240); do
  skipped=$("$SENTINEL" deployments --app "$APP" --branch web --json | python3 -c '
import json, sys
rows = [d for d in json.load(sys.stdin) if d["jobId"] == sys.argv[1]]
s = (rows[0].get("skipped") or {}) if rows else {}
print(s.get("reason", "") if s.get("stopResult") else "")' "$WEB2")
  [ -n "$skipped" ] && break
  sleep 0.25
done
BRANCH=$BRANCH_SAVED
echo "job $WEB2 (docs only): ${skipped:-<not skipped>}; Amplify job $(awsa amplify get-job --app-id "$APP" --branch-name web --job-id "$WEB2" --query job.summary.status --output text)"
[ -n "$skipped" ]
check_run "$WEB_HEAD" "no change under apps/web"
# The two check runs as GitHub shows them (docs/github.md, "Screens").
python3 scripts/github-screens.py .local/github-screens | sed 's/^/  /'

say "5. A deploy that breaks the site is rolled back on its own, and the branch locked"
# Branch 'release': automatic rollback on (the local stack is dev, where it
# is off by default), quick health checks; its site breaks on commit 9e8d….
GOOD=5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b
BAD=9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d
ctl "/apps/$APP/branches" "{\"branchName\":\"release\",\"stage\":\"PRODUCTION\",\"headCommit\":{\"commitId\":\"$GOOD\",\"commitMessage\":\"release 1.4\"}}" >/dev/null
printf 'rollback:\n  automatic: true\nhealth:\n  healthy_after: 1\n  unhealthy_after: 2\n  round_interval_ms: 200\n' > .local/demo-rollback.yaml
"$SENTINEL" policy push .local/demo-rollback.yaml --app "$APP" --branch release
ctl "/apps/$APP/branches/release/site" "{\"brokenCommits\":[\"$BAD\"]}" >/dev/null
# Waits (at most 90 s) until branch $1's deployments satisfy the Python
# expression $2 over `rows` (sentinel deployments --json).
wait_rows() {
  for _ in $(seq 1 360); do
    if "$SENTINEL" deployments --app "$APP" --branch "$1" --json | python3 -c "
import json, sys
rows = json.load(sys.stdin)
sys.exit(0 if ($2) else 1)"; then return 0; fi
    sleep 0.25
  done
  echo "timed out waiting for: $2" >&2
  "$SENTINEL" deployments --app "$APP" --branch "$1" >&2
  return 1
}
wait_release() { wait_rows release "$1"; }
J5=$(ctl "/apps/$APP/branches/release/builds" "{\"commitId\":\"$GOOD\",\"commitMessage\":\"release 1.4\",\"outcome\":\"SUCCEED\",\"stepDelayMs\":200,\"durationSeconds\":201}" | job_of)
wait_release "any(r['jobId'] == '$J5' and (r.get('health') or {}).get('verdict') == 'healthy' for r in rows)"
echo "job $J5 (release 1.4) is healthy: the last known good"
J6=$(ctl "/apps/$APP/branches/release/builds" "{\"commitId\":\"$BAD\",\"commitMessage\":\"release 1.5\",\"outcome\":\"SUCCEED\",\"stepDelayMs\":200,\"durationSeconds\":188}" | job_of)
wait_release "any(r.get('rollbackOf') == '$J6' and (r.get('health') or {}).get('verdict') == 'healthy' for r in rows)"
J7=$("$SENTINEL" deployments --app "$APP" --branch release --json | python3 -c "import json,sys; print(next(r['jobId'] for r in json.load(sys.stdin) if r.get('rollbackOf') == '$J6'))")
echo "job $J6 (release 1.5) was unhealthy; job $J7 rebuilt job $J5's commit and is healthy"
echo "auto-build on release: $(awsa amplify get-branch --app-id "$APP" --branch-name release --query branch.enableAutoBuild --output text) (locked until \`sentinel unlock\`)"
alerts 90 "Rollback succeeded"
"$SENTINEL" unlock --app "$APP" --branch release --by demo

say "5b. What probes cannot see: /api/health stays green while 20 % of checkout fails; the bake catches it"
# App $SHOP's production branch 'shop': probes on /api/health only. Its
# shoppers' traffic reaches CloudWatch as Amplify Hosting's metrics (the
# emulator publishes each minute); after a deploy passes its probes, the bake
# (health.bake) judges that traffic minute by minute against the minutes
# before the deploy, and a bad one is rolled back through the usual path.
SHOP=dsentinel0002
SGOOD=1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c
SBAD=2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d
ctl "/apps/$SHOP/branches" "{\"branchName\":\"shop\",\"stage\":\"PRODUCTION\",\"headCommit\":{\"commitId\":\"$SGOOD\",\"commitMessage\":\"shop 2.0\"}}" >/dev/null
printf 'rollback:\n  automatic: true\nhealth:\n  endpoints:\n    - path: /api/health\n  healthy_after: 1\n  unhealthy_after: 2\n  round_interval_ms: 200\n' > .local/demo-shop.yaml
"$SENTINEL" policy push .local/demo-shop.yaml --app "$SHOP" --branch shop
# Commit $SBAD fails one checkout request in five; every other path is fine.
ctl "/apps/$SHOP/branches/shop/site" "{\"brokenCommits\":[\"$SBAD\"],\"failPaths\":{\"/checkout\":0.2}}" >/dev/null
shop_rows() { "$SENTINEL" deployments --app "$SHOP" --branch shop --json | python3 -c "
import json, sys
rows = json.load(sys.stdin)
sys.exit(0 if ($1) else 1)"; }
wait_shop() {
  for _ in $(seq 1 "$1"); do shop_rows "$2" && return 0; sleep 1; done
  echo "timed out waiting for: $2" >&2
  "$SENTINEL" deployments --app "$SHOP" --branch shop >&2
  return 1
}
S1=$(ctl "/apps/$SHOP/branches/shop/builds" "{\"commitId\":\"$SGOOD\",\"commitMessage\":\"shop 2.0\",\"outcome\":\"SUCCEED\",\"stepDelayMs\":200,\"durationSeconds\":190}" | job_of)
wait_shop 90 "any(r['jobId'] == '$S1' and (r.get('health') or {}).get('verdict') == 'healthy' for r in rows)"
echo "job $S1 (shop 2.0) is healthy: the last known good"
# Shoppers: 10 requests a second, half of them checkout (bounded: at most
# 8 minutes). Amplify's metrics are per app: 20 % of checkout is 10 % of
# the app's requests, which is what the bake sees and the alert shows.
( for _ in $(seq 1 4800); do
    curl -s -o /dev/null "$AWS_ENDPOINT_URL_AMPLIFY/_sites/$SHOP/shop/checkout" &
    curl -s -o /dev/null "$AWS_ENDPOINT_URL_AMPLIFY/_sites/$SHOP/shop/" ; sleep 0.1
  done ) >/dev/null 2>&1 &
SHOPPERS=$!
# Bake from now on (a policy changes without a redeploy): one-minute
# intervals for two minutes, a single failed interval fails it.
printf 'rollback:\n  automatic: true\nhealth:\n  endpoints:\n    - path: /api/health\n  healthy_after: 1\n  unhealthy_after: 2\n  round_interval_ms: 200\n  bake:\n    enabled: true\n    duration_minutes: 2\n    interval_minutes: 1\n    min_requests: 30\n    failure_limit: 1\n' > .local/demo-shop.yaml
"$SENTINEL" policy push .local/demo-shop.yaml --app "$SHOP" --branch shop
sleep 65  # a minute of the good deploy's traffic: the baseline
S2=$(ctl "/apps/$SHOP/branches/shop/builds" "{\"commitId\":\"$SBAD\",\"commitMessage\":\"shop 2.1: new checkout\",\"outcome\":\"SUCCEED\",\"stepDelayMs\":200,\"durationSeconds\":201}" | job_of)
wait_shop 90 "any(r['jobId'] == '$S2' and (r.get('health') or {}).get('verdict') == 'healthy' for r in rows)"
echo "job $S2 (shop 2.1) passed its probes: /api/health answers 200; now baking (the site's own metrics, minute by minute)"
wait_shop 300 "any(r.get('rollbackOf') == '$S2' and (r.get('health') or {}).get('verdict') == 'healthy' for r in rows)"
kill "$SHOPPERS" 2>/dev/null || true
"$SENTINEL" deployments --app "$SHOP" --branch shop | grep -E "bake|health" | head -4
alerts 60 "shop: Rollback succeeded"
# The rollback's own bake stops: the policy no longer bakes.
printf 'rollback:\n  automatic: true\nhealth:\n  endpoints:\n    - path: /api/health\n' > .local/demo-shop.yaml
"$SENTINEL" policy push .local/demo-shop.yaml --app "$SHOP" --branch shop
"$SENTINEL" unlock --app "$SHOP" --branch shop --by demo

say "6. Observe mode (a first install's default): the same two stories, nothing changed on Amplify"
# Branch 'observe' has the same policy as above, under \`enforcement: observe\`.
# Sentinel still validates, checks and alerts. It records, publishes and
# alerts what it would have done, and never calls StopJob, UpdateBranch or
# StartJob.
OGOOD=6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d
OBAD=7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e
ctl "/apps/$APP/branches" "{\"branchName\":\"observe\",\"stage\":\"PRODUCTION\",\"headCommit\":{\"commitId\":\"$OGOOD\",\"commitMessage\":\"release 2.0\"}}" >/dev/null
printf 'enforcement: observe\nrequired:\n  all: [DATABASE_URL]\nrollback:\n  automatic: true\nhealth:\n  healthy_after: 1\n  unhealthy_after: 2\n  round_interval_ms: 200\n' > .local/demo-observe.yaml
"$SENTINEL" policy push .local/demo-observe.yaml --app "$APP" --branch observe
ctl "/apps/$APP/branches/observe/site" "{\"brokenCommits\":[\"$OBAD\"]}" >/dev/null
observed() { wait_rows observe "$1"; }
J8=$(ctl "/apps/$APP/branches/observe/builds" "{\"commitId\":\"$OGOOD\",\"commitMessage\":\"release 2.0\",\"mode\":\"manual\",\"emit\":false,\"durationSeconds\":190}" | job_of)
ctl "/apps/$APP/branches/observe/jobs/$J8/advance" '{"to":"RUNNING","emit":true}' >/dev/null
observed "any(r['jobId'] == '$J8' and any(o['action'] == 'stop-build' for o in r.get('observed') or []) for r in rows)"
echo "job $J8 lacks DATABASE_URL: it would have been stopped, and runs on (Amplify: $(awsa amplify get-job --app-id "$APP" --branch-name observe --job-id "$J8" --query job.summary.status --output text))"
alerts 60 "Validation failed"
ctl "/apps/$APP/branches/observe/jobs/$J8/advance" '{"to":"SUCCEED","emit":true}' >/dev/null
observed "any(r['jobId'] == '$J8' and (r.get('health') or {}).get('verdict') == 'healthy' for r in rows)"
J9=$(ctl "/apps/$APP/branches/observe/builds" "{\"commitId\":\"$OBAD\",\"commitMessage\":\"release 2.1\",\"outcome\":\"SUCCEED\",\"stepDelayMs\":200,\"durationSeconds\":175}" | job_of)
observed "any(r['jobId'] == '$J9' and any(o['action'] == 'rollback' for o in r.get('observed') or []) for r in rows)"
echo "job $J9 (release 2.1) is unhealthy: it would have been rolled back to job $J8, and stays live"
ACTED=$(curl -fsS "$AWS_ENDPOINT_URL_AMPLIFY/_emulator/calls" | python3 -c '
import json, sys
calls = json.load(sys.stdin)["calls"]
print(sum(1 for c in calls if c["operation"] in ("StopJob", "UpdateBranch", "StartJob") and c["params"].get("branchName") == "observe"))')
echo "auto-build on observe: $(awsa amplify get-branch --app-id "$APP" --branch-name observe --query branch.enableAutoBuild --output text); StopJob, UpdateBranch, StartJob calls for it: $ACTED"
[ "$ACTED" = 0 ] || { echo "observe mode acted on Amplify" >&2; exit 1; }
alerts 90 "Would have rolled back"
"$SENTINEL" deployments --app "$APP" --branch observe | grep -E "observe mode" | sed 's/^ */  /'

say "6b. A SAM stack update fails on a permission: diagnosed to the resource that caused it"
# demo-api-prod is a SAM stack the local stack watches (WatchedStacks=demo-*;
# CloudFormation is the emulator's: moto cannot fail an operation). Its
# pipeline's deploy role lacks iam:PutRolePolicy: CloudFormation fails
# ApiFunctionRole, cancels WorkerFunction and rolls the update back. Sentinel
# takes CloudFormation's own "Stack Status Change" events from the default bus
# and reads the operation's DescribeStackEvents.
ctl /stacks '{"stackName":"demo-api-prod","tags":{"Environment":"prod"}}' >/dev/null
DENIED='Resource handler returned message: \"User: arn:aws:sts::123456789012:assumed-role/sam-deploy/GitHubActions is not authorized to perform: iam:PutRolePolicy on resource: role demo-api-prod-ApiFunctionRole because no identity-based policy allows the iam:PutRolePolicy action (Service: Iam, Status Code: 403)\" (HandlerErrorCode: AccessDenied)'
ctl /stacks/demo-api-prod/operations "{\"clientRequestToken\":\"sam-deploy-demo-1\",\"stepMs\":1500,\"startedSecondsAgo\":20,\"steps\":[
  {\"status\":\"UPDATE_IN_PROGRESS\",\"reason\":\"User Initiated\"},
  {\"logicalId\":\"ApiFunctionRole\",\"type\":\"AWS::IAM::Role\",\"status\":\"UPDATE_IN_PROGRESS\"},
  {\"logicalId\":\"ApiFunctionRole\",\"type\":\"AWS::IAM::Role\",\"status\":\"UPDATE_FAILED\",\"reason\":\"$DENIED\"},
  {\"logicalId\":\"WorkerFunction\",\"type\":\"AWS::Lambda::Function\",\"status\":\"UPDATE_FAILED\",\"reason\":\"Resource update cancelled\"},
  {\"status\":\"UPDATE_ROLLBACK_IN_PROGRESS\",\"reason\":\"The following resource(s) failed to update: [ApiFunctionRole, WorkerFunction].\"},
  {\"logicalId\":\"ApiFunctionRole\",\"type\":\"AWS::IAM::Role\",\"status\":\"UPDATE_COMPLETE\"},
  {\"status\":\"UPDATE_ROLLBACK_COMPLETE\"}]}" >/dev/null
DIAGNOSED=""
for _ in $(seq 1 360); do
  DIAGNOSED=$("$SENTINEL" deployments --app cfn:demo-api-prod --json | python3 -c '
import json, sys
rows = [r for r in json.load(sys.stdin) if r.get("diagnosis")]
if rows:
    d = rows[0]["diagnosis"]
    print(rows[0]["status"], d["category"], d.get("phase"), d.get("command"))')
  [ -n "$DIAGNOSED" ] && break
  sleep 0.25
done
echo "stack demo-api-prod, update recorded and diagnosed: ${DIAGNOSED:-<nothing>}"
[ "$DIAGNOSED" = "FAILED stack-permission-denied ApiFunctionRole AWS::IAM::Role" ] \
  || { "$SENTINEL" deployments --app cfn:demo-api-prod >&2; echo "the stack's failure was not diagnosed to ApiFunctionRole" >&2; exit 1; }
alerts 90 "Stack deploy failed (stack-permission-denied)"

say "7. A malformed event goes to the dead-letter queue with its reason"
awsl sqs send-message --queue-url "$SENTINEL_QUEUE_INGEST_QUEUE" \
  --message-body "$(cat events/amplify-malformed-job-id-number.json)" >/dev/null
for _ in $(seq 1 120); do
  reason=$(awsl sqs receive-message --queue-url "$SENTINEL_DLQ_URL" --message-attribute-names All \
    --max-number-of-messages 10 --visibility-timeout 0 --output json 2>/dev/null | python3 -c '
import json, sys
for m in (json.load(sys.stdin) if not sys.stdin.isatty() else {}).get("Messages", []):
    if "4c11" in m["Body"]:
        print(m["MessageAttributes"]["errorMessage"]["StringValue"])
        break' 2>/dev/null || true)
  if [ -n "$reason" ]; then break; fi
  sleep 0.25
done
echo "dead-lettered: ${reason:-<nothing arrived>}"
[ -n "$reason" ]

say "8. The hourly metrics run: delivery figures stored and emitted, then sentinel metrics"
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
run=$(curl -fsS -X POST "$SENTINEL_LAMBDA_ENDPOINT/2015-03-31/functions/metrics-collector/invocations" \
  -d "{\"version\":\"0\",\"id\":\"demo-metrics\",\"detail-type\":\"Scheduled Event\",\"source\":\"aws.events\",\"time\":\"$NOW\",\"detail\":{}}")
echo "$run" | python3 -c '
import json, sys
run = json.load(sys.stdin)
day = run["figures"][0]
print("collector: %d records read through the index; last day: %d builds, %d deploys"
      % (run["itemsRead"], day["builds"], day["deployments"]))
sys.exit(0 if day["builds"] >= 4 else 1)'
"$SENTINEL" metrics --window 1d --at "$NOW"

say "9. The daily cleanup, as a dry run: what it would reconcile and delete"
curl -fsS -X POST "$SENTINEL_LAMBDA_ENDPOINT/2015-03-31/functions/cleanup/invocations" \
  -d '{"dryRun": true}' | python3 -c '
import json, sys
r = json.load(sys.stdin)
if "itemsScanned" not in r:
    sys.exit("cleanup failed: %s" % r)
print("cleanup (dry run): %d items scanned; would delete %d expired records (keeping %d protected), "
      "reconcile %d stuck and %d missed jobs; nothing changed"
      % (r["itemsScanned"], r["deploymentsExpired"], r["protectedKept"], r["stuckReconciled"], r["missedIngested"]))'

say "Each function over the whole story: invocations through its queue, time, peak memory (debug build)"
# The figures behind each function's MemorySize in template.yaml
# (docs/performance.md): a release build needs less.
python3 - "$CARGO_TARGET_DIR/debug" <<'PY'
import os, sys
target = os.path.realpath(sys.argv[1])
names = ["build-event-handler", "validator", "health-checker", "alerter", "rollback",
         "metrics-collector", "cleanup"]
import re, statistics
times = {}
for line in open(".local/dispatcher.log"):
    m = re.search(r" (\S+) <- \S+: .* in (\d+) ms$", line)
    if m:
        times.setdefault(m.group(1), []).append(int(m.group(2)))
peak = {}
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        exe = os.path.realpath(f"/proc/{pid}/exe")
        with open(f"/proc/{pid}/status") as f:
            hwm = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    except (OSError, StopIteration):
        continue
    name = os.path.basename(exe)
    if os.path.dirname(exe) == target and name in names:
        peak[name] = max(peak.get(name, 0), hwm)
print(f"  {'function':<20} {'invocations':>11} {'median':>8} {'max':>8} {'peak RSS':>10}")
for name in names:
    t = sorted(times.get(name, []))
    median = f"{statistics.median(t):.0f} ms" if t else "-"
    longest = f"{t[-1]} ms" if t else "-"
    rss = f"{peak[name] / 1024:.1f} MiB" if name in peak else "-"
    print(f"  {name:<20} {len(t):>11} {median:>8} {longest:>8} {rss:>10}")
PY

say "The recorded timeline: sentinel deployments --app $APP"
"$SENTINEL" deployments --app "$APP"

say "10. sentinel doctor: the stack checked end to end, each piece ✓ or ✗ with its fix"
# Step 7's malformed event is still in the dead-letter queue: the doctor
# must say so (exit 1), with its reason and the fix.
STACK="deploy-sentinel-$SENTINEL_ENVIRONMENT"
if "$SENTINEL" --stack "$STACK" doctor > .local/doctor.txt; then
  cat .local/doctor.txt; echo "the doctor missed the malformed event in the DLQ" >&2; exit 1
fi
grep -E "^✗|fix:" .local/doctor.txt | sed 's/^/  /'
grep -q "^✗ dead-letter queue: .*NonRetryable" .local/doctor.txt \
  || { cat .local/doctor.txt; echo "the doctor did not name the DLQ's reason" >&2; exit 1; }
[ "$(grep -c '^✗' .local/doctor.txt)" = 1 ] \
  || { cat .local/doctor.txt; echo "the doctor failed more than the DLQ" >&2; exit 1; }
echo "read (sentinel dlq show), the malformed event is deleted; the doctor again:"
awsl sqs purge-queue --queue-url "$SENTINEL_DLQ_URL"
"$SENTINEL" --stack "$STACK" doctor | sed 's/^/  /'
[ "${PIPESTATUS[0]}" = 0 ] || { echo "the doctor still fails" >&2; exit 1; }

say "11. sentinel alert test: a test alert through the real path, marked [test]"
"$SENTINEL" --stack "$STACK" alert test --app "$APP" --branch "$BRANCH" --by demo
alerts 60 "[test] Test alert"
