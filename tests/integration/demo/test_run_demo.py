"""`make run`'s demo stack (scripts/run-demo) end to end, as the README tour uses it: control plane
on the file store, two proxies on it sharing port 8080, three echo backends; `fulcrumctl apply`
reaches both proxies; Ctrl-C (SIGTERM) stops everything.

The demo uses fixed, documented ports (8080, 7070, 9001-9003, 9901-9902), so the test re-runs
itself in a network namespace of its own (`unshare -n`, its own loopback): nothing can collide
with the machine's ports or with other tests. Skipped where namespaces cannot be created.
"""

import json
import os
import signal
import socket
import subprocess
import sys

import fulcrum_test as ft

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
INSIDE = "FULCRUM_DEMO_NETNS"


def _refused(addr):
    try:
        socket.create_connection(ft.split_addr(addr), 1).close()
        return False
    except OSError:
        return True


class RunDemoTest(ft.TestCase):
    def fulcrumctl(self, *args):
        env = dict(os.environ, FULCRUM_SERVER="http://127.0.0.1:7070", FULCRUM_TOKEN="demo-editor")
        done = subprocess.run([ft.bin_path("fulcrumctl"), *args], env=env, capture_output=True,
                              text=True, timeout=ft.scaled(30))
        return done.returncode, done.stdout + done.stderr

    def test_demo_stack_and_the_readme_tour(self):
        demo = self.start([os.path.join(ROOT, "scripts", "run-demo")], name="run-demo",
                          env={"FULCRUM_DEMO_RUN": self.path("run")}, cwd=ROOT)
        demo.wait_for_line(r"^Fulcrum demo is up", timeout=ft.scaled(60))

        # Requests through the shared listener reach all three backends.
        seen = set()

        def all_backends():
            seen.add(ft.http_request("127.0.0.1:8080", "GET", "/")[2])
            return len(seen) == 3

        ft.wait_until(all_backends, message="answers from echo-1..3", ignore=(OSError,))
        self.assertEqual(seen, {b"echo-1\n", b"echo-2\n", b"echo-3\n"})

        # The tour: apply the canary config; both proxies serve the new revision.
        code, out = self.fulcrumctl("apply", "-f", os.path.join(ROOT, "examples",
                                                                 "quickstart-canary.yaml"),
                                    "-m", "canary")
        self.assertEqual(code, 0, out)
        for admin in ("127.0.0.1:9901", "127.0.0.1:9902"):
            ft.wait_until(lambda a=admin: ft.get_json(a, "/config").get("revision") == 2,
                          message=f"{admin} on revision 2")
        for _ in range(20):
            self.assertEqual(ft.http_request("127.0.0.1:8080", "GET", "/canary")[2], b"echo-3\n")
        code, out = self.fulcrumctl("status", "-o", "json")
        self.assertEqual(code, 0, out)
        text = json.dumps(json.loads(out))
        self.assertIn("demo-1", text)
        self.assertIn("demo-2", text)

        # Ctrl-C stops every process the script started.
        demo.send_signal(signal.SIGINT)
        demo.wait(ft.scaled(30))
        for addr in ("127.0.0.1:8080", "127.0.0.1:7070", "127.0.0.1:9001", "127.0.0.1:9901"):
            ft.wait_until(lambda a=addr: _refused(a), message=f"{addr} closed")


if __name__ == "__main__":
    if os.environ.get(INSIDE) != "1":
        probe = subprocess.run(["unshare", "-n", "--", "true"], capture_output=True)
        if probe.returncode != 0:
            # Needs root (CI) or unprivileged user namespaces.
            print(f"SKIP: cannot create a network namespace: {probe.stderr.decode().strip()}",
                  file=sys.stderr)
            sys.exit(0)
        done = subprocess.run(["unshare", "-n", "--", "sh", "-c",
                               f"ip link set lo up && exec env {INSIDE}=1 "
                               f'"{sys.executable}" "{os.path.abspath(__file__)}"'])
        sys.exit(done.returncode)
    ft.main()
