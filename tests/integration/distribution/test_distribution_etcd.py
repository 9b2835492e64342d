"""Proxies on etcd: apply through fulcrum-control and every proxy serves it; etcd down, proxies
keep serving and a restarted proxy boots from its cache; etcd back, they catch up; compaction
while a proxy is cut off; rollback; an invalid revision written straight into etcd is refused and
reported. Real processes: etcd, fulcrum-control, fulcrum-proxy x2, fulcrum-echo x2."""

import json

import etcd_support
import fulcrum_test as ft
from distribution_support import (INVALID, Control, config_to, start_store_proxy, status_rows,
                                  wait_instances_at)

PREFIX = "/it"


def write_revision_behind_the_control_plane(addr, number, text):
    """Puts revision `number` straight into etcd (config, metadata, then the pointer)."""
    name = f"{number:020d}"
    meta = {"number": number, "author": "mallory", "time": "2026-01-01T00:00:00.000Z",
            "message": "written directly", "source": "api", "hash": "0", "parent": number - 1}
    etcd_support.put(addr, f"{PREFIX}/v1/configs/{name}", text)
    etcd_support.put(addr, f"{PREFIX}/v1/revisions/{name}", json.dumps(meta))
    etcd_support.put(addr, f"{PREFIX}/v1/current", str(number))


class EtcdDistributionTest(ft.TestCase):
    def setUp(self):
        super().setUp()
        _, self.b1 = self.start_echo("b1")
        _, self.b2 = self.start_echo("b2")
        self.etcd = etcd_support.start_etcd(self.tmp)
        self.addCleanup(self.etcd.stop)
        self.store = self.etcd.url(PREFIX)

    def test_apply_reaches_every_proxy_and_status_shows_them(self):
        control = Control(self, self.store)
        control.apply(config_to(self.b1))
        proxies = [start_store_proxy(self, self.store, pid) for pid in ("p1", "p2")]
        for p in proxies:
            p.wait_serving("b1")
        second = control.apply(config_to(self.b2))
        for p in proxies:
            p.wait_serving("b2")
            self.assertEqual(p.config()["revision"], second)
        wait_instances_at(control, ["p1", "p2"], second)
        self.assertEqual(control.instances()["p2"]["adminAddress"], proxies[1].admin)
        code, out = control.fulcrumctl("status")
        self.assertEqual(code, 0, out)
        for pid in ("p1", "p2"):
            self.assertEqual(status_rows(out)[pid][1:3], ["current", str(second)], out)
        # A stopped proxy's lease is revoked: it leaves the list.
        proxies[1].process.stop()
        ft.wait_until(lambda: "p2" not in control.instances(), message="p2 deregistered")

    def test_outage_cache_and_catch_up(self):
        control = Control(self, self.store)
        first = control.apply(config_to(self.b1))
        p1 = start_store_proxy(self, self.store, "p1")
        p2 = start_store_proxy(self, self.store, "p2")
        for p in (p1, p2):
            p.wait_serving("b1")
            ft.wait_until(lambda p=p: p.config()["revision"] == first)
        wait_instances_at(control, ["p1", "p2"], first)  # the caches are written by now

        self.etcd.stop()
        p1.process.wait_for_line(r"unreachable: .*still serving revision 1", stream="stderr")
        for _ in range(20):
            self.assertEqual(p1.body(), "b1")
            self.assertEqual(p2.body(), "b1")

        # A proxy restarted during the outage serves its cached revision.
        p2.process.stop()
        p2 = start_store_proxy(self, self.store, "p2", cache_dir=p2.cache_dir,
                               extra=("--store-boot-wait", "1s"))
        p2.process.wait_for_line(r"booting from cached revision 1 ", stream="stderr")
        self.assertEqual(p2.body(), "b1")
        self.assertTrue(p2.config()["from_cache"])

        # etcd back: a newer revision reaches both, and both register again.
        self.etcd.start()
        third = ft.wait_until(lambda: self._apply_when_up(control, config_to(self.b2)),
                              message="control plane writes again")
        for p in (p1, p2):
            p.wait_serving("b2")
            self.assertEqual(p.config()["revision"], third)
            self.assertFalse(p.config()["from_cache"])
        wait_instances_at(control, ["p1", "p2"], third)

    @staticmethod
    def _apply_when_up(control, text):
        status, body = control.call("PUT", "/config", text)
        return int(body["current"]) if status == 200 else None

    def test_compaction_while_a_proxy_is_cut_off(self):
        relay = etcd_support.TcpRelay(self.etcd.addr)
        self.addCleanup(relay.close)
        control = Control(self, self.store)
        control.apply(config_to(self.b1))
        proxy = start_store_proxy(self, f"etcd://{relay.addr}/?prefix={PREFIX}", "p1")
        proxy.wait_serving("b1")

        relay.cut()
        proxy.process.wait_for_line(r"unreachable", stream="stderr")
        for i in range(5):
            last = control.apply(config_to(self.b2 if i % 2 == 0 else self.b1, note=f"{i}"))
        etcd_support.compact(self.etcd.addr)
        self.assertEqual(proxy.body(), "b1")  # still the old revision, still serving

        relay.restore()
        proxy.wait_serving("b2")
        ft.wait_until(lambda: proxy.config()["revision"] == last, message="resynced to newest")
        wait_instances_at(control, ["p1"], last)

    def test_rollback_and_a_refused_revision(self):
        control = Control(self, self.store)
        first = control.apply(config_to(self.b1))
        control.apply(config_to(self.b2))
        proxies = [start_store_proxy(self, self.store, pid) for pid in ("p1", "p2")]
        for p in proxies:
            p.wait_serving("b2")
        rolled = control.rollback(first)
        for p in proxies:
            p.wait_serving("b1")
        wait_instances_at(control, ["p1", "p2"], rolled)

        bad = rolled + 1
        write_revision_behind_the_control_plane(self.etcd.addr, bad, INVALID)

        def refused():
            found = control.instances()
            return all(found[p]["refusedRevision"] == bad for p in ("p1", "p2")) and found
        found = ft.wait_until(refused, message="both proxies report the refusal")
        for pid in ("p1", "p2"):
            self.assertEqual(found[pid]["appliedRevision"], rolled)
            self.assertIn('unknown pool "nope"', "\n".join(found[pid]["errors"]))
        for p in proxies:
            self.assertEqual(p.body(), "b1")
        code, out = control.fulcrumctl("status")
        self.assertEqual(status_rows(out)["p2"][1], "refused", out)

        # The next good revision is applied as usual.
        fixed = control.apply(config_to(self.b2))
        self.assertEqual(fixed, bad + 1)
        for p in proxies:
            p.wait_serving("b2")


if __name__ == "__main__":
    ft.main()
