"""fulcrum-proxy end to end: every balancing algorithm and the weighted split of a rule.

Each echo backend answers its name, so counting bodies counts picks. Keep-alive clients keep the
file fast; proportions are checked with generous tolerances (a few standard deviations).
"""

import collections
import http.client

import fulcrum_test as ft
from proxy_support import simple_config, start_proxy


def endpoints_yaml(endpoints):
    """`endpoints` as (address, weight) pairs."""
    return "".join(f"\n      - {{address: \"{ep}\", weight: {w}}}" for ep, w in endpoints)


def pool_config(endpoints, algorithm, hash_on=None):
    extra = f"    algorithm: {algorithm}\n"
    if hash_on:
        extra += f"    hashOn: {hash_on}\n"
    pools = f"  - name: p\n    endpoints:{endpoints_yaml(endpoints)}\n{extra}"
    return simple_config([ep for ep, _ in endpoints], pools=pools)


def backend_of(response):
    status, _, body = response
    assert status == 200, f"status {status}: {body!r}"
    return body.decode().strip()


def count_picks(addr, n, headers=None):
    counts = collections.Counter()
    with ft.HttpClient(addr) as client:
        for _ in range(n):
            counts[backend_of(client.request("GET", "/", headers=headers))] += 1
    return counts


class BalancingTest(ft.TestCase):
    def start_echoes(self, *names):
        return [self.start_echo(name)[1] for name in names]

    def test_round_robin_weights_are_exact_over_whole_cycles(self):
        e1, e2, e3 = self.start_echoes("e1", "e2", "e3")
        proxy = start_proxy(self, pool_config([(e1, 1), (e2, 2), (e3, 3)], "round_robin"))
        counts = count_picks(proxy.addr, 600)  # 100 cycles of 6 on the single worker
        self.assertEqual(counts, {"e1": 100, "e2": 200, "e3": 300})

    def test_random_follows_weights(self):
        e1, e2 = self.start_echoes("e1", "e2")
        proxy = start_proxy(self, pool_config([(e1, 1), (e2, 3)], "random"))
        counts = count_picks(proxy.addr, 2000)
        # Expected 500 / 1500, standard deviation about 19.
        self.assertAlmostEqual(counts["e1"], 500, delta=150, msg=counts)
        self.assertEqual(counts["e1"] + counts["e2"], 2000)

    def test_least_request_spreads_over_all_endpoints(self):
        e1, e2, e3 = self.start_echoes("e1", "e2", "e3")
        proxy = start_proxy(self, pool_config([(e1, 1), (e2, 1), (e3, 1)], "least_request"))
        counts = count_picks(proxy.addr, 1200)
        # One request at a time: every endpoint is idle, so the choices are an even random.
        for name in ("e1", "e2", "e3"):
            self.assertGreater(counts[name], 200, counts)

    def test_least_request_prefers_the_less_loaded_endpoint(self):
        e1, e2 = self.start_echoes("e1", "e2")
        proxy = start_proxy(self, pool_config([(e1, 1), (e2, 1)], "least_request"))
        # 20 slow requests in flight at once, picked one after another on the single worker: each
        # pick sees the requests before it, so P2C over two endpoints always takes the less loaded
        # one and the split is exact. A load-blind pick would be binomial (10 +- 2.2).
        host, port = proxy.addr.rsplit(":", 1)
        conns = []
        try:
            for _ in range(20):
                conn = http.client.HTTPConnection(host, int(port), timeout=ft.scaled(60))
                conn.request("GET", "/?delay=5000")
                conns.append(conn)
            counts = collections.Counter(
                conn.getresponse().read().decode().strip() for conn in conns)
        finally:
            for conn in conns:
                conn.close()
        self.assertEqual(counts, {"e1": 10, "e2": 10})

    def check_consistent(self, algorithm, hash_on, request_for_key):
        """request_for_key(addr, key) -> backend name. Same key, same backend; keys spread."""
        e1, e2, e3 = self.start_echoes("e1", "e2", "e3")
        proxy = start_proxy(self, pool_config([(e1, 1), (e2, 1), (e3, 1)], algorithm, hash_on))
        keys = [f"user-{i}" for i in range(60)]
        first = {key: request_for_key(proxy.addr, key) for key in keys}
        for _ in range(2):
            for key in keys:
                self.assertEqual(request_for_key(proxy.addr, key), first[key], key)
        spread = collections.Counter(first.values())
        # 60 keys over 3 equal endpoints: about 20 each; none gets (nearly) all of them.
        self.assertEqual(len(spread), 3, spread)
        self.assertLess(max(spread.values()), 40, spread)
        return proxy

    def keyed(self, make_headers):
        clients = {}

        def request(addr, key):
            # One keep-alive connection, shared by all keys: the key alone decides.
            if "c" not in clients:
                clients["c"] = ft.HttpClient(addr)
                self.addCleanup(clients["c"].close)
            return backend_of(clients["c"].request("GET", "/", headers=make_headers(key)))
        return request

    def test_ring_hash_on_header(self):
        self.check_consistent("ring_hash", "{header: x-user}",
                              self.keyed(lambda key: {"X-User": key}))

    def test_maglev_on_header(self):
        self.check_consistent("maglev", "{header: x-user}",
                              self.keyed(lambda key: {"X-User": key}))

    def test_ring_hash_on_cookie(self):
        self.check_consistent("ring_hash", "{cookie: session}", self.keyed(
            lambda key: {"Cookie": f"theme=dark; session={key}; lang=en"}))

    def test_maglev_on_cookie(self):
        self.check_consistent("maglev", "{cookie: session}", self.keyed(
            lambda key: {"Cookie": f"session={key}"}))

    def client_ip_request(self, addr, key):
        """A fresh connection from 127.0.0.N, N taken from the key."""
        host, port = ft.split_addr(addr)
        source = f"127.0.0.{2 + int(key.split('-')[1])}"
        conn = http.client.HTTPConnection(host, port, timeout=30, source_address=(source, 0))
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            body = response.read()
            self.assertEqual(response.status, 200)
            return body.decode().strip()
        finally:
            conn.close()

    def test_ring_hash_on_client_ip(self):
        self.check_consistent("ring_hash", "{clientIp: true}", self.client_ip_request)

    def test_maglev_on_client_ip(self):
        self.check_consistent("maglev", "{clientIp: true}", self.client_ip_request)

    def test_hash_without_key_still_answers(self):
        e1, e2 = self.start_echoes("e1", "e2")
        proxy = start_proxy(self, pool_config([(e1, 1), (e2, 1)], "maglev", "{header: x-user}"))
        counts = count_picks(proxy.addr, 200)  # no X-User: any endpoint will do
        self.assertEqual(sum(counts.values()), 200)


