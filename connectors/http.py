"""The one HTTP client that connectors without a client library share.

Nothing here waits. Each request is sent once, with a (connect, read) timeout, and its failure is raised at once as
one of the two error branches: a status code through the ``STATUS_ERRORS`` table (as prawcore's
``STATUS_EXCEPTIONS``), a transport failure (timeout, refused or dropped connection) through ``TRANSPORT_ERRORS``.
A 429, or a budget the platform said is spent (``remaining`` 0 before its reset), raises ``TransientError`` with
``retry_after`` until the announced reset; the pipeline skips that connector's polls until then while the others,
the outbox and the SLA sweep keep their pace. A 5xx, a timeout or a garbled body raises without ``retry_after``
(unless the server sent one): the pipeline's back-off (30 s, doubling) retries it, where a retry inside the poll
would only have held up everything behind it. Error messages carry a short single-line excerpt of an error body,
never the body. Every call is counted.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from bot.clock import Clock, SystemClock
from bot.errors import EXCERPT_CHARS, ConnectorError, FatalError, TransientError, excerpt

RESET_HEADERS = ("retry-after", "x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset")
REMAINING_HEADERS = ("x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining")
# A platform that has not accepted the connection by then is down; one that has gets the full read timeout.
CONNECT_TIMEOUT = 5.0
# A 429 that says nothing of when to come back: Reddit's and most platforms' windows are a minute or more.
RATE_LIMIT_WAIT = 60.0

# Status → (error, what it means). Any other status of 400 or more is a ``TransientError`` too; with ``raw=True``
# only the statuses in this table and 5xx raise, the rest are the caller's to read (a 304, a 404).
STATUS_ERRORS: dict[int, tuple[type[ConnectorError], str]] = {
    401: (FatalError, "credential refused"),
    403: (FatalError, "credential refused"),
    408: (TransientError, "request timeout"),
    429: (TransientError, "rate limited"),
    500: (TransientError, "server error"),
    502: (TransientError, "bad gateway"),
    503: (TransientError, "service unavailable"),
    504: (TransientError, "gateway timeout"),
}
# A transport failure, by the first class it is an instance of; ``{connect}`` and ``{read}`` are the timeouts.
TRANSPORT_ERRORS: tuple[tuple[type[requests.RequestException], str], ...] = (
    (requests.ConnectTimeout, "no connection within {connect:g} s"),
    (requests.Timeout, "no answer within {read:g} s"),
    (requests.ConnectionError, "connection failed"),
    (requests.RequestException, "request failed"),
)


def timeouts(read: float) -> tuple[float, float]:
    """``requests``' (connect, read) timeouts for a connector's ``timeout_seconds``."""
    return (min(CONNECT_TIMEOUT, read), read)


def transport_error(connector: str, what: str, exc: requests.RequestException, read: float) -> TransientError:
    """The ``TransientError`` for a request that got no answer (timeout, refused or dropped connection)."""
    connect, read = timeouts(read)
    meaning = next(text for cls, text in TRANSPORT_ERRORS if isinstance(exc, cls))
    return TransientError(
        connector, f"{what}: {meaning.format(connect=connect, read=read)} ({type(exc).__name__})"
    )


def status_error(
    connector: str,
    what: str,
    response: requests.Response,
    now: datetime,
    table: dict[int, tuple[type[ConnectorError], str]] = STATUS_ERRORS,
) -> ConnectorError | None:
    """The error for an answer with a failing status (``None`` below 400), through ``STATUS_ERRORS``.

    A 429 waits until the reset it announces (``RATE_LIMIT_WAIT`` when it does not say); any other status only as
    long as its ``Retry-After`` says, if it sends one."""
    status = response.status_code
    if status < 400:
        return None
    cls, meaning = table.get(status) or (
        TransientError,
        "server error" if status >= 500 else "refused",
    )
    # The start of the body only: an error page can be megabytes, and only a line of it is kept.
    detail = excerpt(response.content[:2000].decode("utf-8", errors="replace"), limit=EXCERPT_CHARS)
    message = f"{what}: HTTP {status} ({meaning})" + (f": {detail}" if detail else "")
    if cls is not TransientError:
        return cls(connector, message)
    if status == 429:
        wait = seconds_until_reset(response.headers, now)
        return TransientError(connector, message, retry_after=RATE_LIMIT_WAIT if wait is None else wait)
    return TransientError(
        connector,
        message,
        retry_after=seconds_until_reset({"retry-after": response.headers.get("retry-after")}, now),
    )


@dataclass
class RateLimit:
    """What the platform last said about our budget."""

    remaining: float | None = None
    reset_at: float | None = None  # epoch seconds


def seconds_until_reset(headers: Any, now: datetime) -> float | None:
    """Seconds to wait according to ``Retry-After`` or a ``*-reset`` header (epoch or delta), if any."""
    for name in RESET_HEADERS:
        value = headers.get(name)
        if value in (None, ""):
            continue
        try:
            number = float(value)
        except ValueError:
            try:  # an HTTP date (Retry-After) or an ISO 8601 time (Mastodon)
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                try:
                    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
                except ValueError:
                    continue
            return max(0.0, (when - now).total_seconds())
        # Reddit and Retry-After send a delta; X, Mastodon and GitHub-style headers an epoch time.
        if number > 1_000_000_000:
            return max(0.0, number - now.timestamp())
        return max(0.0, number)
    return None


class CountingSession(requests.Session):
    """A ``requests`` session that counts every request it sends (for per-call accounting), to hand to a client
    library that takes a session (praw, tweepy, Mastodon.py); with ``timeout``, every request gets our
    (connect, read) timeouts instead of the library's own (prawcore's 16 s, Mastodon.py's single number)."""

    def __init__(self, *, timeout: float | None = None) -> None:
        super().__init__()
        self.calls = 0
        self.timeout = None if timeout is None else timeouts(timeout)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls += 1
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


