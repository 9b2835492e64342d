"""Fulcrum integration-test library: real processes on real sockets, python3 stdlib only.

Every integration test imports this module (fulcrum_py_test puts this folder on PYTHONPATH and
FULCRUM_BIN on the environment). A test file looks like:

    import fulcrum_test as ft

    class EchoTest(ft.TestCase):
        def test_name(self):
            _, addr = self.start_echo("b1")
            status, headers, body = ft.http_request(addr, "GET", "/")
            self.assertEqual(body, b"b1\\n")

    if __name__ == "__main__":
        ft.main()

Rules it carries out for you:
- Ports come from the OS. Servers listen on port 0 and print the bound address; tests read that
  line (start_echo, Process.wait_for_line). There is deliberately no free_port().
- Every started process is registered and stopped by PID at the end of the test (TestCase) or
  of the interpreter (atexit), also when the test fails; children also get SIGKILL if the test
  runner dies (PR_SET_PDEATHSIG). The stdout/stderr of a failed test's processes are printed.
- Waiting means polling a condition up to a generous deadline (wait_until, wait_for_line),
  never a bare sleep. Deadlines scale with FULCRUM_TIMEOUT_SCALE (e.g. 3 under ASan).

Environment: FULCRUM_BIN (directory of the executables), FULCRUM_TIMEOUT_SCALE (default 1),
FULCRUM_KEEP_TMP=1 (keep each test's temp dir, whose path is printed on failure).
"""

import atexit
import ctypes
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

__all__ = [
    "TIMEOUT_SCALE", "DEFAULT_TIMEOUT", "HTTP_TIMEOUT", "scaled", "bin_path", "ProcessError",
    "Process", "stop_all", "start_echo", "split_addr", "http_request", "HttpClient", "get_json",
    "echo_stats", "connect", "RawReply", "recv_until_close", "raw_exchange", "HttpResponse",
    "parse_http_responses", "recv_http_responses", "wait_until", "WaitTimeout", "TestCase", "main",
]

TIMEOUT_SCALE = float(os.environ.get("FULCRUM_TIMEOUT_SCALE", "1"))


def scaled(seconds):
    """A deadline in seconds, stretched by FULCRUM_TIMEOUT_SCALE for slow builds."""
    return seconds * TIMEOUT_SCALE


DEFAULT_TIMEOUT = scaled(30.0)  # waiting for a process or a condition
HTTP_TIMEOUT = scaled(30.0)  # socket timeout of one HTTP exchange

_POLL_INTERVAL = 0.02


def bin_path(name):
    """Absolute path of the executable `name` in FULCRUM_BIN."""
    directory = os.environ.get("FULCRUM_BIN")
    if not directory:
        raise RuntimeError("FULCRUM_BIN is not set (run the test through ctest, or export "
                           "FULCRUM_BIN=<build dir>/bin)")
    path = os.path.join(directory, name)
    if not os.access(path, os.X_OK):
        raise FileNotFoundError(f"{path}: no such executable (is it built?)")
    return path


# ---------------------------------------------------------------------------------------------
# Processes


class ProcessError(AssertionError):
    """A process exited, or did not print what was awaited in time. The message has its output."""


_live = []  # started and not yet stopped, in start order
_started = []  # every process ever started, in start order (for dumping logs of a test)
_registry_lock = threading.Lock()
_fallback_dir = None  # log dir for processes started outside a TestCase
_current_dir = None  # the running TestCase's temp dir

_PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(None, use_errno=True)
except OSError:  # pragma: no cover - not Linux/glibc
    _libc = None


def _die_with_parent():
    # Runs in the child between fork and exec. The kernel sends SIGKILL when the thread that
    # forked exits, so this is only used for processes started from the main thread.
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _log_dir():
    global _fallback_dir
    if _current_dir:
        return _current_dir
    if _fallback_dir is None:
        _fallback_dir = tempfile.mkdtemp(prefix="fulcrum-test-")
        if os.environ.get("FULCRUM_KEEP_TMP") != "1":
            atexit.register(shutil.rmtree, _fallback_dir, True)
    return _fallback_dir


