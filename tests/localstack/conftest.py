"""Fixtures for the local stack's own tests. They use the stack that
`make test` (or `make local-up` then `. .local/env`) started, when its
endpoints are in the environment; otherwise they start moto and the Amplify
emulator on free ports for this session (`make test-py` alone)."""

import os
import uuid

import boto3
import pytest
import requests

import localservers

# Never AWS: dummy credentials unless the caller chose some.
for _name, _value in localservers.DUMMY_AWS.items():
    os.environ.setdefault(_name, _value)


@pytest.fixture(scope="session")
def local_stack_urls(tmp_path_factory):
    moto_url = os.environ.get("AWS_ENDPOINT_URL")
    amplify_url = os.environ.get("AWS_ENDPOINT_URL_AMPLIFY")
    started = []
    try:
        if not moto_url:
            server, moto_url = localservers.moto(str(tmp_path_factory.mktemp("moto")))
            started.append(server)
        if not amplify_url:
            server, amplify_url = localservers.amplify_emulator(str(tmp_path_factory.mktemp("amplify")), moto_url)
            started.append(server)
        yield moto_url, amplify_url
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="session")
def amplify_url(local_stack_urls):
    return local_stack_urls[1]


@pytest.fixture(scope="session")
def moto_url(local_stack_urls):
    return local_stack_urls[0]


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
