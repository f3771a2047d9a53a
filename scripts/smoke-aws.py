#!/usr/bin/env python3
"""Proves a real installation of Deploy Sentinel end to end: `make smoke-aws`.

Against a deployed stack (a profile and the stack's name) it plays a good and
a broken manual deployment on a throwaway branch of a dedicated smoke app the
stack watches, and waits for what Sentinel must do: the record, the health
verdicts, an alert on a temporary SQS subscription of the alert topic, and
observe mode's "would have rolled back". Each step prints ✓ or ✗ with the
time it took; everything the run created is deleted in a `finally`, even on a
failure or Ctrl-C. Against the local stack (`. .local/env`) it is the same
code: boto3 and the `sentinel` CLI take the endpoints from the environment.

    scripts/smoke-aws.py --stack deploy-sentinel-dev --app d1smoke [--profile P] [--region R]
    scripts/smoke-aws.py --stack deploy-sentinel-dev --create-app     # once: the smoke app
    scripts/smoke-aws.py --stack deploy-sentinel-dev --app d1smoke --dry-run   # the plan, no AWS call

Exit: 0 every step passed, 1 a step failed (or cleanup left something
behind), 2 bad usage or a refusal before anything was created, 130 Ctrl-C.
See docs/deployment.md ("First step after sam deploy").
"""

# The steps, the scope, the site and the usage are the package smoke/ beside
# this file; every AWS call the smoke makes is here (test_smoke_aws.py reads
# them to check docs/iam/smoke.json).

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # smoke/, also when loaded by a test

from smoke.scope import app_watched, branch_watched  # noqa: E402
from smoke.site import HEALTH_PATH, site_zip, smoke_policy  # noqa: E402
from smoke.steps import WAITS, Report, StepFailed, describe, wait_for  # noqa: E402
from smoke.usage import Refusal, parse, plan, sentinel_cli, session_for  # noqa: E402


USAGE, FAILED, INTERRUPTED = 2, 1, 130


# Why the smoke has no repository mode: with a connected app, a good and a
# broken build mean pushing two commits to the adopter's repository, which a
# smoke test must not do.
NO_EVENTS = (
    "Amplify ended job {job} ({status}) but no Sentinel record of it appeared within {wait} s. "
    "Either the stack's AmplifyStatusRule did not receive the event, or the ingest failed. "
    "AWS's documentation does not say whether manual deployments (CreateDeployment/StartDeployment) "
    "emit \"Amplify Deployment Status Change\": if the rule's CloudWatch metric MatchedEvents "
    "(AWS/Events, RuleName = the AmplifyStatusRuleArn output's name) stayed at 0, Amplify did not emit "
    "one, and this smoke cannot prove ingestion with manual deployments. Then check ingestion with a "
    "build of a repository-connected watched branch instead (`sentinel deployments --app <app>` shows "
    "it within seconds) and keep the other smoke steps' results. If MatchedEvents counted it, read "
    "the DLQ: `sentinel --stack {stack} dlq show` and `sentinel --stack {stack} doctor`.")


