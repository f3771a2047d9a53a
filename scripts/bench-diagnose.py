#!/usr/bin/env python3
"""Diagnosis throughput and peak memory beside GNU grep, on Amplify-shaped logs.

Generates failed-build logs in the shape real Amplify logs have (every line
timestamped and levelled, almost all of it [WARNING]/[INFO] noise, the
cause near the end), in four shapes:
  amplify   npm/webpack/Next.js noise, mostly [INFO] and [WARNING];
  warnings  ordinary timestamped warning lines (npm WARN, peer dependencies,
            Node and Next.js warnings);
  ansi      the amplify shape with every line coloured, as npm and webpack
            colour them;
  crlf      the amplify shape with CRLF line ends;
and sizes of 1, 10, 100 and 1000 MB. Then runs, interleaved (A B C A B C …,
so that a noisy neighbour slows every command alike), on the same files:
  - `sentinel diagnose FILE --json` (release build): the whole diagnosis,
    every catalogue literal;
  - `grep -E -f CATALOGUE FILE`: the catalogue's trigger literals
    (`sentinel diagnose --print-patterns`), under LC_ALL=C (grep's fastest);
  - `grep -E -f USER FILE`: 20 patterns as a user would write them.
Prints the median wall time and CPU time (user + system, from wait4) of
each, throughput on both, the ratio to each grep, and peak RSS (VmHWM,
sampled). On a shared machine CPU time is the steadier of the two.

    python3 scripts/bench-diagnose.py [--runs 5] [--sizes 1,10,100,1000] [--shapes amplify,warnings,ansi,crlf]
"""

import argparse
import datetime
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

AMPLIFY = [
    "[INFO]: \u2713 Compiled /app/page in {n}ms ({m} modules)",
    "[WARNING]: npm WARN deprecated inflight@1.0.{n}: This module is not supported, and leaks memory. Do not use it.",
    "[INFO]: added {n} packages, and audited {m} packages in 17s",
    "[INFO]:    Building route /blog/post-{n} (static, {m} B)",
    "[INFO]: info  - Generating static pages ({n}/{m})",
    "[WARNING]: (node:{n}) [DEP0040] DeprecationWarning: The `punycode` module is deprecated. Please use a userland alternative instead.",
    "[INFO]: <w> [webpack.cache.PackFileCacheStrategy] Serializing big strings ({n}kiB) impacts deserialization performance",
    "[INFO]: \u251c \u25cb /docs/page-{n}                                  {m} B         87.{n} kB",
    "[WARNING]: warning \" > @tanstack/react-query-devtools@5.{n}.{m}\" has unmet peer dependency \"@tanstack/react-query@^5.{n}\".",
    "[WARNING]: npm WARN deprecated glob@7.2.{n}: Glob versions prior to v9 are no longer supported",
]

WARNINGS = [
    "[WARNING]: npm WARN deprecated rimraf@3.0.{n}: Rimraf versions prior to v4 are no longer supported",
    "[WARNING]: npm WARN deprecated inflight@1.0.6: This module is not supported, and leaks memory. Do not use it. Check out lru-cache if you want a good and tested way to coalesce async requests by a key value, which is much more comprehensive and powerful.",
    "[WARNING]: warning \" > @tanstack/react-query-devtools@5.{n}.{m}\" has unmet peer dependency \"@tanstack/react-query@^5.{n}\".",
    "[WARNING]: (node:{n}) ExperimentalWarning: The Fetch API is an experimental feature. This feature could change at any time",
    "[WARNING]:  \u26a0 Unsupported metadata viewport is configured in metadata export in /blog/post-{n}. Please move it to viewport export instead.",
    "[INFO]: ./src/components/Card{n}.tsx",
    "[INFO]: {m}:7  Warning: React Hook useEffect has a missing dependency: 'items'. Either include it or remove the dependency array.  react-hooks/exhaustive-deps",
    "[WARNING]: Browserslist: caniuse-lite is outdated. Please run: npx update-browserslist-db@latest",
]

