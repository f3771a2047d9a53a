"""The job state machine: a job's record, StartJob and StopJob, a build
played on a timer (PENDING → RUNNING → its outcome) or moved by hand, what a
finished job leaves (its log, the branch's deployed commit), and Amplify's
status-change events put on EventBridge's default bus."""

import json
import os
import threading
import time
import uuid
from datetime import datetime, timezone

from .common import ACCOUNT, ALLOWED_MOVES, EVENT_STATUS, REGION, TERMINAL, ApiError, arn, bad, iso, now
from .logs import failure_log, success_log


class Job:
    def __init__(self, number, app_id, branch, job_type, commit, reason=""):
        self.number, self.app_id, self.branch, self.job_type = number, app_id, branch, job_type
        self.commit_id, self.commit_message, self.commit_time = commit["commitId"], commit["commitMessage"], commit["commitTime"]
        self.reason, self.status, self.start_time, self.end_time = reason, "PENDING", now(), None
        self.running_since, self.log, self.status_reason = None, None, None
        self.events, self.deliveries = [], []
        # Manual deployments (CreateDeployment/StartDeployment): what was
        # uploaded (the zip, or the fileMap's files by name) and, once
        # started, the files the site serves.
        self.upload, self.file_map, self.uploaded_files, self.site_files = None, None, {}, None


