#!/usr/bin/env python3
"""Validation of a real-size lockfile: time and peak memory.

Generates a Next.js project whose package-lock.json has ~1 500 packages
(~2 MB), then runs, in the same session and on the same files:
  - `sentinel validate` (release build),
  - `npm ls --package-lock-only`, the check a user reaches for to see
    whether a lockfile is consistent (npm loads and checks the whole lockfile
    tree, no node_modules, and prints the top level).
Prints median and p90 wall time and peak RSS of each.

    make bench-validate   # or: python3 scripts/bench-validate.py [--runs N]
"""

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def project(dir, packages):
    random.seed(7)
    deps = {"next": "^14.2.3", "react": "^18.3.1", "react-dom": "^18.3.1"}
    lock_packages = {}
    names = [f"pkg-{i:04d}" for i in range(packages)]
    for name in names[:40]:
        deps[name] = "^1.0.0"
    pkg = {"name": "bench", "version": "1.0.0", "engines": {"node": ">=18.17"}, "dependencies": deps}
    lock_packages[""] = {"name": "bench", "version": "1.0.0", "dependencies": dict(deps), "engines": pkg["engines"]}
    for name, version in [("next", "14.2.3"), ("react", "18.3.1"), ("react-dom", "18.3.1")]:
        lock_packages[f"node_modules/{name}"] = {"version": version, "resolved": f"https://registry.npmjs.org/{name}/-/{name}-{version}.tgz",
                                                 "integrity": "sha512-" + "A" * 86, "dependencies": {}}
    for i, name in enumerate(names):
        children = {n: "^1.0.0" for n in random.sample(names, 11) if n != name}
        lock_packages[f"node_modules/{name}"] = {
            "version": "1.0.0", "resolved": f"https://registry.npmjs.org/{name}/-/{name}-1.0.0.tgz",
            "integrity": "sha512-" + "".join(random.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", k=86)) + "==",
            "license": "MIT", "engines": {"node": ">=14"}, "dependencies": children,
            "funding": {"type": "github", "url": f"https://github.com/sponsors/{name}"},
            "peerDependencies": {n: ">=1.0.0" for n in random.sample(names, 3) if n != name},
            "bin": {name: f"bin/{name}.js"},
            "peerDependenciesMeta": {n: {"optional": True} for n in random.sample(names, 2)},
            "dev": i % 2 == 0,
        }
    lock = {"name": "bench", "version": "1.0.0", "lockfileVersion": 3, "requires": True, "packages": lock_packages}
    with open(os.path.join(dir, "package.json"), "w") as f:
        json.dump(pkg, f, indent=2)
    with open(os.path.join(dir, "package-lock.json"), "w") as f:
        json.dump(lock, f, indent=2)
    with open(os.path.join(dir, "amplify.yml"), "w") as f:
        f.write("version: 1\nfrontend:\n  phases:\n    preBuild:\n      commands: [nvm use 20, npm ci]\n"
                "    build:\n      commands: [npm run build]\n  artifacts:\n    baseDirectory: .next\n    files: ['**/*']\n")
    with open(os.path.join(dir, "case.env"), "w") as f:
        f.write("NODE_OPTIONS=--max-old-space-size=6144\n")
    return os.path.getsize(os.path.join(dir, "package-lock.json")), len(lock_packages) - 1


def measure(cmd, cwd, runs):
    times, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        times.append((time.perf_counter() - start) * 1000)
        peaks.append(usage.ru_maxrss / 1024)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9) - 1 if len(times) >= 10 else -1], max(peaks)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--packages", type=int, default=1500)
    args = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(os.path.expanduser("~"), ".cache/deploy-sentinel/target"))
    subprocess.run(["cargo", "build", "--quiet", "--release", "-p", "sentinel"], cwd=ROOT, check=True,
                   env={**os.environ, "CARGO_TARGET_DIR": target})
    sentinel = os.path.join(target, "release", "sentinel")
    with tempfile.TemporaryDirectory() as dir:
        size, count = project(dir, args.packages)
        print(f"lockfile: {size / 1e6:.2f} MB, {count} packages; {args.runs} runs each; {os.cpu_count()} cores")
        rows = [("sentinel validate", [sentinel, "validate", "--dir", dir, "--env-file", os.path.join(dir, "case.env")])]
        if shutil.which("npm"):
            rows.append(("npm ls --package-lock-only", ["npm", "ls", "--package-lock-only", "--offline"]))
        print(f"{'command':<36} {'median ms':>10} {'p90 ms':>8} {'peak RSS MiB':>13}")
        for name, cmd in rows:
            median, p90, peak = measure(cmd, dir, args.runs)
            print(f"{name:<36} {median:>10.1f} {p90:>8.1f} {peak:>13.1f}")


if __name__ == "__main__":
    sys.exit(main())
