#!/usr/bin/env python3
"""Diagnosis throughput and peak memory on 1 MB, 100 MB and 1 GB build logs.

Generates Amplify-shaped failed-build logs (timestamps, levels, ANSI
colours, npm warnings, webpack progress; the cause near the end), then
runs, in the same session and on the same files:
  - `sentinel diagnose FILE --json` (release build): the whole diagnosis;
  - `grep -E -f PATTERNS FILE` with the catalogue's trigger literals
    (`sentinel diagnose --print-patterns`), what a user would script to
    find the error lines, under LC_ALL=C (grep's fastest mode);
  - the same grep with `-i` (case-insensitive, as such scripts often are).
Prints median wall time, throughput (MB/s) and peak RSS (VmHWM, sampled)
of each.

    make bench-diagnose   # or: python3 scripts/bench-diagnose.py [--runs N] [--sizes 1,100,1000]
"""

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

NOISE = [
    "[INFO]: \x1b[32m\u2713\x1b[0m Compiled /app/page in {n}ms ({m} modules)",
    "[WARNING]: npm WARN deprecated inflight@1.0.{n}: This module is not supported, and leaks memory.",
    "[INFO]: added {n} packages, and audited {m} packages in 17s",
    "[INFO]:    Building route /blog/post-{n} (static, {m} B)",
    "[INFO]: info  - Generating static pages ({n}/{m})",
    "[WARNING]: (node:{n}) [DEP0040] DeprecationWarning: The `punycode` module is deprecated.",
    "[INFO]: <w> [webpack.cache.PackFileCacheStrategy] Serializing big strings ({n}kiB) impacts deserialization performance",
    "[INFO]: \u251c \u25cb /docs/page-{n}                                  {m} B         87.{n} kB",
]

TAIL = [
    "[INFO]: <--- Last few GCs --->",
    "[INFO]: [1234:0x5a1c0b0]    98532 ms: Mark-Compact 4041.3 (4130.5) -> 4029.6 (4132.3) MB",
    "[INFO]: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    "[WARNING]: !!! Build failed",
    "[ERROR]: !!! Error: Command failed with exit code 134",
    "[INFO]: # Starting environment caching...",
    "[INFO]: # Environment caching completed",
]


def generate(path, size):
    random.seed(11)
    head = ["[INFO]: # Starting phase: build", "[INFO]: # Executing command: npm run build"]
    written = 0
    n = 0
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for line in head:
            f.write(f"2023-07-28T05:57:40.000Z {line}\n")
        block = []
        while written < size:
            n += 1
            text = f"2023-07-28T05:{n // 600 % 60:02d}:{n // 10 % 60:02d}.{n % 1000:03d}Z " + \
                random.choice(NOISE).format(n=n % 997, m=n % 7919) + "\n"
            block.append(text)
            written += len(text.encode())
            if len(block) == 10000:
                f.write("".join(block))
                block = []
        f.write("".join(block))
        for line in TAIL:
            f.write(f"2023-07-28T06:10:00.000Z {line}\n")


def peak_rss(pid, done):
    """The child's own peak RSS (VmHWM), sampled until it exits: wait4's
    ru_maxrss would also count the Python process it was forked from."""
    peak = 0
    while not done.is_set():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.001)
    return peak


def measure(cmd, runs, env=None):
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        done = threading.Event()
        result = {}
        sampler = threading.Thread(target=lambda: result.update(peak=peak_rss(proc.pid, done)))
        sampler.start()
        _, status, _ = os.wait4(proc.pid, 0)
        times.append(time.perf_counter() - start)
        done.set()
        sampler.join()
        peaks.append(result["peak"] / 1024)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 1):  # grep answers 1 when nothing matches
            sys.exit(f"{cmd[0]} failed with {code}")
    return statistics.median(times), max(peaks)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="1,100,1000", help="log sizes in MB")
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.expanduser("~"), ".cache/deploy-sentinel/target"))
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "sentinel"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": target})
    sentinel = os.path.join(target, "release", "sentinel")
    grep = shutil.which("grep")
    c_locale = {**os.environ, "LC_ALL": "C"}
    with tempfile.TemporaryDirectory() as dir:
        patterns = os.path.join(dir, "patterns.txt")
        with open(patterns, "w") as f:
            subprocess.run([sentinel, "diagnose", "-", "--print-patterns"], stdin=subprocess.DEVNULL,
                           stdout=f, check=True)
        with open(patterns) as f:
            count = sum(1 for _ in f)
        version = subprocess.run([grep, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        print(f"{count} patterns; {version}; {args.runs} interleaved runs each, median; {os.cpu_count()} cores")
        print(f"{'log':>8}  {'command':<28} {'seconds':>8} {'MB/s':>8} {'peak RSS MiB':>13}")
        for mb in [int(s) for s in args.sizes.split(",")]:
            log = os.path.join(dir, f"build-{mb}mb.log")
            generate(log, mb * 1_000_000)
            size = os.path.getsize(log) / 1e6
            rows = [
                ("sentinel diagnose --json", [sentinel, "diagnose", log, "--json"], None),
                ("grep -E -f (LC_ALL=C)", [grep, "-E", "-f", patterns, log], c_locale),
                ("grep -E -i -f (LC_ALL=C)", [grep, "-E", "-i", "-f", patterns, log], c_locale),
            ]
            # Interleaved (A B C A B C …) so that a noisy neighbour slows
            # every command alike; the median of each.
            results = {name: ([], []) for name, _, _ in rows}
            for _ in range(args.runs):
                for name, cmd, env in rows:
                    seconds, peak = measure(cmd, 1, env)
                    results[name][0].append(seconds)
                    results[name][1].append(peak)
            for name, _, _ in rows:
                seconds = statistics.median(results[name][0])
                peak = max(results[name][1])
                print(f"{mb:>6}MB  {name:<28} {seconds:>8.3f} {size / seconds:>8.0f} {peak:>13.1f}")
            os.remove(log)


if __name__ == "__main__":
    sys.exit(main())
