"""The deployment workflows take their settings from samconfig.toml: no
second copy of a region that could drift from it. (Pins, roles and prod's
review: test_deploy_pipeline.py.)"""

import os
import re
import subprocess
import sys
import textwrap
import tomllib

import yaml

import localservers

ROOT = localservers.ROOT
WORKFLOWS = os.path.join(ROOT, ".github", "workflows")
ACTIONS = os.path.join(ROOT, ".github", "actions")


def steps():
    """Every step of the workflows and of the local (composite) actions."""
    for name in sorted(os.listdir(WORKFLOWS)):
        with open(os.path.join(WORKFLOWS, name)) as f:
            flow = yaml.safe_load(f)
        for job in flow.get("jobs", {}).values():
            for step in job.get("steps", []):
                yield name, step
    for name in sorted(os.listdir(ACTIONS)):
        with open(os.path.join(ACTIONS, name, "action.yml")) as f:
            action = yaml.safe_load(f)
        for step in action["runs"].get("steps", []):
            yield f"actions/{name}", step


def test_no_workflow_hard_codes_a_region():
    regions = [(name, s["with"]["aws-region"]) for name, s in steps()
               if isinstance(s.get("with"), dict) and "aws-region" in s["with"]]
    assert regions, "no workflow configures AWS credentials"
    for name, region in regions:
        assert re.fullmatch(r"\$\{\{ steps\.\w+\.outputs\.region \}\}", region), (name, region)


def test_the_region_step_reads_each_environments_region(tmp_path):
    [step] = [s for _, s in steps() if s.get("id") == "samconfig"]
    script = re.search(r"<<'PY'[^\n]*\n(.*?)\n\s*PY", step["run"], re.S).group(1)
    script = textwrap.dedent(script)
    config = tmp_path / "samconfig.toml"
    with open(os.path.join(ROOT, "samconfig.toml"), "rb") as f:
        cfg = tomllib.load(f)
    # A section of its own wins over the global region.
    extra = '\n[prod.global.parameters]\nregion = "eu-west-1"\n'
    config.write_text(open(os.path.join(ROOT, "samconfig.toml")).read() + extra)
    for env, want in [("dev", cfg["default"]["global"]["parameters"]["region"]), ("prod", "eu-west-1")]:
        out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                             text=True, env=dict(os.environ, ENVIRONMENT=env), timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"region={want}", (env, out.stdout)
