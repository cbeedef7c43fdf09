"""What is kept of an error (in the runs table, the paused setting and the log) is one line of at most 300
characters, wherever it came from: a platform's error body must not fill the logs or the database."""

from __future__ import annotations

import logging

import pytest

from bot.clock import FakeClock
from bot.config import load_config
from bot.errors import FatalError, TransientError
from bot.models import MAX_EXCERPT
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.base import Connector

BODY = "HTTP 503: <html>\r\n<body>\x1b[31m" + "upstream exploded " * 80 + "\n</body></html>"


class Failing(Connector):
    name = "reddit"

    def __init__(self, settings, error):
        super().__init__(settings)
        self.error = error

    def fetch(self, cursor):
        raise self.error


def one_line_and_bounded(text: str) -> None:
    assert len(text) <= MAX_EXCERPT and "\n" not in text and "\r" not in text and "\x1b" not in text
    assert "HTTP 503: <html> <body>[31mupstream exploded upstream" in text


@pytest.mark.parametrize(
    "error",
    [TransientError("reddit", BODY), FatalError("reddit", BODY), RuntimeError(BODY)],
    ids=["transient", "fatal", "bug"],
)
def test_a_huge_multi_line_error_is_kept_as_one_bounded_line(config_path, caplog, error):
    config = load_config(config_path)
    store = Store.memory()
    pipeline = Pipeline(
        config,
        store,
        clock=FakeClock(),
        connectors={"reddit": Failing(config.connectors["reddit"], error)},
    )
    with caplog.at_level(logging.INFO):
        result = pipeline.poll("reddit")
    assert result.status in ("error", "fatal")
    one_line_and_bounded(result.error)
    (run,) = store.runs("reddit")
    one_line_and_bounded(run.error)
    assert run.error.endswith("characters in all]")  # cut visibly
    if isinstance(error, FatalError):
        one_line_and_bounded(store.paused_connectors()["reddit"])
    for record in caplog.records:
        message = record.getMessage()
        assert "\n" not in message and len(message) < MAX_EXCERPT + 120, message
        assert record.exc_info is None  # the traceback (which repeats the message whole) only with --verbose


def test_the_store_bounds_an_error_whoever_records_it():
    store = Store.memory()
    from datetime import UTC, datetime

    now = datetime(2026, 11, 16, tzinfo=UTC)
    store.record_run(
        "x", started_at=now, duration_ms=1, fetched=0, new=0, errors=1, status="error", error=BODY * 10
    )
    one_line_and_bounded(store.runs("x")[0].error)
