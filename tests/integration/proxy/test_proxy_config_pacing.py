"""Config work is paced (--config-cpu-budget, ConfigPacer): a config file that keeps changing is
applied newest first at a bounded share of a core, and no change is lost."""

import json

import fulcrum_test as ft
from proxy_support import start_proxy, write_atomically

ROUTES = 3000  # a revision costs milliseconds of CPU: at 1 % of a core, a second or more to repay


def config_text(echo, variant):
    routes = [{"name": f"r{i}", "hostnames": [f"h{i}.test"],
               "rules": [{"matches": [{"path": {"type": "PathPrefix", "value": f"/svc/{i}"}}],
                          "backends": [{"pool": "p"}]}]} for i in range(ROUTES)]
    routes.append({"name": f"churn{variant}", "hostnames": [f"churn{variant}.test"],
                   "rules": [{"backends": [{"pool": "p"}]}]})
    return json.dumps({
        "apiVersion": "fulcrum/v1",
        "listeners": [{"name": "web", "address": "127.0.0.1:0"}],
        "routes": routes,
        "pools": [{"name": "p", "endpoints": [{"address": echo}]}]})


class ConfigPacingTest(ft.TestCase):
    def status(self, proxy, variant):
        return ft.http_request(proxy.addr, "GET", "/", headers={"Host": f"churn{variant}.test"})[0]

    def serves(self, proxy, variant):
        return self.status(proxy, variant) == 200

    def test_changes_while_in_debt_wait_and_the_newest_lands(self):
        _, echo = self.start_echo("e")
        proxy = start_proxy(self, config_text(echo, 0), config_name="proxy.json",
                            extra=("--config-cpu-budget", "1"))
        self.assertGreater(proxy.metric("fulcrum_config_cpu_seconds_total"), 0)
        write_atomically(proxy.config_path, config_text(echo, 1))
        # The start-up load put the pacer in debt: even the first change may wait; it lands.
        ft.wait_until(lambda: self.serves(proxy, 1), timeout=ft.scaled(60),
                      message="variant 1 applied")
        applied = proxy.metric("fulcrum_config_reloads_total", {"result": "success"})
        # A burst of changes right after a revision: the pacer holds them back (the revision just
        # applied is owed), keeps only the newest, and applies it once the debt is repaid.
        for variant in (2, 3, 4):
            write_atomically(proxy.config_path, config_text(echo, variant))
        ft.wait_until(lambda: self.serves(proxy, 4), timeout=ft.scaled(60),
                      message="the newest change applied")
        self.assertEqual(self.status(proxy, 1), 404)
        self.assertGreaterEqual(proxy.metric("fulcrum_config_paced_total"), 1)
        # Variants 2 and 3 were superseded while they waited: at most one more revision than the
        # burst's newest was loaded (the watcher may have reported the burst in two parts).
        self.assertLessEqual(
            proxy.metric("fulcrum_config_reloads_total", {"result": "success"}) - applied, 2)
        self.assertEqual(proxy.metric("fulcrum_config_reloads_total", {"result": "failure"}), 0)

    def test_full_budget_applies_every_change_at_once(self):
        _, echo = self.start_echo("e")
        proxy = start_proxy(self, config_text(echo, 0), config_name="proxy.json",
                            extra=("--config-cpu-budget", "100"))
        for variant in (1, 2):
            write_atomically(proxy.config_path, config_text(echo, variant))
            ft.wait_until(lambda v=variant: self.serves(proxy, v), timeout=ft.scaled(30),
                          message=f"variant {variant} applied")
        self.assertEqual(proxy.metric("fulcrum_config_paced_total"), 0)

    def test_a_revision_reuses_memory_instead_of_faulting_in_new_pages(self):
        # A revision allocates blocks of hundreds of kilobytes (the config text and its copies,
        # the decoder's tables). With the heap trimmed to its last byte each was a fresh mapping,
        # faulted in page by page: ~1,500 minor faults per revision of this config; the free
        # space kept at the heap's top (M_TOP_PAD) makes it ~100. Counted on the main thread,
        # where revisions run; page faults do not depend on the machine's speed.
        _, echo = self.start_echo("e")
        proxy = start_proxy(self, config_text(echo, 0), config_name="proxy.json",
                            extra=("--config-cpu-budget", "100"))
        pid = proxy.process.pid

        def main_thread_faults():
            with open(f"/proc/{pid}/task/{pid}/stat") as f:
                return int(f.read().rsplit(")", 1)[1].split()[7])  # minflt

        def apply(variant):
            write_atomically(proxy.config_path, config_text(echo, variant))
            ft.wait_until(lambda: self.serves(proxy, variant), timeout=ft.scaled(30),
                          message=f"variant {variant} applied")

        apply(1)  # the first revision grows the heap to what two configs need
        before = main_thread_faults()
        revisions = 4
        for variant in range(2, 2 + revisions):
            apply(variant)
        per_revision = (main_thread_faults() - before) / revisions
        # Margin for a kernel without transparent huge pages: the route table's one array of
        # 1 MiB or more is then 256 faults.
        self.assertLess(per_revision, 600)

    def test_budget_out_of_range_is_refused(self):
        process = self.start([ft.bin_path("fulcrum-proxy"), "--config", self.write_file(
            "p.yaml", "apiVersion: fulcrum/v1\n"), "--config-cpu-budget", "0"], name="proxy")
        self.assertNotEqual(process.wait(timeout=ft.scaled(10)), 0)
        self.assertIn("--config-cpu-budget", process.output() + process.output("stderr"))


if __name__ == "__main__":
    ft.main()