class Jobs:
    """The Store's jobs (a mixin: the state and its lock are the Store's)."""

    def new_job(self, app_id, branch_name, job_type, commit, reason=""):
        branch = self.branch(app_id, branch_name)
        jobs = self.jobs[(app_id, branch_name)]
        job = Job((jobs[-1].number + 1) if jobs else 1, app_id, branch_name, job_type, commit, reason)
        job.commit_time = min(job.commit_time, job.start_time)
        jobs.append(job)
        branch["totalNumberOfJobs"] = str(len(jobs))
        branch["activeJobId"] = str(job.number)
        return job

    def start_job(self, app_id, branch_name, p):
        branch = self.branch(app_id, branch_name)
        job_type = p["jobType"]
        if job_type == "RETRY":
            if not p.get("jobId"):
                raise bad("jobId is required when jobType is RETRY.")
            try:
                old = self.job(app_id, branch_name, p["jobId"])
            except ApiError as e:  # Amplify's exact answer is unverified; see the README
                raise bad(f"Cannot retry job {p['jobId']}: {e.message}")
            commit = {"commitId": old.commit_id, "commitMessage": old.commit_message, "commitTime": old.commit_time}
            wrong = branch["_behaviour"].get("retryCommitId")
            if wrong:  # Amplify has been seen to redeploy another commit than the retried job's
                commit = {"commitId": wrong, "commitMessage": "(not the retried commit)", "commitTime": old.commit_time}
        elif job_type == "RELEASE":
            commit = dict(branch["_head"])  # RELEASE always builds the branch head
        else:  # WEB_HOOK and MANUAL carry their own commit, else the head's
            commit = {"commitId": p.get("commitId") or branch["_head"]["commitId"],
                      "commitMessage": p.get("commitMessage", branch["_head"]["commitMessage"]),
                      "commitTime": p.get("commitTime", branch["_head"]["commitTime"])}
        job = self.new_job(app_id, branch_name, job_type, commit, p.get("jobReason", ""))
        self.play_behaviour(branch, job)
        return job

    def stop_job(self, job):
        if job.status in TERMINAL or job.status == "CANCELLING":
            raise bad(f"Job {job.number} cannot be stopped: it is {job.status}.")
        self.advance(job, "CANCELLING", emit=False)
        delay = self.config["cancelDelayMs"] / 1000
        timer = threading.Timer(delay, self.advance, (job, "CANCELLED", False), {"expect": "CANCELLING"})
        timer.daemon = True
        timer.start()

    def play_behaviour(self, branch, job):
        b = branch["_behaviour"]
        if b["mode"] == "auto":
            self.play(job, b["outcome"], b["stepDelayMs"] / 1000, b["emit"], b["log"])

    def play(self, job, outcome, delay, emit, log):
        """PENDING → RUNNING → outcome on a timer; a job moved meanwhile (stopped,
        advanced by hand) is left alone."""
        def run():
            time.sleep(delay)
            if self.advance(job, "RUNNING", emit, expect="PENDING"):
                time.sleep(delay)
                self.advance(job, outcome, emit, log, expect="RUNNING")
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def advance(self, job, to, emit, log=None, expect=None, reason=None):
        """Moves a job; returns (event or None, delivery report or None), or
        None when `expect` no longer holds."""
        with self.lock:
            if expect is not None and job.status != expect:
                return None
            if to not in ALLOWED_MOVES.get(job.status, ()):
                raise bad(f"Job {job.number} cannot go from {job.status} to {to}.")
            self.apply(job, to, log, reason)
            event = self.amplify_event(job, EVENT_STATUS[to]) if to in EVENT_STATUS else None
            if event:
                job.events.append(event)
        delivery = self.deliver(event) if event and emit else None
        if delivery:
            job.deliveries.append(delivery)
        return event, delivery

    def apply(self, job, to, log, reason):
        job.status = to
        if log is not None:
            job.log = log.splitlines() if isinstance(log, str) else list(log)
        if to == "RUNNING":
            job.running_since = now()
        if to not in TERMINAL:
            return
        job.end_time = max(now(), job.start_time + 0.001)
        if job.log is None and to != "CANCELLED":  # the app may be gone: a build outlives a DeleteApp
            repo = self.apps.get(job.app_id, {}).get("repository", "")
            job.log = (success_log if to == "SUCCEED" else failure_log)(job.commit_id, repo)
        if to == "FAILED":
            errors = [line[4:] for line in job.log or [] if line.startswith("!!! Error")]
            job.status_reason = reason or (errors[0] if errors else "Build failed")
        if to == "SUCCEED":
            self.deployed(job)

    def deployed(self, job):
        """The branch's site now serves this commit; a PRODUCTION branch is the
        app's productionBranch, as Amplify reports it."""
        branch = self.branches.get((job.app_id, job.branch))
        if branch is None:
            return
        branch["_deployed"] = {"commitId": job.commit_id, "jobId": str(job.number), "files": job.site_files}
        if branch["stage"] == "PRODUCTION":
            self.apps[job.app_id]["productionBranch"] = {
                "lastDeployTime": job.end_time, "status": "SUCCEED", "branchName": job.branch,
                "thumbnailUrl": f"http://{self.host}:{self.port}/_sites/{job.app_id}/{branch['displayName']}/thumbnail.png"}

    # ----- events -----
    def amplify_event(self, job, status):
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Amplify Deployment Status Change",
                "source": "aws.amplify", "account": ACCOUNT, "time": iso(time.time()), "region": REGION,
                "resources": [arn(job.app_id, job.branch, job.number)],
                "detail": {"appId": job.app_id, "branchName": job.branch, "jobId": str(job.number),
                           "jobStatus": status}}

    def events_client(self):
        with self.lock:
            if self._events_client is None:
                import boto3
                self._events_client = boto3.client(
                    "events", region_name=REGION, endpoint_url=self.config["eventsEndpoint"],
                    aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
                    aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"))
            return self._events_client

    def deliver(self, event):
        """PutEvents on the default bus, as Amplify does; EventBridge assigns the
        delivered event its own id. Never raises: the report says what happened."""
        if not self.config["eventsEndpoint"]:
            return {"delivered": False, "reason": "no EventBridge endpoint configured "
                                                  "(AWS_ENDPOINT_URL_EVENTBRIDGE / AWS_ENDPOINT_URL)"}
        entry = {"Source": event["source"], "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
                 "Resources": event["resources"], "EventBusName": "default",
                 "Time": datetime.strptime(event["time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)}
        try:
            out = self.events_client().put_events(Entries=[entry])
        except Exception as e:  # an unreachable moto must not kill the build thread
            return {"delivered": False, "event": event["id"], "reason": f"PutEvents failed: {e}"}
        if out.get("FailedEntryCount"):
            return {"delivered": False, "event": event["id"], "reason": json.dumps(out["Entries"])}
        return {"delivered": True, "event": event["id"], "eventBridgeId": out["Entries"][0].get("EventId")}
