"""Helpers for control-plane integration tests: fulcrum-control, etcd, and API calls."""

import json
import os
import shutil
import socket
import subprocess

import fulcrum_test as ft

BASE = """apiVersion: fulcrum/v1
listeners:
  - {name: public, address: 127.0.0.1:8080}
routes:
  - name: web
    rules:
      - backends: [{pool: web}]
pools:
  - name: web
    endpoints: [{address: 127.0.0.1:9001}]
"""

# Two located errors: a bad port and an unknown pool.
INVALID = """apiVersion: fulcrum/v1
listeners:
  - {name: public, address: 127.0.0.1:99999}
routes:
  - name: web
    rules:
      - backends: [{pool: nope}]
pools: []
"""

TOKENS = "adm-token admin ada\ned-token editor eddie\nview-token viewer vic\n"


def _os_port():
    """A port the OS just handed out (bound to port 0, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_etcd(log_dir, attempts=5):
    """Starts a one-member etcd on loopback in log_dir/etcd; returns (Process, "127.0.0.1:PORT").

    etcd cannot bind port 0 for its peer URL, so ports come from the OS and the start is retried
    on a collision.
    """
    etcd = shutil.which("etcd")
    if not etcd:
        raise RuntimeError("etcd is not installed (scripts/bootstrap installs etcd-server)")
    data = os.path.join(log_dir, "etcd-data")
    for _ in range(attempts):
        client, peer = _os_port(), _os_port()
        client_url, peer_url = f"http://127.0.0.1:{client}", f"http://127.0.0.1:{peer}"
        process = ft.Process([etcd, "--name", "t", "--data-dir", data,
                              "--listen-client-urls", client_url,
                              "--advertise-client-urls", client_url,
                              "--listen-peer-urls", peer_url,
                              "--initial-advertise-peer-urls", peer_url,
                              "--initial-cluster", f"t={peer_url}", "--log-level", "warn"],
                             name="etcd", log_dir=log_dir)
        addr = f"127.0.0.1:{client}"

        def ready():
            if not process.running():
                return "exited"
            status, _, _ = ft.http_request(addr, "GET", "/health", timeout=2)
            return "ready" if status == 200 else None

        try:
            state = ft.wait_until(ready, ignore=(OSError,), message="etcd /health")
        except ft.WaitTimeout:
            process.stop()
            raise
        if state == "ready":
            return process, addr
        process.stop()
        shutil.rmtree(data, ignore_errors=True)
    raise RuntimeError("etcd did not start (port collisions?)")


class Api:
    """Calls the REST API of one fulcrum-control."""

    def __init__(self, addr, token=None):
        self.addr = addr
        self.token = token

    def call(self, method, path, body=None, token="default", headers=None, content_type=None):
        h = dict(headers or {})
        token = self.token if token == "default" else token
        if token:
            h["Authorization"] = f"Bearer {token}"
        if body is not None and content_type is None:
            content_type = "application/json" if isinstance(body, (dict, list)) else \
                "application/yaml"
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if content_type:
            h["Content-Type"] = content_type
        status, headers, data = ft.http_request(self.addr, method, path, headers=h, body=body)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data.decode()
        return status, headers, parsed


def start_control(test, store_url, tokens=TOKENS, extra=()):
    """Starts fulcrum-control on 127.0.0.1:0; returns (Process, addr)."""
    args = [ft.bin_path("fulcrum-control"), "--store", store_url, "--listen", "127.0.0.1:0",
            *extra]
    if tokens is not None:
        path = test.write_file("tokens", tokens)
        args += ["--tokens", path]
    process = test.start(args, name="control")
    match = process.wait_for_line(r"^listening on (\S+)$")
    return process, match.group(1)