class WeightedSplitTest(ft.TestCase):
    def split_config(self, e1, e2, sticky=""):
        routes = ("  - name: all\n    rules:\n"
                  "      - backends: [{pool: a, weight: 80}, {pool: b, weight: 20}]\n"
                  + (f"        stickyHashOn: {sticky}\n" if sticky else ""))
        pools = (f"  - name: a\n    endpoints:\n      - {{address: \"{e1}\"}}\n"
                 f"  - name: b\n    endpoints:\n      - {{address: \"{e2}\"}}\n")
        return simple_config([e1, e2], routes=routes, pools=pools)

    def test_split_proportions(self):
        _, e1 = self.start_echo("a1")
        _, e2 = self.start_echo("b1")
        proxy = start_proxy(self, self.split_config(e1, e2))
        counts = count_picks(proxy.addr, 2000)
        # Expected 1600 / 400, standard deviation about 18.
        self.assertAlmostEqual(counts["b1"], 400, delta=120, msg=counts)
        self.assertEqual(counts["a1"] + counts["b1"], 2000)

    def test_sticky_split_keeps_a_user_on_one_side(self):
        _, e1 = self.start_echo("a1")
        _, e2 = self.start_echo("b1")
        proxy = start_proxy(self, self.split_config(e1, e2, sticky="x-user"))
        users = [f"user-{i}" for i in range(300)]
        with ft.HttpClient(proxy.addr) as client:
            side = {u: backend_of(client.request("GET", "/", headers={"X-User": u}))
                    for u in users}
            for _ in range(2):
                for u in users:
                    got = backend_of(client.request("GET", "/", headers={"X-User": u}))
                    self.assertEqual(got, side[u], u)
        on_b = sum(1 for s in side.values() if s == "b1")
        # Expected 60 of 300 users on b, standard deviation about 7.
        self.assertGreater(on_b, 25, on_b)
        self.assertLess(on_b, 100, on_b)
        # Without the header the split is per request again.
        counts = count_picks(proxy.addr, 500)
        self.assertGreater(counts["b1"], 30, counts)
        self.assertGreater(counts["a1"], 300, counts)


if __name__ == "__main__":
    ft.main()
