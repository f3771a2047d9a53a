#!/usr/bin/env python3
"""The reliability suite's runs against the local stack (scripts/reliability.sh
starts the stack with the functions behind tests/localstack/fault_proxy.py).

Phases (each prints its figures; any failed check exits non-zero):
  calls    AWS calls per Amplify event and per build, per function (no faults)
  latency  Amplify "FAILED" event -> alert in the subscriber's queue, with a
           10 MB build log, median of --runs (no faults)
  faults   builds, failures and a rollback with --rate of the functions' AWS
           calls failing (dropped, delayed, 500, throttled, answer lost):
           every job recorded or its event in the DLQ; no alert sent twice;
           one rollback
  burst    --events Amplify events into the ingest queue at once: none lost
           (the records are counted), with the time taken
  canary   canary secrets in the functions' variables, branch variables,
           build logs and events; then every output is searched: function
           and dispatcher logs, SNS messages, table items, domain events
  roles    what each function asked AWS in the phases before (the proxies
           see every call): its role in template.yaml grants each call (the
           table or index and the partition key's prefix too), the static
           scan of its code (least_privilege.py) predicted each, and what it
           put on the bus is a source and detail type the bus takes

    . .local/env && python tests/localstack/reliability.py calls latency faults burst canary roles
"""

# The phases are the package reliability_suite/ beside this file, one module
# each; this file runs the ones asked for and says what failed.

import argparse
import sys

from reliability_suite.burst import phase_burst
from reliability_suite.calls import phase_calls
from reliability_suite.canary import phase_canary
from reliability_suite.faults import phase_faults
from reliability_suite.latency import phase_latency
from reliability_suite.roles import phase_roles
from reliability_suite.stack import failures

PHASES = {"calls": phase_calls, "latency": phase_latency, "faults": phase_faults, "burst": phase_burst,
          "canary": phase_canary, "roles": phase_roles}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("phases", nargs="+", choices=["calls", "latency", "faults", "burst", "canary", "roles"])
    ap.add_argument("--builds", type=int, default=20)
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--log-mb", type=int, default=10)
    ap.add_argument("--rate", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--branches", type=int, default=8)
    ap.add_argument("--events", type=int, default=10_000)
    ap.add_argument("--backlog", type=int, default=200, help="most burst events queued at once (moto's SQS)")
    ap.add_argument("--timeout", type=int, default=600)
    args = ap.parse_args()
    for phase in args.phases:
        PHASES[phase](args)
    print()
    if failures:
        print(f"reliability: {len(failures)} check(s) failed:")
        for f in failures:
            print("  - " + f)
        return 1
    print("reliability: every check passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