class Process:
    """A started command whose stdout and stderr are captured to files.

    Registered until stopped; TestCase stops it at the end of the test, atexit at the end of the
    interpreter. Usable as a context manager (stops on exit).
    """

    def __init__(self, args, name=None, log_dir=None, env=None, cwd=None,
                 stdin=subprocess.DEVNULL):
        """Starts `args` (a list; items are converted with str()).

        name: label for logs (default: basename of args[0]); log_dir: where NAME.stdout and
        NAME.stderr go (default: the current test's temp dir); env: variables added to (not
        replacing) os.environ.
        """
        self.args = [str(a) for a in args]
        self.name = name or os.path.basename(self.args[0])
        directory = log_dir or _log_dir()
        base = os.path.join(directory, self.name)
        suffix = 1
        while os.path.exists(base + ".stdout"):
            suffix += 1
            base = os.path.join(directory, f"{self.name}.{suffix}")
        self.stdout_path = base + ".stdout"
        self.stderr_path = base + ".stderr"
        full_env = dict(os.environ)
        if env:
            full_env.update({k: str(v) for k, v in env.items()})
        in_main_thread = threading.current_thread() is threading.main_thread()
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            # Own process group (id = pid), so that stop() can also reap what the process
            # started itself (e.g. the children of a `sh -c` wrapper).
            self._popen = subprocess.Popen(
                self.args, stdout=out, stderr=err, stdin=stdin, env=full_env, cwd=cwd,
                start_new_session=True,
                preexec_fn=_die_with_parent if in_main_thread else None)
        with _registry_lock:
            _live.append(self)
            _started.append(self)

    def __repr__(self):
        return f"Process({self.name}, pid={self.pid}, returncode={self.returncode})"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    @property
    def pid(self):
        return self._popen.pid

    @property
    def returncode(self):
        """None while running; the exit status, or -SIGNUM if killed by a signal."""
        return self._popen.poll()

    def running(self):
        return self._popen.poll() is None

    def send_signal(self, sig):
        """Sends `sig` if the process is still running."""
        if self._popen.poll() is None:
            try:
                self._popen.send_signal(sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout=None):
        """Waits for exit and returns the return code; ProcessError on timeout."""
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        try:
            return self._popen.wait(timeout)
        except subprocess.TimeoutExpired:
            raise ProcessError(f"{self.name} (pid {self.pid}) still running after "
                               f"{timeout}s\n{self.describe()}") from None

    def stop(self, sig=signal.SIGTERM, timeout=None):
        """Sends `sig`, waits up to `timeout` (default 10s, scaled), then SIGKILLs.

        Returns the return code. Whatever is left of the process's own process group (children
        it did not stop) is SIGKILLed afterwards. Safe to call more than once.
        """
        timeout = scaled(10.0) if timeout is None else timeout
        if self._popen.poll() is None:
            self.send_signal(sig)
            try:
                self._popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait()
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        with _registry_lock:
            if self in _live:
                _live.remove(self)
        return self._popen.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def _path(self, stream):
        if stream == "stdout":
            return self.stdout_path
        if stream == "stderr":
            return self.stderr_path
        raise ValueError(f"stream must be 'stdout' or 'stderr', not {stream!r}")

    def output(self, stream="stdout"):
        """Everything the process wrote to `stream` so far, as text."""
        with open(self._path(stream), "rb") as f:
            return f.read().decode("utf-8", "replace")

    def mark(self, stream="stdout"):
        """The current end of `stream`: pass as since= to wait only for later lines."""
        return os.path.getsize(self._path(stream))

    def wait_for_line(self, regex, timeout=None, stream="stdout", since=0):
        """Polls the captured `stream` until a complete line matches `regex` (re.search).

        Returns the re.Match. Only lines written after byte offset `since` are considered (see
        mark()). Raises ProcessError, with the process's output, if the process exits first or
        the timeout (default DEFAULT_TIMEOUT) passes.
        """
        pattern = re.compile(regex) if isinstance(regex, str) else regex
        timeout = DEFAULT_TIMEOUT if timeout is None else timeout
        deadline = time.monotonic() + timeout
        path = self._path(stream)
        offset = since
        while True:
            exited = self._popen.poll() is not None  # read after: catch its last lines
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            end = data.rfind(b"\n")
            if end >= 0:
                for line in data[:end].split(b"\n"):
                    match = pattern.search(line.decode("utf-8", "replace").rstrip("\r"))
                    if match:
                        return match
                offset += end + 1
            if exited:
                raise ProcessError(f"{self.name} exited with {self.returncode} before printing "
                                   f"a line matching {pattern.pattern!r} on {stream}\n"
                                   f"{self.describe()}")
            if time.monotonic() > deadline:
                raise ProcessError(f"{self.name} printed no line matching {pattern.pattern!r} "
                                   f"on {stream} within {timeout:.1f}s\n{self.describe()}")
            time.sleep(_POLL_INTERVAL)

    def describe(self, tail_lines=80):
        """Command, state and the tails of stdout and stderr, for failure messages."""
        parts = [f"--- {self.name}: pid {self.pid}, returncode {self.returncode}",
                 "    command: " + " ".join(self.args)]
        for stream in ("stdout", "stderr"):
            lines = self.output(stream).splitlines()
            skipped = len(lines) - tail_lines
            shown = lines[-tail_lines:]
            header = f"    {stream} ({self._path(stream)})"
            if skipped > 0:
                header += f", last {tail_lines} of {len(lines)} lines"
            parts.append(header + (":" if shown else ": (empty)"))
            parts.extend("    | " + line for line in shown)
        return "\n".join(parts)


