"""Data residency with real processes, proven on the bytes: a cluster of two regions (emea: e1 in
dc1, e2 in dc2; na: u1 in dc3, u2 in dc4; one etcd, one public URL) holds tenants of both. Every
tenant gets a user whose displayName and mailNickname are random markers, written through the
Graph API and read back with its replica token on every node of the tenant's region. The nodes
are then stopped gracefully and every file under every node's data directory is searched: a
marker of an emea tenant is on no na node and the reverse, and each marker is on at least one node
of its own region (so a scan that saw nothing would fail). `meridian residency report`, asked of a
node of each region, must agree: each tenant's partition has only members of its region.

Why the scan sees every byte. A marker is 32 random hex digits behind a prefix, written once. It
sits in plain form in the RocksDB write-ahead log (`*.log`: Debian's RocksDB 7.8 does not compress
the WAL), or in an SST, whose blocks are Snappy-compressed
here (OPTIONS says kSnappyCompression): Snappy may store part of a string as a back-reference, so
the raw bytes of an SST can hide a marker. Every SST is therefore also read through
`sst_dump --command=scan --output_hex` (Debian's rocksdb-tools), which decompresses each block and
prints every key and value in hex, and the markers are searched there as hex too. A file sst_dump
cannot read fails the test rather than being skipped. Every other file is searched raw.

Creating the tenants. The na nodes start first and the na tenants are created; then e1 and e2
join and the emea tenants are created. A tenant's creation runs on the global partition's primary,
which sends the tenant's first objects to its partition's primary (of the tenant's region): the
scan also proves that the node creating a tenant of another region keeps nothing of it.
"""
import json
import os
import subprocess
import time
import unittest
import uuid

from cluster_process import BINARY, Cluster, TOKEN_HEADER, app_token, read_with_token

REGION_OF_COUNTRY = {"GB": "emea", "FR": "emea", "US": "na", "CA": "na"}
LAYOUT = [("e1", "emea", "dc1"), ("e2", "emea", "dc2"), ("u1", "na", "dc3"), ("u2", "na", "dc4")]
NODE_REGION = {n: r for n, r, _ in LAYOUT}


def sst_dump_hex(path):
    """Every key and value of an SST, decompressed, as upper-case hex (sst_dump's output)."""
    r = subprocess.run(["sst_dump", "--file=" + path, "--command=scan", "--output_hex"],
                       capture_output=True, timeout=60)
    if r.returncode != 0 or b"Sst file format" not in r.stdout:
        raise AssertionError("sst_dump cannot read %s: %s" % (path, (r.stdout + r.stderr)[-500:]))
    return r.stdout


class ResidencyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = Cluster(LAYOUT)
        cls.tenants = {}  # country -> tenant document
        cls.markers = {}  # marker -> region of its tenant
        cls.stopped = False

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def node(self, node_id):
        return self.cluster.node(node_id)

    def region_nodes(self, region):
        return [n for n in self.cluster.nodes if n.region == region]

    def start_cluster_na_first(self):
        c = self.cluster
        c.etcd.start()
        subprocess.run([BINARY, "cluster", "certs", "--out", c.certs] +
                       sum((["--node", n.id] for n in c.nodes), []), check=True,
                       capture_output=True)
        for n in ("u1", "u2"):
            self.node(n).start()
        for n in ("u1", "u2"):
            self.node(n).wait_ready()

    def join_emea(self):
        self.node("e1").start()
        self.node("e2").start()
        for n in ("e1", "e2"):
            self.node(n).wait_ready()

    def create_tenants(self, countries, via):
        for country in countries:
            doc = self.cluster.create_tenant(via, "Residency " + country, country)
            self.assertEqual(doc["regionCode"], REGION_OF_COUNTRY[country])
            self.tenants[country] = doc

    def write_markers(self, country):
        """A user with marker displayName and mailNickname, read back on every node of the region
        with the write's replica token."""
        doc = self.tenants[country]
        region = doc["regionCode"]
        nodes = self.region_nodes(region)
        via = nodes[0]
        deadline = time.time() + 10
        while (r := app_token(via, doc)).status_code != 200 and time.time() < deadline:
            time.sleep(0.05)
        self.assertEqual(r.status_code, 200, r.text)
        headers = {"Authorization": "Bearer " + r.json()["access_token"]}
        name = "resmark-d-" + uuid.uuid4().hex
        nick = "resmark-n-" + uuid.uuid4().hex
        body = {"accountEnabled": True, "displayName": name, "mailNickname": nick,
                "userPrincipalName": "%s@%s" % (nick, doc["initialDomain"]),
                "passwordProfile": {"password": "Xy7!" + uuid.uuid4().hex}}
        w = via.session().post(via.url + "/v1.0/users", json=body, headers=headers, timeout=20)
        self.assertEqual(w.status_code, 201, w.text)
        token = w.headers.get(TOKEN_HEADER)
        self.assertTrue(token, "a write response carries a replica token")
        for reader, got in read_with_token(nodes, "/v1.0/users/" + w.json()["id"], headers, token):
            self.assertEqual(got.status_code, 200, "%s missed the write: %s" % (reader.id, got.text))
            self.assertEqual(got.json()["displayName"], name)
        self.markers[name] = region
        self.markers[nick] = region

    def report(self, node):
        r = subprocess.run([BINARY, "residency", "report", "--data-dir", node.data_dir],
                           capture_output=True, timeout=30)
        self.assertEqual(r.returncode, 0, r.stderr.decode())
        return json.loads(r.stdout)

    def check_report(self, node):
        report = self.report(node)
        self.assertEqual(report["node"], node.id)
        self.assertEqual(report["mode"], "cluster")
        listed = {t["id"]: t for t in report["tenants"]}
        for country, doc in self.tenants.items():
            t = listed[doc["tenantId"]]
            region = REGION_OF_COUNTRY[country]
            self.assertEqual((t["region"], t["partition"]), (region, doc["partition"]))
            self.assertTrue(t["nodes"], "no node holds " + t["partition"])
            for m in t["nodes"]:
                self.assertEqual(NODE_REGION[m["node"]], region,
                                 "%s of %s's partition %s is in another region"
                                 % (m["node"], country, t["partition"]))
                self.assertEqual(m["region"], region)
                self.assertIn(m["role"], ("primary", "sync", "secondary", "candidate"))
                self.assertTrue(m["datacenter"].startswith("dc"))
            self.assertTrue(t["resident"], json.dumps(t))
        partitions = {p["id"]: p for p in report["partitions"]}
        own = partitions[self.tenants["GB"]["partition"]]
        here = [m for m in own["members"] if m["node"] == node.id]
        if here:
            self.assertEqual(here[0]["dataPath"],
                             os.path.join(os.path.abspath(node.data_dir), "partitions", own["id"]))
        # Without the operator key there is no report.
        r = node.session().get(node.url + "/operator/v1/residency", timeout=10,
                               headers={"Authorization": "Bearer not-the-key"})
        self.assertEqual(r.status_code, 401, r.text)

    def scan(self, node):
        """The markers found anywhere under the node's data directory."""
        found = set()
        wanted = {m: (m.encode(), m.encode().hex().upper().encode()) for m in self.markers}
        files = 0
        for root, _, names in os.walk(node.data_dir):
            for name in names:
                path = os.path.join(root, name)
                with open(path, "rb") as f:
                    raw = f.read()
                files += 1
                dumped = sst_dump_hex(path) if name.endswith(".sst") else b""
                for marker, (plain, hexed) in wanted.items():
                    if plain in raw or (dumped and hexed in dumped):
                        found.add(marker)
        self.assertGreater(files, 0, "nothing to scan under " + node.data_dir)
        return found

    def test_markers_stay_in_their_region_and_the_report_agrees(self):
        started = time.time()
        self.start_cluster_na_first()
        self.create_tenants(("US", "CA"), self.node("u2"))
        self.join_emea()
        for country in ("US", "CA"):
            self.write_markers(country)
        # Sent to an emea node, created by global's primary (an na node, as na started first).
        self.assertEqual(self.cluster.primary_of("global", timeout=30).region, "na")
        self.create_tenants(("GB", "FR"), self.node("e1"))
        for country in ("GB", "FR"):
            self.write_markers(country)
        self.check_report(self.node("u1"))
        self.check_report(self.node("e2"))

        for n in self.cluster.nodes:
            n.stop()
        # Every marker was fsynced (WAL) before its write was acknowledged, so the scan sees it
        # however a process ended; a node must still stop cleanly on SIGTERM.
        unclean = {n.id: n.proc.returncode for n in self.cluster.nodes if n.proc.returncode}
        self.assertEqual(unclean, {}, "nodes that did not exit cleanly on SIGTERM")
        seen = {n.id: self.scan(n) for n in self.cluster.nodes}
        for marker, region in self.markers.items():
            holders = [n for n, found in seen.items() if marker in found]
            foreign = [n for n in holders if NODE_REGION[n] != region]
            self.assertFalse(foreign, "%s (%s) is on %s" % (marker, region, foreign))
            self.assertTrue(holders, "%s (%s) is on no node of its region" % (marker, region))
        print("\n%d markers of %d tenants: each only in its region (%s); %.1f s"
              % (len(self.markers), len(self.tenants),
                 ", ".join("%s: %d" % (n, len(f)) for n, f in sorted(seen.items())),
                 time.time() - started))


if __name__ == "__main__":
    unittest.main()
