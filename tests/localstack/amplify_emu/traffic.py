"""What the branch sites served, counted per app and minute and published
to CloudWatch as Amplify Hosting does (`AWS/AmplifyHosting`)."""

import os
import threading
import time
from datetime import datetime, timezone

from .common import REGION, iso


class Traffic:
    """What the branch sites served, per app and minute, as Amplify Hosting
    reports it to CloudWatch (`AWS/AmplifyHosting`, dimension `App` only):
    Requests, 4xxErrors and 5xxErrors (Latency is counted, not published:
    see publish_traffic). A thread publishes
    each minute once it has ended (and `POST /_emulator/metrics/flush`
    publishes what is counted so far); only what was not published yet is
    sent, so a minute flushed early and again later is not counted twice."""

    def __init__(self):
        self.lock = threading.Lock()
        self.minutes = {}    # (appId, minute epoch) -> counts
        self.published = {}  # (appId, minute epoch) -> counts already sent
        self.hits = {}       # (appId, branch, path) -> requests served, for failing shares

    def record(self, app_id, status, seconds):
        minute = int(time.time()) // 60 * 60
        with self.lock:
            c = self.minutes.setdefault((app_id, minute), {"requests": 0, "4xx": 0, "5xx": 0, "latency": 0.0})
            c["requests"] += 1
            c["4xx"] += 400 <= status < 500
            c["5xx"] += status >= 500
            c["latency"] += seconds

    def fails(self, app_id, branch, path, share):
        """Whether this request is one of the `share` that fail: every
        request where the running count of failures steps up (20 %: every
        fifth), so a test knows exactly how many failed."""
        with self.lock:
            n = self.hits.get((app_id, branch, path), 0)
            self.hits[(app_id, branch, path)] = n + 1
        return int((n + 1) * share) > int(n * share)

    def pending(self, everything=False):
        """The unpublished part of each ended minute (or of every minute)."""
        now_minute = int(time.time()) // 60 * 60
        out = []
        with self.lock:
            for key, c in self.minutes.items():
                if not everything and key[1] >= now_minute:
                    continue
                done = self.published.get(key, {"requests": 0, "4xx": 0, "5xx": 0, "latency": 0.0})
                delta = {k: c[k] - done[k] for k in c}
                if delta["requests"] > 0:
                    out.append((key, delta))
                    self.published[key] = dict(c)
        return out

    def summary(self):
        with self.lock:
            # `m` is already epoch seconds, which is what iso() takes.
            return [{"appId": a, "minute": iso(m), **c}
                    for (a, m), c in sorted(self.minutes.items())]


def publish_traffic(store, everything=False):
    """PutMetricData of the pending minutes to CloudWatch (moto's, at the
    events endpoint: one server serves every service)."""
    pending = store.traffic.pending(everything)
    if not pending or not store.config.get("eventsEndpoint"):
        return 0
    import boto3
    cw = boto3.client("cloudwatch", region_name=REGION, endpoint_url=store.config["eventsEndpoint"],
                      aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                      aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"))
    for (app_id, minute), d in pending:
        at = datetime.fromtimestamp(minute, timezone.utc)
        dims = [{"Name": "App", "Value": app_id}]
        data = [{"MetricName": name, "Dimensions": dims, "Timestamp": at, "Value": float(value), "Unit": unit}
                for name, value, unit in (("Requests", d["requests"], "Count"), ("4xxErrors", d["4xx"], "Count"),
                                          ("5xxErrors", d["5xx"], "Count"))]
        # No `Latency`: moto computes no percentiles, and its GetMetricData
        # fails (500) when a p90 is asked over data. Locally the bake judges
        # error rates; `GET /_emulator/metrics` still shows the latency.
        cw.put_metric_data(Namespace="AWS/AmplifyHosting", MetricData=data)
    return len(pending)


def publish_every_minute(store):
    while True:
        time.sleep(10)
        try:
            publish_traffic(store)
        except Exception as e:  # moto not up yet, or gone: the next round tries again
            print(f"amplify emulator: metrics not published: {e!r}", flush=True)
