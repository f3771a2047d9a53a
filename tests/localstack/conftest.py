"""Fixtures for the local stack's own tests. They run against the stack that
`make test` (or `make local-up`) started: endpoints come from .local/env."""

import os
import uuid

import boto3
import pytest
import requests


def endpoint(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(f"{name} is not set: run `make test`, or `make local-up` and `. .local/env`")
    return value


@pytest.fixture(scope="session")
def amplify_url():
    return endpoint("AWS_ENDPOINT_URL_AMPLIFY")


@pytest.fixture(scope="session")
def moto_url():
    return endpoint("AWS_ENDPOINT_URL")


@pytest.fixture(scope="session")
def amplify(amplify_url):
    return boto3.client("amplify", endpoint_url=amplify_url, region_name="us-east-1")


@pytest.fixture(scope="session")
def aws(moto_url):
    def client(service):
        return boto3.client(service, endpoint_url=moto_url, region_name="us-east-1")
    return client


@pytest.fixture
def app_id():
    return "dpy" + uuid.uuid4().hex[:12]


@pytest.fixture
def control(amplify_url):
    def post(path, body):
        resp = requests.post(f"{amplify_url}/_emulator{path}", json=body, timeout=10)
        assert resp.status_code == 200, resp.text
        return resp.json()
    return post
