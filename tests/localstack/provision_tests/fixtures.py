"""The moto these tests start, the provisioned stack (`stack`: a fresh moto
with the template provisioned), and what the tests share."""

import json
import os
import subprocess
import sys

import boto3
import pytest
import requests
import yaml

import localservers
import provision

HERE = localservers.HERE
ROOT = localservers.ROOT
ACCOUNT = provision.ACCOUNT
WATCHED, UNWATCHED = "dsentinel0001", "dunwatched99"


def template():
    with open(os.path.join(ROOT, "template.yaml")) as f:
        return yaml.load(f, Loader=provision.cfn_loader())


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    server, url = localservers.moto(str(tmp_path_factory.mktemp("moto")))
    yield url
    server.stop()


class Provisioned:
    def __init__(self, url, out):
        self.url, self.out = url, str(out)
        # Every service at this test's own moto: a running local stack's
        # per-service endpoints (.local/env: AWS_ENDPOINT_URL_CLOUDFORMATION
        # and the rest) would register this stack in that stack's emulator,
        # replacing its `deploy-sentinel-dev` (GitHub off, other apps).
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
        self.env = dict(inherited, **localservers.DUMMY_AWS, AWS_ENDPOINT_URL=url)

    def run(self, *extra):
        done = subprocess.run([sys.executable, os.path.join(HERE, "provision.py"), "--template",
                               os.path.join(ROOT, "template.yaml"), "--out", self.out, *extra],
                              env=self.env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"provision.py failed:\n{done.stderr}"
        return self

    def client(self, service):
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id="test", aws_secret_access_key="test")

    def routes(self):
        with open(os.path.join(self.out, "routes.json")) as f:
            return json.load(f)

    def stack_env(self):
        """The variables of stack.env, as a shell that sources it sees them."""
        out = subprocess.run(["bash", "-c", f'set -e; . "{self.out}/stack.env"; env -0'],
                             env={"PATH": os.environ["PATH"]}, check=True, capture_output=True, text=True)
        return dict(line.split("=", 1) for line in out.stdout.split("\0") if "=" in line)

    def queue_url(self, name):
        return self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


@pytest.fixture
def stack(moto, tmp_path):
    """A fresh moto with the template provisioned at its own timeouts."""
    requests.post(f"{moto}/moto-api/reset", timeout=10).raise_for_status()
    return Provisioned(moto, tmp_path).run()


def amplify_event(app_id, branch="main", job="4", status="SUCCEED"):
    return {
        "Source": "aws.amplify",
        "DetailType": "Amplify Deployment Status Change",
        "Resources": [f"arn:aws:amplify:us-east-1:{ACCOUNT}:apps/{app_id}/branches/{branch}/jobs/{int(job):010d}"],
        "Detail": json.dumps({"appId": app_id, "branchName": branch, "jobId": job, "jobStatus": status}),
    }


def receive_all(sqs, url, wait=1):
    out = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait,
                              AttributeNames=["All"]).get("Messages", [])
    return out


def queue_counts(sqs, url):
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])
