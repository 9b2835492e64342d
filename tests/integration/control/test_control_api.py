"""fulcrum-control end to end: real processes, the REST API, on the file store or on etcd.

FULCRUM_STORE_KIND selects the store: `file` (default) or `etcd` (one etcd-server started for the
whole run, each test under its own key prefix).
"""

import json
import os
import threading

import fulcrum_test as ft
from control_support import BASE, INVALID, Api, start_control, start_etcd

KIND = os.environ.get("FULCRUM_STORE_KIND", "file")


def added(diff, text):
    """True if the unified diff adds a line containing text."""
    return any(line.startswith("+") and not line.startswith("+++") and text in line
               for line in diff.splitlines())


class ControlApiTest(ft.TestCase):
    etcd = None
    etcd_addr = None
    etcd_dir = None

    @classmethod
    def setUpClass(cls):
        if KIND == "etcd":
            import tempfile
            cls.etcd_dir = tempfile.mkdtemp(prefix="fulcrum-control-etcd-")
            cls.etcd, cls.etcd_addr = start_etcd(cls.etcd_dir)

    @classmethod
    def tearDownClass(cls):
        if cls.etcd is not None:
            cls.etcd.stop()
            import shutil
            shutil.rmtree(cls.etcd_dir, ignore_errors=True)

    def store_url(self):
        if KIND == "etcd":
            return f"etcd://{self.etcd_addr}/?prefix=/it/{self._testMethodName}"
        return "file://" + self.path("store")

    def control(self, **kwargs):
        _, addr = start_control(self, self.store_url(), **kwargs)
        return addr

    def test_apply_lists_the_revision_with_author_and_message(self):
        api = Api(self.control(), "ed-token")
        status, headers, body = api.call("PUT", "/api/v1/config", BASE,
                                         headers={"X-Fulcrum-Message": "first%20cut",
                                                  "X-Fulcrum-Source": "cli"})
        self.assertEqual(status, 200, body)
        self.assertEqual(headers["ETag"], '"1"')
        status, _, listing = api.call("GET", "/api/v1/revisions")
        self.assertEqual(status, 200)
        self.assertEqual(listing["current"], 1)
        [revision] = listing["items"]
        self.assertEqual(revision["author"], "eddie")
        self.assertEqual(revision["message"], "first cut")
        self.assertEqual(revision["source"], "cli")
        status, _, stored = api.call("GET", "/api/v1/revisions/1")
        self.assertEqual(stored["config"], BASE)
        # A resource edit is a whole new revision, diffable against the previous one.
        status, _, body = api.call("PUT", "/api/v1/pools/api",
                                   "endpoints: [{address: 127.0.0.1:9100}]\n")
        self.assertEqual(status, 201, body)
        status, headers, diff = api.call("GET", "/api/v1/revisions/2/diff",
                                         headers={"Accept": "text/x-diff"})
        self.assertEqual(status, 200)
        self.assertTrue(added(diff, "name: api"), diff)

    def test_two_concurrent_writers_exactly_one_wins(self):
        # Two control-plane replicas on one store, both writing on top of revision 1.
        first = Api(self.control(), "ed-token")
        second = Api(self.control(), "ed-token")
        status, _, body = first.call("PUT", "/api/v1/config", BASE)
        self.assertEqual(status, 200, body)
        results = []
        barrier = threading.Barrier(2)

        def write(api, name):
            barrier.wait()
            results.append(api.call("PUT", f"/api/v1/pools/{name}",
                                    "endpoints: [{address: 127.0.0.1:9200}]\n",
                                    headers={"If-Match": '"1"'}))

        threads = [threading.Thread(target=write, args=(api, name))
                   for api, name in ((first, "a"), (second, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r[0] for r in results)
        self.assertEqual(statuses[0], 201, results)
        self.assertIn(statuses[1], (409, 412), results)
        loser = [r for r in results if r[0] != 201][0]
        self.assertEqual(loser[2]["currentRevision"], 2)
        _, _, listing = first.call("GET", "/api/v1/revisions")
        self.assertEqual(listing["current"], 2)

    def test_invalid_config_is_refused_with_located_errors(self):
        api = Api(self.control(), "ed-token")
        self.assertEqual(api.call("PUT", "/api/v1/config", BASE)[0], 200)
        status, headers, problem = api.call("PUT", "/api/v1/config", INVALID,
                                            headers={"X-Fulcrum-Filename": "edge.yaml"})
        self.assertEqual(status, 422, problem)
        self.assertEqual(headers["Content-Type"], "application/problem+json")
        self.assertGreaterEqual(len(problem["errors"]), 2)
        for error in problem["errors"]:
            self.assertEqual(error["file"], "edge.yaml")
            self.assertGreater(error["line"], 0)
            self.assertGreater(error["column"], 0)
            self.assertTrue(error["path"])
            self.assertTrue(error["message"])
        paths = " ".join(e["path"] for e in problem["errors"])
        self.assertIn("listeners[0].address", paths)
        self.assertIn("pool", paths)
        _, _, listing = api.call("GET", "/api/v1/revisions")
        self.assertEqual(listing["current"], 1)
        _, _, audit = Api(api.addr, "adm-token").call("GET", "/api/v1/audit")
        self.assertEqual(audit["items"][0]["outcome"], "invalid")

    def test_rollback(self):
        addr = self.control()
        editor, admin = Api(addr, "ed-token"), Api(addr, "adm-token")
        self.assertEqual(editor.call("PUT", "/api/v1/config", BASE)[0], 200)
        self.assertEqual(editor.call("DELETE", "/api/v1/routes/web")[0], 200)
        status, _, problem = editor.call("POST", "/api/v1/rollback", {"revision": 1})
        self.assertEqual(status, 403, problem)
        status, headers, body = admin.call("POST", "/api/v1/rollback",
                                           {"revision": 1, "message": "undo"})
        self.assertEqual(status, 200, body)
        self.assertEqual(body["revision"]["number"], 3)
        self.assertEqual(body["revision"]["message"], "undo")
        self.assertEqual(headers["ETag"], '"3"')
        status, _, route = admin.call("GET", "/api/v1/routes/web")
        self.assertEqual(status, 200)
        self.assertEqual(route["name"], "web")
        _, _, stored = admin.call("GET", "/api/v1/revisions/3")
        self.assertEqual(stored["config"], BASE)

    def test_etag_and_if_match(self):
        api = Api(self.control(), "ed-token")
        api.call("PUT", "/api/v1/config", BASE)
        status, headers, _ = api.call("GET", "/api/v1/config")
        self.assertEqual(status, 200)
        etag = headers["ETag"]
        self.assertEqual(etag, '"1"')
        changed = BASE + "# second\n"
        status, _, problem = api.call("PUT", "/api/v1/config", changed,
                                      headers={"If-Match": '"9"'})
        self.assertEqual(status, 412, problem)
        self.assertEqual(problem["currentRevision"], 1)
        status, headers, _ = api.call("PUT", "/api/v1/config", changed, headers={"If-Match": etag})
        self.assertEqual(status, 200)
        self.assertEqual(headers["ETag"], '"2"')
        status, _, _ = api.call("PUT", "/api/v1/config", BASE, headers={"If-Match": etag})
        self.assertEqual(status, 412)
        status, headers, text = api.call("GET", "/api/v1/config",
                                         headers={"Accept": "application/yaml"})
        self.assertEqual(headers["Content-Type"], "application/yaml")
        self.assertIn("apiVersion: fulcrum/v1", text)

    def test_tokens_and_roles(self):
        addr = self.control()
        self.assertEqual(Api(addr).call("GET", "/api/v1/config")[0], 401)
        self.assertEqual(Api(addr, "nope").call("GET", "/api/v1/config")[0], 401)
        status, _, problem = Api(addr, "view-token").call("PUT", "/api/v1/config", BASE)
        self.assertEqual(status, 403)
        self.assertEqual(problem["status"], 403)
        self.assertEqual(Api(addr, "view-token").call("GET", "/api/v1/revisions")[0], 200)
        # The token file is re-read when it changes.
        self.write_file("tokens", "new-token editor nora\n")
        status, _, body = Api(addr, "new-token").call("PUT", "/api/v1/config", BASE)
        self.assertEqual(status, 200, body)
        self.assertEqual(body["revision"]["author"], "nora")
        self.assertEqual(Api(addr, "ed-token").call("GET", "/api/v1/config")[0], 401)

    def test_without_tokens_reads_are_open_and_writes_refused(self):
        api = Api(self.control(tokens=None))
        self.assertEqual(api.call("GET", "/api/v1/revisions")[0], 200)
        self.assertEqual(api.call("PUT", "/api/v1/config", BASE)[0], 401)

    def test_dry_run_and_validate_write_nothing(self):
        api = Api(self.control(), "ed-token")
        api.call("PUT", "/api/v1/config", BASE)
        status, _, body = api.call("PUT", "/api/v1/pools/api?dryRun=true",
                                   "endpoints: [{address: 127.0.0.1:9100}]\n")
        self.assertEqual(status, 200, body)
        self.assertTrue(body["dryRun"])
        self.assertIsNone(body["revision"])
        self.assertTrue(added(body["diff"], "name: api"), body["diff"])
        self.assertEqual(api.call("PUT", "/api/v1/config?dryRun=true", INVALID)[0], 422)
        status, _, body = api.call("POST", "/api/v1/validate", BASE + "# comment\n")
        self.assertEqual(status, 200, body)
        self.assertTrue(body["valid"])
        self.assertEqual(api.call("POST", "/api/v1/validate", INVALID)[0], 422)
        _, _, listing = api.call("GET", "/api/v1/revisions")
        self.assertEqual(listing["current"], 1)
        self.assertEqual(api.call("GET", "/api/v1/pools/api")[0], 404)


if __name__ == "__main__":
    ft.main()
