"""What a run needs before it starts: the arguments, the plan (dry run),
an AWS session, the sentinel CLI; a refusal before anything is created."""

import argparse
import os
import re
import subprocess

from .site import HEALTH_PATH
from .steps import WAITS

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


APP_ID = re.compile(r"d[a-z0-9]{1,19}")


class Refusal(Exception):
    """A reason not to start (bad usage, an app that must not be used)."""


def plan(args):
    app = args.app or "<--app / SMOKE_APP>"
    where = os.environ.get("AWS_ENDPOINT_URL")
    lines = [
        f"smoke-aws plan (dry run: no AWS call was made)",
        f"  stack {args.stack}, region {args.region or os.environ.get('AWS_REGION') or '<the profile’s>'}, "
        f"profile {args.profile or '<default credentials>'}" + (f", endpoints {where}" if where else ""),
        f"  smoke app {app}",
        "  1. read the stack (DescribeStacks): Environment, AmplifyAppIds, WatchedBranches, Enforcement, "
        "TableName, AlertTopicArn",
        f"  2. check the app is in AmplifyAppIds, has no repository (GetApp), and smoke-<utc time> is a watched branch",
        "  3. create a temporary SQS queue (SSE-SQS, only the alert topic may send) and subscribe it to the "
        "alert topic, filtered on the run's branch",
        "  4. create the throwaway branch smoke-<utc time> (auto-build off)",
        f"  5. sentinel policy push: enforcement observe, rollback automatic, health {HEALTH_PATH} with a "
        "per-run token",
        f"  6. good deploy (index.html + {HEALTH_PATH}): CreateDeployment, upload, StartDeployment; wait for "
        f"the job, the record (≤ {WAITS['record']} s), the verdict healthy (≤ {WAITS['verdict']} s)",
        f"  7. broken deploy (no {HEALTH_PATH}): wait for the record, the verdict unhealthy, the alert on the "
        f"queue (≤ {WAITS['alert']} s), observe mode's \"would have rolled back\" (≤ {WAITS['observed']} s)",
        "  8. delete what was created, even on failure or Ctrl-C: the branch, the policy item, the "
        "subscription, the queue (the records stay until the table's retention)",
    ]
    print("\n".join(lines))


def parse(argv):
    ap = argparse.ArgumentParser(description="Prove a deployed Deploy Sentinel stack end to end (docs/deployment.md).")
    ap.add_argument("--stack", default=os.environ.get("SMOKE_STACK"), help="the stack's name (deploy-sentinel-dev)")
    ap.add_argument("--app", default=os.environ.get("SMOKE_APP") or None,
                    help="the smoke app's id (SMOKE_APP): watched by the stack, no repository")
    ap.add_argument("--profile", default=None, help="AWS profile (else the default credential chain)")
    ap.add_argument("--region", default=None, help="AWS region (else the profile's or AWS_REGION)")
    ap.add_argument("--create-app", action="store_true",
                    help="create the smoke app once (deploy-sentinel-smoke-<env>) and print the AmplifyAppIds change")
    ap.add_argument("--dry-run", action="store_true", help="print the plan and exit: no AWS call at all")
    ap.add_argument("--sentinel", default=None,
                    help="the sentinel CLI (default: $CARGO_TARGET_DIR/debug/sentinel, built with cargo if absent)")
    ap.add_argument("--max-wait", type=float, default=None, help="cap every wait at this many seconds")
    args = ap.parse_args(argv)
    if not args.stack:
        raise Refusal("no stack: pass --stack NAME (make smoke-aws STACK=deploy-sentinel-dev)")
    if args.app and not APP_ID.fullmatch(args.app):
        raise Refusal(f"--app {args.app!r} is not an Amplify app id (d followed by lowercase letters and digits)")
    if not args.app and not args.create_app and not args.dry_run:
        raise Refusal("no smoke app: pass --app APP_ID (or SMOKE_APP=); create one once with "
                      f"`make smoke-aws-app STACK={args.stack}`")
    return args


def session_for(args):
    try:
        import boto3
        import botocore.exceptions
    except ImportError as e:
        raise Refusal(f"{e.name} is not installed: run `make bootstrap` (the repository's .venv has it)") from e
    try:
        # AWS_REGION as the Rust SDK (the sentinel CLI) reads it; boto3 reads
        # only AWS_DEFAULT_REGION and the profile's.
        session = boto3.Session(profile_name=args.profile, region_name=args.region or os.environ.get("AWS_REGION"))
    except botocore.exceptions.ProfileNotFound as e:
        raise Refusal(f"no AWS profile {args.profile!r} in this machine's AWS config ({e}): "
                      "check PROFILE= (aws configure list-profiles)") from e
    if not session.region_name:
        raise Refusal("no region: pass REGION= (or --region), or set one in the profile")
    if session.get_credentials() is None:
        raise Refusal("no AWS credentials: pass PROFILE= (or --profile), or set the usual AWS_* variables")
    return session


def sentinel_cli(args):
    if args.sentinel:
        return args.sentinel
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.expanduser("~/.cache/deploy-sentinel/target")
    path = os.path.join(target, "debug", "sentinel")
    # Built (or brought up to date) here: the CLI is the adopter's own tool.
    out = subprocess.run(["cargo", "build", "--quiet", "-p", "sentinel"], cwd=ROOT,
                         env=dict(os.environ, CARGO_TARGET_DIR=target))
    if out.returncode != 0 or not os.access(path, os.X_OK):
        raise Refusal(f"could not build the sentinel CLI (cargo build -p sentinel); pass --sentinel PATH")
    return path
