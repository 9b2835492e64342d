"""etcd for integration tests: one member or a 3-member cluster on loopback, and a few calls of
the etcd v3 JSON gateway (put, range, compaction, status) with the stdlib only.

Each etcd gets its own data dir under the caller's temp dir. etcd cannot listen on port 0, so its
ports come from the OS (bound to port 0, then released) and a start is retried on a collision.
"""

import base64
import json
import os
import shutil
import socket
import threading

import fulcrum_test as ft


def _os_port():
    """A port the OS just handed out (bound to port 0, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _etcd_binary():
    etcd = shutil.which("etcd")
    if not etcd:
        raise RuntimeError("etcd is not installed (scripts/bootstrap installs etcd-server)")
    return etcd


def _healthy(addr):
    status, _, _ = ft.http_request(addr, "GET", "/health", timeout=2)
    return status == 200


class Member:
    """One etcd member: name, client address, peer URL, data dir and its Process."""

    def __init__(self, name, client_port, peer_port, data_dir):
        self.name = name
        self.addr = f"127.0.0.1:{client_port}"
        self.client_url = f"http://127.0.0.1:{client_port}"
        self.peer_url = f"http://127.0.0.1:{peer_port}"
        self.data_dir = data_dir
        self.process = None

    def args(self, initial_cluster, state="new"):
        return [_etcd_binary(), "--name", self.name, "--data-dir", self.data_dir,
                "--listen-client-urls", self.client_url,
                "--advertise-client-urls", self.client_url,
                "--listen-peer-urls", self.peer_url,
                "--initial-advertise-peer-urls", self.peer_url,
                "--initial-cluster", initial_cluster, "--initial-cluster-state", state,
                "--initial-cluster-token", "fulcrum-test", "--log-level", "warn"]


class Etcd:
    """A running etcd (one member or a cluster). `endpoints` is "h:p,h:p,..." for etcd:// URLs.

    stop() and start() keep the data dirs, so a restarted etcd has the same data (the client
    ports stay the same too: an outage and a recovery, as a proxy sees them).
    """

    def __init__(self, members, log_dir):
        self.members = members
        self.log_dir = log_dir
        self.initial_cluster = ",".join(f"{m.name}={m.peer_url}" for m in members)

    @property
    def endpoints(self):
        return ",".join(m.addr for m in self.members)

    @property
    def addr(self):
        return self.members[0].addr

    def url(self, prefix=None):
        return f"etcd://{self.endpoints}" + (f"/?prefix={prefix}" if prefix else "")

    def start_member(self, member):
        state = "existing" if os.path.exists(os.path.join(member.data_dir, "member")) else "new"
        member.process = ft.Process(member.args(self.initial_cluster, state), name=member.name,
                                    log_dir=self.log_dir)

    def start(self):
        for member in self.members:
            if member.process is None or not member.process.running():
                self.start_member(member)
        self.wait_healthy()

    def wait_healthy(self, members=None):
        members = members or [m for m in self.members if m.process and m.process.running()]

        def ready():
            for m in members:
                if not m.process.running():
                    return "exited"
            return "ready" if all(_healthy(m.addr) for m in members) else None

        state = ft.wait_until(ready, ignore=(OSError,), message="etcd /health")
        if state == "exited":
            raise RuntimeError("etcd exited (port collision?)")

    def stop(self):
        for member in self.members:
            if member.process is not None:
                member.process.stop()

    def leader(self):
        """The member that is leader now (asked to each running member), or None."""
        for m in self.members:
            if m.process is None or not m.process.running():
                continue
            try:
                status = gateway(m.addr, "/v3/maintenance/status", {})
            except (OSError, ValueError):
                continue
            if status.get("leader") and status.get("leader") == status.get("header", {}).get(
                    "member_id"):
                return m
        return None


def _start(log_dir, names, attempts=5):
    for _ in range(attempts):
        members = [Member(n, _os_port(), _os_port(), os.path.join(log_dir, f"{n}-data"))
                   for n in names]
        etcd = Etcd(members, log_dir)
        for m in members:
            etcd.start_member(m)
        try:
            etcd.wait_healthy(members)
            return etcd
        except RuntimeError:
            etcd.stop()
            for m in members:
                shutil.rmtree(m.data_dir, ignore_errors=True)
    raise RuntimeError("etcd did not start (port collisions?)")


def start_etcd(log_dir, attempts=5):
    """Starts a one-member etcd on loopback under log_dir; returns an Etcd."""
    return _start(log_dir, ["e1"], attempts)


def start_etcd_cluster(log_dir, size=3, attempts=5):
    """Starts a `size`-member etcd cluster on loopback under log_dir; returns an Etcd."""
    return _start(log_dir, [f"e{i + 1}" for i in range(size)], attempts)


# ---------------------------------------------------------------------------------------------
# The v3 JSON gateway (etcd 3.4): keys and values travel base64-encoded.


def _b64(text):
    return base64.b64encode(text.encode() if isinstance(text, str) else text).decode()


def gateway(addr, path, body, timeout=None):
    status, _, data = ft.http_request(addr, "POST", path, body=json.dumps(body),
                                      headers={"Content-Type": "application/json"},
                                      timeout=timeout)
    if status != 200:
        raise AssertionError(f"etcd {path}: {status} {data[:300]!r}")
    return json.loads(data)


def put(addr, key, value):
    return gateway(addr, "/v3/kv/put", {"key": _b64(key), "value": _b64(value)})


def get(addr, key):
    """The value of `key` as text, or None."""
    answer = gateway(addr, "/v3/kv/range", {"key": _b64(key)})
    kvs = answer.get("kvs") or []
    return base64.b64decode(kvs[0]["value"]).decode() if kvs else None


def revision(addr):
    """etcd's current (store-wide) revision."""
    answer = gateway(addr, "/v3/kv/range", {"key": _b64("\0")})
    return int(answer["header"]["revision"])


def compact(addr, rev=None):
    """Compacts etcd's history up to `rev` (default: the current revision); returns it."""
    rev = revision(addr) if rev is None else rev
    gateway(addr, "/v3/kv/compaction", {"revision": str(rev), "physical": True})
    return rev


# ---------------------------------------------------------------------------------------------
# A TCP relay whose link can be cut: a client "disconnected" from a server that keeps running.


class TcpRelay:
    """Listens on 127.0.0.1:0 and forwards every connection to `target` ("host:port").

    cut() closes every relayed connection and refuses new ones (they are accepted and closed at
    once) until restore(). Threads are daemons; close() stops everything.
    """

    def __init__(self, target):
        self.target = ft.split_addr(target)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.addr = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self._lock = threading.Lock()
        self._sockets = set()
        self._open = True
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                if self._closed:
                    client.close()
                    return
                if not self._open:
                    client.close()
                    continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source, sink):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        with self._lock:
            self._open = False
            sockets, self._sockets = self._sockets, set()
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self):
        with self._lock:
            self._open = True

    def close(self):
        with self._lock:
            self._closed = True
        self.cut()
        self.listener.close()
