"""Starts the local stack's servers for tests that need their own: a free
port on 127.0.0.1, a readiness poll, and a clear failure with the end of the
server's log when it does not come up."""

import os
import shutil
import socket
import subprocess
import sys
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))

DUMMY_AWS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def executable(name):
    """A tool of the venv this Python runs in, else one on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), name)
    found = beside if os.access(beside, os.X_OK) else shutil.which(name)
    if not found:
        raise RuntimeError(f"{name} not found: run `make bootstrap`")
    return found


class Server:
    def __init__(self, name, cmd, ready_url, log_path, env=None, timeout=30):
        self.name, self.log_path = name, log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=dict(os.environ, **(env or {})), start_new_session=True)
        deadline = time.time() + timeout
        while True:
            try:
                requests.get(ready_url, timeout=1)
                return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                self.stop()
                with open(log_path) as f:
                    tail = "".join(f.readlines()[-20:])
                raise RuntimeError(f"{name} did not start; the end of {log_path}:\n{tail}")
            time.sleep(0.1)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def moto(log_dir):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server("moto_server", [executable("moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                    f"{url}/moto-api/data.json", os.path.join(log_dir, "moto.log"))
    return server, url


def amplify_emulator(log_dir, moto_url):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server("the Amplify emulator",
                    [sys.executable, os.path.join(HERE, "amplify_emulator.py"), "--host", "127.0.0.1",
                     "--port", str(port)],
                    f"{url}/_emulator/health", os.path.join(log_dir, "amplify.log"),
                    env=dict(DUMMY_AWS, AWS_ENDPOINT_URL=moto_url))
    return server, url
