"""Starts and stops a real `meridian serve` process for end-to-end tests.

Every server listens on 127.0.0.1 on a port the kernel picks and keeps its data in a fresh
temporary directory; stop() or the test's exit ends it.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import requests

# requests lets these variables override a session's own CA file; the tests trust exactly the
# server's development certificate.
for _var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_var, None)

BINARY = os.environ.get("MERIDIAN_BINARY", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "src", "server", "meridian"))


class Server:
    def __init__(self, data_dir=None, extra_args=(), password_iterations=1000, env=None):
        self.password_iterations = password_iterations
        self.owns_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="meridian-e2e-")
        self.extra_args = list(extra_args)
        self.env = env  # variables added to the process's environment
        self.proc = None

    def start(self):
        info_path = os.path.join(self.data_dir, "server.json")
        if os.path.exists(info_path):
            os.remove(info_path)
        self.log = open(os.path.join(self.data_dir, "server.log"), "ab")
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--data-dir", self.data_dir, "--port", "0",
             "--password-iterations", str(self.password_iterations), *self.extra_args],
            stdout=self.log, stderr=subprocess.STDOUT,
            env=dict(os.environ, **self.env) if self.env else None)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("meridian exited with %s; log: %s" % (
                    self.proc.returncode, self.read_log()))
            try:
                with open(info_path) as f:
                    self.info = json.load(f)
                break
            except (OSError, ValueError):
                time.sleep(0.05)
        else:
            raise RuntimeError("meridian did not start: " + self.read_log())
        self.url = "https://127.0.0.1:%d" % self.info["port"]
        self.ca = os.path.join(self.data_dir, "tls", "cert.pem")
        self.session = requests.Session()
        self.session.verify = self.ca
        return self

    def read_log(self):
        with open(os.path.join(self.data_dir, "server.log"), "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def first_tenant(self):
        with open(os.path.join(self.data_dir, "first-tenant.json")) as f:
            return json.load(f)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cleanup(self):
        if self.proc and self.proc.poll() is not None and self.proc.returncode not in (0, -15) or os.environ.get("MERIDIAN_SHOW_LOG"):
            print("meridian exited with %s; log:\n%s" % (self.proc.returncode, self.read_log()))
        self.stop()
        if self.owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def token(self, doc):
        """A client-credentials token for the Graph API, from the token endpoint."""
        r = self.session.post(
            self.url + "/%s/oauth2/v2.0/token" % doc["tenantId"],
            data={"grant_type": "client_credentials",
                  "client_id": doc["bootstrapApplication"]["appId"],
                  "client_secret": doc["bootstrapApplication"]["clientSecret"],
                  "scope": doc["graphScope"]})
        r.raise_for_status()
        return r.json()["access_token"]
