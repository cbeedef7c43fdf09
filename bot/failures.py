"""Why a platform call failed, in plain words: cannot resolve host, cannot connect, timed out, credentials
refused, rate limited.

Connectors raise our ``ConnectorError`` classes chained (``raise … from exc``) to the client library's own error
(requests, urllib3, prawcore, aiohttp, discord.py); the root cause is found by walking that chain, by the classes'
names so that no client library is imported here, and by the words those libraries put in their messages where a
connector kept only the text.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass

from bot.errors import TransientError

RESOLVE, CONNECT, TIMEOUT, REFUSED, RATE = (
    "cannot resolve host",
    "cannot connect",
    "timed out",
    "credentials refused",
    "rate limited",
)

# Class names (anywhere in an exception's MRO) of each cause, most specific first: urllib3's NameResolutionError is
# a NewConnectionError, which is a ConnectTimeoutError, so the order decides.
_BY_CLASS: list[tuple[str, set[str]]] = [
    (RESOLVE, {"NameResolutionError", "gaierror"}),
    (
        CONNECT,
        {"ConnectionRefusedError", "NewConnectionError", "ClientConnectorError", "ConnectionResetError"},
    ),
    (TIMEOUT, {"TimeoutError", "Timeout", "ConnectTimeoutError", "ReadTimeoutError", "ServerTimeoutError"}),
    (RATE, {"TooManyRequests"}),
    (REFUSED, {"LoginFailure", "OAuthException", "InvalidToken", "Unauthorized", "Forbidden", "FatalError"}),
]
# The words client libraries write for each cause, for failures that reach us only as text.
_BY_TEXT: list[tuple[str, re.Pattern[str]]] = [
    (
        RESOLVE,
        re.compile(
            r"NameResolutionError|Name or service not known|Temporary failure in name resolution|"
            r"nodename nor servname|getaddrinfo failed|No address associated",
            re.I,
        ),
    ),
    (TIMEOUT, re.compile(r"timed out|Timeout", re.I)),
    (
        CONNECT,
        re.compile(
            r"Connection refused|NewConnectionError|Cannot connect to host|Failed to establish|ConnectionError|"
            r"Network is unreachable|Connection reset",
            re.I,
        ),
    ),
    (RATE, re.compile(r"\b429\b|rate limit", re.I)),
    (REFUSED, re.compile(r"\b40[13]\b|login refused|Unauthorized|invalid_grant|forbidden", re.I)),
]
_HOST = re.compile(
    r"host='([^']+)'(?:, port=(\d+))?|Cannot connect to host ([^\s:]+):(\d+)|https?://([^/\s:'\"]+)"
)


@dataclass(frozen=True, slots=True)
class Cause:
    """Why a call failed: one of the five kinds (or ``None``), and a short line for a person."""

    kind: str | None
    text: str

    @property
    def network(self) -> bool:
        """Whether the network (not our code) is to blame: expected, logged as one line."""
        return self.kind is not None


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it was raised from, wraps or carries (prawcore's ``original_exception``,
    urllib3's ``reason``, an exception given as an argument)."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        carried = [
            e.__cause__,
            e.__context__,
            getattr(e, "original_exception", None),
            getattr(e, "reason", None),
        ]
        carried += list(getattr(e, "args", ()))
        todo += [c for c in carried if isinstance(c, BaseException)]


def _names(e: BaseException) -> set[str]:
    return {c.__name__ for c in type(e).__mro__}


def _status(e: BaseException) -> int | None:
    response = getattr(e, "response", None)
    code = (
        getattr(response, "status_code", None)
        or getattr(response, "status", None)
        or getattr(e, "status", None)
    )
    return code if isinstance(code, int) else None


def cause(exc: BaseException) -> Cause:
    """The plain cause of ``exc``: 'cannot connect to 127.0.0.1:9', 'credentials refused: …', …"""
    errors = list(chain(exc))
    kind = None
    for e in errors:
        if isinstance(e, socket.gaierror):
            kind = RESOLVE
            break
        status = _status(e)
        if status == 429:
            kind = RATE
            break
        if status in (401, 403):
            kind = REFUSED
            break
    if kind is None:
        kind = next((k for k, names in _BY_CLASS for e in errors if names & _names(e)), None)
    text = " ".join(str(e) for e in errors)
    if kind is None:
        kind = next((k for k, pattern in _BY_TEXT if pattern.search(text)), None)
    if kind is None and isinstance(exc, TransientError) and exc.retry_after:
        kind = RATE
    return Cause(kind, _say(kind, exc, text))


def _say(kind: str | None, exc: BaseException, text: str) -> str:
    own = str(exc)
    connector = getattr(exc, "connector", None)
    if connector and own.startswith(f"{connector}: "):
        own = own[len(connector) + 2 :]
    if kind in (RESOLVE, CONNECT):
        m = _HOST.search(text)
        if m:
            host = m.group(1) or m.group(3) or m.group(5)
            port = m.group(2) or m.group(4)
            return f"{kind} {host}" if kind == RESOLVE else f"{kind} to {host}{f':{port}' if port else ''}"
        return kind
    if kind in (TIMEOUT, RATE):
        return kind
    if kind == REFUSED:
        return f"{kind} ({_short(own)})"
    return _short(own) or type(exc).__name__


def _short(text: str, limit: int = 160) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
