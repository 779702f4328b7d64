"""An embedded default's data directory becomes a cluster's first node as it is: no export, no
import. A tenant made on the embedded default is served, with all its objects, by every node of
the cluster that grows from it, and takes writes there.
"""
import json
import os
import signal
import subprocess
import time
import unittest

from cluster_process import BINARY, Cluster, app_token


class GrowthTest(unittest.TestCase):
    def test_an_embedded_data_directory_becomes_the_first_node(self):
        cluster = Cluster([("n1", "emea", "dc1"), ("n2", "emea", "dc2"), ("n3", "emea", "dc1")])
        try:
            # The embedded default, on what will be n1's data directory, makes its first tenant
            # (in EMEA, so that the cluster's region holds it), its signing key sealed under the
            # KEK the cluster's nodes will share.
            n1 = cluster.node("n1")
            os.makedirs(n1.data_dir)
            log = open(os.path.join(cluster.root, "embedded.log"), "wb")
            embedded = subprocess.Popen(
                [BINARY, "serve", "--data-dir", n1.data_dir, "--port", "0",
                 "--password-iterations", "1000", "--first-tenant-country", "FR",
                 "--kek-file", cluster.kek],
                stdout=log, stderr=subprocess.STDOUT)
            first = os.path.join(n1.data_dir, "first-tenant.json")
            deadline = time.time() + 60
            while not os.path.exists(first) and time.time() < deadline:
                self.assertIsNone(embedded.poll(), "the embedded default exited")
                time.sleep(0.05)
            time.sleep(0.2)
            with open(first) as f:
                tenant = json.load(f)
            embedded.send_signal(signal.SIGTERM)
            self.assertEqual(embedded.wait(timeout=30), 0)

            cluster.start()
            admin = tenant["administrator"]["userPrincipalName"]
            for node in cluster.nodes:
                deadline = time.time() + 20
                while True:
                    r = app_token(node, tenant)
                    if r.status_code == 200 or time.time() > deadline:
                        break
                    time.sleep(0.1)
                self.assertEqual(r.status_code, 200, "%s: %s" % (node.id, r.text))
                headers = {"Authorization": "Bearer " + r.json()["access_token"]}
                users = node.session().get(node.url + "/v1.0/users", headers=headers, timeout=20)
                self.assertEqual(users.status_code, 200, users.text)
                names = [u["userPrincipalName"] for u in users.json()["value"]]
                self.assertIn(admin, names, "%s does not hold the embedded tenant's data" % node.id)
            # And the cluster takes the tenant's writes.
            node = cluster.node("n3")
            headers = {"Authorization": "Bearer " + app_token(node, tenant).json()["access_token"]}
            r = node.session().post(node.url + "/v1.0/groups", headers=headers, timeout=20, json={
                "displayName": "grown", "mailEnabled": False, "mailNickname": "grown",
                "securityEnabled": True})
            self.assertEqual(r.status_code, 201, r.text)
        finally:
            codes = cluster.stop()
        self.assertTrue(all(c == 0 for c in codes.values()), codes)


if __name__ == "__main__":
    unittest.main()
