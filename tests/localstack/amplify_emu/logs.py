"""Build and deployment logs in Amplify's format (timestamped lines with
their level), as a job's log URL serves them."""

import re

from .common import iso


def success_log(commit, repo):
    return [
        "# Build environment configured with Standard build compute type: 8GiB Memory, 4vCPUs, 128GB Disk Space",
        f"# Cloning repository: {repo}", f"# Switching to commit: {commit}",
        "# Retrieving cache...", "# Retrieved cache", "## Starting Backend Build",
        "## No backend environment association found, continuing...", "## Completed Backend Build",
        "## Starting Frontend Build", "# Starting phase: preBuild",
        "# Executing command: npm ci --cache .npm --prefer-offline",
        "added 812 packages, and audited 813 packages in 21s", "# Completed phase: preBuild",
        "# Starting phase: build", "# Executing command: npm run build", "> next build",
        "  ▲ Next.js 14.2.3", "   Creating an optimized production build ...", " ✓ Compiled successfully",
        "   Linting and checking validity of types ...", " ✓ Collecting page data",
        " ✓ Generating static pages (12/12)", " ✓ Finalizing page optimization",
        "# Completed phase: build", "## Completed Frontend Build", "## Build completed successfully",
        "# Starting caching...", "# Uploading cache artifact...", "# Caching completed",
    ]


def failure_log(commit, repo):
    return success_log(commit, repo)[:18] + [
        "<--- Last few GCs --->",
        "[1234:0x5a1c0b0]    98532 ms: Mark-Compact 4041.3 (4130.5) -> 4029.6 (4132.3) MB",
        "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
        "!!! Build failed", "!!! Error: Command failed with exit code 134",
        "# Starting environment caching...", "# Environment caching completed", "Terminating logging...",
    ]


def deploy_log():
    return ["Starting SSR Build...", "SSR Build Complete.", "Starting Deployment",
            "Updating Edge config", "Deployment complete"]


def manual_deploy_log(files):
    """A manual deployment's only step: no build, the uploaded files are
    published as they are."""
    return ["Starting Deployment", f"Extracting {len(files)} file(s) from the uploaded artifact",
            "Updating Edge config", "Deployment complete"]


def manual_failure_log(reason):
    return ["Starting Deployment", "!!! Deployment failed", f"!!! Error: {reason}", "Terminating logging..."]


def log_level(line):
    if line.startswith("!!! Build failed"):
        return "WARNING"
    return "ERROR" if line.startswith("!!! ") else "INFO"


def render_log(lines, start, end):
    """Lines that already carry Amplify's timestamp prefix are kept; the others
    get one, spread over the step's run."""
    step = (max(end, start) - start) / max(len(lines), 1)
    out = []
    for i, line in enumerate(lines):
        if re.match(r"^\d{4}-\d\d-\d\dT", line):
            out.append(line)
        else:
            out.append(f"{iso(start + i * step, millis=True)} [{log_level(line)}]: {line}")
    return "\n".join(out) + "\n"
