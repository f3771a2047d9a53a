#!/usr/bin/env python3
"""prod's reviewed deploy (.github/workflows/deploy.yml): one job creates the
change set and shows it, another, behind the prod environment's reviewers,
executes that change set and nothing else.

    prod-changeset.py plan prod
        `sam deploy --config-env prod --no-execute-changeset`, then writes to
        $GITHUB_OUTPUT changes=true|false, change-set (its ARN), stack (a
        marker of the stack's state) and digest (sha256 of what it changes),
        and the change set as a table to $GITHUB_STEP_SUMMARY, for the
        reviewers.

    prod-changeset.py execute prod
        With CHANGE_SET, STACK_MARKER and DIGEST from the plan: refuses unless
        the change set is samconfig.toml's stack's, still AVAILABLE (an update
        of the stack since makes it OBSOLETE), has the digest the reviewers
        saw, and the stack's state is the one it was made against; then
        executes it and waits for the stack.

The stack's name is samconfig.toml's. Only `sam` and `aws` are called (the
tests put stand-ins first on PATH).
"""

import hashlib
import html
import json
import os
import re
import subprocess
import sys
import tomllib
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHANGE_SET_ARN = re.compile(r"arn:aws[a-z-]*:cloudformation:([a-z0-9-]+):\d{12}:changeSet/[A-Za-z0-9-]+/[0-9a-f-]+")
CREATED = re.compile(r"^Changeset created successfully\. (\S+)\s*$", re.M)
# What the reviewers saw: the same change set, with the same changes.
DIGESTED = ("ChangeSetId", "StackId", "Parameters", "Capabilities", "Tags", "Changes")
SUMMARY_CHANGES_BYTES = 200_000


class Refused(Exception):
    pass


def stack_name(env):
    with open(os.path.join(ROOT, "samconfig.toml"), "rb") as f:
        return tomllib.load(f)[env]["deploy"]["parameters"]["stack_name"]


