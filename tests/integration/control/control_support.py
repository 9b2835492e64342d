"""Helpers for control-plane integration tests: fulcrum-control, etcd, and API calls."""

import json

import etcd_support
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


def start_etcd(log_dir):
    """Starts a one-member etcd on loopback in log_dir; returns (Process, "127.0.0.1:PORT")."""
    etcd = etcd_support.start_etcd(log_dir)
    return etcd.members[0].process, etcd.addr


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
