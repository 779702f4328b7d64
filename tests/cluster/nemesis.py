"""A real-process nemesis for the replicated tier, with a history checker.

A cluster of six nodes on loopback (etcd, and nodes in two regions and three datacenters, each
node's peer port behind a fault_proxy.FaultProxy) runs client threads that write (create groups
with unique names), read their writes back with the replica token, and issue tokens, on random
nodes, while a seeded nemesis kills nodes (SIGKILL, restarted later), freezes them
(SIGSTOP/SIGCONT), cuts or delays the links into them, and kills whole datacenters. At the end it
heals everything, lets the cluster settle, and checks the history:

- every acknowledged write (201) is read back by id, with its replica token, from a node of its
  region, and is listed exactly once on every member of its partition;
- no write (acknowledged or of unknown outcome) is present twice;
- every read with a replica token saw its write (a 404 is a violation; 503 is allowed);
- every object a read returned is still there at the end;
- for every partition, every member reports the same visible and committed LSN, and lists the
  same groups;
- no node crashed (an exit the nemesis did not cause), every node became ready again after
  every restart, and every node stops cleanly (exit 0).

Token issuance that fails on a node that was up, not frozen, and whose tenant's region had a live
node not cut off, with no fault starting or ending in the 3 s before, is an availability failure:
reported apart from violations.

Run it directly: `python3 nemesis.py [--seconds N] [--seed S] [--overlap]` (MERIDIAN_NEMESIS_SECONDS,
MERIDIAN_NEMESIS_SEED and MERIDIAN_NEMESIS_OVERLAP do the same). The seed decides the fault
schedule (which fault, on which node, for how long, and the pauses) and the clients' choices;
real processes keep the timing from replaying exactly.
"""
import argparse
import os
import random
import sys
import threading
import time
import uuid

import requests

from cluster_process import Cluster, TOKEN_HEADER, app_token

# emea: two datacenters with two nodes each; na: two nodes in two datacenters; the global
# partition spans all three.
LAYOUT = [("e1", "emea", "dc1"), ("e2", "emea", "dc2"), ("e3", "emea", "dc1"),
          ("e4", "emea", "dc2"), ("u1", "na", "dc3"), ("u2", "na", "dc1")]
# Tenants are created in each region until each of its partitions holds one (a tenant's
# partition follows from its random id).
REGIONS = [("emea", "GB"), ("na", "US")]
PARTITIONS_PER_REGION = 2
READY_TIMEOUT = 90  # a node not ready this long after a restart is a violation
CLIENT_THREADS = 3
# Within the lease (2 s) and a view refresh after a fault changes, a gateway may still send a
# request to a node that just went away: a token failure then is not counted against the cluster.
GRACE = 3.0


T0 = time.time()


def log(msg):
    print("[%7.2f] %s" % (time.time() - T0, msg), flush=True)


