"""Amplify's operations, one method each, on the Store; lists page with
opaque tokens."""

import base64
import json

from .common import bad


def page(items, key, token, max_results, default):
    """Opaque tokens naming the last item returned, so a page boundary stays put
    when items are added meanwhile (new jobs come first)."""
    size = max_results or default
    start = 0
    if token:
        try:
            last = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
            start = [key(i) for i in items].index(last) + 1
        except (ValueError, KeyError, TypeError):
            raise bad("Invalid nextToken.")
    chunk = items[start:start + size]
    more = start + size < len(items)
    return chunk, (base64.urlsafe_b64encode(json.dumps({"after": key(chunk[-1])}).encode()).decode() if more else None)


class Api:
    """One method per operation: params are the model-validated input."""

    def __init__(self, store):
        self.s = store

    def CreateApp(self, p):
        return {"app": self.s.public(self.s.create_app(p, invent_repository=False))}

    def GetApp(self, p):
        return {"app": self.s.public(self.s.app(p["appId"]))}

    def UpdateApp(self, p):
        return {"app": self.s.public(self.s.update_app(self.s.app(p["appId"]), p))}

    def ListApps(self, p):
        apps, token = page(list(self.s.apps.values()), lambda a: a["appId"], p.get("nextToken"), p.get("maxResults"), 100)
        return {"apps": [self.s.public(a) for a in apps], **({"nextToken": token} if token else {})}

    def DeleteApp(self, p):
        return {"app": self.s.public(self.s.delete_app(p["appId"]))}

    def CreateBranch(self, p):
        return {"branch": self.s.public(self.s.create_branch(p["appId"], p))}

    def GetBranch(self, p):
        return {"branch": self.s.public(self.s.branch(p["appId"], p["branchName"]))}

    def ListBranches(self, p):
        self.s.app(p["appId"])
        mine = [b for (a, _), b in self.s.branches.items() if a == p["appId"]]
        chunk, token = page(mine, lambda b: b["branchName"], p.get("nextToken"), p.get("maxResults"), 50)
        return {"branches": [self.s.public(b) for b in chunk], **({"nextToken": token} if token else {})}

    def UpdateBranch(self, p):
        return {"branch": self.s.public(self.s.update_branch(self.s.branch(p["appId"], p["branchName"]), p))}

    def DeleteBranch(self, p):
        branch = self.s.branch(p["appId"], p["branchName"])
        self.s.drop_branch((p["appId"], p["branchName"]))
        return {"branch": self.s.public(branch)}

    def StartJob(self, p):
        return {"jobSummary": self.s.summary(self.s.start_job(p["appId"], p["branchName"], p))}

    def StopJob(self, p):
        job = self.s.job(p["appId"], p["branchName"], p["jobId"])
        self.s.stop_job(job)
        return {"jobSummary": self.s.summary(job)}

    def GetJob(self, p):
        job = self.s.job(p["appId"], p["branchName"], p["jobId"])
        return {"job": {"summary": self.s.summary(job), "steps": self.s.steps(job)}}

    def CreateDeployment(self, p):
        return self.s.create_deployment(p["appId"], p["branchName"], p)

    def StartDeployment(self, p):
        return {"jobSummary": self.s.summary(self.s.start_deployment(p["appId"], p["branchName"], p))}

    def CreateDomainAssociation(self, p):
        return {"domainAssociation": self.s.create_domain(p["appId"], p)}

    def GetDomainAssociation(self, p):
        return {"domainAssociation": self.s.domain(p["appId"], p["domainName"])}

    def ListDomainAssociations(self, p):
        self.s.app(p["appId"])
        mine = [d for (a, _), d in self.s.domains.items() if a == p["appId"]]
        chunk, token = page(mine, lambda d: d["domainName"], p.get("nextToken"), p.get("maxResults"), 50)
        return {"domainAssociations": chunk, **({"nextToken": token} if token else {})}

    def ListJobs(self, p):
        self.s.branch(p["appId"], p["branchName"])
        newest_first = list(reversed(self.s.jobs[(p["appId"], p["branchName"])]))
        chunk, token = page(newest_first, lambda j: j.number, p.get("nextToken"), p.get("maxResults"), 50)
        return {"jobSummaries": [self.s.summary(j) for j in chunk], **({"nextToken": token} if token else {})}
