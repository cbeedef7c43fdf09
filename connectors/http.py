"""The one HTTP client that connectors without a client library share.

It turns the platforms' failures into the two error branches: ``TransientError`` (timeout, connection lost, 5xx,
429, malformed JSON: retried with back-off, then raised) and ``FatalError`` (401/403: a credential to fix). A 429
waits for the reset the platform announces, through the injected clock, when that is short; otherwise it raises
``TransientError`` with ``retry_after`` so the scheduler can poll again later. Every call is counted.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from bot.clock import Clock, SystemClock
from bot.errors import FatalError, TransientError

log = logging.getLogger(__name__)

RESET_HEADERS = ("retry-after", "x-ratelimit-reset", "x-rate-limit-reset", "ratelimit-reset")
REMAINING_HEADERS = ("x-ratelimit-remaining", "x-rate-limit-remaining", "ratelimit-remaining")


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
    library that takes a session (praw, tweepy, Mastodon.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.calls += 1
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
        retries: int = 2,
        max_wait: float = 120.0,
    ):
        self.connector = connector
        self.base_url = base_url.rstrip("/")
        self.clock = clock or SystemClock()
        self.timeout = timeout
        self.retries = retries
        self.max_wait = max_wait
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "mentionbot/0.1 (+https://github.com/mentionbot/mentionbot)"
        if headers:
            self.session.headers.update(headers)
        self.calls = 0
        self.rate = RateLimit()

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def request(self, method: str, path: str, *, raw: bool = False, **kwargs: Any) -> Any:
        """Send a request and return its decoded JSON (or the ``Response`` with ``raw=True``)."""
        url = path if path.startswith("http") else f"{self.base_url}/{path.lstrip('/')}"
        kwargs.setdefault("timeout", self.timeout)
        attempt = 0
        while True:
            attempt += 1
            try:
                self.calls += 1
                response = self.session.request(method, url, **kwargs)
            except requests.RequestException as exc:
                error = TransientError(self.connector, f"{method} {path}: {type(exc).__name__}")
                if attempt > self.retries:
                    raise error from exc
                self._backoff(attempt, error)
                continue
            self._note_rate(response)
            status = response.status_code
            if status == 429:
                wait = seconds_until_reset(response.headers, self.clock.now())
                wait = 60.0 if wait is None else wait
                if wait <= self.max_wait and attempt <= self.retries:
                    log.warning(
                        "%s: rate limited on %s %s; waiting %.0fs", self.connector, method, path, wait
                    )
                    self.clock.sleep(wait)
                    continue
                raise TransientError(self.connector, f"{method} {path}: rate limited", retry_after=wait)
            if status in (401, 403):
                raise FatalError(self.connector, f"{method} {path}: HTTP {status} (credential refused)")
            if status >= 500:
                error = TransientError(self.connector, f"{method} {path}: HTTP {status}")
                if attempt > self.retries:
                    raise error
                self._backoff(attempt, error)
                continue
            if raw:
                return response
            if status >= 400:
                raise TransientError(self.connector, f"{method} {path}: HTTP {status}: {response.text[:200]}")
            if status == 204 or not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                error = TransientError(self.connector, f"{method} {path}: malformed JSON answer")
                if attempt > self.retries:
                    raise error from exc
                self._backoff(attempt, error)

    def _backoff(self, attempt: int, error: Exception) -> None:
        delay = min(2.0 ** (attempt - 1), 30.0)
        log.warning("%s; retrying in %.0fs", error, delay)
        self.clock.sleep(delay)

    def _note_rate(self, response: requests.Response) -> None:
        for name in REMAINING_HEADERS:
            if name in response.headers:
                with contextlib.suppress(ValueError):
                    self.rate.remaining = float(response.headers[name])
        wait = seconds_until_reset(
            {k: v for k, v in response.headers.items() if k.lower() != "retry-after"}, self.clock.now()
        )
        if wait is not None:
            self.rate.reset_at = self.clock.now().timestamp() + wait