def stop_all(sig=signal.SIGTERM, timeout=None):
    """Stops every registered process, the most recently started first."""
    with _registry_lock:
        processes = list(reversed(_live))
    for process in processes:
        process.stop(sig, timeout)


atexit.register(stop_all)


def start_echo(name, threads=1, extra_args=(), log_dir=None, timeout=None):
    """Starts fulcrum-echo on 127.0.0.1:0 and returns (Process, "127.0.0.1:PORT")."""
    process = Process([bin_path("fulcrum-echo"), "--listen", "127.0.0.1:0", "--name", name,
                       "--threads", threads, *extra_args], name=f"echo-{name}", log_dir=log_dir)
    match = process.wait_for_line(r"^listening on (\S+)$", timeout=timeout)
    return process, match.group(1)


# ---------------------------------------------------------------------------------------------
# HTTP


def split_addr(addr):
    """"127.0.0.1:80" or "[::1]:80" -> (host, port)."""
    host, _, port = addr.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _header_items(headers):
    if headers is None:
        return []
    if hasattr(headers, "items"):
        return [(str(k), str(v)) for k, v in headers.items()]
    return [(str(k), str(v)) for k, v in headers]


def _send(conn, method, path, headers, body):
    items = _header_items(headers)
    names = {k.lower() for k, _ in items}
    if isinstance(body, str):
        body = body.encode()
    encode_chunked = any(k.lower() == "transfer-encoding" and "chunked" in v.lower()
                         for k, v in items)
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        if isinstance(body, (bytes, bytearray, memoryview)):
            items.append(("Content-Length", str(len(body))))
        else:  # an iterable of bytes: stream it chunked
            items.append(("Transfer-Encoding", "chunked"))
            encode_chunked = True
    conn.putrequest(method, path, skip_host="host" in names, skip_accept_encoding=True)
    for name, value in items:
        conn.putheader(name, value)
    conn.endheaders(body, encode_chunked=encode_chunked)
    response = conn.getresponse()
    return response.status, response.headers, response.read()


def http_request(addr, method, path, headers=None, body=None, timeout=None):
    """One request on a fresh connection; returns (status, headers, body).

    headers: a mapping or a list of (name, value) pairs (repeats allowed), sent in order; Host
    is added unless given. body: bytes/str (Content-Length added unless framing is given) or an
    iterable of bytes (sent chunked unless Content-Length is given). The returned headers are an
    http.client.HTTPMessage (case-insensitive get(), get_all()); body is bytes. A response cut
    short raises http.client.IncompleteRead.
    """
    host, port = split_addr(addr)
    conn = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT if timeout is None
                                      else timeout)
    try:
        return _send(conn, method, path, headers, body)
    finally:
        conn.close()