# The same lines as npm and webpack colour them.
ANSI = [
    "[INFO]: \x1b[32m\u2713\x1b[39m Compiled \x1b[1m/app/page\x1b[22m in {n}ms ({m} modules)",
    "[WARNING]: \x1b[33mnpm\x1b[39m \x1b[43m\x1b[30mWARN\x1b[39m\x1b[49m \x1b[35mdeprecated\x1b[39m inflight@1.0.{n}: This module is not supported, and leaks memory. Do not use it.",
    "[INFO]: \x1b[1madded\x1b[22m {n} packages, and audited {m} packages in 17s",
    "[INFO]:    \x1b[2mBuilding route\x1b[22m /blog/post-{n} (static, {m} B)",
    "[INFO]: \x1b[36minfo\x1b[39m  - Generating static pages ({n}/{m})",
    "[WARNING]: \x1b[33m(node:{n}) [DEP0040] DeprecationWarning\x1b[39m: The `punycode` module is deprecated. Please use a userland alternative instead.",
    "[INFO]: \x1b[33m<w>\x1b[39m [webpack.cache.PackFileCacheStrategy] Serializing big strings ({n}kiB) impacts deserialization performance",
    "[INFO]: \u251c \x1b[2m\u25cb\x1b[22m /docs/page-{n}                                  {m} B         \x1b[32m87.{n} kB\x1b[39m",
    "[WARNING]: \x1b[33mwarning\x1b[39m \" > @tanstack/react-query-devtools@5.{n}.{m}\" has unmet peer dependency \"@tanstack/react-query@^5.{n}\".",
    "[WARNING]: \x1b[33mnpm\x1b[39m \x1b[43m\x1b[30mWARN\x1b[39m\x1b[49m \x1b[35mdeprecated\x1b[39m glob@7.2.{n}: Glob versions prior to v9 are no longer supported",
]

SHAPES = {"amplify": (AMPLIFY, "\n"), "warnings": (WARNINGS, "\n"), "ansi": (ANSI, "\n"), "crlf": (AMPLIFY, "\r\n")}

TAIL = [
    "[INFO]: <--- Last few GCs --->",
    "[INFO]: [1234:0x5a1c0b0]    98532 ms: Mark-Compact 4041.3 (4130.5) -> 4029.6 (4132.3) MB",
    "[INFO]: FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
    "[ERROR]: !!! Build failed",
    "[ERROR]: !!! Error: Command failed with exit code 134",
    "[INFO]: # Starting environment caching...",
    "[INFO]: # Environment caching completed",
]

# What a user greps a build log for: 20 patterns.
USER = [
    "error", "ERR!", "FATAL", "Failed", "failed", "Cannot find", "Can't resolve",
    "not found", "Module not found", "Killed", "exit code", "out of memory",
    "ENOSPC", "ETIMEDOUT", "ECONNRESET", "Type error", "Attempted import error",
    "Build failed", "CustomerError", "Permission denied",
]


def generate(path, shape, size):
    random.seed(11)
    noise, eol = SHAPES[shape]
    head = ["[INFO]: # Starting phase: build", "[INFO]: # Executing command: npm run build"]
    written = 0
    n = 0
    with open(path, "w", encoding="utf-8", newline="") as f:
        for line in head:
            f.write(f"2023-07-28T05:57:40.000Z {line}{eol}")
        block = []
        while written < size:
            n += 1
            text = f"2023-07-28T05:{n // 600 % 60:02d}:{n // 10 % 60:02d}.{n % 1000:03d}Z " + \
                random.choice(noise).format(n=n % 997, m=n % 7919) + eol
            block.append(text)
            written += len(text.encode())
            if len(block) == 10000:
                f.write("".join(block))
                block = []
        f.write("".join(block))
        for line in TAIL:
            f.write(f"2023-07-28T06:10:00.000Z {line}{eol}")


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


