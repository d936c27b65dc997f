"""The emulator's HTTP/1.1 layer: a threading server and its request handler.

The handler reads a request, hands it to the emulator (``/_emulator/...`` to
:mod:`~papertrade.exchange_sim.control`, everything else to
:meth:`~papertrade.exchange_sim.server.EmulatorServer.serve_binance`) and writes the answer.
What it refuses before anything is routed, each time answering JSON ``{"error": "..."}`` and
closing the connection:

- a ``Content-Length`` that is not a plain decimal number (``abc``, ``-1``, ``1e11``) or that
  is sent twice with different values: 400;
- a body over :data:`MAX_BODY` bytes: 413, without reading it;
- ``Transfer-Encoding`` (chunked bodies are not supported): 501;
- more than :data:`MAX_CONNECTIONS` open connections: 503 to the newcomer.

A bug while answering gives a 500 (logged), never a dropped connection with a traceback. Idle or
stalled connections are closed after :attr:`Handler.timeout` seconds; each connection has its
own thread, so slow clients never delay others. Nothing here logs a secret, a signature or a
query string.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from loguru import logger

from papertrade.exchange_sim import control
from papertrade.exchange_sim.params import ApiRequest
from papertrade.util.text import one_line

if TYPE_CHECKING:
    from papertrade.exchange_sim.server import EmulatorServer

MAX_BODY = 1 << 20  # bytes; Binance's own bodies are a few hundred bytes
MAX_CONNECTIONS = 1024
_DRAIN_BYTES = 4 << 20  # read (and drop) at most this much of a refused body, for at most:
_DRAIN_SECONDS = 1.0
_LENGTH = re.compile(r"[0-9]{1,19}")
_QUERY = re.compile(r"\?\S*")
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
         b"Content-Length: 39\r\nConnection: close\r\n\r\n"
         b'{"error":"too many open connections"}\r\n')


class HttpServer(ThreadingHTTPServer):
    """A thread per connection, every connection tracked so ``close_connections`` can end them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], emulator: EmulatorServer,
                 family: socket.AddressFamily) -> None:
        self.address_family = family
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            busy = len(self._connections) >= MAX_CONNECTIONS
            if not busy:
                self._connections.add(request)
        if busy:
            with contextlib.suppress(OSError):
                request.sendall(_BUSY)
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that gave up (its timeout, a lost-response fault) is normal traffic here
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            return
        logger.warning("emulator connection error: {}", one_line(repr(error)))

    def open_connections(self) -> int:
        """How many client connections are open now."""
        with self._connections_lock:
            return len(self._connections)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


class Handler(BaseHTTPRequestHandler):
    """One connection: requests in, JSON (or a fault's HTML) out."""

    protocol_version = "HTTP/1.1"
    server_version = "papertrade-exchange-emulator"
    sys_version = ""
    disable_nagle_algorithm = True  # else small keep-alive answers wait ~40 ms for delayed ACKs
    timeout = 120  # idle or stalled connections are closed after this

    server: HttpServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the request line holds the query string (signature): see _dispatch

    def log_message(self, format: str, *args: Any) -> None:
        text = _QUERY.sub("?<redacted>", format % args)
        logger.debug("emulator http: {}", one_line(text))

    def _dispatch(self) -> None:
        started = time.perf_counter()
        url = urlsplit(self.path)
        status: int | str = "-"
        try:
            body = self._read_body()
            if body is None:
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            emulator = self.server.emulator
            if url.path.startswith("/_emulator/") or url.path == "/_emulator":
                status, payload = control.handle(
                    emulator, self.command, url.path, body, headers, self.client_address[0]
                )
                self._send(status, payload, {})
            else:
                req = ApiRequest(self.command, url.path, url.query, body, headers)
                status, payload, extra, disposition = emulator.serve_binance(req)
                if disposition == "drop":
                    self._drop()
                else:
                    self._send(status, payload, extra)
        except (ConnectionError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # a bug: answer 500 and log it, never a bare dropped socket
            logger.opt(exception=exc).error("emulator error on {} {}", self.command, url.path)
            status = 500
            self._refuse(500, f"internal error: {one_line(repr(exc), 200)}")
        logger.trace("{} {} -> {} in {:.1f} ms", self.command, url.path, status,
                     (time.perf_counter() - started) * 1000)

    def _read_body(self) -> str | None:
        """The request body, or None when the request was refused (answered and closing)."""
        if "Transfer-Encoding" in self.headers:
            self._refuse(501, "Transfer-Encoding is not supported: send a Content-Length")
            return None
        values = {v.strip() for v in self.headers.get_all("Content-Length") or []}
        if len(values) > 1:
            self._refuse(400, "conflicting Content-Length headers")
            return None
        text = values.pop() if values else "0"
        if not _LENGTH.fullmatch(text):
            self._refuse(400, f"malformed Content-Length {one_line(repr(text), 40)}: "
                              "send the body's size in bytes")
            return None
        length = int(text)
        if length > MAX_BODY:
            self._refuse(413, f"request body of {length} bytes is over the limit of "
                              f"{MAX_BODY} bytes")
            return None
        data = self.rfile.read(length) if length else b""
        if len(data) < length:  # the client closed mid-body: nobody to answer
            self.close_connection = True
            return None
        return data.decode("utf-8", "replace")

    def _send(self, status: int, payload: object, extra: dict[str, str]) -> None:
        if isinstance(payload, str):
            data, content_type = payload.encode(), "text/html"
        else:
            data = json.dumps(payload, separators=(",", ":")).encode()
            content_type = "application/json;charset=UTF-8"
        self.send_response_only(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Date", self.date_time_string())
        for name, value in extra.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` and close; the unread rest of the request is drained (bounded) so
        the client reads the answer instead of a connection reset."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self._send(status, {"error": message}, {})
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(_DRAIN_SECONDS)
            deadline, drained = time.monotonic() + _DRAIN_SECONDS, 0
            while time.monotonic() < deadline and drained < _DRAIN_BYTES:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                drained += len(chunk)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
