"""Rate limits and hung connections reschedule that connector alone; nothing sleeps; a stop is quick at any moment.

A 429 storm on a review site (fake Trustpilot) while Reddit (fake Reddit through praw) keeps its interval, measured
on the injected clock; a connection that is accepted and never answered costs one read timeout and reschedules
its connector; SIGTERM to the real daemon in the middle of that returns within a few seconds of real time.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from bench.bench_daemon import toml_value
from bot import decisions
from bot.clock import FakeClock
from bot.config import parse_config
from bot.daemon import OUTBOX_EVERY_SECONDS, STOP_GRACE_SECONDS, SWEEP_EVERY_SECONDS, Daemon
from bot.errors import FatalError, TransientError
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.googleplay import FakeGooglePlay
from connectors.fakes.reddit import FakeReddit
from connectors.fakes.server import Fault
from connectors.fakes.trustpilot import FakeTrustpilot
from connectors.fakes.yelp import FakeYelp
from tests.conftest import ROOT, wait_for
from tests.review_helpers import connector_for, fetch_refused

EVERY = 60  # both connectors' interval_seconds
STORM = Fault(
    429,
    {"message": "Too Many Requests", "errorCode": 429},
    headers={"Retry-After": "120"},
    path="/reviews",
    times=10**6,
)


@contextmanager
def hung_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A server on loopback that accepts every connection and never answers; yields its URL and the connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the test is over
                return
            accepted.append(conn)

    threading.Thread(target=serve, name="hung-server", daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for conn in accepted:
            conn.close()


@pytest.fixture
def fakes(monkeypatch):
    reddit, trustpilot = FakeReddit(), FakeTrustpilot()
    with reddit, trustpilot:
        for fake in (reddit, trustpilot):
            for key, value in fake.environment().items():
                monkeypatch.setenv(key, value)
        yield reddit, trustpilot


def make_pipeline(tmp_path, clock, *, reddit, trustpilot=None, **trustpilot_settings):
    connectors = {"reddit": {**reddit.connector_settings(), "interval_seconds": EVERY}}
    if trustpilot is not None:
        connectors["trustpilot"] = {
            **trustpilot.connector_settings(),
            "interval_seconds": EVERY,
            **trustpilot_settings,
        }
    config = parse_config(
        {
            "dry_run": False,
            "brand": {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"},
            "store": {"path": str(tmp_path / "bot.db")},
            "connectors": connectors,
        }
    )
    return Pipeline(config, Store.open(tmp_path / "bot.db"), clock=clock)


def record_runs(daemon: Daemon) -> dict[str, list[datetime]]:
    """When (on the daemon's clock) each scheduled job started."""
    runs: dict[str, list[datetime]] = {job.name: [] for job in daemon.scheduler.jobs}
    for job in daemon.scheduler.jobs:

        def timed(fn=job.fn, name=job.name):
            runs[name].append(daemon.clock.now())
            return fn()

        job.fn = timed
    return runs


def gaps(times: list[datetime]) -> list[float]:
    return [(b - a).total_seconds() for a, b in itertools.pairwise(times)]


def test_a_429_storm_on_a_review_site_leaves_reddit_the_outbox_and_the_sweep_their_pace(tmp_path, fakes):
    reddit, trustpilot = fakes
    trustpilot.inject(STORM)
    clock = FakeClock(datetime.now(UTC))
    pipeline = make_pipeline(tmp_path, clock, reddit=reddit, trustpilot=trustpilot)
    daemon = Daemon(pipeline)
    runs = record_runs(daemon)
    start = clock.now()
    comment = reddit.add_comment(author="kim", body="u/acme_support my order is late, where is it?")

    daemon.work(until=start + timedelta(minutes=30))

    assert len(runs["poll reddit"]) >= 29 and max(gaps(runs["poll reddit"])) <= EVERY + 2
    assert max(gaps(runs["outbox"])) <= OUTBOX_EVERY_SECONDS + 2
    assert max(gaps(runs["sla sweep"])) <= SWEEP_EVERY_SECONDS + 2
    assert pipeline.store.draft_for("reddit", comment)  # Reddit's mentions went on being handled
    assert {r.status for r in pipeline.store.runs("reddit", limit=100)} == {"ok"}
    # Trustpilot was asked again each time its Retry-After had passed (every other poll), not at every poll.
    asked = len(trustpilot.calls("GET", "/reviews"))
    assert 30 * 60 / 120 <= asked <= 30 * 60 / 120 + 1
    assert len(runs["poll trustpilot"]) >= 29  # its poll came round every minute, and was skipped in between
    trustpilot_runs = pipeline.store.runs("trustpilot", limit=100)
    assert len(trustpilot_runs) == asked
    assert all(r.status == "error" and "HTTP 429 (rate limited)" in r.error for r in trustpilot_runs)
    assert clock.slept == []


def test_a_hung_connection_costs_one_read_timeout_and_reschedules_that_connector(tmp_path, fakes):
    reddit, trustpilot = fakes
    clock = FakeClock(datetime.now(UTC))
    with hung_server() as (url, accepted):
        pipeline = make_pipeline(
            tmp_path, clock, reddit=reddit, trustpilot=trustpilot, base_url=url, timeout_seconds=0.5
        )
        started = time.monotonic()
        result = pipeline.poll("trustpilot")
        took = time.monotonic() - started
        assert result.status == "error" and "no answer within 0.5 s" in result.error
        assert len(accepted) == 1 and took < 0.5 + 1  # one attempt: no retry, no back-off sleep
        clock.advance(seconds=1)
        assert pipeline.poll("trustpilot").status == "backoff" and len(accepted) == 1
        assert pipeline.poll("reddit").status == "ok"
        clock.advance(seconds=EVERY)
        assert (
            pipeline.poll("trustpilot").status == "error" and len(accepted) == 2
        )  # tried after its back-off
        assert clock.slept == []


def test_praw_does_not_retry_a_hung_read(fakes, clock, monkeypatch):
    reddit, _ = fakes
    reddit.inject(Fault(hang=True, path="/message/"))
    bot = connector_for(reddit, clock, monkeypatch, timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(TransientError, match=r"no answer within 0\.5 s"):
        bot.fetch(None)
    assert time.monotonic() - started < 0.5 + 1
    assert len(reddit.calls("GET", "/message/")) == 1  # prawcore's immediate retry would double the wait


def test_sigterm_stops_the_daemon_within_seconds_while_a_poll_hangs_and_a_site_is_rate_limited(tmp_path):
    reddit, yelp, trustpilot = FakeReddit(), FakeYelp(), FakeTrustpilot()
    with reddit, yelp, trustpilot, hung_server() as (url, accepted):
        yelp.inject(
            Fault(429, {"error": {"code": "TOO_MANY_REQUESTS_PER_SECOND"}}, path="/reviews", times=10**6)
        )
        tables = {
            "reddit": reddit.connector_settings(),
            "yelp": yelp.connector_settings(),
            # Pointed at a server that never answers, with the default 20 s read timeout.
            "trustpilot": {**trustpilot.connector_settings(), "base_url": url},
        }
        lines = [
            "dry_run = true",
            "[brand]",
            'contact_email = "care@acme.example"',
            "[store]",
            'path = "bot.db"',
        ]
        for name, table in tables.items():
            lines.append(f"[connectors.{name}]")
            lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
        config = tmp_path / "config.toml"
        config.write_text("\n".join(lines) + "\n")
        env = {**os.environ, **reddit.environment(), **yelp.environment(), **trustpilot.environment()}
        daemon = subprocess.Popen(
            [sys.executable, "-m", "bot", "-c", str(config), "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_for(lambda: accepted and yelp.calls("GET", "/reviews"), what="the hung poll to be under way")
            started = time.monotonic()
            daemon.send_signal(signal.SIGTERM)
            try:
                _, stderr = daemon.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                pytest.fail("the daemon did not stop within 30 s of SIGTERM")
            took = time.monotonic() - started
        finally:
            if daemon.poll() is None:
                daemon.kill()
    assert daemon.returncode == 0, stderr
    assert took < STOP_GRACE_SECONDS + 2, stderr
    assert "poll connector=yelp status=error" in stderr and "rate limited" in stderr
    assert "still running" in stderr and "daemon: stopped" in stderr


def test_a_spent_budget_reschedules_without_a_request(fakes, clock, monkeypatch):
    _, trustpilot = fakes
    bot = connector_for(trustpilot, clock, monkeypatch)
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "90"}
    trustpilot.inject(Fault(200, {"reviews": [], "links": []}, headers=spent, path="/reviews"))
    bot.fetch(None)
    asked = len(trustpilot.calls("GET", "/reviews"))
    assert fetch_refused(bot).retry_after == pytest.approx(90)
    assert len(trustpilot.calls("GET", "/reviews")) == asked  # not even asked
    clock.advance(seconds=91)
    bot.fetch(None)
    assert len(trustpilot.calls("GET", "/reviews")) == asked + 1


def test_error_bodies_reach_logs_and_runs_as_one_short_line(tmp_path, fakes):
    reddit, trustpilot = fakes
    hostile = "\x1b[31m<html>" + "line\r\n" * 400 + "\u202egnp.exe\x00 \ud800"
    trustpilot.inject(Fault(400, raw=hostile.encode("utf-8", "surrogatepass"), path="/reviews"))
    trustpilot.inject(Fault(401, raw=b"x" * 5000, path="/reviews"))
    pipeline = make_pipeline(tmp_path, FakeClock(datetime.now(UTC)), reddit=reddit, trustpilot=trustpilot)
    pipeline.poll("trustpilot")
    (run,) = pipeline.store.runs("trustpilot")
    error = run.error
    assert "HTTP 400" in error and "line line" in error
    assert len(error) <= 300 and error.isprintable() and "\x1b" not in error and "\u202e" not in error
    with pytest.raises(FatalError) as refused:
        pipeline.connectors["trustpilot"].fetch(None)
    assert "HTTP 401 (credential refused)" in str(refused.value) and len(str(refused.value)) <= 320


def test_the_outbox_leaves_a_rate_limited_reply_for_later_without_waiting(tmp_path, fakes):
    reddit, trustpilot = fakes
    clock = FakeClock(datetime.now(UTC))
    pipeline = make_pipeline(tmp_path, clock, reddit=reddit, trustpilot=trustpilot)
    for name in ("Ann", "Bob"):
        trustpilot.add_review(
            name=name, stars=1, title="Broken", text="My order arrived broken, I want a refund"
        )
    pipeline.poll("trustpilot")
    drafts = pipeline.store.drafts("awaiting")
    assert len(drafts) == 2
    for draft in drafts:
        decisions.approve(
            pipeline.store, draft.id, actor="alice", now=clock.now(), brand=pipeline.config.brand
        )
    trustpilot.inject(Fault(429, headers={"Retry-After": "600"}, path="/reply", times=10))
    started = clock.now()

    assert pipeline.post() == []
    assert clock.now() == started  # nothing slept
    assert len(trustpilot.calls("POST", "/reply")) == 1  # the second item was not tried against the limit
    items = pipeline.store.outbox()
    assert {i.state for i in items} == {"pending"}  # refused, so certainly not posted: nothing to reconcile
    first = next(i for i in items if i.attempts)
    assert first.next_attempt_at >= (started + timedelta(seconds=600)).replace(microsecond=0)

    trustpilot.faults.clear()
    clock.advance(seconds=601)
    while pipeline.post():
        pass
    assert len(trustpilot.posted()) == 2


@pytest.mark.parametrize("header", ["inf", "99999999999", "1e300"])
def test_an_absurd_retry_after_reschedules_for_a_day_at_most(tmp_path, fakes, header):
    reddit, trustpilot = fakes
    clock = FakeClock(datetime.now(UTC))
    pipeline = make_pipeline(tmp_path, clock, reddit=reddit, trustpilot=trustpilot)
    trustpilot.inject(Fault(429, headers={"Retry-After": header}, path="/reviews"))
    assert pipeline.poll("trustpilot").status == "error"
    assert pipeline.not_before["trustpilot"] == clock.now() + timedelta(days=1)


def test_google_play_raises_at_once_when_its_token_exchange_is_refused(clock, monkeypatch):
    with FakeGooglePlay() as fake:
        bot = connector_for(fake, clock, monkeypatch)
        fake.inject(Fault(503, {"error": "backendError"}, path="/token", times=3))
        started = time.monotonic()
        with pytest.raises(TransientError, match="token exchange: HTTP 503"):
            bot.fetch(None)
        # google-auth retries a refused exchange twice after real sleeps (about 1 s, then 2 s), inside the poll
        assert len(fake.calls("POST", "/token")) == 1 and time.monotonic() - started < 1
        fake.faults.clear()
        fake.add_review(author="Jane", rating=1, text="Crashes", modified=clock.now())
        assert len(bot.fetch(None).mentions) == 1  # the next poll trades the key again
