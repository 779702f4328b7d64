"""A real cluster on loopback for tests: its own etcd (Debian's etcd-server) in a temporary
directory, the cluster CA and node certificates from `meridian cluster certs`, one key-encryption
key from `meridian kek create`, and `meridian serve --config` processes, each with its TOML file.
Ports are picked free; everything stops with stop().

With `proxies=True`, every node's peer port sits behind a fault_proxy.FaultProxy whose port the
node advertises (`peer_advertise`), so that a test can cut or delay the links into a node.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import requests

from fault_proxy import FaultProxy

for _var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_var, None)

BINARY = os.environ.get("MERIDIAN_BINARY", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "src", "server", "meridian"))
TOKEN_HEADER = "x-meridian-replica-token"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    def __init__(self, root):
        self.dir = os.path.join(root, "etcd")
        self.client_port, self.peer_port = free_port(), free_port()
        self.endpoint = "127.0.0.1:%d" % self.client_port

    def start(self):
        self.log = open(self.dir + ".log", "ab")
        peer = "http://127.0.0.1:%d" % self.peer_port
        client = "http://" + self.endpoint
        self.proc = subprocess.Popen(
            ["etcd", "--data-dir", self.dir, "--listen-client-urls", client,
             "--advertise-client-urls", client, "--listen-peer-urls", peer,
             "--initial-advertise-peer-urls", peer, "--initial-cluster", "default=" + peer,
             "--log-level", "error"], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(client + "/health", timeout=1).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError("etcd did not start")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Node:
    def __init__(self, cluster, node_id, region, datacenter):
        self.cluster = cluster
        self.id = node_id
        self.region = region
        self.datacenter = datacenter
        self.data_dir = os.path.join(cluster.root, node_id)
        self.port = free_port()
        self.peer_port = free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        self.proc = None
        self.frozen = False
        self.config = os.path.join(cluster.root, node_id + ".toml")
        self.proxy = cluster.proxies.pop(0) if cluster.proxies else None
        if self.proxy:
            self.proxy.target_port = self.peer_port

    def write_config(self, public_url):
        with open(self.config, "w") as f:
            if self.proxy:
                f.write('peer_advertise = "127.0.0.1:%d"\n' % self.proxy.port)
            f.write('cluster = "test"\nnode = "%s"\nregion = "%s"\ndatacenter = "%s"\n'
                    'data_dir = "%s"\nlisten = "127.0.0.1:%d"\npeer_listen = "127.0.0.1:%d"\n'
                    'etcd = ["%s"]\ncerts = "%s"\npublic_url = "%s"\nlease_ttl_seconds = 2\n'
                    'kek_file = "%s"\n'
                    % (self.id, self.region, self.datacenter, self.data_dir, self.port,
                       self.peer_port, self.cluster.etcd.endpoint, self.cluster.certs,
                       public_url, self.cluster.kek))

    def start(self):
        os.makedirs(self.data_dir, exist_ok=True)
        self.frozen = False
        self.log = open(os.path.join(self.cluster.root, self.id + ".log"), "ab")
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--config", self.config, "--password-iterations", "1000"],
            stdout=self.log, stderr=subprocess.STDOUT)
        return self

    def wait_ready(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s: %s" % (self.id, self.proc.returncode, self.read_log()))
            try:
                if self.session().get(self.url + "/readyz", timeout=2).status_code == 200:
                    return self
            except (requests.RequestException, OSError):  # OSError: no certificate yet
                pass
            time.sleep(0.1)
        raise RuntimeError("%s not ready: %s" % (self.id, self.read_log()))

    def session(self):
        s = requests.Session()
        s.verify = os.path.join(self.data_dir, "tls", "cert.pem")
        return s

    def read_log(self):
        with open(os.path.join(self.cluster.root, self.id + ".log"), "rb") as f:
            return f.read().decode(errors="replace")[-3000:]

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.frozen = False

    def freeze(self):
        """SIGSTOP: the process keeps its sockets but runs nothing (its etcd lease lapses)."""
        self.proc.send_signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        self.proc.send_signal(signal.SIGCONT)
        self.frozen = False

    def metrics(self, timeout=5):
        """The node's /metrics samples as {(name, {label: value}): value}."""
        out = {}
        for line in self.session().get(self.url + "/metrics", timeout=timeout).text.splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, _, value = line.rpartition(" ")
            name, _, labels = name_labels.partition("{")
            pairs = tuple(sorted(tuple(kv.split("=", 1)) for kv in labels.rstrip("}").split(",")
                                 if "=" in kv))
            out[(name, tuple((k, v.strip('"')) for k, v in pairs))] = float(value)
        return out

    def stop(self):
        """Stops the node with SIGTERM; returns its exit code (0: a clean stop)."""
        if self.proc and self.proc.poll() is None:
            if self.frozen:
                self.thaw()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else 0


