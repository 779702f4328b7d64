"""The short form of the real-process nemesis (nemesis.py): six nodes in two regions and three
datacenters, about 55 s of faults one at a time (kills, freezes, cut and delayed links, a whole
datacenter down), then the history checker. The seed is printed; MERIDIAN_NEMESIS_SEED replays
its fault schedule, MERIDIAN_NEMESIS_SECONDS makes the long form (docs/cluster.md, "Fault
injection"). Then a small cluster checks that a region back from an outage is reached again at once.
"""
import os
import random
import time
import unittest

from cluster_process import Cluster, app_token
from nemesis import Nemesis


class NemesisTest(unittest.TestCase):
    def test_faults_lose_no_acknowledged_write_and_replicas_converge(self):
        seed = int(os.environ.get("MERIDIAN_NEMESIS_SEED",
                                  str(random.SystemRandom().randrange(1 << 31))))
        seconds = int(os.environ.get("MERIDIAN_NEMESIS_SECONDS", "55"))
        n = Nemesis(seed, seconds, overlap=os.environ.get("MERIDIAN_NEMESIS_OVERLAP") == "1")
        summary = n.run()
        self.assertGreater(n.stats["faults"], 0)
        self.assertGreater(n.stats["acked"], 0)
        self.assertEqual(n.violations, [], summary)


class PeerReconnectTest(unittest.TestCase):
    """Found by the nemesis: after a peer was down for a while, the other nodes' channels to it
    backed off (gRPC's default reconnect backoff grows to 120 s), so requests forwarded to it
    failed for seconds after it was back and ready."""

    def test_a_restarted_region_is_reached_again_within_two_seconds_of_being_ready(self):
        cluster = Cluster([("e1", "emea", "dc1"), ("e2", "emea", "dc2"), ("u1", "na", "dc3"),
                           ("u2", "na", "dc1")]).start()
        try:
            c = cluster
            tenant = c.create_tenant(c.node("e2"), "Northwind", "US")
            e1 = c.node("e1")
            deadline = time.time() + 15
            while app_token(e1, tenant).status_code != 200:
                self.assertLess(time.time(), deadline, "e1 never issued a token for the na tenant")
                time.sleep(0.1)
            # The whole region down for 12 s, while e1 keeps trying to reach it.
            na = [c.node("u1"), c.node("u2")]
            for n in na:
                n.kill9()
            end = time.time() + 12
            while time.time() < end:
                app_token(e1, tenant)
                time.sleep(0.2)
            for n in na:
                n.start()
            for n in na:
                n.wait_ready()
            ready = time.time()
            while app_token(e1, tenant).status_code != 200:
                self.assertLess(time.time() - ready, 2.0,
                                "e1 still cannot reach the na region 2 s after it was ready")
                time.sleep(0.05)
            print("\nna tenant's token on e1 %.2f s after the region was ready" %
                  (time.time() - ready))
        finally:
            codes = cluster.stop()
        self.assertTrue(all(v == 0 for v in codes.values()), codes)


if __name__ == "__main__":
    unittest.main()
