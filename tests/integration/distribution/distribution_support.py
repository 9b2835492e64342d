"""Helpers for the distribution tests: proxies on a config store, fulcrum-control, configs whose
answers tell which revision a proxy serves."""

import json
import os
import re
import subprocess

import fulcrum_test as ft

TOKENS = "adm-token admin ada\ned-token editor eddie\n"


def config_to(backend_addr, note=""):
    """A config whose only route sends everything to `backend_addr` (an echo: it answers with
    its name). The listener is on port 0: each proxy gets its own port and prints it."""
    return ("apiVersion: fulcrum/v1\n"
            f"# {note}\n"
            "listeners:\n"
            "  - {name: web, address: 127.0.0.1:0}\n"
            "routes:\n"
            "  - name: all\n"
            "    rules:\n"
            "      - backends: [{pool: p}]\n"
            "pools:\n"
            "  - name: p\n"
            f"    endpoints: [{{address: \"{backend_addr}\"}}]\n")


# Two located errors: an unknown pool and a bad port.
INVALID = ("apiVersion: fulcrum/v1\n"
           "listeners:\n"
           "  - {name: web, address: 127.0.0.1:99999}\n"
           "routes:\n"
           "  - name: all\n"
           "    rules:\n"
           "      - backends: [{pool: nope}]\n"
           "pools: []\n")


class StoreProxy:
    """A fulcrum-proxy started with --store: process, id, admin address, listener address."""

    def __init__(self, process, proxy_id, admin, addr, cache_dir):
        self.process = process
        self.id = proxy_id
        self.admin = admin
        self.addr = addr
        self.cache_dir = cache_dir

    def body(self, path="/"):
        """The body of GET path through this proxy, as text ("" on a non-200)."""
        status, _, body = ft.http_request(self.addr, "GET", path, timeout=ft.scaled(5))
        return body.decode().strip() if status == 200 else ""

    def config(self):
        _, _, body = ft.http_request(self.admin, "GET", "/config")
        return json.loads(body)

    def serves(self, name):
        try:
            return self.body() == name
        except OSError:
            return False

    def wait_serving(self, name, message=None):
        ft.wait_until(lambda: self.serves(name), ignore=(OSError,),
                      message=message or f"{self.id} serves {name}")


def start_store_proxy(tc, store_url, proxy_id, cache_dir=None, workers=1, extra=(),
                      wait_ready=True):
    """Starts fulcrum-proxy --store; waits for its admin and `web` listener lines."""
    cache_dir = cache_dir or tc.path("cache", proxy_id)
    process = tc.start([ft.bin_path("fulcrum-proxy"), "--store", store_url, "--admin",
                        "127.0.0.1:0", "--workers", workers, "--id", proxy_id, "--cache-dir",
                        cache_dir, *extra], name=proxy_id)
    admin = process.wait_for_line(r"^admin on (\S+)$").group(1)
    addr = None
    if wait_ready:
        addr = process.wait_for_line(r"^listening web on (\S+)$").group(1)
        ft.wait_until(lambda: ft.http_request(admin, "GET", "/readyz")[0] == 200,
                      message=f"{proxy_id} ready", ignore=(OSError,))
    return StoreProxy(process, proxy_id, admin, addr, cache_dir)


class Control:
    """One fulcrum-control and its REST API (editor token by default)."""

    def __init__(self, tc, store_url):
        tokens = tc.write_file("tokens", TOKENS)
        self.process = tc.start([ft.bin_path("fulcrum-control"), "--store", store_url,
                                 "--listen", "127.0.0.1:0", "--tokens", tokens], name="control")
        self.addr = self.process.wait_for_line(r"^listening on (\S+)$").group(1)

    def call(self, method, path, body=None, token="ed-token", content_type=None):
        headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            if isinstance(body, (dict, list)):
                body = json.dumps(body)
                content_type = content_type or "application/json"
            headers["Content-Type"] = content_type or "application/yaml"
        status, _, data = ft.http_request(self.addr, method, "/api/v1" + path, headers=headers,
                                          body=body)
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, data.decode()

    def apply(self, text):
        """PUT the whole config; returns the new revision number."""
        status, body = self.call("PUT", "/config", text)
        if status != 200:
            raise AssertionError(f"PUT /config: {status} {body}")
        return int(body["current"])

    def current(self):
        status, body = self.call("GET", "/revisions?limit=1")
        if status != 200:
            raise AssertionError(f"GET /revisions: {status} {body}")
        return int(body["current"])

    def rollback(self, revision):
        status, body = self.call("POST", "/rollback", {"revision": revision}, token="adm-token")
        if status not in (200, 201):
            raise AssertionError(f"POST /rollback: {status} {body}")
        return int(body["current"])

    def instances(self):
        status, body = self.call("GET", "/instances")
        if status != 200:
            raise AssertionError(f"GET /instances: {status} {body}")
        return {item["id"]: item for item in body["items"]}

    def fulcrumctl(self, *args):
        """Runs fulcrumctl against this control plane; returns (exit code, stdout)."""
        env = dict(os.environ, FULCRUM_SERVER=f"http://{self.addr}", FULCRUM_TOKEN="ed-token")
        done = subprocess.run([ft.bin_path("fulcrumctl"), *args], env=env, capture_output=True,
                              text=True, timeout=ft.scaled(30))
        return done.returncode, done.stdout + done.stderr


def wait_instances_at(control, ids, revision):
    """Waits until every instance in `ids` is registered, alive and reports `revision` applied."""
    def check():
        found = control.instances()
        return all(i in found and found[i]["alive"] and found[i]["appliedRevision"] == revision
                   for i in ids)
    ft.wait_until(check, message=f"instances {ids} at revision {revision}")


def status_rows(output):
    """fulcrumctl status (table) -> {id: [columns...]}."""
    rows = {}
    for line in output.splitlines():
        cols = re.split(r"\s{2,}", line.strip())
        if len(cols) >= 3 and cols[0] not in ("ID",):
            rows[cols[0]] = cols
    return rows