class Cluster:
    """Nodes given as (id, region, datacenter); `proxies`: a fault proxy before each peer port."""

    def __init__(self, layout, proxies=False):
        self.root = tempfile.mkdtemp(prefix="meridian-cluster-")
        # The proxies listen before the nodes' ports are picked, so that no proxy takes one.
        self.proxies = [FaultProxy(None) for _ in layout] if proxies else []
        self.etcd = Etcd(self.root)
        self.certs = os.path.join(self.root, "certs")
        # The key-encryption key every node shares (an embedded default that grows into this
        # cluster is given it too: test_growth).
        self.kek = os.path.join(self.root, "kek.key")
        subprocess.run([BINARY, "kek", "create", "--out", self.kek], check=True,
                       capture_output=True)
        self.nodes = [Node(self, *n) for n in layout]
        # Every node issues tokens under one public URL, as behind a load balancer.
        self.public_url = self.nodes[0].url
        for n in self.nodes:
            n.write_config(self.public_url)

    def start(self):
        self.etcd.start()
        subprocess.run([BINARY, "cluster", "certs", "--out", self.certs] +
                       sum((["--node", n.id] for n in self.nodes), []),
                       check=True, capture_output=True)
        for n in self.nodes:
            n.start()
        for n in self.nodes:
            n.wait_ready()
        return self

    def node(self, node_id):
        return next(n for n in self.nodes if n.id == node_id)

    def sync_member_of(self, partition):
        """A node whose replica of `partition` is in its sync set, from each node's /metrics."""
        needle = 'meridian_replica_epoch{partition="%s",role="sync"}' % partition
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                if needle in n.session().get(n.url + "/metrics", timeout=5).text:
                    return n
        raise RuntimeError("no sync member of " + partition)

    def primary_of(self, partition, timeout=10):
        """The node whose replica of `partition` takes writes, from each node's /metrics."""
        deadline = time.time() + timeout
        needle = 'meridian_replica_accepting_writes{partition="%s",role="primary"} 1' % partition
        while time.time() < deadline:
            for n in self.nodes:
                if n.proc is None or n.proc.poll() is not None:
                    continue
                try:
                    if needle in n.session().get(n.url + "/metrics", timeout=5).text:
                        return n
                except (requests.RequestException, OSError):
                    pass
            time.sleep(0.1)
        raise RuntimeError("no primary of " + partition)

    def operator_key(self):
        with open(os.path.join(self.certs, "operator.key")) as f:
            return f.read().strip()

    def create_tenant(self, via, name, country):
        """Creates a tenant, retrying while a primary is still taking over (503)."""
        deadline = time.time() + 20
        while True:
            r = via.session().post(via.url + "/operator/v1/tenants",
                                   json={"displayName": name, "countryLetterCode": country},
                                   headers={"Authorization": "Bearer " + self.operator_key()},
                                   timeout=30)
            if r.status_code != 503 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert r.status_code == 201, r.text
        return r.json()

    def stop(self, keep=False):
        """Stops every node and etcd; returns the nodes' exit codes by id."""
        codes = {n.id: n.stop() for n in self.nodes}
        for n in self.nodes:
            if n.proxy:
                n.proxy.close()
        self.etcd.stop()
        keep = keep or os.environ.get("MERIDIAN_KEEP_CLUSTER")
        if keep:
            print("cluster files kept in " + self.root)
        else:
            shutil.rmtree(self.root, ignore_errors=True)
        return codes


def read_with_token(nodes, path, headers, token):
    """Reads `path` on every node with the replica token of a write; yields (node, response)."""
    for node in nodes:
        yield node, node.session().get(node.url + path, headers={**headers, TOKEN_HEADER: token},
                                       timeout=20)


def app_token(node, tenant):
    app = tenant["bootstrapApplication"]
    r = node.session().post(
        "%s/%s/oauth2/v2.0/token" % (node.url, tenant["tenantId"]),
        data={"grant_type": "client_credentials", "client_id": app["appId"],
              "client_secret": app["clientSecret"], "scope": tenant["graphScope"]}, timeout=20)
    return r
