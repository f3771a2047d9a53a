"""calls: AWS calls per Amplify event and per build, per function (no
faults); the invocations' durations, memory and the cost of a build's work."""

import os
import re
import statistics
import sys

from .stack import ROOT, branch, build, check, proxies, quiet, set_rate, setup_app, sha


def phase_calls(args):
    print("\n== calls: AWS calls per event (no faults)")
    setup_app()
    set_rate(0)
    # Warm-up: `cargo lambda watch` starts each function instance (through
    # `cargo run`, seconds) on its first invocation; Lambda's start is the
    # cold start of docs/performance.md. Two builds per instance first.
    for i in range(4):
        branch(f"warm-{i}")
        build(f"warm-{i}", "SUCCEED" if i % 2 else "FAILED", sha(f"warm{i}"), step_ms=100)
    quiet(180)
    proxies("reset")
    log_mark = dispatcher_log_size()
    builds = args.builds
    for i in range(builds):
        name = f"calls-{i}"
        branch(name)
        build(name, "SUCCEED" if i % 4 else "FAILED", sha(f"calls{i}"), step_ms=100)
    check(quiet(180), "the stack went quiet")
    stats = proxies("stats")
    per_function = {}
    for proxy in stats.values():
        for key, n in proxy["calls"].items():
            app, service, op = key.split(" ", 2)
            per_function.setdefault(app, {}).setdefault(f"{service} {op}", 0)
            per_function[app][f"{service} {op}"] += n
    amplify_events = builds * 2
    print(f"  {builds} builds ({builds - (builds + 3) // 4} succeeded, {(builds + 3) // 4} failed), "
          f"{amplify_events} Amplify events")
    print("  | function | AWS calls | per build | calls |")
    print("  |---|---|---|---|")
    for app, ops in sorted(per_function.items()):
        total = sum(ops.values())
        detail = ", ".join(f"{op} {n}" for op, n in sorted(ops.items(), key=lambda kv: -kv[1]))
        print(f"  | {app} | {total} | {total / builds:.1f} | {detail} |")
    durations = invocation_durations(log_mark)
    peak = peak_rss_kib()
    print("  peak RSS of each function process so far: "
          + ", ".join(f"{fn} {kib / 1024:.1f} MiB" for fn, kib in sorted(peak.items())))
    cost_per_deploy(per_function, durations, builds)
    ingest = per_function.get("build-event-handler", {})
    per_event = sum(ingest.values()) / amplify_events
    print(f"  ingest: {per_event:.2f} AWS calls per Amplify event")
    check(0 < per_event <= 8, f"ingest makes a bounded number of calls per event ({per_event:.2f})")


def dispatcher_log_size():
    try:
        return os.path.getsize(os.path.join(ROOT, ".local", "dispatcher.log"))
    except OSError:
        return 0


def invocation_durations(since):
    """function -> [ms] of each invocation the dispatcher logged after `since`."""
    out = {}
    with open(os.path.join(ROOT, ".local", "dispatcher.log"), errors="replace") as f:
        f.seek(since)
        for line in f:
            m = re.search(r"^\S+ (\S+) <- \S+: .* in (\d+) ms$", line.strip())
            if m:
                out.setdefault(m.group(1), []).append(int(m.group(2)))
    return out


def peak_rss_kib():
    """Function binary -> the largest VmHWM among its running processes."""
    names = set(memory_sizes())
    peak = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            name = os.path.basename(os.path.realpath(f"/proc/{pid}/exe"))
            with open(f"/proc/{pid}/status") as f:
                hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
        except (OSError, StopIteration):
            continue
        if name in names:
            peak[name] = max(peak.get(name, 0), hwm)
    return peak


def memory_sizes():
    """Binary -> MemorySize (MB) from template.yaml."""
    import yaml
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from provision import cfn_loader
    with open(os.path.join(ROOT, "template.yaml")) as f:
        t = yaml.load(f, Loader=cfn_loader())
    default = t.get("Globals", {}).get("Function", {}).get("MemorySize", 128)
    out = {}
    for r in t["Resources"].values():
        if r.get("Type") == "AWS::Serverless::Function":
            binary = r.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
            out[binary] = r["Properties"].get("MemorySize", default)
    return out


# us-east-1 on-demand prices (docs/cost.md lists them with their pages).
PRICE = {"gb_s": 0.0000133334, "invoke": 0.0000002, "event": 0.000001, "sqs": 0.0000004,
         "wru": 0.000000625, "rru": 0.000000125, "sns": 0.0000005}
WRITES = ("PutItem", "UpdateItem", "DeleteItem")
READS = ("GetItem", "Query", "Scan")


def cost_per_deploy(per_function, durations, builds):
    """The measured work of one build (calls, invocations and their billed
    GB-seconds) priced; prints the monthly cost at 100/1 000/10 000 a day."""
    memory = memory_sizes()
    gb_s = invocations = 0.0
    print("  | function | invocations per build | median ms | GB-s per build (memory) |")
    print("  |---|---|---|---|")
    for fn, ms in sorted(durations.items()):
        billed = sum(ms) / 1000 * memory.get(fn, 128) / 1024
        gb_s += billed
        invocations += len(ms)
        print(f"  | {fn} | {len(ms) / builds:.2f} | {statistics.median(ms):.0f} | "
              f"{billed / builds:.4f} ({memory.get(fn, 128)} MB) |")
    ops = {}
    for calls in per_function.values():
        for key, n in calls.items():
            op = key.split(" ", 1)[1]
            ops[op] = ops.get(op, 0) + n
    # A record is 2-4 KB: 3 write units per write; a strongly consistent read
    # of up to 4 KB is one read unit.
    wru = 3 * sum(n for op, n in ops.items() if op in WRITES)
    rru = sum(n for op, n in ops.items() if op in READS)
    events_published = sum(n for op, n in ops.items() if op == "PutEvents")
    sns_publishes = sum(n for op, n in ops.items() if op == "Publish")
    # Each SQS-delivered invocation: EventBridge's send, Lambda's receive and delete.
    sqs_requests = 3 * invocations + sum(n for op, n in ops.items() if op in ("SendMessage", "SendMessageBatch"))
    per_build = {
        "GB-s": gb_s / builds, "invocations": invocations / builds, "events": events_published / builds,
        "SQS requests": sqs_requests / builds, "WRU": wru / builds, "RRU": rru / builds, "SNS": sns_publishes / builds,
    }
    usd = (per_build["GB-s"] * PRICE["gb_s"] + per_build["invocations"] * PRICE["invoke"]
           + per_build["events"] * PRICE["event"] + per_build["SQS requests"] * PRICE["sqs"]
           + per_build["WRU"] * PRICE["wru"] + per_build["RRU"] * PRICE["rru"] + per_build["SNS"] * PRICE["sns"])
    print("  per build: " + ", ".join(f"{k} {v:.3f}" for k, v in per_build.items()) + f" -> ${usd:.7f}")
    for per_day in (100, 1_000, 10_000):
        print(f"  {per_day} builds a day: ${usd * per_day * 30:.2f} a month of per-build work "
              "(plus the fixed costs of docs/cost.md)")