class Smoke:
    def __init__(self, args, session):
        self.args, self.session = args, session
        self.cfn = session.client("cloudformation")
        self.amplify = session.client("amplify")
        self.ddb = session.client("dynamodb")
        self.sqs = session.client("sqs")
        self.sns = session.client("sns")
        self.stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        self.branch = f"smoke-{self.stamp}"
        self.token = secrets.token_hex(12)  # tells this run's health file from any other
        self.cleanups = []  # (what, undo): run last first
        self.received = []  # the alerts that arrived on the temporary queue

    # stack and app
    def read_stack(self):
        try:
            stacks = self.cfn.describe_stacks(StackName=self.args.stack)["Stacks"]
        except Exception as e:
            if "does not exist" in describe(e):
                raise StepFailed(f"no stack {self.args.stack} in region {self.session.region_name}: "
                                 "check STACK= and REGION= (or the profile's region)") from e
            raise
        stack = stacks[0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
        missing = [k for k in ("TableName", "AlertTopicArn") if k not in outputs] + \
                  [k for k in ("Environment", "AmplifyAppIds") if k not in params]
        if missing:
            raise StepFailed(f"stack {self.args.stack} has no {', '.join(missing)}: is it a Deploy Sentinel stack?")
        self.outputs, self.params = outputs, params
        self.env = params["Environment"]
        self.table, self.topic = outputs["TableName"], outputs["AlertTopicArn"]
        return (f"{stack['StackStatus']}, environment {self.env}, table {self.table}, "
                f"Enforcement={params.get('Enforcement', 'observe')}")

    def check_app(self):
        app_id = self.args.app
        if not app_watched(self.params["AmplifyAppIds"], app_id):
            raise StepFailed(
                f"app {app_id} is not in the stack's AmplifyAppIds ({self.params['AmplifyAppIds']}): the stack "
                f"would never hear its deployments. Add it: AmplifyAppIds={self.params['AmplifyAppIds']},{app_id} "
                f"in samconfig.toml's [{self.env}.deploy.parameters] parameter_overrides, then sam deploy "
                f"--config-env {self.env}")
        watched = self.params.get("WatchedBranches", "*")
        if not branch_watched(watched, self.branch):
            raise StepFailed(f"the stack's WatchedBranches ({watched}) leave out {self.branch}: add smoke-* "
                             "to it, or the functions skip the smoke's branch")
        try:
            app = self.amplify.get_app(appId=app_id)["app"]
        except self.amplify.exceptions.NotFoundException as e:
            raise StepFailed(f"no Amplify app {app_id} in region {self.session.region_name}: create the smoke "
                             "app with `make smoke-aws-app STACK=...`") from e
        if app.get("repository"):
            raise StepFailed(f"app {app_id} ({app['name']}) is connected to {app['repository']}: the smoke "
                             "deploys a broken site and only to an app without a repository. Use the smoke app "
                             "(`make smoke-aws-app STACK=...`)")
        return f"{app['name']}, no repository, watched"

    # the temporary subscriber of the alert topic
    def subscribe(self):
        name = f"deploy-sentinel-smoke-{self.env}-{self.stamp}"
        account = self.topic.split(":")[4]
        partition, region = self.topic.split(":")[1], self.topic.split(":")[3]
        arn = f"arn:{partition}:sqs:{region}:{account}:{name}"
        # Only this topic may send. SNS decrypts a message of its KMS-encrypted
        # topic before delivery, so the subscriber needs nothing of the
        # topic's key; the queue is encrypted with SQS's own key (SSE-SQS),
        # which needs no key policy (an SSE-KMS queue would need
        # sns.amazonaws.com allowed on its key).
        policy = {"Version": "2012-10-17", "Statement": [{
            "Sid": "AlertTopicOnly", "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage", "Resource": arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": self.topic}}}]}
        url = self.sqs.create_queue(QueueName=name, Attributes={
            "Policy": json.dumps(policy), "SqsManagedSseEnabled": "true", "MessageRetentionPeriod": "3600"},
            tags={"project": "deploy-sentinel", "purpose": "smoke"})["QueueUrl"]
        self.queue_url = url
        self.cleanups.append((f"queue {name}", lambda: self.sqs.delete_queue(QueueUrl=url)))
        # Only this run's branch: the filter also proves the alerts' `branch`
        # message attribute (docs/events.md, "Alerts (SNS)").
        sub = self.sns.subscribe(TopicArn=self.topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True,
                                 Attributes={"FilterPolicy": json.dumps({"branch": [self.branch]})})
        sub_arn = sub["SubscriptionArn"]
        self.cleanups.append((f"subscription {sub_arn}", lambda: self.sns.unsubscribe(SubscriptionArn=sub_arn)))
        attrs = self.sns.get_subscription_attributes(SubscriptionArn=sub_arn)["Attributes"]
        if attrs.get("PendingConfirmation") == "true":
            raise StepFailed("the subscription waits for confirmation: an SQS queue of the topic's own account "
                             "is confirmed at once; is the queue in another account?")
        return f"queue {name}, filter branch={self.branch}"

    # the branch and its policy
    def create_branch(self):
        self.amplify.create_branch(appId=self.args.app, branchName=self.branch, stage="DEVELOPMENT",
                                   enableAutoBuild=False,
                                   description="Deploy Sentinel smoke test: deleted when the run ends")
        self.cleanups.append((f"branch {self.branch} of app {self.args.app}",
                              lambda: self.amplify.delete_branch(appId=self.args.app, branchName=self.branch)))
        return self.branch

    def push_policy(self):
        key = {"PK": {"S": f"POLICY#{self.args.app}"}, "SK": {"S": f"BRANCH#{self.branch}"}}
        # Registered before the push: a push that half-happened is still undone.
        self.cleanups.append((f"policy item POLICY#{self.args.app} / BRANCH#{self.branch} in {self.table}",
                              lambda: self.ddb.delete_item(TableName=self.table, Key=key)))
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="smoke-policy-", delete=False) as f:
            f.write(smoke_policy(self.token))
        try:
            out = subprocess.run(
                [self.args.sentinel, "--table", self.table, "policy", "push", f.name, "--app", self.args.app,
                 "--branch", self.branch], capture_output=True, text=True, timeout=120, env=self.cli_env())
        finally:
            os.unlink(f.name)
        if out.returncode != 0:
            raise StepFailed(f"sentinel policy push exited {out.returncode}: {(out.stderr or out.stdout).strip()}")
        return "enforcement observe, rollback automatic, health " + HEALTH_PATH

    def cli_env(self):
        """The CLI uses the same credentials and region as this script (and
        inherits the endpoints, locally)."""
        env = dict(os.environ, AWS_REGION=self.session.region_name, AWS_DEFAULT_REGION=self.session.region_name)
        if self.args.profile:
            env["AWS_PROFILE"] = self.args.profile
        return env

    # deployments
    def deploy(self, with_health):
        created = self.amplify.create_deployment(appId=self.args.app, branchName=self.branch)
        job = created["jobId"]
        # The URL is pre-signed: a credential for this upload, never printed.
        request = urllib.request.Request(created["zipUploadUrl"], data=site_zip(self.token, with_health),
                                         method="PUT", headers={"Content-Type": "application/zip"})
        try:
            with urllib.request.urlopen(request, timeout=120) as resp:
                resp.read()
        except urllib.error.HTTPError as e:
            raise StepFailed(f"uploading the zip of job {job} answered {e.code}: {e.read()[:300]!r}") from e
        self.amplify.start_deployment(appId=self.args.app, branchName=self.branch, jobId=job)
        status = wait_for(f"the end of Amplify job {job}", self.wait("job"), lambda: self.job_ended(job))
        if status != "SUCCEED":
            raise StepFailed(f"Amplify job {job} ended {status}: {self.job_reason(job)}")
        return job

    def job_ended(self, job):
        status = self.amplify.get_job(appId=self.args.app, branchName=self.branch, jobId=job)["job"]["summary"]["status"]
        return status if status in ("SUCCEED", "FAILED", "CANCELLED") else None

    def job_reason(self, job):
        steps = self.amplify.get_job(appId=self.args.app, branchName=self.branch, jobId=job)["job"]["steps"]
        return "; ".join(f"{s['stepName']} {s['status']}: {s.get('statusReason', '')}" for s in steps) or "no step"

    def record(self, job):
        """The Sentinel record of the job (shared/src/adapters/dynamodb: PK
        BRANCH#{app}#{branch}, SK JOB#{job id padded to 10}), plain JSON."""
        item = self.ddb.get_item(TableName=self.table, ConsistentRead=True, Key={
            "PK": {"S": f"BRANCH#{self.args.app}#{self.branch}"}, "SK": {"S": f"JOB#{int(job):010d}"}}).get("Item")
        return plain(item) if item else None

    def wait_recorded(self, job):
        def probe():
            rec = self.record(job)
            return rec if rec and rec.get("status") == "SUCCEED" else None
        try:
            rec = wait_for(f"the record of job {job}", self.wait("record"), probe)
        except StepFailed:
            current = self.record(job)
            if current is None:
                raise StepFailed(NO_EVENTS.format(job=job, status="SUCCEED", wait=self.wait("record"),
                                                  stack=self.args.stack))
            raise StepFailed(f"job {job} is recorded as {current.get('status')}, not SUCCEED, "
                             f"after {self.wait('record'):.0f} s")
        return f"job {job} SUCCEED, {len(rec.get('transitions', []))} transition(s)"

    def wait_verdict(self, job, want):
        def probe():
            health = (self.record(job) or {}).get("health") or {}
            verdict = health.get("verdict")
            if verdict and verdict != want:
                raise StepFailed(f"job {job} was found {verdict}, expected {want}: {health.get('reason', '')} "
                                 f"({health.get('url', '')})")
            return health if verdict == want else None
        health = wait_for(f"the health verdict on job {job}", self.wait("verdict"), probe)
        return f"{want} after {health.get('rounds')} round(s): {health.get('reason', '')}"

    def alerts(self):
        """Receives what arrived on the temporary queue (SNS's envelope: the
        subject, the message attributes, the chat form) and keeps it all."""
        got = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2,
                                       MessageAttributeNames=["All"]).get("Messages", [])
        for m in got:
            note = json.loads(m["Body"])
            attrs = {k: v.get("Value") for k, v in (note.get("MessageAttributes") or {}).items()}
            self.received.append({"event": attrs.get("event"), "branch": attrs.get("branch"),
                                  "subject": note.get("Subject", ""), "message": note.get("Message", "")})
        return self.received

    def alert(self, event):
        return next((a for a in self.received if a["event"] == event and a["branch"] == self.branch), None)

    def wait_alert(self, job):
        """An alert about the unhealthy deploy, naming the branch."""
        try:
            found = wait_for(f"an alert \"Deployment Unhealthy\" for branch {self.branch}", self.wait("alert"),
                             lambda: self.alerts() and self.alert("Deployment Unhealthy"), interval=0)
        except StepFailed as e:
            seen = [f"{a['event']}: {a['subject']}" for a in self.received]
            raise StepFailed(f"{e}; other alerts received: {seen or 'none'}. If none ever arrives, check the "
                             "alerter's DLQ and the topic's delivery (`sentinel --stack "
                             f"{self.args.stack} doctor`)") from e
        return found["subject"]

    def wait_rollback_decision(self, good, bad):
        """The rollback function's decision on the unhealthy job, in observe
        mode: "would have rolled back" to the good job (the record's
        `observed`, and an "Action Observed" event). Manual deployments'
        jobs all report commit `HEAD`; the function tells them apart by job
        (`core::model::is_git_commit`), so the good one is a target. A
        recommendation instead ("Rollback Recommended") fails, naming it."""
        def probe():
            observed = (self.record(bad) or {}).get("observed") or []
            would = next((o for o in observed if o.get("action") == "rollback"), None)
            if would:
                return would.get("summary") or "would have rolled back"
            self.alerts()
            recommended = self.alert("Rollback Recommended")
            if recommended:
                commits = [((self.record(j) or {}).get("details") or {}).get("commitId") for j in (good, bad)]
                raise StepFailed(f"the rollback function recommended instead of observing a rollback to job "
                                 f"{good} (commits {commits}): {recommended['subject']}")
            return None
        return wait_for(f"observe mode's rollback decision on job {bad} (\"would have rolled back\")",
                        self.wait("observed"), probe)

    def wait(self, kind):
        return min(WAITS[kind], self.args.max_wait) if self.args.max_wait else WAITS[kind]

    # the whole run
    def run(self, report):
        step = report.step
        step(f"read stack {self.args.stack}", self.read_stack)
        step(f"smoke app {self.args.app} is watched and has no repository", self.check_app)
        step("subscribe a temporary queue to the alert topic", self.subscribe)
        step(f"create throwaway branch {self.branch}", self.create_branch)
        step("push the branch's policy (sentinel policy push)", self.push_policy)
        good = step("good deploy: Amplify job SUCCEED", lambda: self.deploy(with_health=True))
        step(f"good deploy: Sentinel records job {good}", lambda: self.wait_recorded(good))
        step(f"good deploy: verdict healthy", lambda: self.wait_verdict(good, "healthy"))
        bad = step(f"broken deploy (no {HEALTH_PATH}): Amplify job SUCCEED", lambda: self.deploy(with_health=False))
        step(f"broken deploy: Sentinel records job {bad}", lambda: self.wait_recorded(bad))
        step("broken deploy: verdict unhealthy", lambda: self.wait_verdict(bad, "unhealthy"))
        step("alert on the temporary queue names the branch", lambda: self.wait_alert(bad))
        step("observe mode: the rollback decision", lambda: self.wait_rollback_decision(good, bad))

    def clean_up(self, report):
        """Last created, first deleted; each failure says what is left."""
        for what, undo in reversed(self.cleanups):
            try:
                report.step(f"delete {what}", lambda: bool(undo()) and None)
            except (StepFailed, KeyboardInterrupt):
                print(f"  left behind: {what}", flush=True)
        self.cleanups.clear()


def plain(item):
    """A DynamoDB item as plain JSON values."""
    from boto3.dynamodb.types import TypeDeserializer
    d = TypeDeserializer()
    return json.loads(json.dumps({k: d.deserialize(v) for k, v in item.items()}, default=str))


# ----- the smoke app, once -----

def create_app(args, session):
    """Creates the smoke app (or finds it by name) and prints the parameter
    change that makes the stack watch it."""
    cfn, amplify = session.client("cloudformation"), session.client("amplify")
    stack = cfn.describe_stacks(StackName=args.stack)["Stacks"][0]
    params = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    env = params.get("Environment", "dev")
    name = f"deploy-sentinel-smoke-{env}"
    found = None
    for page in amplify.get_paginator("list_apps").paginate():
        found = found or next((a for a in page["apps"] if a["name"] == name), None)
    if found:
        app = found
        print(f"✓ the smoke app exists: {name} ({app['appId']})")
    else:
        app = amplify.create_app(name=name, platform="WEB", customRules=[],
                                 description="Deploy Sentinel's smoke test (make smoke-aws): no repository; "
                                             "throwaway branches only",
                                 tags={"project": "deploy-sentinel", "purpose": "smoke"})["app"]
        print(f"✓ created the smoke app {name} ({app['appId']}), platform WEB, no repository")
    ids = params.get("AmplifyAppIds", "")
    if app_watched(ids, app["appId"]):
        print(f"  the stack already watches it. Run: make smoke-aws STACK={args.stack} APP={app['appId']}")
        return 0
    print(f"\nThe stack must watch it. In samconfig.toml, [{env}.deploy.parameters] parameter_overrides, set\n"
          f"    AmplifyAppIds={ids + ',' if ids else ''}{app['appId']}\n"
          f"and make sure WatchedBranches covers smoke-* (now: {params.get('WatchedBranches', '*')}); then\n"
          f"    sam deploy --config-env {env}\n"
          f"    make smoke-aws STACK={args.stack} APP={app['appId']}")
    return 0


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main(argv=None):
    try:
        args = parse(argv if argv is not None else sys.argv[1:])
        if args.dry_run:
            plan(args)
            return 0
        session = session_for(args)
        if args.create_app:
            return create_app(args, session)
        args.sentinel = sentinel_cli(args)
    except Refusal as e:
        print(f"smoke-aws: {e}", file=sys.stderr)
        return USAGE

    # CI cancels with SIGTERM: cleanup runs as for Ctrl-C.
    signal.signal(signal.SIGTERM, interrupt)
    report, smoke, interrupted = Report(), Smoke(args, session), False
    started = time.monotonic()
    try:
        smoke.run(report)
    except StepFailed:
        pass
    except KeyboardInterrupt:
        interrupted = True
        print("smoke-aws: interrupted; cleaning up", flush=True)
    finally:
        smoke.clean_up(report)
    total = time.monotonic() - started
    ok = not report.failed and not interrupted
    print(f"\nsmoke-aws: {'passed' if ok else 'FAILED'}: {len(report.passed)} step(s) passed, "
          f"{len(report.failed)} failed, {total:.1f} s" + (f" (failed: {', '.join(report.failed)})" if report.failed else ""))
    return INTERRUPTED if interrupted else (0 if ok else FAILED)


if __name__ == "__main__":
    sys.exit(main())
