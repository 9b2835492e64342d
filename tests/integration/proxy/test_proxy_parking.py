"""fulcrum-proxy parked connections (ADR 0006): idle keep-alive connections leave their session
and Asio's reactor for the worker's epoll set, and come back on their next bytes.

Parking happens after Worker::kParkAfter (100 ms) of idleness; the tests poll the
fulcrum_downstream_connections_parked gauge instead of sleeping."""

import os
import signal
import socket
import struct

import fulcrum_test as ft
from proxy_support import pool_yaml, simple_config, start_proxy

REQUEST = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def parked(proxy):
    return proxy.metric("fulcrum_downstream_connections_parked")


def active(proxy):
    return proxy.metric("fulcrum_downstream_connections_active")


def open_parked(tc, proxy, count, request=REQUEST):
    """`count` connections, one answered request each, all parked."""
    socks = []
    try:
        for _ in range(count):
            sock = ft.connect(proxy.addr)
            socks.append(sock)
            sock.sendall(request)
            tc.assertEqual(ft.recv_http_responses(sock, 1)[0].status, 200)
        ft.wait_until(lambda: parked(proxy) == count, timeout=ft.scaled(20),
                      message=f"{count} connections parked")
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def reset(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


class ParkedTest(ft.TestCase):
    def test_many_parked_connections_all_revive(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        count = 500
        socks = open_parked(self, proxy, count)
        try:
            self.assertEqual(active(proxy), count)
            # Every connection wakes with its own request and gets its own answer.
            for i, sock in enumerate(socks):
                sock.sendall(f"GET /echo?n={i} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            for i, sock in enumerate(socks):
                response = ft.recv_http_responses(sock, 1)[0]
                self.assertEqual(response.status, 200)
                self.assertIn(f"n={i}\"".encode(), response.body)
            # Idle again: all park again, on the records the first round freed.
            ft.wait_until(lambda: parked(proxy) == count, timeout=ft.scaled(20),
                          message="parked again")
            self.assertEqual(proxy.metric("fulcrum_downstream_connections_total"), count)
        finally:
            for sock in socks:
                sock.close()
        ft.wait_until(lambda: active(proxy) == 0 and parked(proxy) == 0,
                      timeout=ft.scaled(20), message="closes seen while parked")

    def test_eof_and_reset_while_parked_close_and_count(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        fin, rst, half, keep = open_parked(self, proxy, 4)
        try:
            fin.close()
            reset(rst)
            # A half-close (EOF) with a request still in flight: answered, then closed.
            half.sendall(REQUEST)
            half.shutdown(socket.SHUT_WR)
            reply = ft.recv_until_close(half)
            self.assertTrue(reply.closed)
            self.assertTrue(reply.startswith(b"HTTP/1.1 200 "), reply[:40])
            ft.wait_until(lambda: active(proxy) == 1 and parked(proxy) == 1,
                          message="three closed, one still parked")
            # The fourth is untouched by its neighbours' ends.
            keep.sendall(REQUEST)
            self.assertEqual(ft.recv_http_responses(keep, 1)[0].status, 200)
        finally:
            for sock in (fin, half, keep):
                sock.close()
        ft.wait_until(lambda: active(proxy) == 0 and parked(proxy) == 0,
                      message="all closed")
        self.assertEqual(proxy.metric("fulcrum_downstream_connections_total"), 4)

    def test_idle_timeout_closes_many_parked(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo], limits="idleTimeout: 1500ms"))
        socks = open_parked(self, proxy, 50)
        try:
            for sock in socks:
                reply = ft.recv_until_close(sock, timeout=ft.scaled(10))
                self.assertTrue(reply.closed)
                self.assertEqual(reply, b"")
        finally:
            for sock in socks:
                sock.close()
        self.assertEqual(parked(proxy), 0)
        self.assertEqual(active(proxy), 0)

    def test_drain_with_many_parked_connections(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        socks = open_parked(self, proxy, 100)
        busy = ft.connect(proxy.addr)
        try:
            # One connection is mid-request (head incomplete, read by the proxy) when the drain
            # starts; a connection with nothing read yet would be closed as idle.
            received = proxy.metric("fulcrum_listener_received_bytes_total", {"listener": "web"})
            busy.sendall(b"GET / HTTP/1.1\r\n")
            ft.wait_until(lambda: proxy.metric("fulcrum_listener_received_bytes_total",
                                               {"listener": "web"}) == received + 16,
                          message="partial head read")
            proxy.process.send_signal(signal.SIGTERM)
            for sock in socks:
                self.assertTrue(ft.recv_until_close(sock, timeout=ft.scaled(10)).closed)
            busy.sendall(b"Host: x\r\n\r\n")
            reply = ft.recv_until_close(busy, timeout=ft.scaled(10))
            self.assertTrue(reply.startswith(b"HTTP/1.1 200 "), reply[:40])
            self.assertTrue(reply.closed)
            self.assertEqual(proxy.process.wait(ft.scaled(10)), 0)
        finally:
            busy.close()
            for sock in socks:
                sock.close()

    def test_config_reload_while_parked(self):
        _, e1 = self.start_echo("one")
        _, e2 = self.start_echo("two")

        def config(name, endpoint):
            routes = f"  - name: all\n    rules:\n      - backends: [{{pool: {name}}}]\n"
            return simple_config([], routes=routes, pools=pool_yaml(name, [endpoint]))

        proxy = start_proxy(self, config("a", e1))

        def reloads():
            return proxy.metric("fulcrum_config_reloads_total", {"result": "success"})

        socks = open_parked(self, proxy, 3)
        try:
            for revision, (name, endpoint, body) in enumerate(
                    [("b", e2, b"two\n"), ("c", e1, b"one\n"), ("d", e2, b"two\n")]):
                count = reloads()
                path = proxy.config_path
                with open(path + ".tmp", "w") as f:
                    f.write(config(name, endpoint))
                os.rename(path + ".tmp", path)
                ft.wait_until(lambda: reloads() > count, message=f"reload {revision}")
                ft.wait_until(lambda: ft.http_request(proxy.addr, "GET", "/")[2] == body,
                              message="new config serves")
                # The connections parked under the previous config wake under the new one.
                for sock in socks:
                    sock.sendall(REQUEST)
                    response = ft.recv_http_responses(sock, 1)[0]
                    self.assertEqual(response.status, 200)
                    self.assertEqual(response.body, body)
                ft.wait_until(lambda: parked(proxy) == 3, message="parked again")
        finally:
            for sock in socks:
                sock.close()
        ft.wait_until(lambda: active(proxy) == 0 and parked(proxy) == 0, message="all closed")

    def test_listener_removed_while_parked(self):
        _, echo = self.start_echo("e1")
        proxy = start_proxy(self, simple_config([echo]))
        socks = open_parked(self, proxy, 2)
        try:
            # The listener the connections came through leaves the config (another one replaces
            # it): they keep their old listener config and go on serving with the new routes.
            mark = proxy.process.mark()
            renamed = simple_config([echo]).replace("- name: web", "- name: web2")
            with open(proxy.config_path + ".tmp", "w") as f:
                f.write(renamed)
            os.rename(proxy.config_path + ".tmp", proxy.config_path)
            proxy.process.wait_for_line(r"^listening web2 on (\S+)$", since=mark)
            proxy.process.wait_for_line(r"closed listener web", stream="stderr")
            for _ in range(2):  # revive, park again (with the old listener), revive again
                for sock in socks:
                    sock.sendall(REQUEST)
                    self.assertEqual(ft.recv_http_responses(sock, 1)[0].status, 200)
                ft.wait_until(lambda: parked(proxy) == 2, message="parked again")
        finally:
            for sock in socks:
                sock.close()
        ft.wait_until(lambda: parked(proxy) == 0 and active(proxy) == 0, message="all closed")


if __name__ == "__main__":
    ft.main()
