"""What every part of the Amplify emulator shares: the served operations,
the job statuses and their moves, the defaults, Amplify's error kinds,
times as Amplify answers them, and ARNs."""

import time
from datetime import datetime, timezone


REGION, ACCOUNT = "us-east-1", "123456789012"
SERVED = ["CreateApp", "GetApp", "ListApps", "UpdateApp", "DeleteApp", "CreateBranch", "GetBranch",
          "ListBranches", "UpdateBranch", "DeleteBranch", "StartJob", "StopJob", "GetJob", "ListJobs",
          "CreateDomainAssociation", "GetDomainAssociation", "ListDomainAssociations",
          "CreateDeployment", "StartDeployment"]
TERMINAL = {"SUCCEED", "FAILED", "CANCELLED"}
# The local GitHub's owner (tests/localstack/github_emulator.py installs its
# App on every repository of it).
LOCAL_GITHUB_OWNER = "sentinel-local"
# Amplify emits only these three statuses; CANCELLED emits nothing.
EVENT_STATUS = {"RUNNING": "STARTED", "SUCCEED": "SUCCEED", "FAILED": "FAILED"}
# CREATED is a manual deployment's job between CreateDeployment and
# StartDeployment (the model's JobStatus has it); only StartDeployment or
# StopJob moves it.
ALLOWED_MOVES = {"CREATED": {"PENDING", "CANCELLING", "CANCELLED"},
                 "PENDING": {"PROVISIONING", "RUNNING", "SUCCEED", "FAILED", "CANCELLING", "CANCELLED"},
                 "PROVISIONING": {"RUNNING", "SUCCEED", "FAILED", "CANCELLING", "CANCELLED"},
                 "RUNNING": {"SUCCEED", "FAILED", "CANCELLING", "CANCELLED"},
                 "CANCELLING": {"CANCELLED"}}
# cancelDelayMs 0: StopJob answers CANCELLING and the job is CANCELLED right
# after, so callers that check at once see the end; raise it to watch CANCELLING.
DEFAULT_CONFIG = {"logUrlExpiresSeconds": 900, "cancelDelayMs": 0, "maxBranchesPerApp": 50}
DEFAULT_BEHAVIOUR = {"outcome": "SUCCEED", "stepDelayMs": 1000, "emit": True, "mode": "auto", "log": None,
                     "retryCommitId": None}


class ApiError(Exception):
    STATUS = {"BadRequestException": 400, "UnauthorizedException": 401, "NotFoundException": 404,
              "UnknownOperationException": 404, "LimitExceededException": 429,
              "InternalFailureException": 500, "DependentServiceFailureException": 503}

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, self.STATUS[kind]


def bad(message):
    return ApiError("BadRequestException", message)


def now():
    return round(time.time(), 3)  # Amplify answers epoch seconds with milliseconds


def iso(t, millis=False):
    text = datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return (text[:-3] if millis else text[:-7]) + "Z"


def display_name(branch):
    return branch.replace("/", "-").replace(".", "-")


def arn(app_id, branch=None, job=None):
    out = f"arn:aws:amplify:{REGION}:{ACCOUNT}:apps/{app_id}"
    out += f"/branches/{branch}" if branch is not None else ""
    return out + (f"/jobs/{job:010d}" if job is not None else "")