class Nemesis:
    def __init__(self, seed, seconds, overlap=False):
        self.seed = seed
        self.seconds = seconds
        self.max_faults = 2 if overlap else 1
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.violations = []
        self.failures = []  # availability failures that are not violations
        self.stats = dict(rounds=0, writes=0, acked=0, unknown=0, token_reads=0, token_reads_ok=0,
                          token_reads_unavailable=0, tokens=0, tokens_ok=0,
                          tokens_failed_expected=0, tokens_failed_excused=0, faults=0)
        self.acked = []      # dicts: tenant, id, name, token
        self.unknown = []    # dicts: tenant, name, why
        self.seen = set()    # ids a read returned
        self.generation = 0  # bumped on every fault transition
        self.last_change = 0.0
        self.down = set()    # node ids: killed, or restarted and not ready yet
        self.frozen = set()
        self.cut = set()
        self.expected_exit = set()
        self.stop_clients = threading.Event()

    # ---- bookkeeping ----

    def violation(self, msg):
        with self.lock:
            self.violations.append(msg)
        log("VIOLATION: " + msg)

    def bump(self):
        with self.lock:
            self.generation += 1
            self.last_change = time.time()

    def serving(self, node):
        return node.id not in self.down and node.id not in self.frozen

    # ---- setup ----

    def operator(self):
        return {"Authorization": "Bearer " + self.cluster.operator_key()}

    def create_tenant(self, name, country, region):
        """Creates a tenant through a random node (the global primary creates it)."""
        for attempt in range(20):
            via = self.rng.choice([n for n in self.cluster.nodes if n.running])
            r = via.session().post(via.url + "/operator/v1/tenants", timeout=30,
                                   json={"displayName": name, "countryLetterCode": country},
                                   headers=self.operator())
            if r.status_code == 201:
                t = r.json()
                t["region"] = region
                return t
            log("creating %s via %s: %d %s" % (name, via.id, r.status_code, r.text[:200]))
            time.sleep(0.5)
        raise RuntimeError("could not create tenant " + name)

    # ---- clients ----

    def client(self, index):
        rng = random.Random(self.seed * 1000 + index)
        sessions = {}
        tokens = {}

        def session(node):
            if node.id not in sessions:
                sessions[node.id] = node.session()
            return sessions[node.id]

        def call(node, method, path, **kw):
            try:
                return session(node).request(method, node.url + path, **kw)
            except (requests.RequestException, OSError) as e:
                sessions.pop(node.id, None)
                return e

        def bearer(tenant):
            if tenant["tenantId"] not in tokens:
                for node in rng.sample(self.cluster.nodes, len(self.cluster.nodes)):
                    if not self.serving(node):
                        continue
                    try:
                        r = app_token(node, tenant)
                    except (requests.RequestException, OSError):
                        continue
                    if r.status_code == 200:
                        tokens[tenant["tenantId"]] = r.json()["access_token"]
                        break
                else:
                    return None
            return {"Authorization": "Bearer " + tokens[tenant["tenantId"]]}

        n = 0
        while not self.stop_clients.is_set():
            tenant = rng.choice(self.tenants)
            node = rng.choice(self.cluster.nodes)
            if rng.random() < 0.3:
                self.issue_token(node, tenant)
                continue
            headers = bearer(tenant)
            if headers is None:
                time.sleep(0.2)
                continue
            n += 1
            name = "nem-%d-%d-%d-%s" % (self.seed, index, n, uuid.uuid4().hex[:6])
            r = call(node, "POST", "/v1.0/groups", headers=headers, timeout=30, json={
                "displayName": name, "mailEnabled": False, "mailNickname": name,
                "securityEnabled": True})
            with self.lock:
                self.stats["writes"] += 1
            if isinstance(r, Exception) or r.status_code == 503:
                why = type(r).__name__ if isinstance(r, Exception) else "503"
                with self.lock:
                    self.stats["unknown"] += 1
                    self.unknown.append(dict(tenant=tenant, name=name, why=why))
                time.sleep(0.05)
                continue
            if r.status_code == 401:
                tokens.pop(tenant["tenantId"], None)
                continue
            if r.status_code != 201:
                self.violation("write %s via %s: unexpected %d %s" %
                               (name, node.id, r.status_code, r.text[:200]))
                continue
            obj = r.json()
            token = r.headers.get(TOKEN_HEADER)
            if not token:
                self.violation("write %s via %s acknowledged without a replica token" % (name, node.id))
            with self.lock:
                self.stats["acked"] += 1
                self.acked.append(dict(tenant=tenant, id=obj["id"], name=name, token=token,
                                       via=node.id))
            reader = rng.choice(self.cluster.nodes)
            got = call(reader, "GET", "/v1.0/groups/" + obj["id"], timeout=30,
                       headers={**headers, TOKEN_HEADER: token or ""})
            with self.lock:
                self.stats["token_reads"] += 1
            if isinstance(got, Exception) or got.status_code == 503:
                with self.lock:
                    self.stats["token_reads_unavailable"] += 1
            elif got.status_code == 200 and got.json().get("displayName") == name:
                with self.lock:
                    self.stats["token_reads_ok"] += 1
                    self.seen.add(obj["id"])
            else:
                self.violation("read of acknowledged %s (%s, written via %s) on %s with its token:"
                               " %d %s" % (name, obj["id"], node.id, reader.id, got.status_code,
                                           got.text[:200]))

    def expect_token(self, node, tenant):
        """Whether issuance on `node` for `tenant` must succeed now."""
        if not self.serving(node):
            return False
        return any(n.region == tenant["region"] and self.serving(n) and n.id not in self.cut
                   for n in self.cluster.nodes)

    def issue_token(self, node, tenant):
        with self.lock:
            gen = self.generation
        expected = self.expect_token(node, tenant)
        try:
            r = app_token(node, tenant)
            ok, why = r.status_code == 200, "%d %s" % (r.status_code, r.text[:150])
        except (requests.RequestException, OSError) as e:
            ok, why = False, type(e).__name__
        with self.lock:
            self.stats["tokens"] += 1
            if ok:
                self.stats["tokens_ok"] += 1
            elif (expected and gen == self.generation and self.expect_token(node, tenant) and
                  time.time() - self.last_change > GRACE):
                self.stats["tokens_failed_expected"] += 1
                self.failures.append("t=%.1f token for %s on %s: %s (down %s, frozen %s, cut %s)" % (
                    time.time() - T0, tenant["displayName"], node.id, why, sorted(self.down), sorted(self.frozen),
                    sorted(self.cut)))
            else:
                self.stats["tokens_failed_excused"] += 1

    # ---- faults ----

    def check_processes(self):
        for n in self.cluster.nodes:
            if n.id in self.expected_exit:
                continue
            if n.proc.poll() is not None:
                self.violation("%s exited on its own with code %s (see %s.log)" %
                               (n.id, n.proc.returncode, n.id))
                self.expected_exit.add(n.id)  # once
                self.down.add(n.id)

    def kill(self, nodes):
        for n in nodes:
            self.expected_exit.add(n.id)
            self.down.add(n.id)
            n.kill9()
        self.bump()

    def restart(self, nodes):
        for n in nodes:
            self.expected_exit.discard(n.id)
            n.start()
        self.bump()

    def ready(self, node):
        try:
            return node.session().get(node.url + "/readyz", timeout=2).status_code == 200
        except (requests.RequestException, OSError):
            return False

    def start_fault(self, busy):
        """Starts a fault on nodes not in `busy`; returns (description, nodes, heal function),
        or None when no node is free."""
        c = self.cluster
        free = [n for n in c.nodes if n.id not in busy]
        if not free:
            return None
        kind = self.rng.choice(["kill", "kill", "freeze", "freeze", "cut", "cut", "delay", "dc"])
        hold = self.rng.uniform(2.0, 6.0)
        if kind == "dc":
            dcs = sorted({n.datacenter for n in free
                          if all(m.id not in busy for m in c.nodes if m.datacenter == n.datacenter)})
            if not dcs:
                kind = "kill"
            else:
                dc = self.rng.choice(dcs)
                nodes = [n for n in c.nodes if n.datacenter == dc]
                self.kill(nodes)
                return ("kill datacenter %s (%s)" % (dc, ",".join(n.id for n in nodes)), nodes,
                        hold, lambda: self.restart(nodes))
        node = self.rng.choice(free)
        if kind == "kill":
            self.kill([node])
            return ("kill -9 " + node.id, [node], hold, lambda: self.restart([node]))
        if kind == "freeze":
            node.freeze()
            self.frozen.add(node.id)
            self.bump()

            def thaw():
                node.thaw()
                self.frozen.discard(node.id)
                self.bump()
            return ("freeze " + node.id, [node], hold, thaw)
        if kind == "cut":
            node.proxy.cut()
            self.cut.add(node.id)
            self.bump()

            def restore():
                node.proxy.restore()
                self.cut.discard(node.id)
                self.bump()
            return ("cut links into " + node.id, [node], hold, restore)
        delay = self.rng.choice([0.05, 0.2, 0.5])
        node.proxy.set_delay(delay)
        return ("delay links into %s by %.2f s" % (node.id, delay), [node], hold,
                lambda: node.proxy.set_delay(0))

    def run_faults(self):
        end = time.time() + self.seconds
        active = []      # [description, nodes, heal time, heal]
        recovering = {}  # node id -> (node, deadline)
        next_start = time.time() + self.rng.uniform(1.0, 3.0)
        while time.time() < end or active or recovering:
            time.sleep(0.1)
            self.check_processes()
            now = time.time()
            for f in [f for f in active if f[2] <= now]:
                active.remove(f)
                log("heal: " + f[0])
                f[3]()
                for n in f[1]:
                    if n.id in self.down:
                        recovering[n.id] = (n, now + READY_TIMEOUT)
            for nid, (n, deadline) in list(recovering.items()):
                if self.ready(n):
                    del recovering[nid]
                    self.down.discard(nid)
                    self.bump()
                    log("%s ready again after %.1f s" % (nid, now - deadline + READY_TIMEOUT))
                elif now > deadline or n.proc.poll() is not None:
                    del recovering[nid]
                    self.violation("%s not ready within %d s of its restart (exit code %s)" %
                                   (nid, READY_TIMEOUT, n.proc.poll()))
            if now >= end or now < next_start or len(active) + len(recovering) >= self.max_faults:
                continue
            busy = set(recovering)
            for f in active:
                busy.update(n.id for n in f[1])
            started = self.start_fault(busy)
            if started:
                desc, nodes, hold, heal = started
                self.stats["faults"] += 1
                self.stats["rounds"] += 1
                log("fault %d: %s for %.1f s" % (self.stats["faults"], desc, hold))
                active.append([desc, nodes, now + hold, heal])
            next_start = now + self.rng.uniform(1.0, 4.0)

    # ---- checker ----

    def settle(self):
        """Waits until every member of every partition reports the same visible and committed
        LSN; a violation when they still differ after 30 s."""
        deadline = time.time() + 30
        while True:
            lsns = {}
            for n in self.cluster.nodes:
                try:
                    m = n.metrics()
                except (requests.RequestException, OSError) as e:
                    lsns.setdefault("?", {})[n.id] = type(e).__name__
                    continue
                for (name, labels), v in m.items():
                    labels = dict(labels)
                    if name in ("meridian_replica_visible_lsn", "meridian_replica_committed_lsn"):
                        key = labels["partition"]
                        lsns.setdefault(key, {}).setdefault(n.id, {})[name[17:]] = int(v)
            # A node whose /metrics did not answer counts as diverged.
            diverged = {p: v for p, v in lsns.items()
                        if p == "?" or len({(x["visible_lsn"], x["committed_lsn"])
                                            for x in v.values()}) != 1}
            if not diverged:
                for p in sorted(lsns):
                    log("partition %s: visible LSN %s on %s" % (
                        p, next(iter(lsns[p].values()))["visible_lsn"], ",".join(sorted(lsns[p]))))
                return lsns
            if time.time() > deadline:
                self.violation("replicas did not converge: %s" % diverged)
                return lsns
            time.sleep(0.5)

    def list_groups(self, node, headers):
        """Every group's (id, displayName) as this node's replica lists them."""
        out = []
        path = "/v1.0/groups?$top=999&$select=id,displayName"
        s = node.session()
        while path:
            r = s.get(node.url + path, headers=headers, timeout=30)
            if r.status_code != 200:
                raise RuntimeError("listing groups on %s: %d %s" % (node.id, r.status_code, r.text))
            body = r.json()
            out.extend((g["id"], g["displayName"]) for g in body["value"])
            link = body.get("@odata.nextLink")
            path = link[link.index("/v1.0/"):] if link else None
        return out

    def check(self):
        c = self.cluster
        for tenant in self.tenants:
            region_nodes = [n for n in c.nodes if n.region == tenant["region"]]
            r = app_token(region_nodes[0], tenant)
            if r.status_code != 200:
                self.violation("no token for %s after healing: %s" % (tenant["displayName"], r.text))
                continue
            headers = {"Authorization": "Bearer " + r.json()["access_token"]}
            acked = [a for a in self.acked if a["tenant"] is tenant]
            unknown = {u["name"] for u in self.unknown if u["tenant"] is tenant}
            reader = region_nodes[0].session()
            for a in acked:
                got = reader.get(region_nodes[0].url + "/v1.0/groups/" + a["id"], timeout=30,
                                 headers={**headers, TOKEN_HEADER: a["token"] or ""})
                if got.status_code != 200 or got.json().get("displayName") != a["name"]:
                    self.violation("acknowledged write %s (%s, via %s) lost: %d %s" % (
                        a["name"], a["id"], a["via"], got.status_code, got.text[:200]))
            listings = {}
            for n in region_nodes:
                try:
                    listings[n.id] = sorted(self.list_groups(n, headers))
                except (RuntimeError, requests.RequestException) as e:
                    self.violation(str(e))
            first = None
            for nid, groups in listings.items():
                names = [g[1] for g in groups]
                ids = {g[0] for g in groups}
                counts = {}
                for name in names:
                    counts[name] = counts.get(name, 0) + 1
                for name, k in counts.items():
                    if k > 1:
                        self.violation("%s is present %d times on %s" % (name, k, nid))
                for a in acked:
                    if a["id"] not in ids:
                        self.violation("acknowledged %s (%s) missing from %s's listing" %
                                       (a["name"], a["id"], nid))
                for sid in self.seen & {a["id"] for a in acked}:
                    if sid not in ids:
                        self.violation("%s, once read, is missing from %s" % (sid, nid))
                if first is None:
                    first = (nid, groups)
                elif groups != first[1]:
                    only_here = set(groups) - set(first[1])
                    only_there = set(first[1]) - set(groups)
                    self.violation("%s and %s list different groups of %s: %s / %s" % (
                        nid, first[0], tenant["displayName"], sorted(only_here)[:5],
                        sorted(only_there)[:5]))
            if first:
                present = sum(1 for g in first[1] if g[1] in unknown)
                log("tenant %s (%s): %d acknowledged, %d of %d unknown-outcome writes exist, %d "
                    "groups on each of %s" % (tenant["displayName"], tenant["partition"],
                                             len(acked), present, len(unknown), len(first[1]),
                                             ",".join(listings)))

    # ---- the run ----

    def run(self):
        log("nemesis seed %d, %d s of faults, at most %d at a time" %
            (self.seed, self.seconds, self.max_faults))
        self.cluster = Cluster(LAYOUT, proxies=True).start()
        log("cluster up in " + self.cluster.root)
        keep = False
        try:
            self.tenants = []
            for region, country in REGIONS:
                held = set()
                for i in range(12):
                    if len(held) == PARTITIONS_PER_REGION:
                        break
                    t = self.create_tenant("%s tenant %d" % (region, i), country, region)
                    if t["partition"] not in held:
                        held.add(t["partition"])
                        self.tenants.append(t)
            for t in self.tenants:
                for node in self.cluster.nodes:
                    deadline = time.time() + 15
                    while app_token(node, t).status_code != 200 and time.time() < deadline:
                        time.sleep(0.1)
            log("tenants: " + ", ".join("%s in %s" % (t["displayName"], t["partition"])
                                        for t in self.tenants))
            clients = [threading.Thread(target=self.client, args=(i,), daemon=True)
                       for i in range(CLIENT_THREADS)]
            for t in clients:
                t.start()
            self.run_faults()
            self.stop_clients.set()
            for t in clients:
                t.join(timeout=60)
            log("faults over; clients stopped; settling")
            for n in self.cluster.nodes:
                if n.id not in self.down and not n.running:
                    self.violation("%s is not running at the end" % n.id)
            self.settle()
            self.check()
        except BaseException:
            keep = True
            raise
        finally:
            codes = self.cluster.stop(keep=keep or bool(self.violations))
            for nid, code in codes.items():
                if code != 0:
                    self.violation("%s did not stop cleanly: exit code %s" % (nid, code))
        s = self.stats
        summary = ("seed %d: %d rounds, %d faults, %d writes (%d acknowledged, %d unknown), "
                   "%d token reads (%d ok, %d unavailable), %d tokens (%d ok, %d failed while "
                   "expected, %d failed during faults), %d violations" % (
                       self.seed, s["rounds"], s["faults"], s["writes"], s["acked"], s["unknown"],
                       s["token_reads"], s["token_reads_ok"], s["token_reads_unavailable"],
                       s["tokens"], s["tokens_ok"], s["tokens_failed_expected"],
                       s["tokens_failed_excused"], len(self.violations)))
        log(summary)
        for f in self.failures[:20]:
            log("availability: " + f)
        for v in self.violations:
            log("violation: " + v)
        if self.violations:
            log("replay: MERIDIAN_NEMESIS_SEED=%d MERIDIAN_NEMESIS_SECONDS=%d python3 nemesis.py"
                % (self.seed, self.seconds))
        return summary


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=int,
                   default=int(os.environ.get("MERIDIAN_NEMESIS_SECONDS", "40")))
    p.add_argument("--seed", type=int, default=int(os.environ.get(
        "MERIDIAN_NEMESIS_SEED", str(random.SystemRandom().randrange(1 << 31)))))
    p.add_argument("--overlap", action="store_true",
                   default=os.environ.get("MERIDIAN_NEMESIS_OVERLAP") == "1")
    a = p.parse_args()
    n = Nemesis(a.seed, a.seconds, overlap=a.overlap)
    n.run()
    sys.exit(1 if n.violations else 0)


if __name__ == "__main__":
    main()
