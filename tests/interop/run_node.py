"""Starts a Meridian server and runs the npm-client interop tests (node --test) against it."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "e2e"))
from meridian_process import Server  # noqa: E402

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")
if not os.path.isdir(os.path.join(here, "node_modules")):
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=here, check=True)
server = Server().start()
try:
    env = dict(os.environ,
               MERIDIAN_DOC=os.path.join(server.data_dir, "first-tenant.json"),
               NODE_EXTRA_CA_CERTS=server.ca)
    rc = subprocess.run(["node", "--test", "interop.test.mjs"], cwd=here, env=env).returncode
finally:
    server.cleanup()
sys.exit(rc)
