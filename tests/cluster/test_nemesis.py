"""The short form of the real-process nemesis (nemesis.py): six nodes in two regions and three
datacenters, about 55 s of faults one at a time (kills, freezes, cut and delayed links, a whole
datacenter down), then the history checker. The seed is printed; MERIDIAN_NEMESIS_SEED replays
its fault schedule, MERIDIAN_NEMESIS_SECONDS makes the long form (docs/cluster.md, "Fault
injection").
"""
import os
import random
import unittest

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


if __name__ == "__main__":
    unittest.main()
