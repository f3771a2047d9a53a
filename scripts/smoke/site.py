"""The site the smoke deploys (a good one with the health file, a broken
one without) and the throwaway branch's policy."""

import io
import zipfile


HEALTH_PATH = "/smoke-health.txt"


def site_zip(token, with_health):
    """A static site: index.html, and for the good deploy the health file.
    The page names the commit Amplify reports for a manual deployment,
    HEAD (seen in GetJob; AWS documents no value): the health checker's
    version check looks for the job's commit in the page."""
    page = ('<!doctype html><html><head><meta name="x-deployed-commit" content="HEAD">'
            f"<title>Deploy Sentinel smoke</title></head><body><h1>smoke {token[:8]}</h1></body></html>")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("index.html", page)
        if with_health:
            z.writestr(HEALTH_PATH.lstrip("/"), f"ok {token}\n")
    return buf.getvalue()


def smoke_policy(token):
    """The throwaway branch's policy: observe (nothing acts on Amplify),
    automatic rollback on so that observe mode records "would have rolled
    back", and a health endpoint only the good deploy serves."""
    return "\n".join([
        "# Written by scripts/smoke-aws.py for one run; deleted when it ends.",
        "enforcement: observe",
        "rollback:",
        "  automatic: true",
        "health:",
        "  site: amplify_domain",
        "  endpoints:",
        "    - path: /",
        f"    - path: {HEALTH_PATH}",
        f"      body_contains: \"{token}\"",
        "  healthy_after: 1",
        "  unhealthy_after: 3",
        "  round_interval_ms: 2000",
        "  deadline_ms: 180000",
        "",
    ])
