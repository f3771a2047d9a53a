"""faults: builds, failures and a rollback with a share of the functions'
AWS calls failing: every job recorded or its event in the DLQ, no alert
sent twice, one rollback."""

import json
import os
import subprocess

from .stack import (APP, ENV, ROOT, branch, build, bus_tap, check, ctl, dlq_messages, drain, proxies, quiet, records,
                    set_rate, setup_app, sha, status_of, subscribe)


def phase_faults(args):
    print(f"\n== faults: {args.rate:.0%} of the functions' AWS calls fail")
    setup_app()
    set_rate(0)
    dlq_messages()
    alerts_url = subscribe("reliability-faults")
    tap_url = bus_tap("reliability-faults-tap")
    ctl("/calls", method="DELETE")
    # A branch whose bad deploy must be rolled back, once.
    good, bad = sha("faults-good"), sha("faults-bad")
    branch("faults-rel", headCommit={"commitId": good})
    policy = os.path.join(ROOT, ".local", "reliability-rollback.yaml")
    with open(policy, "w") as f:
        f.write("rollback:\n  automatic: true\nhealth:\n  healthy_after: 1\n  unhealthy_after: 2\n"
                "  round_interval_ms: 200\n")
    sentinel(["policy", "push", policy, "--app", APP, "--branch", "faults-rel"])
    ctl(f"/apps/{APP}/branches/faults-rel/site", {"brokenCommits": [bad]})
    build("faults-rel", "SUCCEED", good)
    check(quiet(120), "the good deploy settled")
    proxies("reset")
    set_rate(args.rate, seed=args.seed)
    jobs = {}
    for i in range(args.branches):
        name = f"faults-{i}"
        branch(name)
        for outcome in ("SUCCEED", "FAILED"):
            jobs[(name, build(name, outcome, sha(f"{name}{outcome}")))] = outcome
    jobs[("faults-rel", build("faults-rel", "SUCCEED", bad))] = "SUCCEED"
    settled = quiet(args.timeout)
    stats = proxies("stats")
    set_rate(0)
    check(settled, f"the stack went quiet within {args.timeout} s")
    total = sum(p["total"] for p in stats.values())
    faults = sum(p["faults"] for p in stats.values())
    kinds = {}
    for p in stats.values():
        for key, n in p["fates"].items():
            kinds[key.rsplit(" ", 1)[1]] = kinds.get(key.rsplit(" ", 1)[1], 0) + n
    print(f"  {total} AWS calls through the proxies, {faults} faults injected: "
          + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    check(faults > 0, "faults were injected")

    dead = dlq_messages()
    dead_jobs = set()
    for m in dead:
        try:
            d = json.loads(m["Body"]).get("detail", {})
            dead_jobs.add((d.get("branchName"), str(d.get("jobId"))))
        except (ValueError, AttributeError):
            pass
    recorded = {}
    for item in records(APP, "faults-"):
        recorded[(item["PK"]["S"].split("#", 2)[2], str(int(item["SK"]["S"][4:])))] = status_of(item)
    lost = [k for k in jobs if k not in recorded and k not in dead_jobs]
    check(not lost, f"every job recorded or its event in the DLQ ({len(jobs)} jobs, {len(dead)} in the DLQ)"
          + (f"; lost: {lost}" if lost else ""))
    wrong = [(k, recorded[k], want) for k, want in jobs.items() if k in recorded and recorded[k] != want
             and k not in dead_jobs]
    check(not wrong, "every recorded job has Amplify's final status" + (f"; differ: {wrong}" if wrong else ""))

    alerts = drain(alerts_url, wait=2)
    bodies = [json.loads(m["Body"])["Message"] for m in alerts]
    dupes = len(bodies) - len(set(bodies))
    check(dupes == 0, f"no alert sent twice ({len(alerts)} alerts, {dupes} duplicates)")
    failed_branches = {b for (b, _), o in jobs.items() if o == "FAILED"}
    alerted = {b for b in failed_branches if any(f"/{b}" in s or f" {b}" in s or b in s for s in bodies)}
    check(alerted == failed_branches or dead,
          f"every failed build alerted ({len(alerted)}/{len(failed_branches)})")

    starts = [c for c in ctl("/calls", method="GET")["calls"]
              if c["operation"] == "StartJob" and "faults-rel" in c["path"] and c.get("status", 200) < 300]
    check(len(starts) == 1, f"the bad deploy rolled back by exactly one StartJob ({len(starts)})")
    check(any("faults-rel" in b and "Rollback succeeded" in b for b in bodies),
          "the rollback completed (its job verified healthy) and was announced")
    tapped = drain(tap_url, wait=1)
    ids = [json.loads(m["Body"])["detail"].get("eventId") for m in tapped]
    print(f"  domain events on the bus: {len(ids)}, {len(ids) - len(set(ids))} delivered more than once "
          "(a PutEvents retried after a lost answer; consumers de-duplicate on eventId)")


def sentinel(argv):
    binary = os.path.join(ENV["CARGO_TARGET_DIR"], "release" if ENV.get("LAMBDA_RELEASE") else "debug", "sentinel")
    subprocess.run([binary, *argv], check=True, stdout=subprocess.DEVNULL)
