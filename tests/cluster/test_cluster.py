"""The replicated tier with real processes: etcd and four nodes of one region in two datacenters
on loopback. Writes sent to any node reach the primary; a read with a replica token sees its
write on every node; a forged token is refused; when the primary is killed, writes come back on
a new primary within seconds while reads and token issuance never stop, and nothing
acknowledged is lost; the killed node rejoins and catches up. Every node serves the same signing
keys, sealed under the KEK they share; a node without it does not start.
"""
import os
import time
import unittest
import uuid

from cluster_process import Cluster, Node, TOKEN_HEADER, app_token, read_with_token


class ClusterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Two nodes per datacenter: whichever node is primary, losing it leaves a node in each
        # datacenter, so that a new primary has a sync member in the other one.
        cls.cluster = Cluster([("n1", "emea", "dc1"), ("n2", "emea", "dc2"),
                               ("n3", "emea", "dc1"), ("n4", "emea", "dc2")],
                              proxies=True).start()
        cls.tenant = cls.cluster.create_tenant(cls.cluster.node("n2"), "Contoso", "GB")
        # A new tenant reaches the other replicas within a heartbeat or two.
        for node in cls.cluster.nodes:
            deadline = time.time() + 10
            while app_token(node, cls.tenant).status_code != 200 and time.time() < deadline:
                time.sleep(0.05)

    @classmethod
    def tearDownClass(cls):
        codes = cls.cluster.stop()
        assert all(c == 0 for c in codes.values()), "a node did not stop cleanly: %s" % codes

    def auth(self, node):
        r = app_token(node, self.tenant)
        self.assertEqual(r.status_code, 200, r.text)
        return {"Authorization": "Bearer " + r.json()["access_token"]}

    def create_group(self, node, headers, name):
        return node.session().post(node.url + "/v1.0/groups", headers=headers, timeout=20, json={
            "displayName": name, "mailEnabled": False, "mailNickname": name,
            "securityEnabled": True})

    def test_0_every_node_signs_with_the_same_sealed_keys(self):
        jwks = [n.session().get(n.url + "/%s/discovery/v2.0/keys" % self.tenant["tenantId"],
                                timeout=20).json() for n in self.cluster.nodes]
        self.assertTrue(all(j == jwks[0] for j in jwks), jwks)
        for node in self.cluster.nodes:
            for dirpath, _, names in os.walk(os.path.join(node.data_dir, "partitions")):
                for name in names:
                    with open(os.path.join(dirpath, name), "rb") as f:
                        self.assertNotIn(b"PRIVATE KEY", f.read(), os.path.join(dirpath, name))

    def test_0_a_node_without_the_kek_does_not_start(self):
        node = Node(self.cluster, "n9", "emea", "dc1")
        node.write_config(self.cluster.public_url)
        with open(node.config) as f:
            config = [line for line in f if not line.startswith("kek_file")]
        with open(node.config, "w") as f:
            f.writelines(config)
        node.start()
        self.assertEqual(node.proc.wait(timeout=60), 1)
        self.assertIn("no key-encryption key", node.read_log())

    def test_1_writes_anywhere_and_reads_its_write_everywhere_with_its_token(self):
        nodes = self.cluster.nodes
        headers = self.auth(nodes[2])
        for i, via in enumerate(nodes):
            r = self.create_group(via, headers, "rw%d" % i)
            self.assertEqual(r.status_code, 201, r.text)
            token = r.headers.get(TOKEN_HEADER)
            self.assertTrue(token, "a write response carries a replica token")
            for reader, got in read_with_token(nodes, "/v1.0/groups/" + r.json()["id"], headers,
                                               token):
                self.assertEqual(got.status_code, 200, "%s missed the write: %s" % (reader.id, got.text))

    def test_2_a_forged_or_foreign_token_is_refused(self):
        node = self.cluster.node("n3")
        headers = self.auth(node)
        r = self.create_group(node, headers, "forge")
        token = r.headers[TOKEN_HEADER]
        parts = token.split(".")
        parts[3] = str(int(parts[3]) + 1000000)  # an LSN that does not exist yet
        for bad in (".".join(parts), token[:-4] + "AAAA", "1.emea-1.1.1.x"):
            got = node.session().get(node.url + "/v1.0/groups", timeout=20,
                                     headers={**headers, TOKEN_HEADER: bad})
            self.assertEqual(got.status_code, 400, got.text)

    def test_2b_a_write_waiting_for_its_commit_holds_no_worker(self):
        """A node runs requests on a few workers (two per core, at least four), and one tenant's
        requests on at most half of them. With every commit slowed to a round trip through a
        delaying proxy, concurrent writes of one tenant finish in about the time of one: were
        each worker to wait for its write's commit, 32 writes would take 16 rounds on two."""
        from concurrent.futures import ThreadPoolExecutor
        partition = self.tenant["partition"]
        primary = self.cluster.primary_of(partition)
        headers = self.auth(primary)
        others = [n for n in self.cluster.nodes if n is not primary]
        for n in others:
            n.proxy.set_delay(0.1)
        try:
            start = time.time()
            r = self.create_group(primary, headers, "slow-one")
            one = time.time() - start
            self.assertEqual(r.status_code, 201, r.text)
            self.assertGreater(one, 0.2, "the proxies slow each commit by two delays")
            with ThreadPoolExecutor(32) as pool:
                start = time.time()
                results = list(pool.map(
                    lambda i: self.create_group(primary, headers, "slow-%d" % i), range(32)))
                many = time.time() - start
        finally:
            for n in others:
                n.proxy.set_delay(0)
        for r in results:
            self.assertEqual(r.status_code, 201, r.text)
        print("one slowed write: %.0f ms; 32 at once: %.0f ms" % (one * 1000, many * 1000))
        self.assertLess(many, 6 * one, "writes in flight waited for workers")

    def test_2c_no_read_goes_to_a_peer_that_is_not_ready_until_it_recovers(self):
        """Nodes probe each other's /readyz. Both nodes of the datacenter without the primary are
        cut from their peers (they keep their etcd leases, so they still look alive): `a` can no
        longer serve reads itself, and forwards them; `b`, which fails its probes, gets none of
        them, though it is in `a`'s datacenter. Once `b` is back, reads go to it again."""
        cluster = self.cluster
        primary = cluster.primary_of(self.tenant["partition"])
        dc = [n for n in cluster.nodes if n.datacenter != primary.datacenter]
        a, b = dc
        headers = self.auth(a)

        def peer(name):  # a's metric `name` about b
            return a.metrics().get((name, (("node", b.id),)), 0)

        def wait(what, predicate, timeout=20):
            deadline = time.time() + timeout
            while not predicate():
                self.assertLess(time.time(), deadline, "timed out waiting for " + what)
                time.sleep(0.1)

        def read():
            r = a.session().get(a.url + "/v1.0/groups?$top=1", headers=headers, timeout=20)
            self.assertEqual(r.status_code, 200, r.text)

        a.proxy.cut()
        b.proxy.cut()
        try:
            wait("b to be unready at a", lambda: peer("meridian_peer_ready") == 0)
            # a's own replica goes silent, so a forwards its reads.
            wait("a to be unready", lambda: a.session().get(a.url + "/readyz",
                                                             timeout=5).status_code == 503)
            before = peer("meridian_forwarded_requests")
            for _ in range(5):
                read()
            self.assertEqual(peer("meridian_forwarded_requests"), before,
                             "a read went to a peer that is not ready")
            b.proxy.restore()
            wait("b to be ready again at a", lambda: peer("meridian_peer_ready") == 1)
            read()
            self.assertGreater(peer("meridian_forwarded_requests"), before,
                               "reads went back to the peer in a's datacenter once it was ready")
        finally:
            a.proxy.restore()
            b.proxy.restore()
        wait("a to be ready again", lambda: a.session().get(a.url + "/readyz",
                                                             timeout=5).status_code == 200)

    def test_2d_token_requests_that_write_go_to_the_primary(self):
        """Client credentials are served by any replica (zero RTO); every other grant redeems or
        stores single-use state, so its requests go to the partition's primary."""
        cluster = self.cluster
        primary = cluster.primary_of(self.tenant["partition"])
        node = next(n for n in cluster.nodes if n is not primary)

        def forwarded():
            return node.metrics().get(("meridian_forwarded_requests", (("node", primary.id),)), 0)

        before = forwarded()
        self.assertEqual(app_token(node, self.tenant).status_code, 200)
        self.assertEqual(forwarded(), before, "a client-credentials request was forwarded")
        app = self.tenant["bootstrapApplication"]
        r = node.session().post(
            "%s/%s/oauth2/v2.0/token" % (node.url, self.tenant["tenantId"]), timeout=20,
            data={"grant_type": "refresh_token", "refresh_token": "x", "client_id": app["appId"],
                  "client_secret": app["clientSecret"]})
        self.assertEqual(r.status_code, 400, r.text)
        self.assertEqual(r.json()["error"], "invalid_grant")
        self.assertEqual(forwarded(), before + 1, "a refresh-token request ran off the primary")

    def test_3_a_planned_move_of_the_primary_pauses_writes_well_under_a_second(self):
        import threading
        cluster = self.cluster
        partition = self.tenant["partition"]
        primary = cluster.primary_of(partition)
        target = cluster.sync_member_of(partition)  # only a sync member may take over
        headers = self.auth(target)
        done = threading.Event()
        completions, failures = [], []

        def writer(node):
            while not done.is_set():
                r = self.create_group(node, headers, "move-" + uuid.uuid4().hex[:8])
                (completions if r.status_code == 201 else failures).append(
                    (time.time(), r.status_code, r.text[:200]))

        threads = [threading.Thread(target=writer, args=(n,)) for n in cluster.nodes[:2]]
        for t in threads:
            t.start()
        time.sleep(0.5)
        r = primary.session().post(
            primary.url + "/operator/v1/partitions/%s/movePrimary" % partition,
            json={"to": target.id}, headers={"Authorization": "Bearer " + cluster.operator_key()},
            timeout=30)
        self.assertEqual(r.status_code, 200, r.text)
        time.sleep(1.0)
        done.set()
        for t in threads:
            t.join()
        self.assertIs(cluster.primary_of(partition), target)
        self.assertEqual([f[2] for f in failures], [], "writes failed during a planned move")
        times = sorted(c[0] for c in completions)
        gap = max(b - a for a, b in zip(times, times[1:]))
        print("\nplanned move: longest gap between writes %.3f s (%d writes); the old primary "
              "refused writes for %s ms" % (gap, len(times), r.json()["writesPausedMs"]))
        self.assertLess(gap, 1.0)

    def test_3b_a_tenant_is_created_whichever_nodes_hold_the_primaries(self):
        """A tenant's creation runs on the global partition's primary, which logs the tenant's
        first objects on its partition's primary wherever that is: here the global primary moves
        to a node that is primary of no emea partition first."""
        cluster = self.cluster
        operator = {"Authorization": "Bearer " + cluster.operator_key()}
        busy = {cluster.primary_of("emea-1").id, cluster.primary_of("emea-2").id}
        target = next(n for n in cluster.nodes if n.id not in busy)
        g = cluster.primary_of("global")
        if g is not target:
            r = g.session().post(g.url + "/operator/v1/partitions/global/movePrimary",
                                 json={"to": target.id}, headers=operator, timeout=40)
            self.assertEqual(r.status_code, 200, r.text)
        for i, via in enumerate(cluster.nodes):
            t = cluster.create_tenant(via, "Spread %d" % i, "FR")
            self.assertNotIn(cluster.primary_of(t["partition"]).id, [target.id])
            node = cluster.nodes[(i + 1) % len(cluster.nodes)]
            deadline = time.time() + 10
            while app_token(node, t).status_code != 200:
                self.assertLess(time.time(), deadline, "the new tenant cannot get a token")
                time.sleep(0.05)
            headers = {"Authorization": "Bearer " + app_token(node, t).json()["access_token"]}
            r = self.create_group(node, headers, "first")
            self.assertEqual(r.status_code, 201, r.text)

    def test_4_killing_the_primary_loses_no_write_and_stops_no_read(self):
        cluster = self.cluster
        headers = self.auth(cluster.node("n2"))
        acked = []
        for i in range(10):
            r = self.create_group(cluster.nodes[i % 4], headers, "before%d" % i)
            self.assertEqual(r.status_code, 201, r.text)
            acked.append(r.json()["id"])
        primary = cluster.primary_of(self.tenant["partition"])
        primary.kill9()
        start = time.time()
        first_write = None
        reads = read_failures = tokens = token_failures = 0
        survivors = [n for n in cluster.nodes if n is not primary]
        while time.time() - start < 15 and (first_write is None or time.time() - start < 4):
            via = survivors[int(time.time() * 10) % len(survivors)]
            r = self.create_group(via, headers, "during-" + uuid.uuid4().hex[:8])
            if r.status_code == 201:
                acked.append(r.json()["id"])
                if first_write is None:
                    first_write = time.time() - start
            else:
                self.assertEqual(r.status_code, 503, r.text)
                self.assertIn("Retry-After", r.headers)
            got = via.session().get(via.url + "/v1.0/groups?$top=1", headers=headers, timeout=20)
            reads += 1
            read_failures += got.status_code != 200
            t = app_token(via, self.tenant)
            tokens += 1
            token_failures += t.status_code != 200
            time.sleep(0.05)
        self.assertIsNotNone(first_write, "no write succeeded after the primary died")
        self.assertLess(first_write, 5.0, "writes were unavailable for %.1f s" % first_write)
        self.assertEqual(read_failures, 0, "reads failed during the failover")
        self.assertEqual(token_failures, 0, "token issuance failed during the failover")
        print("\nemergency failover: writes back after %.2f s; %d reads, %d tokens, none failed"
              % (first_write, reads, tokens))
        for gid in acked:
            got = survivors[0].session().get(survivors[0].url + "/v1.0/groups/" + gid,
                                             headers=headers, timeout=20)
            self.assertEqual(got.status_code, 200, "acknowledged write %s lost" % gid)

        # The old primary comes back, catches up, and serves a write made while it was down.
        r = self.create_group(survivors[0], headers, "while-away")
        self.assertEqual(r.status_code, 201, r.text)
        primary.start().wait_ready()
        got = primary.session().get(primary.url + "/v1.0/groups/" + r.json()["id"],
                                    headers={**headers, TOKEN_HEADER: r.headers[TOKEN_HEADER]},
                                    timeout=20)
        self.assertEqual(got.status_code, 200, got.text)


if __name__ == "__main__":
    unittest.main()
