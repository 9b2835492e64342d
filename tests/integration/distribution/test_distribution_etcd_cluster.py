"""A 3-member etcd cluster on loopback loses its leader under a steady trickle of requests: writes
resume through fulcrum-control, both proxies pick up the new revision, and not one request fails.
Real processes: etcd x3, fulcrum-control, fulcrum-proxy x2, fulcrum-echo x2."""

import threading
import time

import etcd_support
import fulcrum_test as ft
from distribution_support import Control, config_to, start_store_proxy, wait_instances_at

PREFIX = "/it"


class EtcdClusterTest(ft.TestCase):
    def test_leader_killed_writes_resume_and_no_request_fails(self):
        _, b1 = self.start_echo("b1")
        _, b2 = self.start_echo("b2")
        cluster = etcd_support.start_etcd_cluster(self.tmp)
        self.addCleanup(cluster.stop)
        store = cluster.url(PREFIX)
        control = Control(self, store)
        control.apply(config_to(b1))
        proxies = [start_store_proxy(self, store, pid) for pid in ("p1", "p2")]
        for p in proxies:
            p.wait_serving("b1")

        stop = threading.Event()
        outcome = {"ok": 0, "failed": []}

        def load():
            # Light steady load: one request per proxy every ~20 ms, each on a fresh connection.
            while not stop.is_set():
                for p in proxies:
                    try:
                        status, _, body = ft.http_request(p.addr, "GET", "/",
                                                          timeout=ft.scaled(5))
                        if status == 200 and body.strip() in (b"b1", b"b2"):
                            outcome["ok"] += 1
                        else:
                            outcome["failed"].append((p.id, status, body[:100]))
                    except OSError as error:
                        outcome["failed"].append((p.id, repr(error)))
                stop.wait(0.02)

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        try:
            leader = ft.wait_until(cluster.leader, message="an etcd leader")
            leader.process.kill()

            def write():
                status, body = control.call("PUT", "/config", config_to(b2))
                return int(body["current"]) if status == 200 else None
            started = time.monotonic()
            second = ft.wait_until(write, timeout=ft.scaled(60), message="writes resume")
            print(f"write accepted {time.monotonic() - started:.2f}s after the leader died")
            for p in proxies:
                p.wait_serving("b2")
            wait_instances_at(control, ["p1", "p2"], second)
            seen = outcome["ok"]  # keep the load running a little past the switch
            ft.wait_until(lambda: outcome["ok"] >= seen + 20, message="load after the switch")
        finally:
            stop.set()
            loader.join()
        self.assertEqual(outcome["failed"], [])
        self.assertGreater(outcome["ok"], 20)


if __name__ == "__main__":
    ft.main()
