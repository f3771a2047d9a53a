"""The run's steps: each prints ✓ or ✗ with the time it took; a step's
failure, an SDK error said plainly, and the waits (capped by --max-wait)."""

import time


# Waits, in seconds, sized for AWS (a manual deployment takes about a minute;
# the health checker's rounds, the alerter and rollback follow within
# seconds). --max-wait caps them all (the local run uses 60).
WAITS = {"job": 600, "record": 180, "verdict": 300, "alert": 180, "observed": 180}


class StepFailed(Exception):
    pass


# ----- output -----

class Report:
    """`✓ name (1.2 s)` or `✗ name (3.4 s): why`, one line per step."""

    def __init__(self):
        self.passed, self.failed = [], []

    def step(self, name, fn):
        started = time.monotonic()
        try:
            out = fn()
        except StepFailed as e:
            self._line(False, name, started, str(e))
            raise
        except KeyboardInterrupt:
            self._line(False, name, started, "interrupted")
            raise
        except Exception as e:  # an SDK error is the step's failure, said plainly
            self._line(False, name, started, describe(e))
            raise StepFailed(describe(e)) from e
        self._line(True, name, started, out if isinstance(out, str) else None)
        return out

    def _line(self, ok, name, started, detail):
        took = f"({time.monotonic() - started:.1f} s)"
        if ok:
            self.passed.append(name)
            print(f"✓ {name} {took}" + (f": {detail}" if detail else ""), flush=True)
        else:
            self.failed.append(name)
            print(f"✗ {name} {took}: {detail}", flush=True)


def describe(e):
    """An SDK error as its code and message, never a traceback or a secret."""
    response = getattr(e, "response", None)
    if isinstance(response, dict) and "Error" in response:
        err = response["Error"]
        return f"{err.get('Code', type(e).__name__)}: {err.get('Message', '')}".strip()
    return f"{type(e).__name__}: {e}"


def wait_for(what, seconds, probe, interval=2.0):
    """Polls `probe` until it returns a truthy value, at most `seconds`;
    raises StepFailed naming `what` did not arrive. `probe` may raise
    StepFailed to stop early (e.g. a verdict that cannot change any more)."""
    deadline = time.monotonic() + seconds
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise StepFailed(f"{what} did not arrive within {seconds:.0f} s")
        time.sleep(min(interval, max(0.1, deadline - time.monotonic())))