def aws(*args):
    out = subprocess.run(["aws", *args, "--output", "json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise Refused(f"aws {' '.join(args[:2])} failed: {out.stderr.strip()}")
    return json.loads(out.stdout) if out.stdout.strip() else {}


def describe_change_set(arn):
    return aws("cloudformation", "describe-change-set", "--change-set-name", arn, "--include-property-values")


def stack_marker(name):
    """The stack's identity and state: any update, rollback or replacement
    since changes it."""
    stack = aws("cloudformation", "describe-stacks", "--stack-name", name)["Stacks"][0]
    when = stack.get("LastUpdatedTime") or stack["CreationTime"]
    return f"{stack['StackId']}|{stack['StackStatus']}|{when}", stack


def digest(change_set):
    picked = {k: change_set.get(k) for k in DIGESTED}
    return hashlib.sha256(json.dumps(picked, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def outputs(**values):
    with open(os.environ["GITHUB_OUTPUT"], "a") as f:
        for k, v in values.items():
            f.write(f"{k}={v}\n")


def summary(text):
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a") as f:
            f.write(text)
    else:
        print(text)


def cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def review_table(change_set, name, sha):
    arn = change_set["ChangeSetId"]
    region = CHANGE_SET_ARN.fullmatch(arn).group(1)
    console = (f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
               f"#/stacks/changesets/changes?stackId={urllib.parse.quote(change_set['StackId'], safe='')}"
               f"&changeSetId={urllib.parse.quote(arn, safe='')}")
    lines = [f"## {name}: the change set to review\n",
             f"- change set: `{arn}` ([console]({console}))",
             f"- digest: `{sha}`",
             f"- created: {change_set.get('CreationTime', '?')}",
             "",
             "Approving the `prod` environment on this run executes exactly this change set; "
             "the job refuses it if the stack has changed since.\n",
             "| action | logical id | type | replacement | what changes |",
             "|---|---|---|---|---|"]
    for change in change_set.get("Changes", []):
        rc = change.get("ResourceChange", {})
        what = sorted({d.get("Target", {}).get("Name") or d.get("Target", {}).get("Attribute", "")
                       for d in rc.get("Details", [])} - {""})
        lines.append("| " + " | ".join(cell(v) for v in (
            rc.get("Action", change.get("Type", "?")), rc.get("LogicalResourceId", ""),
            rc.get("ResourceType", ""), rc.get("Replacement", ""), ", ".join(what))) + " |")
    if not change_set.get("Changes"):
        lines.append("| (none) | | | | |")
    params = change_set.get("Parameters") or []
    if params:
        lines += ["", "| parameter | value |", "|---|---|"]
        lines += [f"| {cell(p['ParameterKey'])} | {cell(p.get('ParameterValue', ''))} |" for p in params]
    details = json.dumps(change_set.get("Changes", []), indent=1, sort_keys=True)
    if len(details) > SUMMARY_CHANGES_BYTES:
        details = details[:SUMMARY_CHANGES_BYTES] + f"\n…(cut: see the console; {len(details)} bytes)"
    lines += ["", "<details><summary>every change, with its values</summary>", "",
              f"<pre>{html.escape(details)}</pre>", "", "</details>", ""]
    return "\n".join(lines)


def sam_deploy(env):
    cmd = ["sam", "deploy", "--config-env", env, "--no-execute-changeset"]
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for line in proc.stdout:
        sys.stdout.write(line)
        seen.append(line)
    if proc.wait() != 0:
        raise Refused(f"sam deploy exited with {proc.returncode}")
    return "".join(seen)


def plan(env):
    name = stack_name(env)
    out = sam_deploy(env)
    created = CREATED.search(out)
    if not created:
        if f"No changes to deploy. Stack {name} is up to date" in out:
            outputs(changes="false")
            summary(f"## {name}: no changes\n\nNothing to review or execute.\n")
            return
        raise Refused("sam deploy printed neither a change set nor 'No changes to deploy'")
    arn = created.group(1)
    if not CHANGE_SET_ARN.fullmatch(arn):
        raise Refused(f"not a change set ARN: {arn!r}")
    change_set = describe_change_set(arn)
    if change_set.get("StackName") != name:
        raise Refused(f"the change set is {change_set.get('StackName')!r}'s, not {name!r}'s")
    if (change_set.get("Status"), change_set.get("ExecutionStatus")) != ("CREATE_COMPLETE", "AVAILABLE"):
        raise Refused(f"the change set is {change_set.get('Status')}/{change_set.get('ExecutionStatus')}")
    marker, _ = stack_marker(name)
    sha = digest(change_set)
    outputs(changes="true", **{"change-set": arn, "stack": marker, "digest": sha})
    summary(review_table(change_set, name, sha))


def execute(env):
    name = stack_name(env)
    arn = os.environ.get("CHANGE_SET", "")
    marker = os.environ.get("STACK_MARKER", "")
    want = os.environ.get("DIGEST", "")
    if not CHANGE_SET_ARN.fullmatch(arn) or not marker or not re.fullmatch(r"[0-9a-f]{64}", want):
        raise Refused("CHANGE_SET, STACK_MARKER and DIGEST must come from the plan job's outputs")
    change_set = describe_change_set(arn)
    if change_set.get("StackName") != name:
        raise Refused(f"the change set is {change_set.get('StackName')!r}'s, not {name!r}'s")
    state = (change_set.get("Status"), change_set.get("ExecutionStatus"))
    if state != ("CREATE_COMPLETE", "AVAILABLE"):
        raise Refused(f"the change set is {state[0]}/{state[1]}, not CREATE_COMPLETE/AVAILABLE "
                      "(OBSOLETE: the stack was updated after it was made); run the workflow again")
    if digest(change_set) != want:
        raise Refused("the change set is not the one the reviewers saw (digest differs)")
    now, stack = stack_marker(name)
    if now != marker:
        raise Refused(f"the stack changed since the change set was made: {marker} then, {now} now")
    waiter = "stack-create-complete" if stack["StackStatus"] == "REVIEW_IN_PROGRESS" else "stack-update-complete"
    print(f"executing {arn}", flush=True)
    aws("cloudformation", "execute-change-set", "--change-set-name", arn)
    done = subprocess.run(["aws", "cloudformation", "wait", waiter, "--stack-name", stack["StackId"]])
    if done.returncode != 0:
        events = aws("cloudformation", "describe-stack-events", "--stack-name", stack["StackId"],
                     "--max-items", "25").get("StackEvents", [])
        for e in events:
            print(f"{e.get('Timestamp')} {e.get('LogicalResourceId')} {e.get('ResourceStatus')} "
                  f"{e.get('ResourceStatusReason', '')}")
        raise Refused(f"{name} did not reach {waiter.removeprefix('stack-').upper().replace('-', '_')}")
    summary(f"## {name}: executed\n\n`{arn}`\n")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("plan", "execute"):
        sys.exit("usage: prod-changeset.py plan|execute <samconfig environment>")
    try:
        (plan if sys.argv[1] == "plan" else execute)(sys.argv[2])
    except Refused as e:
        print(f"::error::{e}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
