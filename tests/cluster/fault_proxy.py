"""A TCP proxy in front of a node's peer (gRPC) port, for fault injection.

Every node advertises its proxy's port as `peer_advertise`, so every connection another node
opens to it (appends, status calls, checkpoints, forwarded requests) runs through its proxy. The
bytes are passed through unchanged (the mutual TLS is end to end). The nemesis can:

- cut the node's inbound links (`cut()`): every open connection through the proxy is reset and
  every new one is accepted and reset at once, until `restore()`. Since gRPC runs each call and
  its answer on the connection its caller opened, a cut of node X's inbound links stops every
  call *to* X (and its answer) while X's own calls to other nodes, and their answers, still go:
  a one-way cut. Cutting both nodes of a pair cuts every call between them; cutting every node
  of a datacenter isolates it from the rest for peer traffic.
- delay every chunk in both directions of the node's inbound connections (`set_delay()`).

What it cannot cut: a node's links to etcd (a cut node keeps its lease: this is the "cut off
from its peers but not from the configuration store" case), a node's calls to itself, and the
clients' HTTPS traffic. It does not drop single messages: a cut is for whole connections, and
gRPC redials once the cut is restored.

All proxies of a process share one asyncio loop on a background thread; the control methods may
be called from any thread.
"""
import asyncio
import socket
import threading


class _Loop:
    """The one event loop thread all proxies of the process run on."""
    _instance = None
    _lock = threading.Lock()

    @classmethod
    def get(cls):
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def __init__(self):
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="fault-proxy", daemon=True).start()

    def call(self, coro_or_fn, *args):
        """Runs `coro_or_fn(*args)` on the loop and returns its result."""
        async def run():
            r = coro_or_fn(*args)
            return await r if asyncio.iscoroutine(r) else r
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout=10)


class FaultProxy:
    """Listens on 127.0.0.1:<port> (free, picked at construction) and forwards to
    127.0.0.1:<target_port> (which may be set after construction, before the first connection).
    Counts the connections it reset."""

    def __init__(self, target_port):
        self.target_port = target_port
        self._loop = _Loop.get()
        self._cut = False
        self._delay = 0.0
        self._conns = set()  # (client writer, upstream writer or None); touched on the loop only
        self.resets = 0
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._server = self._loop.call(lambda: asyncio.start_server(self._handle, sock=sock))

    # ---- control (any thread) ----

    def cut(self):
        """Resets every connection through the proxy and every new one until restore()."""
        self._loop.call(self._cut_now)

    def restore(self):
        self._loop.call(self._set, False, 0.0)

    def set_delay(self, seconds):
        """Delays every chunk, in each direction, by `seconds` (0: no delay)."""
        self._loop.call(self._set, self._cut, seconds)

    @property
    def is_cut(self):
        return self._cut

    def close(self):
        def shut():
            self._server.close()
            self._cut_now()
        self._loop.call(shut)

    # ---- on the loop ----

    def _set(self, cut, delay):
        self._cut, self._delay = cut, delay

    def _cut_now(self):
        self._cut = True
        for conn in list(self._conns):
            self._abort(conn)
        self._conns.clear()

    def _abort(self, conn):
        self.resets += 1
        for w in conn:
            if w is not None:
                w.transport.abort()

    async def _handle(self, reader, writer):
        if self._cut:
            self.resets += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        if self._cut:  # cut while dialling
            writer.transport.abort()
            up_writer.transport.abort()
            return
        conn = (writer, up_writer)
        self._conns.add(conn)
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        finally:
            self._conns.discard(conn)
            for w in conn:
                w.transport.abort()

    async def _pump(self, reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                if self._delay:
                    await asyncio.sleep(self._delay)
                if self._cut:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()