class HttpClient:
    """A ``requests`` session bound to one connector and one base URL."""

    def __init__(
        self,
        connector: str,
        base_url: str,
        *,
        clock: Clock | None = None,
        timeout: float = 20.0,
        headers: dict[str, str] | None = None,
        status_errors: dict[int, tuple[type[ConnectorError], str]] | None = None,
    ):
        self.connector = connector
        # A platform whose error bodies say more than their status (Meta's Graph API error codes) passes its own.
        self.status_errors = STATUS_ERRORS if status_errors is None else status_errors
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "mentionbot/0.1 (+https://github.com/mentionbot/mentionbot)"
        if headers:
            self.session.headers.update(headers)
        self.calls = 0
        self.rate = RateLimit()

    def get(self, path: str, **kwargs: Any) -> Any:
        """``request("GET", path, ...)``."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        """``request("POST", path, ...)``."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        """``request("PUT", path, ...)``."""
        return self.request("PUT", path, **kwargs)

    def request(self, method: str, path: str, *, raw: bool = False, **kwargs: Any) -> Any:
        """Send one request and return its decoded JSON, or with ``raw=True`` the ``Response`` (whose status the
        caller reads, unless ``STATUS_ERRORS`` or a 5xx made it raise). ``path`` is relative to the base URL, or
        a whole URL."""
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        what = f"{method} {path}"
        self._check_budget(what)
        kwargs.setdefault("timeout", timeouts(self.timeout))
        self.calls += 1
        try:
            response = self.session.request(method, url, **kwargs)
        except requests.RequestException as exc:
            raise transport_error(self.connector, what, exc, self.timeout) from exc
        self._note_rate(response)
        status = response.status_code
        error = status_error(self.connector, what, response, self.clock.now(), self.status_errors)
        if error is not None and not (raw and status < 500 and status not in self.status_errors):
            raise error
        if raw:
            return response
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise TransientError(self.connector, f"{what}: malformed JSON answer") from exc

    def _check_budget(self, what: str) -> None:
        """Raise instead of sending a request the platform said it would refuse (budget spent until its reset)."""
        now = self.clock.now().timestamp()
        rate = self.rate
        if rate.remaining is not None and rate.remaining <= 0 and rate.reset_at and rate.reset_at > now:
            raise TransientError(
                self.connector, f"{what}: rate budget spent until the reset", retry_after=rate.reset_at - now
            )

    def _note_rate(self, response: requests.Response) -> None:
        for name in REMAINING_HEADERS:
            if name in response.headers:
                with contextlib.suppress(ValueError):
                    self.rate.remaining = float(response.headers[name])
        wait = seconds_until_reset(
            {k.lower(): v for k, v in response.headers.items() if k.lower() != "retry-after"},
            self.clock.now(),
        )
        if wait is not None:
            self.rate.reset_at = self.clock.now().timestamp() + wait
