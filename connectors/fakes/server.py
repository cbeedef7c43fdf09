"""A small threaded HTTP server on 127.0.0.1 that platform fakes build on.

A fake declares its endpoints with ``@route(METHOD, regex)``; the base parses the request, records it, applies
injected faults (status codes, garbage bodies, dropped or hung connections, 429 with reset headers) and writes the
answer with ``Content-Type: application/json`` exactly, as the real APIs do.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

JSON = "application/json"


@dataclass
class Request:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    """What a route answers: a status, a JSON-able body (or raw bytes) and headers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = JSON


@dataclass
class Fault:
    """An injected failure for the next ``times`` requests whose path matches ``path``."""

    status: int = 500
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    disconnect: bool = False
    path: str = ""
    times: int = 1
    # With ``disconnect``: handle the request first, then drop the connection (the platform did it; the answer
    # never arrived), as when a client times out on a post that went through.
    after: bool = False
    # Read the request and never answer (until the fake stops): a hung connection, for the client's read timeout.
    hang: bool = False


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (a timeout, a dropped connection the test injected) is what clients do, not a
        # fault of the fake: no traceback for it on stderr.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def route(method: str, pattern: str) -> Callable:
    """Mark a fake's method as the handler of ``METHOD pattern`` (a regex matched against the whole path)."""

    def mark(fn: Callable) -> Callable:
        fn.route = (method.upper(), re.compile(pattern + r"\Z"))
        return fn

    return mark


class FakePlatform:
    """Base of every fake. Subclasses add ``@route`` handlers and the platform's state."""

    platform: ClassVar[str] = ""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.lock = threading.RLock()
        self._routes = [
            (*fn.route, getattr(self, name))
            for cls in reversed(type(self).__mro__)
            for name, fn in vars(cls).items()
            if callable(fn) and hasattr(fn, "route")
        ]
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> str:
        """Serve on 127.0.0.1 (an ephemeral port unless given) in a daemon thread; return the base URL."""
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                fake._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        self._stopped.clear()
        self._server = _Server(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-{self.platform}",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._stopped.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakePlatform:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server, "fake not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- what tests and the demo use --------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        """Make the next matching request(s) fail as ``fault`` says."""
        with self.lock:
            self.faults.append(fault)

    def calls(self, method: str | None = None, path: str = "") -> list[Request]:
        """The requests received so far, optionally only those matching ``method`` and path regex ``path``."""
        with self.lock:
            return [
                r
                for r in self.requests
                if (method is None or r.method == method.upper()) and re.search(path, r.path)
            ]

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        """Headers added to every answer; fakes override with their platform's names."""
        return {}

    def connector_settings(self) -> dict[str, Any]:
        """The ``[connectors.<name>]`` table that points the real connector at this fake."""
        return {"enabled": True, "base_url": self.base_url}

    def environment(self) -> dict[str, str]:
        """Fake credentials for the environment variables that ``connector_settings`` names."""
        return {}

    def publish(self, sample: dict[str, Any]) -> None:
        """Make a sample post (see ``connectors/fakes/samples.jsonl``) appear on the platform."""
        raise NotImplementedError

    def posted(self) -> list[dict[str, Any]]:
        """Everything the bot has posted here (replies and private messages), oldest first."""
        return []

    # -- plumbing ---------------------------------------------------------------------------------------------

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        request = Request(
            method=handler.command,
            path=unquote(split.path),
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=body,
        )
        with self.lock:
            self.requests.append(request)
            fault = self._take_fault(request)
        if fault and fault.hang:
            self._stopped.wait()
            handler.close_connection = True
            return
        if fault and fault.disconnect:
            if fault.after:
                self._answer(request)
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if fault:
            response = Response(fault.status, fault.body, dict(fault.headers))
            raw = fault.raw
        else:
            response, raw = self._answer(request), None
        headers = {**self.rate_limit_headers(request), **response.headers}
        if raw is None:
            if isinstance(response.body, bytes | str):
                raw = response.body.encode() if isinstance(response.body, str) else response.body
            else:
                raw = (
                    b""
                    if response.body is None and response.status == 204
                    else json.dumps(response.body).encode()
                )
        handler.send_response(response.status)
        if response.status != 204:
            handler.send_header("Content-Type", response.content_type)
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(raw)))
        handler.end_headers()
        handler.wfile.write(raw)

    def _take_fault(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if re.search(fault.path, request.path):
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _answer(self, request: Request) -> Response:
        allowed = False
        for method, pattern, fn in self._routes:
            match = pattern.match(request.path)
            if not match:
                continue
            allowed = True
            if method != request.method:
                continue
            request.params = match.groupdict()
            try:
                with self.lock:
                    result = fn(request)
            except Exception as exc:  # a fake's bug must show as a 500, not a hung client
                return Response(500, {"error": f"fake {self.platform}: {exc!r}"})
            return result if isinstance(result, Response) else Response(200, result)
        return Response(
            405 if allowed else 404, {"error": "not found" if not allowed else "method not allowed"}
        )


def epoch(dt: Any) -> float:
    """Seconds since the epoch for an aware datetime."""
    return dt.timestamp()


def now_epoch() -> float:
    return time.time()
