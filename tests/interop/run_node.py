"""Starts a Meridian server and runs the npm-client interop tests (node --test) against it: the
test files named as arguments, or all of them (interop.test.mjs, browser.test.mjs)."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from meridian_process import Server  # noqa: E402

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
with open(os.path.join(here, "package.json")) as f:
    dependencies = json.load(f)["dependencies"]
if not all(os.path.isdir(os.path.join(here, "node_modules", d)) for d in dependencies):
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=here, check=True)
server = Server().start()
try:
    env = dict(os.environ,
               MERIDIAN_DOC=os.path.join(server.data_dir, "first-tenant.json"),
               NODE_EXTRA_CA_CERTS=server.ca)
    files = sys.argv[1:] or ["interop.test.mjs", "browser.test.mjs"]
    rc = subprocess.run(["node", "--test", *files], cwd=here, env=env).returncode
finally:
    server.cleanup()
sys.exit(rc)
