"""Everything the emulator remembers: apps, branches, custom domains, the
sites' overrides, calls and faults, under one lock (the server is
threaded); jobs, manual deployments and the wire shapes of a job are its
mixins."""

import hashlib
import random
import secrets
import re
import string
import threading

from cloudformation_emulator import Stacks

from .common import DEFAULT_BEHAVIOUR, DEFAULT_CONFIG, LOCAL_GITHUB_OWNER, ApiError, arn, bad, display_name, now
from .deployments import ManualDeployments
from .jobs import Jobs
from .traffic import Traffic
from .views import Views


class Store(Jobs, ManualDeployments, Views):
    def __init__(self, model, host, port, events_endpoint):
        self.model, self.host, self.port = model, host, port
        self.lock = threading.RLock()
        self.startup_endpoint = events_endpoint
        self.secret = secrets.token_bytes(32)  # signs log URLs; new every start
        self._events_client = None
        self.stacks = Stacks(self.deliver)
        self.reset()

    def reset(self):
        with self.lock:
            self.apps, self.branches, self.jobs, self.sites, self.calls, self.faults = {}, {}, {}, {}, [], []
            self.domains = {}  # (appId, domainName) -> DomainAssociation
            self.traffic = Traffic()
            self.config = dict(DEFAULT_CONFIG, eventsEndpoint=self.startup_endpoint)
            self._events_client = None
            self.stacks.reset()

    # ----- lookups (the model already checked the ids' syntax) -----
    def app(self, app_id):
        if app_id not in self.apps:
            raise ApiError("NotFoundException", f"App {app_id} not found.")
        return self.apps[app_id]

    def branch(self, app_id, name):
        self.app(app_id)
        if (app_id, name) not in self.branches:
            raise ApiError("NotFoundException", f"Branch {name} not found for app {app_id}.")
        return self.branches[(app_id, name)]

    def job(self, app_id, branch, job_id):
        self.branch(app_id, branch)
        if not re.fullmatch(r"[0-9]{1,255}", str(job_id)):
            raise bad(f"Invalid jobId: {job_id!r}")
        number = int(job_id)  # "4" and "0000000004" name the same job
        for job in self.jobs[(app_id, branch)]:
            if job.number == number:
                return job
        raise ApiError("NotFoundException", f"Job {job_id} not found for branch {branch} of app {app_id}.")

    # ----- apps and branches -----
    def create_app(self, p, app_id=None, invent_repository=True):
        """The control API's apps are connected to a repository of the local
        GitHub (`https://github.com/sentinel-local/<appId>`, where the GitHub
        emulator's App is installed) unless the call gives one, or
        `repository: ""` for none; CreateApp without one makes a manually
        deployed app, as Amplify does (`repository` is then "")."""
        app_id = app_id or "d" + "".join(random.choices(string.ascii_lowercase + string.digits, k=13))
        if app_id in self.apps:
            raise bad(f"App {app_id} already exists.")
        t = now()
        app = {"appId": app_id, "appArn": arn(app_id), "name": p["name"], "description": p.get("description", ""),
               "repository": p.get("repository", f"https://github.com/{LOCAL_GITHUB_OWNER}/{app_id}"
                                   if invent_repository else ""),
               "platform": p.get("platform", "WEB"), "createTime": t, "updateTime": t,
               "environmentVariables": p.get("environmentVariables", {}), "defaultDomain": f"{app_id}.amplifyapp.com",
               "enableBranchAutoBuild": p.get("enableBranchAutoBuild", False),
               "enableBranchAutoDeletion": p.get("enableBranchAutoDeletion", False),
               "enableBasicAuth": p.get("enableBasicAuth", False), "customRules": p.get("customRules", []),
               "enableAutoBranchCreation": p.get("enableAutoBranchCreation", False),
               "autoBranchCreationPatterns": p.get("autoBranchCreationPatterns", []),
               "tags": p.get("tags", {}), "repositoryCloneMethod": "TOKEN",
               "jobConfig": p.get("jobConfig", {"buildComputeType": "STANDARD_8GB"}),
               "cacheConfig": p.get("cacheConfig", {"type": "AMPLIFY_MANAGED_NO_COOKIES"})}
        for key in ("buildSpec", "customHeaders", "iamServiceRoleArn", "computeRoleArn", "autoBranchCreationConfig",
                    "basicAuthCredentials"):
            if key in p:
                app[key] = p[key]
        self.apps[app_id] = app
        return app

    def update_app(self, app, p):
        for key, value in p.items():
            if key != "appId" and key not in ("oauthToken", "accessToken"):
                app[key] = value
        app["updateTime"] = now()
        return app

    def delete_app(self, app_id):
        self.app(app_id)
        for key in [k for k in self.branches if k[0] == app_id]:
            self.drop_branch(key)
        for key in [k for k in self.domains if k[0] == app_id]:
            self.domains.pop(key)
        return self.apps.pop(app_id)

    def create_branch(self, app_id, p, head=None, quota=True):
        app = self.app(app_id)
        name = p["branchName"]
        if (app_id, name) in self.branches:
            raise bad(f"Branch {name} already exists for app {app_id}.")
        if quota and sum(1 for a, _ in self.branches if a == app_id) >= self.config["maxBranchesPerApp"]:
            raise ApiError("LimitExceededException", f"App {app_id} has reached its limit of "
                                                      f"{self.config['maxBranchesPerApp']} branches.")
        t = now()
        head = head or {}
        branch = {"branchArn": arn(app_id, name), "branchName": name, "description": p.get("description", ""),
                  "stage": p.get("stage", "PRODUCTION"),
                  "displayName": p.get("displayName") or display_name(name),
                  "enableNotification": p.get("enableNotification", False), "createTime": t, "updateTime": t,
                  "environmentVariables": p.get("environmentVariables", {}),
                  "enableAutoBuild": p.get("enableAutoBuild", True), "customDomains": [],
                  "framework": p.get("framework", "Next.js - SSR" if app["platform"] == "WEB_COMPUTE" else ""),
                  "activeJobId": "", "totalNumberOfJobs": "0", "enableBasicAuth": p.get("enableBasicAuth", False),
                  "enableSkewProtection": p.get("enableSkewProtection", False),
                  "enablePerformanceMode": p.get("enablePerformanceMode", False), "ttl": p.get("ttl", "5"),
                  "enablePullRequestPreview": p.get("enablePullRequestPreview", False), "tags": p.get("tags", {}),
                  # Without a given head, a stable made-up SHA: every job reports a real-looking commit.
                  "_head": {"commitId": head.get("commitId") or hashlib.sha1(f"{app_id}/{name}".encode()).hexdigest(),
                            "commitMessage": head.get("commitMessage", "Initial commit"),
                            "commitTime": head.get("commitTime", t)},
                  "_behaviour": dict(DEFAULT_BEHAVIOUR), "_deployed": None}
        for key in ("buildSpec", "pullRequestEnvironmentName", "backendEnvironmentArn", "backend", "computeRoleArn",
                    "basicAuthCredentials"):
            if key in p:
                branch[key] = p[key]
        self.branches[(app_id, name)] = branch
        self.jobs[(app_id, name)] = []
        return branch

    def update_branch(self, branch, p):
        # Amplify replaces what is given (environmentVariables as a whole map)
        # and keeps the rest; GetBranch returns basicAuthCredentials as given.
        for key, value in p.items():
            if key not in ("appId", "branchName"):
                branch[key] = value
        if p.get("displayName") == "":
            branch["displayName"] = display_name(branch["branchName"])
        branch["updateTime"] = now()
        return branch

    def drop_branch(self, key):
        self.sites.pop(key, None)
        self.jobs.pop(key, None)
        return self.branches.pop(key)

    # ----- custom domains -----
    def domain(self, app_id, name):
        self.app(app_id)
        if (app_id, name) not in self.domains:
            raise ApiError("NotFoundException", f"Domain {name} not found for app {app_id}.")
        return self.domains[(app_id, name)]

    def create_domain(self, app_id, p):
        """As Amplify answers CreateDomainAssociation: the domain is being
        set up (CREATING, sub-domains unverified) until DNS and the
        certificate are in place; the control API's `domains/{name}` plays
        that part."""
        self.app(app_id)
        name = p["domainName"]
        if (app_id, name) in self.domains:
            raise bad(f"Domain {name} is already associated with app {app_id}.")
        for setting in p["subDomainSettings"]:
            self.branch(app_id, setting["branchName"])
        cdn = "d" + hashlib.sha1(f"{app_id}/{name}".encode()).hexdigest()[:13] + ".cloudfront.net"
        domain = {"domainAssociationArn": f"{arn(app_id)}/domains/{name}", "domainName": name,
                  "enableAutoSubDomain": p.get("enableAutoSubDomain", False),
                  "autoSubDomainCreationPatterns": p.get("autoSubDomainCreationPatterns", []),
                  "domainStatus": "CREATING", "statusReason": "",
                  "certificateVerificationDNSRecord": f"_{hashlib.md5(name.encode()).hexdigest()}.{name}. CNAME "
                                                      f"_{hashlib.md5(app_id.encode()).hexdigest()}.acm-validations.aws.",
                  "subDomains": [{"subDomainSetting": {"prefix": s["prefix"], "branchName": s["branchName"]},
                                  "verified": False, "dnsRecord": f"{s['prefix']} CNAME {cdn}"}
                                 for s in p["subDomainSettings"]],
                  "certificate": {"type": p.get("certificateSettings", {}).get("type", "AMPLIFY_MANAGED")}}
        if "autoSubDomainIAMRole" in p:
            domain["autoSubDomainIAMRole"] = p["autoSubDomainIAMRole"]
        self.domains[(app_id, name)] = domain
        return domain

    def branch_by_host(self, host):
        """(appId, branchName) served at `host`: a branch's Amplify host, or a
        verified sub-domain of an AVAILABLE custom domain (as Amplify serves
        only those)."""
        host = host.lower().rstrip(".")
        for (app_id, name), branch in self.branches.items():
            if host == f"{branch['displayName']}.{self.apps[app_id]['defaultDomain']}".lower():
                return app_id, name
        for (app_id, _), domain in self.domains.items():
            if domain["domainStatus"] != "AVAILABLE":
                continue
            apex = domain["domainName"].lower().rstrip(".")
            for sub in domain["subDomains"]:
                prefix = sub["subDomainSetting"]["prefix"].lower()
                name = sub["subDomainSetting"]["branchName"]
                if sub["verified"] and host == (f"{prefix}.{apex}" if prefix else apex) \
                        and (app_id, name) in self.branches:
                    return app_id, name
        return None
