"""Manual deployments (apps without a repository): CreateDeployment, the
uploads to its pre-signed URLs, and StartDeployment publishing the files on
the branch's site."""

import io
import zipfile
from datetime import datetime, timezone
from urllib.parse import quote, unquote

from .common import REGION, ApiError, bad, now
from .logs import manual_deploy_log, manual_failure_log


def unzip_site(data):
    """The files of a manual deployment's zip, by site path ('/index.html'),
    or an error saying why the upload cannot be deployed."""
    if data is None:
        return None, "No artifact was uploaded to the deployment's zipUploadUrl before StartDeployment"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            files = {"/" + info.filename.lstrip("./").lstrip("/"): z.read(info)
                     for info in z.infolist() if not info.is_dir()}
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        return None, f"The uploaded artifact is not a valid zip archive ({e})"
    if not files:
        return None, "The uploaded zip archive holds no files"
    return files, None


class ManualDeployments:
    """The Store's manual deployments (a mixin)."""

    def manual_app(self, app_id, op):
        """CreateDeployment and StartDeployment are for apps not connected to
        a repository. Amplify's exact answer for one that is has not been
        seen; BadRequest was chosen (as for RETRY of a missing job)."""
        app = self.app(app_id)
        if app.get("repository"):
            raise bad(f"{op} is for manually deployed apps: app {app_id} is connected to the repository "
                      f"{app['repository']}. Use StartJob instead.")
        return app

    def create_deployment(self, app_id, branch_name, p):
        """A MANUAL job in CREATED, and where to upload its content: one
        pre-signed-looking PUT URL for a zip, or one per file of `fileMap`."""
        self.manual_app(app_id, "CreateDeployment")
        branch = self.branch(app_id, branch_name)
        job = self.new_job(app_id, branch_name, "MANUAL",
                           {"commitId": "HEAD", "commitMessage": "", "commitTime": now()})
        job.status = "CREATED"
        branch["activeJobId"] = str(job.number)
        if p.get("fileMap"):
            job.file_map = dict(p["fileMap"])
            urls = {name: self.upload_url(job, "files/" + quote(name, safe="")) for name in job.file_map}
            return {"jobId": str(job.number), "fileUploadUrls": urls, "zipUploadUrl": ""}
        return {"jobId": str(job.number), "fileUploadUrls": {}, "zipUploadUrl": self.upload_url(job, "deployment.zip")}

    def start_deployment(self, app_id, branch_name, p):
        """Plays the deployment with the branch's behaviour (step delay, emit,
        auto or manual), its outcome decided by the upload: SUCCEED publishes
        the files on the branch's site, FAILED (not a zip, nothing uploaded)
        says why in the DEPLOY step's statusReason and log."""
        self.manual_app(app_id, "StartDeployment")
        branch = self.branch(app_id, branch_name)
        if not p.get("jobId"):
            if p.get("sourceUrl"):
                raise bad("StartDeployment with sourceUrl is not emulated (the emulator fetches nothing); "
                          "use CreateDeployment and upload to its zipUploadUrl.")
            raise bad("jobId is required: the job ID CreateDeployment returned.")
        job = self.job(app_id, branch_name, p["jobId"])
        if job.job_type != "MANUAL" or job.status != "CREATED":
            raise bad(f"Job {job.number} cannot be started: it is a {job.job_type} job in {job.status}, "
                      "not a deployment created by CreateDeployment.")
        if job.file_map is not None:
            missing = sorted(set(job.file_map) - set(job.uploaded_files))
            files, error = ({"/" + n.lstrip("/"): job.uploaded_files[n] for n in job.file_map}, None) if not missing \
                else (None, f"Files of the fileMap were not uploaded: {', '.join(missing)}")
        else:
            files, error = unzip_site(job.upload)
        job.status, job.start_time = "PENDING", now()
        job.commit_time = min(job.commit_time, job.start_time)
        job.log = manual_failure_log(error) if error else manual_deploy_log(files)
        job.site_files = files
        b = branch["_behaviour"]
        if b["mode"] == "auto":
            self.play(job, "FAILED" if error else "SUCCEED", b["stepDelayMs"] / 1000, b["emit"], None)
        return job

    def upload_url(self, job, artifact):
        path = f"/_uploads/{job.app_id}/{quote(job.branch, safe='')}/{job.number}/{artifact}"
        date = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        expires = 8 * 3600  # StartDeployment must follow CreateDeployment within 8 hours
        return (f"http://{self.host}:{self.port}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256"
                f"&X-Amz-Credential=ASIAEMULATOR%2F{date[:8]}%2F{REGION}%2Fs3%2Faws4_request&X-Amz-Date={date}"
                f"&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host&X-Amz-Signature={self.signature(path, date, expires)}")

    def receive_upload(self, path, data):
        """Keeps a PUT to an upload URL on its job; S3 would take a second PUT
        too (the last one wins), so does this, until the job is started."""
        parts = [unquote(x) for x in path.split("/")[2:]]
        if len(parts) < 4:
            raise ApiError("NotFoundException", "No such upload.")
        job = self.job(parts[0], parts[1], parts[2])
        if job.status != "CREATED":
            raise bad(f"Job {job.number} has been started: its content can no longer change.")
        if parts[3] == "deployment.zip" and job.file_map is None:
            job.upload = data
        elif parts[3] == "files" and job.file_map is not None and "/".join(parts[4:]) in job.file_map:
            job.uploaded_files["/".join(parts[4:])] = data
        else:
            raise ApiError("NotFoundException", "No such upload.")
