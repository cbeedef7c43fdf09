"""What the connectors on google-api-python-client share (Google Play, YouTube): the counting httplib2 client, and
one mapping of the client's failures to the two error branches.

A request is executed once (``num_retries=0``): a 429 or 5xx raises at once with the announced wait and the pipeline
polls again later, so nothing sleeps inside a poll. A status maps through ``STATUS_ERRORS`` (``REPLY_ERRORS`` for a
reply), as prawcore's ``STATUS_EXCEPTIONS``; any other is transient. A failure before an answer maps through
``TRANSPORT_ERRORS``. An answer that is not a JSON object (the client hands back text it could not parse) is
transient too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httplib2
from google.auth import exceptions as auth_exceptions
from google.auth.transport import DEFAULT_RETRYABLE_STATUS_CODES
from googleapiclient.errors import HttpError

from bot.clock import Clock
from bot.errors import ConnectorError, FatalError, ReplyNotAllowed, TransientError, excerpt
from connectors.http import RATE_LIMIT_WAIT, seconds_until_reset

# What an HTTP status from the API means; any other is transient. 429 and 5xx are retried by the pipeline.
STATUS_ERRORS: dict[int, type[ConnectorError]] = {401: FatalError, 403: FatalError}
# A refused reply (too long, the item gone) refuses that one reply, not the connector.
REPLY_ERRORS: dict[int, type[ConnectorError]] = {**STATUS_ERRORS, 400: ReplyNotAllowed, 404: ReplyNotAllowed}
# Failures before an answer; the first that matches wins.
TRANSPORT_ERRORS: dict[type[Exception], type[ConnectorError]] = {
    auth_exceptions.RefreshError: FatalError,
    httplib2.HttpLib2Error: TransientError,
    auth_exceptions.TransportError: TransientError,
    OSError: TransientError,
    ValueError: TransientError,
}


class CountingHttp(httplib2.Http):
    """httplib2's client, counting every request it sends (token exchanges included).

    A token exchange answered with a status google-auth retries (429, 5xx) raises instead: google-auth would retry
    it after real sleeps, inside the poll; the pipeline polls again later."""

    calls = 0
    token_uri = ""

    def request(self, uri: str, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        response, content = super().request(uri, *args, **kwargs)
        if self.token_uri and uri == self.token_uri and response.status in DEFAULT_RETRYABLE_STATUS_CODES:
            raise httplib2.HttpLib2Error(f"token exchange: HTTP {response.status}")
        return response, content


def execute(
    connector: str,
    build_request: Callable[[], Any],
    *,
    clock: Clock,
    refusal: bool = False,
    credential_refused: str = "credential refused and cannot be refreshed",
    first: Callable[[HttpError], ConnectorError | None] | None = None,
) -> Any:
    """Execute a client request once and return its JSON object (or ``None``); every failure raised as the
    ``ConnectorError`` it means.

    ``refusal``: a reply, whose 400 and 404 refuse that reply only. ``credential_refused``: what a refused refresh
    of the credential is called. ``first``: the connector's own reading of an error answer, asked before the
    tables (YouTube's quota); the error it returns is raised, ``None`` leaves the answer to the tables."""
    try:
        result = build_request().execute(num_retries=0)
    except HttpError as exc:
        error = first(exc) if first else None
        raise (error or status_error(connector, exc, clock, refusal=refusal)) from exc
    except tuple(TRANSPORT_ERRORS) as exc:
        kind = next(v for k, v in TRANSPORT_ERRORS.items() if isinstance(exc, k))
        if kind is not TransientError:
            raise kind(connector, f"{credential_refused}: {exc}") from exc
        raise TransientError(connector, f"{type(exc).__name__}: {exc}") from exc
    if result is None or isinstance(result, dict):
        return result
    # the client hands back the body as text when it is not JSON
    raise TransientError(connector, "malformed JSON answer")


def status_error(connector: str, exc: HttpError, clock: Clock, *, refusal: bool = False) -> ConnectorError:
    """The error an answer with a failing status means: a 429 waits for its reset (``RATE_LIMIT_WAIT`` when it does
    not say), a status in the table is its error, any other is transient for as long as its ``Retry-After``."""
    status = exc.resp.status
    reason = excerpt(str(exc.reason or ""))
    if status == 429:
        wait = seconds_until_reset(exc.resp, clock.now())
        return TransientError(
            connector, "rate limited (HTTP 429)", retry_after=RATE_LIMIT_WAIT if wait is None else wait
        )
    table = REPLY_ERRORS if refusal else STATUS_ERRORS
    if status in table:
        return table[status](connector, f"HTTP {status}: {reason}")
    retry_after = seconds_until_reset({"retry-after": exc.resp.get("retry-after")}, clock.now())
    return TransientError(connector, f"HTTP {status}: {reason}", retry_after=retry_after)
