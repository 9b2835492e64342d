#!/usr/bin/env python3
"""Runs the real `fulcrumctl` against a real fulcrum-control on a file store.

Each test starts fulcrum-control (127.0.0.1:0, a tokens file, a file store in the test's temp
dir) and drives the fulcrumctl binary: apply, diff, get, history, rollback, status; the three
output formats; exit codes; unreachable servers and missing tokens.
"""

import json
import os
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "testdata")
sys.path.insert(0, os.path.join(HERE, "..", "integration", "control"))

import fulcrum_test as ft  # noqa: E402
from control_support import TOKENS, Api, start_control  # noqa: E402
from yaml_subset import parse_yaml  # noqa: E402

# TOKENS: adm-token admin ada / ed-token editor eddie / view-token viewer vic

BASE = """# the first config
apiVersion: fulcrum/v1
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

CHANGED = """apiVersion: fulcrum/v1
listeners:
  - {name: public, address: 127.0.0.1:8080}
routes:
  - name: web
    hostnames: [example.com]
    rules:
      - matches: [{path: {type: PathPrefix, value: /api}}]
        backends: [{pool: api}]
      - backends: [{pool: web}]
pools:
  - name: web
    endpoints: [{address: 127.0.0.1:9001}]
  - name: api
    algorithm: least_request
    endpoints: [{address: 127.0.0.1:9101}, {address: 127.0.0.1:9102}]
    healthCheck: {path: /health, interval: 2s}