class HttpClient:
    """One HTTP/1.1 connection reused for successive requests (keep-alive).

    If the server closes the connection, the next request opens a new one (local_port changes).
    """

    def __init__(self, addr, timeout=None):
        host, port = split_addr(addr)
        self.conn = http.client.HTTPConnection(host, port, timeout=HTTP_TIMEOUT if timeout is None
                                               else timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def request(self, method, path, headers=None, body=None):
        """Like http_request() on this connection: returns (status, headers, body)."""
        return _send(self.conn, method, path, headers, body)

    @property
    def local_port(self):
        """The local port of the current connection (None before the first request)."""
        return self.conn.sock.getsockname()[1] if self.conn.sock else None

    def close(self):
        self.conn.close()


def get_json(addr, path, timeout=None):
    """GET `path` and return the decoded JSON body; AssertionError unless the status is 200."""
    status, _, body = http_request(addr, "GET", path, timeout=timeout)
    if status != 200:
        raise AssertionError(f"GET {path} on {addr}: status {status}: {body[:200]!r}")
    return json.loads(body)


def echo_stats(addr):
    """fulcrum-echo's /stats: {"name", "connections", "open_connections", "requests"}.

    The /stats request itself adds one connection and no request.
    """
    return get_json(addr, "/stats")


# ---------------------------------------------------------------------------------------------
# Raw sockets


def connect(addr, timeout=None):
    """A connected TCP socket with a timeout (default HTTP_TIMEOUT)."""
    return socket.create_connection(split_addr(addr), HTTP_TIMEOUT if timeout is None
                                    else timeout)


class RawReply(bytes):
    """Bytes read from a socket; .closed tells whether the peer closed (EOF or reset) before
    the timeout, .reset whether that close was a reset."""

    closed = False
    reset = False


def recv_until_close(sock, timeout=None):
    """Reads until the peer closes or `timeout` (default scaled 10s) passes; returns RawReply."""
    timeout = scaled(10.0) if timeout is None else timeout
    deadline = time.monotonic() + timeout
    chunks = []
    closed = reset = False
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data = sock.recv(1 << 16)
        except socket.timeout:
            break
        except ConnectionResetError:
            closed = reset = True
            break
        if not data:
            closed = True
            break
        chunks.append(data)
    reply = RawReply(b"".join(chunks))
    reply.closed = closed
    reply.reset = reset
    return reply


def raw_exchange(addr, data, timeout=None, shutdown_write=False):
    """Connects, sends `data`, and reads until the server closes or `timeout` passes.

    Returns a RawReply (bytes with .closed). With shutdown_write, half-closes after sending. For
    malformed-request tests: assert on the status line and that reply.closed.
    """
    with connect(addr, timeout) as sock:
        try:
            sock.sendall(data)
            if shutdown_write:
                sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading everything
        return recv_until_close(sock, timeout)


class HttpResponse:
    """A response parsed from raw bytes: status, reason, headers (list of (name, value)), body
    (de-chunked), complete (False if the bytes ended inside the body)."""

    def __init__(self, status, reason, headers, body, complete, chunked):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.complete = complete
        self.chunked = chunked

    def header(self, name, default=None):
        """The first value of header `name` (case-insensitive)."""
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    def __repr__(self):
        return (f"HttpResponse({self.status}, body={self.body[:60]!r}"
                f"{'' if self.complete else ', incomplete'})")


def _parse_one(data, head_request=False):
    """Parses one response at the front of data: (HttpResponse, rest) or None if the head is
    incomplete. A body without framing runs to the end of data (close-delimited)."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = data[:end].decode("latin-1").split("\r\n")
    version, _, rest = lines[0].partition(" ")
    code, _, reason = rest.partition(" ")
    if not version.startswith("HTTP/") or not code.isdigit():
        raise ValueError(f"not an HTTP response: {lines[0]!r}")
    status = int(code)
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.append((name, value.strip()))
    rest = data[end + 4:]
    response = HttpResponse(status, reason, headers, b"", True, False)
    te = (response.header("transfer-encoding") or "").lower()
    length = response.header("content-length")
    if 100 <= status < 200 or status in (204, 304) or head_request:
        return response, rest
    if "chunked" in te:
        response.chunked = True
        body = []
        while True:
            line_end = rest.find(b"\r\n")
            if line_end < 0:
                response.complete = False
                rest = b""
                break
            size = int(rest[:line_end].split(b";")[0].strip(), 16)
            if size == 0:
                trailer_end = rest.find(b"\r\n\r\n", line_end)
                if trailer_end < 0:
                    response.complete = False
                    rest = b""
                else:
                    rest = rest[trailer_end + 4:]
                break
            chunk = rest[line_end + 2:line_end + 2 + size]
            body.append(chunk)
            if len(chunk) < size or len(rest) < line_end + 4 + size:
                response.complete = False
                rest = b""
                break
            rest = rest[line_end + 4 + size:]
        response.body = b"".join(body)
        return response, rest
    if length is not None:
        n = int(length)
        response.body = rest[:n]
        response.complete = len(rest) >= n
        return response, rest[n:]
    response.body = rest
    return response, b""


def parse_http_responses(data, head_requests=0):
    """Splits raw bytes into HttpResponses (for pipelining and close tests).

    Returns (responses, rest) where rest is an incomplete trailing head. Interim (1xx)
    responses are included. The first `head_requests` responses are taken as answers to HEAD.
    """
    responses = []
    while data:
        parsed = _parse_one(data, head_request=len(responses) < head_requests)
        if parsed is None:
            break
        response, data = parsed
        responses.append(response)
        if not response.complete:
            break
    return responses, data


def recv_http_responses(sock, count, timeout=None):
    """Reads from sock until `count` complete final (non-1xx) responses have arrived, the
    peer closes, or the timeout passes; returns the parsed list (1xx responses dropped)."""
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        responses, _ = parse_http_responses(data)
        final = [r for r in responses if r.status >= 200 and r.complete]
        if len(final) >= count:
            return final
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"got {len(final)} of {count} responses within {timeout}s: "
                                 f"{data[:500]!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(1 << 16)
        except socket.timeout:
            continue
        if not chunk:
            return final
        data += chunk


# ---------------------------------------------------------------------------------------------
# Waiting


class WaitTimeout(AssertionError):
    """wait_until's condition did not hold in time."""


def wait_until(predicate, timeout=None, interval=0.05, message=None, ignore=()):
    """Calls predicate() until it returns something truthy, and returns that value.

    Exceptions of the types in `ignore` (e.g. (OSError,) while a server starts) count as
    "not yet". Raises WaitTimeout after `timeout` (default DEFAULT_TIMEOUT).
    """
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    deadline = time.monotonic() + timeout
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except ignore as error:  # noqa: PERF203 - polling
            last_error = error
        if time.monotonic() > deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise WaitTimeout(f"{message or 'condition'} not reached within {timeout:.1f}s"
                              f"{detail}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# unittest glue


class TestCase(unittest.TestCase):
    """unittest.TestCase with a temp dir per test (self.tmp) and process cleanup.

    Every process started during the test is stopped afterwards, even on failure; if the test
    failed, their command lines and output tails are printed to stderr.
    """

    def setUp(self):
        global _current_dir
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix=f"fulcrum-{self._testMethodName}-")
        _current_dir = self.tmp
        with _registry_lock:
            self._first_process = len(_started)
        self.addCleanup(self._stop_processes)

    def _stop_processes(self):
        global _current_dir
        for process in reversed(self._processes()):
            process.stop()
        _current_dir = None

    def _processes(self):
        with _registry_lock:
            return _started[self._first_process:]

    def run(self, result=None):
        # Failure is only known once unittest has recorded it, so logs are printed (and the temp
        # dir removed) here, after setUp, the test, tearDown and the cleanups have all run.
        if result is None:
            result = self.defaultTestResult()
        problems = len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            tmp = getattr(self, "tmp", None)
            if tmp is not None:
                if len(result.failures) + len(result.errors) > problems:
                    lines = [f"=== {self.id()} failed; its processes (logs in {tmp}):"]
                    lines.extend(process.describe() for process in self._processes())
                    print("\n".join(lines), file=sys.stderr, flush=True)
                if os.environ.get("FULCRUM_KEEP_TMP") != "1":
                    shutil.rmtree(tmp, ignore_errors=True)

    def start(self, args, name=None, **kwargs):
        """Starts a Process logging into this test's temp dir."""
        return Process(args, name=name, log_dir=self.tmp, **kwargs)

    def start_echo(self, name, threads=1, extra_args=()):
        """start_echo() logging into this test's temp dir: (Process, "127.0.0.1:PORT")."""
        return start_echo(name, threads=threads, extra_args=extra_args, log_dir=self.tmp)

    def path(self, *parts):
        """A path inside this test's temp dir."""
        return os.path.join(self.tmp, *parts)

    def write_file(self, name, text):
        """Writes `text` (str or bytes) to a file in the temp dir and returns its path."""
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(text.encode() if isinstance(text, str) else text)
        return path


def main():
    """unittest.main with verbose output; use as `if __name__ == "__main__": ft.main()`."""
    unittest.main(verbosity=2)
