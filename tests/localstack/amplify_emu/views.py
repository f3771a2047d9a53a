"""What the API shows of a job: its summary, its steps with their signed
log URLs, and the log text served at those URLs."""

import hashlib
import hmac
from datetime import datetime, timezone
from urllib.parse import quote

from .common import REGION, TERMINAL, arn, now
from .logs import deploy_log, render_log, success_log


class Views:
    """The Store's wire shapes of a job (a mixin)."""

    def signature(self, path, date, expires):
        return hmac.new(self.secret, f"{path}\n{date}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def log_url(self, job, step):
        path = f"/_logs/{job.app_id}/{quote(job.branch, safe='')}/{job.number}/{step}.txt"
        date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        expires = self.config["logUrlExpiresSeconds"]
        return (f"http://{self.host}:{self.port}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                f"&X-Amz-Credential=ASIAEMULATOR%2F{date[:8]}%2F{REGION}%2Fs3%2Faws4_request&X-Amz-Date={date}"
                f"&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={self.signature(path, date, expires)}")

    @staticmethod
    def summary(job):
        out = {"jobArn": arn(job.app_id, job.branch, job.number), "jobId": str(job.number),
               "commitId": job.commit_id, "commitMessage": job.commit_message, "commitTime": job.commit_time,
               "startTime": job.start_time, "status": job.status, "jobType": job.job_type}
        if job.end_time is not None:
            out["endTime"] = job.end_time
        return out

    def steps(self, job):
        """BUILD once the job ran, DEPLOY after a successful build; Step.endTime
        is required by the model, so a running step reports 'now'."""
        if job.running_since is None and job.status not in ("SUCCEED", "FAILED"):
            return []
        start = job.running_since or job.start_time
        end = job.end_time or now()
        status = "RUNNING" if job.status == "PROVISIONING" else job.status
        if job.job_type == "MANUAL":  # nothing is built: one DEPLOY step
            deploy = {"stepName": "DEPLOY", "startTime": start, "status": status, "endTime": end,
                      "logUrl": self.log_url(job, "DEPLOY")}
            if job.status_reason:
                deploy["statusReason"] = job.status_reason
            return [deploy]
        build = {"stepName": "BUILD", "startTime": start, "status": status, "endTime": end,
                 "logUrl": self.log_url(job, "BUILD")}
        if job.status_reason:
            build["statusReason"] = job.status_reason
        if job.status != "SUCCEED":
            return [build]
        deploy = {"stepName": "DEPLOY", "startTime": end, "status": "SUCCEED", "endTime": end,
                  "logUrl": self.log_url(job, "DEPLOY"),
                  "artifactsUrl": f"http://{self.host}:{self.port}/_artifacts/{job.app_id}/{job.number}.zip"}
        return [build, deploy]

    def log_text(self, job, step):
        start = job.running_since or job.start_time
        end = job.end_time or now()
        if job.job_type == "MANUAL":
            if step != "DEPLOY" or job.log is None:
                return None
            lines = job.log if job.status in TERMINAL else job.log[: len(job.log) // 2]
            return render_log(lines, start, end)
        if step == "DEPLOY":
            return render_log(deploy_log(), end, end + 1) if job.status == "SUCCEED" else None
        lines = job.log if job.log is not None else success_log(job.commit_id, self.apps[job.app_id]["repository"])
        if job.status not in TERMINAL:
            lines = lines[: len(lines) // 2]  # a running build has logged about half so far
        elif job.status == "CANCELLED":
            lines = lines[: len(lines) // 2] + ["# Job cancelled by request", "Terminating logging..."]
        return render_log(lines, start, end)

    @staticmethod
    def public(record):
        return {k: v for k, v in record.items() if not k.startswith("_")}