"""


def added(diff, text):
    return any(line.startswith("+") and not line.startswith("+++") and text in line
               for line in diff.splitlines())


class RemoteTest(ft.TestCase):
    def setUp(self):
        super().setUp()
        self.store_dir = self.path("store")
        _, self.addr = start_control(self, "file://" + self.store_dir)
        self.server = f"http://{self.addr}"

    def ctl(self, *args, token="ed-token", server="default", env=None, cwd=None):
        """Runs fulcrumctl ARGS --server URL [--token TOKEN]; returns CompletedProcess."""
        full_env = {k: v for k, v in os.environ.items()
                    if k not in ("FULCRUM_SERVER", "FULCRUM_TOKEN")}
        full_env.update(env or {})
        command = [ft.bin_path("fulcrumctl"), *args]
        if server == "default":
            server = self.server
        if server is not None:
            command += ["--server", server]
        if token is not None:
            command += ["--token", token]
        return subprocess.run(command, capture_output=True, text=True, cwd=cwd or self.tmp,
                              env=full_env, timeout=ft.scaled(60), check=False)

    def ok(self, *args, **kwargs):
        result = self.ctl(*args, **kwargs)
        self.assertEqual(result.returncode, 0, f"{args}: {result.stdout}{result.stderr}")
        return result

    def json(self, *args, **kwargs):
        return json.loads(self.ok(*args, "-o", "json", **kwargs).stdout)

    def current(self):
        return self.json("history")["current"]

    def test_apply_then_history_shows_author_message_and_source(self):
        base = self.write_file("base.yaml", BASE)
        result = self.ok("apply", "-f", base, "-m", "first cut")
        self.assertRegex(result.stdout, r"^revision 1 applied \(\+\d+ -0 lines\) by eddie: "
                                        r"first cut\n$")
        self.assertEqual(result.stderr, "")

        changed = self.write_file("changed.yaml", CHANGED)
        self.ok("apply", "-f", changed, "--source", "0123abcd")

        table = self.ok("history").stdout.splitlines()
        self.assertEqual(table[0].split(), ["REVISION", "TIME", "AUTHOR", "SOURCE", "MESSAGE"])
        self.assertEqual(table[1].split()[0::2][:2], ["2", "eddie"])
        self.assertIn("git:0123abcd", table[1])
        self.assertIn(f"apply {changed}", table[1])  # the default message names the files
        self.assertTrue(table[2].startswith("1 "), table)
        self.assertEqual(table[2].split()[2:], ["eddie", "cli", "first", "cut"])

        history = self.json("history", token="view-token")
        self.assertEqual(history["current"], 2)
        newest, first = history["items"]
        self.assertEqual((first["number"], first["author"], first["message"], first["source"]),
                         (1, "eddie", "first cut", "cli"))
        self.assertEqual((newest["number"], newest["source"]), (2, "git:0123abcd"))
        self.assertEqual(len(self.json("history", "--limit", "1")["items"]), 1)
        # Stored as sent, comments included.
        self.assertEqual(Api(self.addr, "view-token").call("GET", "/api/v1/revisions/1")[2]
                         ["config"], BASE)
        # The same text again writes nothing.
        self.assertIn("unchanged: revision 2", self.ok("apply", "-f", changed).stdout)
        self.assertEqual(self.current(), 2)

    def test_apply_invalid_prints_errors_exactly_like_validate(self):
        for output in ("table", "json", "yaml"):
            with self.subTest(output=output):
                applied = self.ctl("apply", "-f", "five_mistakes.yaml", "-o", output,
                                   cwd=TESTDATA)
                validated = subprocess.run(
                    [ft.bin_path("fulcrumctl"), "validate", "-f", "five_mistakes.yaml",
                     "-o", "json" if output == "json" else "text"],
                    capture_output=True, text=True, cwd=TESTDATA, check=False)
                self.assertEqual(applied.returncode, 1, applied.stdout + applied.stderr)
                if output == "table":
                    self.assertEqual(applied.stderr, validated.stderr)
                    self.assertTrue(applied.stderr.startswith(
                        "five_mistakes.yaml:6:5: listeners[0].trustedHop: unknown field"))
                    self.assertTrue(applied.stderr.endswith("\n5 errors\n"), applied.stderr)
                    self.assertEqual(applied.stdout, "")
                elif output == "json":
                    self.assertEqual(json.loads(applied.stdout), json.loads(validated.stdout))
                else:
                    self.assertEqual(parse_yaml(applied.stdout), json.loads(
                        self.ctl("apply", "-f", "five_mistakes.yaml", "-o", "json",
                                 cwd=TESTDATA).stdout))
        self.assertIn("no revisions yet", self.ok("history").stdout)
        self.assertEqual(self.current(), 0)
        audit = self.json("get", "audit", token="adm-token")["items"]
        self.assertEqual(audit[0]["outcome"], "invalid")

    def test_several_files_are_one_config_with_errors_in_their_own_files(self):
        routes = self.write_file("routes.yaml", "apiVersion: fulcrum/v1\n"
                                 "listeners: [{name: public, address: 127.0.0.1:8080}]\n"
                                 "routes:\n  - name: web\n    rules: [{backends: [{pool: web}]}]\n"
                                 "pools:\n  - name: web\n    endpoints: [{address: 127.0.0.1:1}]")
        pools = self.write_file("pools.yaml", "# more pools\napiVersion: fulcrum/v1\npools:\n"
                                "  - name: web\n    endpoints: [{address: 127.0.0.1:2}]\n"
                                "    connectTimeout: 5\n")
        applied = self.ctl("apply", "-f", "routes.yaml", "-f", "pools.yaml")
        validated = self.ctl("validate", "-f", "routes.yaml", "-f", "pools.yaml", token=None,
                             server=None)
        self.assertEqual(applied.returncode, 1, applied.stdout + applied.stderr)
        self.assertEqual(applied.stderr, validated.stderr)
        # Paths count items per document, as validate does.
        self.assertIn("pools.yaml:4:11: pools[0].name: duplicate pool name \"web\"; first "
                      "defined at pools[0].name (routes.yaml:7:11)", applied.stderr)
        self.assertIn("pools.yaml:6:21: pools[0].connectTimeout", applied.stderr)
        self.assertEqual(self.current(), 0)

        # Valid parts merge into one revision.
        self.write_file("pools.yaml", "apiVersion: fulcrum/v1\npools:\n  - name: api\n"
                        "    endpoints: [{address: 127.0.0.1:2}]\n")
        self.ok("apply", "-f", routes, "-f", pools)
        names = [p["name"] for p in self.json("get", "pools")]
        self.assertEqual(names, ["web", "api"])

    def test_unreadable_file(self):
        result = self.ctl("apply", "-f", "missing.yaml")
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stderr,
                         "missing.yaml: cannot read file: No such file or directory\n1 error\n")
        self.assertEqual(self.ctl("diff", "-f", "missing.yaml").returncode, 5)

    def test_diff_exit_codes(self):
        base = self.write_file("base.yaml", BASE)
        self.ok("apply", "-f", base)
        same = self.ctl("diff", "-f", base, token="view-token")
        self.assertEqual((same.returncode, same.stdout, same.stderr), (0, "", ""))
        # Only comments and spelling differ: the normalized documents are the same.
        respelled = self.write_file("respelled.yaml", BASE.replace("# the first config", "# x")
                                    .replace("{pool: web}", "{pool: web, weight: 1}"))
        self.assertEqual(self.ctl("diff", "-f", respelled).returncode, 0)

        changed = self.write_file("changed.yaml", CHANGED)
        different = self.ctl("diff", "-f", changed, token="view-token")
        self.assertEqual(different.returncode, 1, different.stderr)
        lines = different.stdout.splitlines()
        self.assertEqual(lines[:2], ["--- revision 1", f"+++ {changed}"])
        self.assertTrue(added(different.stdout, "name: api"), different.stdout)
        self.assertTrue(added(different.stdout, "example.com"), different.stdout)

        as_json = self.ctl("diff", "-f", changed, "-o", "json")
        self.assertEqual(as_json.returncode, 1)
        body = json.loads(as_json.stdout)
        self.assertEqual(body["current"], 1)
        self.assertTrue(added(body["diff"], "name: api"))

        invalid = self.ctl("diff", "-f", "five_mistakes.yaml", cwd=TESTDATA)
        self.assertEqual(invalid.returncode, 5)
        self.assertTrue(invalid.stderr.endswith("5 errors\n"), invalid.stderr)
        self.assertEqual(self.current(), 1)

    def test_dry_run_stores_nothing(self):
        self.ok("apply", "-f", self.write_file("base.yaml", BASE))
        changed = self.write_file("changed.yaml", CHANGED)
        result = self.ok("apply", "-f", changed, "--dry-run")
        self.assertTrue(added(result.stdout, "name: api"), result.stdout)
        self.assertRegex(result.stdout.splitlines()[-1],
                         r"^dry run: valid, \+\d+ -\d+ lines against revision 1; nothing stored$")
        body = self.json("apply", "-f", changed, "--dry-run")
        self.assertTrue(body["dryRun"])
        self.assertIsNone(body["revision"])
        self.assertEqual(self.current(), 1)
        self.assertEqual([p["name"] for p in self.json("get", "pools")], ["web"])
        # A dry run of an invalid config reports it the same way.
        self.assertEqual(self.ctl("apply", "-f", "five_mistakes.yaml", "--dry-run",
                                  cwd=TESTDATA).returncode, 1)

    def test_get_every_kind_in_three_formats(self):
        self.ok("apply", "-f", self.write_file("base.yaml", BASE), "-m", "one")
        self.ok("apply", "-f", self.write_file("changed.yaml", CHANGED), "-m", "two")
        api = Api(self.addr, "adm-token")
        paths = {"config": "/api/v1/config", "listeners": "/api/v1/listeners",
                 "routes": "/api/v1/routes", "pools": "/api/v1/pools",
                 "revisions": "/api/v1/revisions", "instances": "/api/v1/instances",
                 "audit": "/api/v1/audit"}
        for kind, path in paths.items():
            with self.subTest(kind=kind):
                as_json = self.json("get", kind, token="adm-token")
                as_yaml = parse_yaml(self.ok("get", kind, "-o", "yaml",
                                             token="adm-token").stdout)
                self.assertEqual(as_yaml, as_json)
                if kind != "instances":  # lastSeen moves
                    self.assertEqual(as_json, api.call("GET", path)[2])
                table = self.ok("get", kind, token="adm-token").stdout
                self.assertNotEqual(table, "")

        routes = self.ok("get", "routes").stdout.splitlines()
        self.assertEqual(routes[0].split(), ["NAME", "HOSTNAMES", "RULES", "POOLS"])
        self.assertEqual(routes[1].split(), ["web", "example.com", "2", "api,web"])
        pools = self.ok("get", "pools").stdout
        self.assertRegex(pools, r"api\s+least_request\s+127\.0\.0\.1:9101,127\.0\.0\.1:9102\s+"
                                r"http /health every 2s")
        config = self.ok("get", "config").stdout
        self.assertTrue(config.startswith("revision 2\n"), config)
        for header in ("LISTENER", "ROUTE", "POOL"):
            self.assertIn(f"\n{header} ", config)

        one = self.json("get", "pools", "api")
        self.assertEqual((one["name"], one["algorithm"]), ("api", "least_request"))
        self.assertEqual(parse_yaml(self.ok("get", "pools", "api", "-o", "yaml").stdout), one)

        # A revision with its text: the literal block reads back exactly.
        revision = parse_yaml(self.ok("get", "revisions", "1", "-o", "yaml").stdout)
        self.assertEqual((revision["number"], revision["message"]), (1, "one"))
        self.assertEqual(revision["config"], BASE)
        text = self.ok("get", "revisions", "1").stdout
        self.assertIn("message  one\n", text)
        self.assertTrue(text.endswith(BASE), text)

        # The YAML of the whole config is a config: it validates, and diffs as the same.
        exported = self.write_file("exported.yaml", self.ok("get", "config", "-o", "yaml").stdout)
        self.ok("validate", "-f", exported, token=None, server=None)
        self.assertEqual(self.ctl("diff", "-f", exported).returncode, 0)

        missing = self.ctl("get", "pools", "nope")
        self.assertEqual(missing.returncode, 4)
        self.assertEqual(missing.stderr, 'fulcrumctl: 404 Not found: no pool named "nope"\n')
        self.assertEqual(self.ctl("get", "config", "x").returncode, 2)
        self.assertEqual(self.ctl("get", "revisions", "x").returncode, 2)
        self.assertEqual(self.ctl("get", "things").returncode, 2)
        self.assertEqual(len(self.json("get", "audit", "--limit", "1")["items"]), 1)

    def test_get_config_of_an_empty_store(self):
        result = self.ctl("get", "config")
        self.assertEqual(result.returncode, 4)
        self.assertIn("404", result.stderr)
        self.assertEqual(self.ok("get", "routes").stdout, "no routes\n")

    def test_rollback(self):
        self.ok("apply", "-f", self.write_file("base.yaml", BASE))
        self.ok("apply", "-f", self.write_file("changed.yaml", CHANGED))
        refused = self.ctl("rollback", "1")
        self.assertEqual(refused.returncode, 4)
        self.assertEqual(refused.stderr, "fulcrumctl: 403 Forbidden: this needs the admin role; "
                                         "the token has editor\n")
        dry = self.ok("rollback", "1", "--dry-run", token="adm-token")
        self.assertIn("nothing stored", dry.stdout)
        self.assertEqual(self.current(), 2)

        result = self.ok("rollback", "1", "-m", "undo", token="adm-token")
        self.assertRegex(result.stdout,
                         r"^revision 3 restores revision 1 \(\+\d+ -\d+ lines\) by ada: undo\n$")
        self.assertEqual([p["name"] for p in self.json("get", "pools")], ["web"])
        newest = self.json("history")["items"][0]
        self.assertEqual((newest["number"], newest["message"], newest["author"],
                          newest["source"]), (3, "undo", "ada", "cli"))
        self.assertEqual(self.json("get", "revisions", "3")["config"], BASE)

        self.ok("rollback", "2", token="adm-token")
        self.assertEqual(self.json("history")["items"][0]["message"], "rollback to revision 2")
        missing = self.ctl("rollback", "99", token="adm-token")
        self.assertEqual(missing.returncode, 4)
        self.assertIn("404", missing.stderr)
        self.assertEqual(self.ctl("rollback", "x", token="adm-token").returncode, 2)

    def test_status_without_instances(self):
        result = self.ok("status", token="view-token")
        self.assertEqual(result.stdout, "current revision: none\nno proxy instances registered\n")
        body = self.json("status")
        self.assertEqual(body, {"current": 0, "items": []})
        self.assertEqual(parse_yaml(self.ok("status", "-o", "yaml").stdout), body)

    def test_status_lists_each_instance_and_its_revision(self):
        self.ok("apply", "-f", self.write_file("base.yaml", BASE))
        self.ok("apply", "-f", self.write_file("changed.yaml", CHANGED))
        # Registrations as proxies write them on the file store (docs/store.md); fresh mtimes
        # make them alive.
        os.makedirs(os.path.join(self.store_dir, "instances"), exist_ok=True)
        instances = [
            {"id": "proxy-a", "adminAddress": "127.0.0.1:9901", "appliedRevision": 2,
             "refusedRevision": 0, "errors": [], "version": "0.1.0"},
            {"id": "proxy-b", "adminAddress": "127.0.0.1:9902", "appliedRevision": 1,
             "refusedRevision": 2, "errors": ["revision 2:3:5: pools[1]: nope"],
             "version": "0.1.0"},
        ]
        for instance in instances:
            self.write_file(f"store/instances/{instance['id']}.json", json.dumps(instance))
        lines = self.ok("status").stdout.splitlines()
        self.assertEqual(lines[0], "current revision: 2")
        self.assertEqual(lines[1].split(), ["ID", "STATE", "REVISION", "REFUSED", "ADMIN", "LAST",
                                            "SEEN", "VERSION"])
        self.assertEqual(lines[2].split()[:5], ["proxy-a", "current", "2", "-", "127.0.0.1:9901"])
        self.assertEqual(lines[3].split()[:5], ["proxy-b", "refused", "1", "2", "127.0.0.1:9902"])
        self.assertEqual(lines[5:], ["proxy-b refused revision 2:",
                                     "  revision 2:3:5: pools[1]: nope"])
        body = self.json("status")
        self.assertEqual([(i["id"], i["appliedRevision"], i["alive"]) for i in body["items"]],
                         [("proxy-a", 2, True), ("proxy-b", 1, True)])
        one = self.json("get", "instances", "proxy-b")
        self.assertEqual([i["id"] for i in one["items"]], ["proxy-b"])
        self.assertEqual(self.ctl("get", "instances", "proxy-z").returncode, 4)

    def test_unreachable_server_exits_3(self):
        # A port bound but not listening: connecting to it is refused, and nobody else gets it
        # while the socket is open.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}"
            for args in (["get", "config"], ["apply", "-f", self.write_file("b.yaml", BASE)],
                         ["status"], ["history"], ["diff", "-f", self.path("b.yaml")]):
                with self.subTest(args=args):
                    result = self.ctl(*args, server=url)
                    self.assertEqual(result.returncode, 3, result.stderr)
                    self.assertEqual(result.stderr,
                                     f"fulcrumctl: cannot reach {url}: connection refused\n")
                    self.assertEqual(result.stdout, "")

    def test_a_server_that_never_answers_times_out(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(8)  # accepted by the kernel, never read or answered
            url = f"http://127.0.0.1:{s.getsockname()[1]}"
            started = time.monotonic()
            result = self.ctl("status", "--timeout", "0.3", server=url)
            self.assertEqual(result.returncode, 3, result.stderr)
            self.assertEqual(result.stderr,
                             f"fulcrumctl: cannot reach {url}: no answer within 300ms "
                             "(--timeout)\n")
            self.assertLess(time.monotonic() - started, ft.scaled(30))

    def test_bad_server_urls_are_usage_errors(self):
        for url in ("https://127.0.0.1:7070", "http://127.0.0.1:0", "ftp://x"):
            with self.subTest(url=url):
                result = self.ctl("status", server=url)
                self.assertEqual(result.returncode, 2, result.stderr)
                self.assertTrue(result.stderr.startswith("fulcrumctl: --server "), result.stderr)

    def test_a_missing_or_wrong_token_is_a_clear_401(self):
        result = self.ctl("get", "config", token=None)
        self.assertEqual(result.returncode, 4)
        self.assertEqual(result.stderr, "fulcrumctl: 401 Unauthorized: a bearer token is required "
                                        "(pass --token TOKEN or set FULCRUM_TOKEN)\n")
        result = self.ctl("apply", "-f", self.write_file("b.yaml", BASE), token="wrong")
        self.assertEqual(result.returncode, 4)
        self.assertEqual(result.stderr, "fulcrumctl: 401 Unauthorized: unknown token (check "
                                        "--token or FULCRUM_TOKEN)\n")
        result = self.ctl("apply", "-f", self.path("b.yaml"), token="view-token")
        self.assertEqual(result.returncode, 4)
        self.assertIn("403 Forbidden: this needs the editor role", result.stderr)
        self.assertEqual(self.current(), 0)

    def test_server_and_token_from_the_environment(self):
        env = {"FULCRUM_SERVER": self.server, "FULCRUM_TOKEN": "ed-token"}
        result = self.ctl("apply", "-f", self.write_file("b.yaml", BASE), token=None, server=None,
                          env=env)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("by eddie", result.stdout)
        # Flags win over the environment.
        result = self.ctl("history", "-o", "json", token=None, server=None,
                          env={**env, "FULCRUM_SERVER": "http://127.0.0.1:1"})
        self.assertEqual(result.returncode, 3)
        result = self.ctl("history", "-o", "json", token=None,
                          env={**env, "FULCRUM_SERVER": "http://127.0.0.1:1"})
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_apply_from_stdin(self):
        result = subprocess.run(
            [ft.bin_path("fulcrumctl"), "apply", "-f", "-", "--server", self.server, "--token",
             "ed-token"], input=BASE, capture_output=True, text=True, timeout=ft.scaled(60),
            check=False)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("apply stdin", self.ok("history").stdout)

    def test_help_documents_verbs_and_exit_codes(self):
        result = self.ok("--help", token=None, server=None)
        for word in ("validate", "get", "apply", "diff", "history", "rollback", "status",
                     "Exit codes", "FULCRUM_SERVER", "FULCRUM_TOKEN"):
            self.assertIn(word, result.stdout)
        for verb in ("get", "apply", "diff", "history", "rollback", "status"):
            with self.subTest(verb=verb):
                help_text = self.ok(verb, "--help", token=None, server=None).stdout
                self.assertIn("--server", help_text)
                self.assertIn("--output", help_text)


if __name__ == "__main__":
    ft.main()
