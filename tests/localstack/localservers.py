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


def app_key_pair(directory):
    """An RSA key pair for the local GitHub App, as PEM files (private,
    public) in `directory`: the App's private key signs its JWTs, the
    emulator checks them with the public one."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = os.path.join(directory, "github-app-key.pem")
    public = os.path.join(directory, "github-app-key.pub.pem")
    with open(private, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(private, 0o600)
    with open(public, "wb") as f:
        f.write(key.public_key().public_bytes(serialization.Encoding.PEM,
                                              serialization.PublicFormat.SubjectPublicKeyInfo))
    return private, public


def github_emulator(log_dir, public_key, app_id=4242, pat=None):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, os.path.join(HERE, "github_emulator.py"), "--host", "127.0.0.1", "--port", str(port),
           "--app-id", str(app_id), "--app-public-key", public_key]
    if pat:
        cmd += ["--pat", pat]
    server = Server("the GitHub emulator", cmd, f"{url}/_emulator/health", os.path.join(log_dir, "github.log"))
    return server, url
