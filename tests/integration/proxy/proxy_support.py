"""Helpers shared by the fulcrum-proxy integration tests: configs, starting the proxy, /proc."""

import os
import re

import fulcrum_test as ft


def pool_yaml(name, endpoints, extra=""):
    eps = "".join(f"\n      - {{address: \"{ep}\"}}" for ep in endpoints)
    return f"  - name: {name}\n    endpoints:{eps}\n{extra}"


def simple_config(endpoints, limits="", timeouts="", listener_extra="", routes=None, pools=None):
    """One listener `web` on port 0, one route `all` to pool `p` over `endpoints`."""
    limits_yaml = f"\n    limits: {{{limits}}}" if limits else ""
    timeouts_yaml = f"\n        timeouts: {{{timeouts}}}" if timeouts else ""
    routes = routes or (
        "  - name: all\n"
        "    rules:\n"
        f"      - backends: [{{pool: p}}]{timeouts_yaml}\n")
    pools = pools or pool_yaml("p", endpoints)
    return ("apiVersion: fulcrum/v1\n"
            "listeners:\n"
            f"  - name: web\n    address: 127.0.0.1:0{limits_yaml}{listener_extra}\n"
            f"routes:\n{routes}"
            f"pools:\n{pools}")


class Proxy:
    def __init__(self, process, admin, listeners):
        self.process = process
        self.admin = admin
        self.listeners = listeners

    @property
    def addr(self):
        return self.listeners["web"]

    def metrics(self):
        _, _, body = ft.http_request(self.admin, "GET", "/metrics")
        return body.decode()

    def metric(self, name, labels=None):
        """The value of one sample, 0 when absent."""
        text = self.metrics()
        want = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
                       if labels else "")
        for line in text.splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        return 0.0

    def rss_kib(self, field="VmRSS"):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        raise AssertionError(f"no {field} for pid {self.process.pid}")


def start_proxy(tc, config_text, workers=1, extra=(), listeners=("web",), config_name="proxy.yaml",
                wait_ready=True):
    """Writes the config into the test's temp dir and starts fulcrum-proxy on it."""
    path = tc.write_file(config_name, config_text)
    process = tc.start([ft.bin_path("fulcrum-proxy"), "--config", path, "--admin", "127.0.0.1:0",
                        "--workers", workers, "--id", tc._testMethodName, *extra], name="proxy")
    admin = process.wait_for_line(r"^admin on (\S+)$").group(1)
    found = {}
    for name in listeners:
        found[name] = process.wait_for_line(rf"^listening {re.escape(name)} on (\S+)$").group(1)
    proxy = Proxy(process, admin, found)
    proxy.config_path = path
    if wait_ready:
        ft.wait_until(lambda: ft.http_request(admin, "GET", "/readyz")[0] == 200,
                      message="proxy ready", ignore=(OSError,))
    return proxy


def write_atomically(path, text):
    """Like editors and config tools: write a temp file, then rename it over the config."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def dead_address(tc):
    """An address nobody listens on (an echo that was started and stopped)."""
    process, addr = tc.start_echo("dead")
    process.stop()
    return addr


def requests_seen(echo_addr):
    return ft.echo_stats(echo_addr)["requests"]
