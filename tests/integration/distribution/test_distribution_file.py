"""Proxies on the file store: fulcrum-control writes, every proxy serves the new revision; a proxy
boots from its cache when the store is gone; rollback; an invalid revision is refused and
reported. Real processes: fulcrum-control, fulcrum-proxy x2, fulcrum-echo x2."""

import json
import os
import subprocess

import fulcrum_test as ft
from distribution_support import (INVALID, Control, config_to, start_store_proxy, status_rows,
                                  wait_instances_at)


def write_revision_behind_the_control_plane(store_dir, number, text):
    """Writes revision `number` straight into a file store (as a buggy or older writer could)."""
    name = f"{number:020d}"
    meta = {"number": number, "author": "mallory", "time": "2026-01-01T00:00:00.000Z",
            "message": "written directly", "source": "api", "hash": "0", "parent": number - 1}
    with open(os.path.join(store_dir, "revisions", name + ".config"), "w") as f:
        f.write(text)
    with open(os.path.join(store_dir, "revisions", name + ".meta.json"), "w") as f:
        json.dump(meta, f)
    temp = os.path.join(store_dir, ".current.test")
    with open(temp, "w") as f:
        f.write(f"{number}\n")
    os.rename(temp, os.path.join(store_dir, "current"))


class FileStoreDistributionTest(ft.TestCase):
    def setUp(self):
        super().setUp()
        _, self.b1 = self.start_echo("b1")
        _, self.b2 = self.start_echo("b2")
        self.store_dir = self.path("store")
        self.store = "file://" + self.store_dir

    def test_apply_reaches_every_proxy_and_status_shows_them(self):
        control = Control(self, self.store)
        first = control.apply(config_to(self.b1))
        proxies = [start_store_proxy(self, self.store, pid) for pid in ("p1", "p2")]
        for p in proxies:
            p.wait_serving("b1")
        second = control.apply(config_to(self.b2))
        self.assertEqual(second, first + 1)
        for p in proxies:
            p.wait_serving("b2")
            self.assertEqual(p.config()["revision"], second)
            self.assertFalse(p.config()["from_cache"])
        wait_instances_at(control, ["p1", "p2"], second)
        instances = control.instances()
        self.assertEqual(instances["p1"]["adminAddress"], proxies[0].admin)
        code, out = control.fulcrumctl("status")
        self.assertEqual(code, 0, out)
        rows = status_rows(out)
        for pid in ("p1", "p2"):
            self.assertEqual(rows[pid][1], "current", out)
            self.assertEqual(rows[pid][2], str(second), out)

    def test_restart_from_cache_when_the_store_dir_is_gone(self):
        control = Control(self, self.store)
        first = control.apply(config_to(self.b1))
        proxy = start_store_proxy(self, self.store, "p1")
        proxy.wait_serving("b1")
        cache = os.path.join(proxy.cache_dir, "last-good.json")
        ft.wait_until(lambda: os.path.exists(cache), message="cache written")
        with open(cache) as f:
            self.assertEqual(json.load(f)["revision"], first)
        proxy.process.stop()
        control.process.stop()
        os.rename(self.store_dir, self.store_dir + ".gone")

        proxy = start_store_proxy(self, self.store, "p1", cache_dir=proxy.cache_dir)
        proxy.process.wait_for_line(r"has no revision yet; booting from cached revision 1",
                                    stream="stderr")
        proxy.wait_serving("b1")
        self.assertEqual(proxy.config()["revision"], first)
        self.assertTrue(proxy.config()["from_cache"])

        # A new store (the proxy created the directory): its first revision replaces the cache.
        control = Control(self, self.store)
        self.assertEqual(control.apply(config_to(self.b2)), 1)
        proxy.wait_serving("b2")
        self.assertFalse(proxy.config()["from_cache"])

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
        write_revision_behind_the_control_plane(self.store_dir, bad, INVALID)

        def refused():
            found = control.instances()
            return all(found[p]["refusedRevision"] == bad for p in ("p1", "p2")) and found
        found = ft.wait_until(refused, message="both proxies report the refusal")
        for pid in ("p1", "p2"):
            self.assertEqual(found[pid]["appliedRevision"], rolled)
            errors = "\n".join(found[pid]["errors"])
            self.assertIn(f"revision {bad}:", errors)
            self.assertIn('unknown pool "nope"', errors)
        for p in proxies:
            self.assertEqual(p.body(), "b1")
            self.assertEqual(p.config()["refused_revision"], bad)
        code, out = control.fulcrumctl("status")
        self.assertEqual(status_rows(out)["p1"][1], "refused", out)
        self.assertIn('unknown pool "nope"', out)

        # Restarted while the current revision is one it refuses: it serves its cached one.
        proxies[0].process.stop()
        p1 = start_store_proxy(self, self.store, "p1", cache_dir=proxies[0].cache_dir)
        p1.process.wait_for_line(rf"store revision {bad} refused; booting from cached revision "
                                 rf"{rolled} ", stream="stderr")
        self.assertEqual(p1.body(), "b1")
        # The stopped p1 deregistered; the new one registers (then reports) in its own time.
        ft.wait_until(lambda: control.instances().get("p1", {}).get("refusedRevision") == bad,
                      message="the restarted p1 reports the refusal")

    def test_store_and_config_are_mutually_exclusive(self):
        config = self.write_file("proxy.yaml", config_to(self.b1))
        for args, message in (
                (["--store", self.store, "--config", config], "mutually exclusive"),
                (["--store", "http://nowhere"], "expected file:///DIR or etcd://"),
                (["--config", config, "--cache-dir", self.path("c")], "only applies with --store"),
                ([], "--config FILE or --store URL is required")):
            done = subprocess.run([ft.bin_path("fulcrum-proxy"), *args], capture_output=True,
                                  text=True, timeout=ft.scaled(30))
            self.assertEqual(done.returncode, 2, (args, done.stderr))
            self.assertIn(message, done.stderr)


if __name__ == "__main__":
    ft.main()