def measure(cmd, env=None):
    """Wall seconds, CPU seconds (user + system), peak RSS in MiB."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    done = threading.Event()
    result = {}
    sampler = threading.Thread(target=lambda: result.update(peak=peak_rss(proc.pid, done)))
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):  # grep answers 1 when nothing matches
        sys.exit(f"{cmd[0]} failed with {code}")
    return wall, usage.ru_utime + usage.ru_stime, result["peak"] / 1024


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="1,10,100,1000", help="log sizes in MB")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="of " + ", ".join(SHAPES))
    ap.add_argument("--dir", help="where to write the logs (default: a temporary directory)")
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.expanduser("~"), ".cache/deploy-sentinel/target"))
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "sentinel"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": target})
    sentinel = os.path.join(target, "release", "sentinel")
    grep = shutil.which("grep")
    c_locale = {**os.environ, "LC_ALL": "C"}
    with tempfile.TemporaryDirectory(dir=args.dir) as dir:
        catalogue = os.path.join(dir, "catalogue.txt")
        with open(catalogue, "w") as f:
            subprocess.run([sentinel, "diagnose", "-", "--print-patterns"], stdin=subprocess.DEVNULL,
                           stdout=f, check=True)
        with open(catalogue) as f:
            count = sum(1 for _ in f)
        user = os.path.join(dir, "user.txt")
        with open(user, "w") as f:
            f.write("\n".join(USER) + "\n")
        version = subprocess.run([grep, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
        print(f"{datetime.date.today()}, {cpu_model()}, {os.cpu_count()} cores; {version}")
        print(f"{args.runs} interleaved runs each, median; grep -E -f with {count} catalogue patterns "
              f"or {len(USER)} user patterns, LC_ALL=C")
        print("reproduce: python3 scripts/bench-diagnose.py " +
              f"--runs {args.runs} --sizes {args.sizes} --shapes {args.shapes}")
        print()
        print(f"{'shape':<9} {'log':>6}  {'command':<24} {'wall s':>7} {'cpu s':>7} {'MB/s wall':>9} "
              f"{'MB/s cpu':>9} {'x grep(wall)':>12} {'x grep(cpu)':>11} {'RSS MiB':>8}")
        for shape in args.shapes.split(","):
            for mb in [int(s) for s in args.sizes.split(",")]:
                log = os.path.join(dir, f"{shape}-{mb}mb.log")
                generate(log, shape, mb * 1_000_000)
                size = os.path.getsize(log) / 1e6
                rows = [
                    ("sentinel diagnose", [sentinel, "diagnose", log, "--json"], None),
                    ("grep catalogue", [grep, "-E", "-f", catalogue, log], c_locale),
                    ("grep 20 user patterns", [grep, "-E", "-f", user, log], c_locale),
                ]
                results = {name: ([], [], []) for name, _, _ in rows}
                for _ in range(args.runs):
                    for name, cmd, env in rows:
                        for got, value in zip(results[name], measure(cmd, env)):
                            got.append(value)
                medians = {name: (statistics.median(r[0]), statistics.median(r[1]), max(r[2]))
                           for name, r in results.items()}
                wall, cpu, _ = medians["sentinel diagnose"]
                for name, (w, c, peak) in medians.items():
                    if name == "sentinel diagnose":
                        ratio = ""
                    else:
                        ratio = f"{w / wall:>12.2f} {c / cpu:>11.2f}"
                    print(f"{shape:<9} {mb:>4}MB  {name:<24} {w:>7.3f} {c:>7.3f} {size / w:>9.0f} "
                          f"{size / c:>9.0f} {ratio:>24} {peak:>8.1f}")
                os.remove(log)
        print()
        print("x grep: how many times faster sentinel is than that grep (its time / sentinel's).")


if __name__ == "__main__":
    sys.exit(main())
