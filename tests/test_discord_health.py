"""Never silently down: the approval bot connects whenever Discord comes (back), says a refused token once, and
``mentionbot status --check`` tells a health check what is wrong."""

from __future__ import annotations

import logging
import random
import socket
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot import report as weekly
from bot.clock import FakeClock
from bot.config import load_config
from bot.models import Author, Mention, Triage
from bot.store import Store
from connectors.fakes.discord import FakeDiscord
from responders.discord import ApprovalBot, Backoff
from responders.discord.connection import MAX_RETRY_SECONDS, REFUSED_RETRY_SECONDS
from tests.conftest import mentionbot, wait_for, write_config

TOKEN = "right-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


def discord_table(port: int) -> str:
    return (
        f'\n[discord]\nenabled = true\ntoken = {{ env = "MB_TEST_DISCORD_TOKEN" }}\nguild_id = 100000000000000001\n'
        f'channel_id = 200000000000000001\nmanager_roles = ["Community Manager"]\n'
        f'api_base = "http://127.0.0.1:{port}/api/v10"\ngateway_url = "ws://127.0.0.1:{port}/gw"\n'
    )


class Approvals:
    """A config with Discord on a given port, its store, and the bot on a clock of its own."""

    def __init__(self, tmp_path, fake_reddit, port: int):
        self.port = port
        self.config_path = write_config(tmp_path, fake_reddit, extra=discord_table(port))
        self.config = load_config(self.config_path)
        self.store = Store.open(tmp_path / "bot.db")
        self.clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
        self.bot: ApprovalBot | None = None

    def start(self, token: str = TOKEN) -> ApprovalBot:
        self.bot = ApprovalBot(
            store_path=self.config_path.parent / "bot.db",
            token=token,
            guild_id=100000000000000001,
            channel_id=200000000000000001,
            manager_roles=["Community Manager"],
            clock=self.clock,
            rng=random.Random(7),
            api_base=f"http://127.0.0.1:{self.port}/api/v10",
            gateway_url=f"ws://127.0.0.1:{self.port}/gw",
            config=self.config,
        ).start()
        return self.bot

    def state(self) -> str:
        state = self.store.discord_state()
        return state.state if state else ""

    def waiting_draft(self) -> int:
        m = Mention(
            platform="reddit",
            id="t1_down",
            url="https://www.reddit.com/r/acme/comments/abc/_/down/",
            author=Author("lena", "Lena", "u9"),
            text="acme the app crashes every time I open it",
            created_at=self.clock.now() - timedelta(minutes=3),
            kind="comment",
        )
        self.store.save_fetch("reddit", [m], None, now=self.clock.now())
        self.store.save_triage(m, Triage(intent="complaint", complaint_score=0.9), now=self.clock.now())
        return self.store.add_draft(
            m, intent="complaint", text="Sorry to hear that.", now=self.clock.now()
        ).id

    def check(self) -> tuple[int, str]:
        done = mentionbot(
            self.config_path, "status", "--check", env={"MB_TEST_DISCORD_TOKEN": TOKEN}, check=False
        )
        return done.returncode, done.stdout + done.stderr


@pytest.fixture
def approvals(tmp_path, fake_reddit, reddit_env, monkeypatch):
    monkeypatch.setenv("MB_TEST_DISCORD_TOKEN", TOKEN)
    a = Approvals(tmp_path, fake_reddit, free_port())
    yield a
    if a.bot:
        a.bot.stop()


def test_the_back_off_doubles_with_jitter_up_to_its_cap():
    backoff = Backoff(first=2, cap=300, rng=random.Random(1))
    delays = [backoff.next() for _ in range(12)]
    windows = [min(300, 2 * 2**i) for i in range(12)]
    assert all(w / 2 <= d <= w for d, w in zip(delays, windows, strict=True))
    assert len({round(d / w, 6) for d, w in zip(delays, windows, strict=True)}) == 12  # jittered, not fixed
    backoff.reset()
    assert backoff.next() <= 2


def test_a_bot_started_while_discord_is_down_connects_when_it_comes_up_and_posts_the_waiting_card(approvals):
    draft_id = approvals.waiting_draft()
    bot = approvals.start()
    wait_for(lambda: approvals.state() == "down", what="the bot to record Discord as down")
    code, said = approvals.check()
    assert code == 1 and "unhealthy: Discord: the approval bot cannot reach Discord" in said
    attempts = approvals.store.discord_state().since
    fake = FakeDiscord(port=approvals.port).start()  # Discord comes up; the bot is waiting out its back-off
    try:
        assert not fake.identified.wait(1.5), "the bot tried again before its back-off had passed"
        approvals.clock.advance(seconds=MAX_RETRY_SECONDS)
        bot.clock_moved()
        assert bot.ready.wait(20), "the bot did not connect once Discord was up"
        wait_for(lambda: approvals.store.discord_card(draft_id), what="the card that waited")
        assert approvals.state() == "connected" and approvals.store.discord_state().since > attempts
        assert approvals.check() == (0, "healthy\n")
        # Discord goes away again (a restart on their side): down, then back with the next attempt.
        fake.stop()
        wait_for(lambda: approvals.state() == "down", what="the drop to be recorded")
        assert not bot.ready.is_set()
        fake = FakeDiscord(port=approvals.port).start()
        approvals.clock.advance(seconds=MAX_RETRY_SECONDS)
        bot.clock_moved()
        wait_for(lambda: approvals.state() == "connected", what="the reconnection")
        assert len([m for m in fake.messages()]) == 0  # the card is not posted twice
    finally:
        bot.stop()
        fake.stop()
    assert approvals.state() == "stopped"


def test_a_refused_token_is_said_once_and_not_retried_in_a_loop(approvals, caplog):
    fake = FakeDiscord(port=approvals.port, token=TOKEN).start()
    try:
        with caplog.at_level(logging.INFO, logger="responders.discord"):
            bot = approvals.start(token="revoked-token")
            wait_for(lambda: approvals.state() == "refused", what="the refusal recorded")
            assert fake.logins == 1
            approvals.clock.advance(seconds=MAX_RETRY_SECONDS * 2)  # far past a network back-off
            bot.clock_moved()
            assert not wait_for_quietly(lambda: fake.logins > 1), "a refused token was tried again at once"
            approvals.clock.advance(seconds=REFUSED_RETRY_SECONDS)
            bot.clock_moved()
            wait_for(lambda: fake.logins == 2, what="the attempt an hour later")
            wait_for(lambda: bot.state and bot.state.checked_at >= approvals.clock.now(), what="it recorded")
        refusals = [
            r for r in caplog.records if r.levelno == logging.ERROR and "refused the token" in r.message
        ]
        assert len(refusals) == 1
        code, said = approvals.check()
        assert code == 1 and "unhealthy: Discord: Discord refused the bot's token" in said
        status = mentionbot(approvals.config_path, "status", env={"MB_TEST_DISCORD_TOKEN": TOKEN})
        assert "Discord refused the bot's token" in status.stdout
        now = approvals.clock.now()
        built = weekly.build(
            approvals.store,
            approvals.config,
            week=weekly.last_complete_week(now, ZoneInfo("Europe/Amsterdam")),
            now=now,
        )
        (row,) = [r for r in built.connectors if r.connector == "discord (approvals)"]
        assert row.health.startswith("Discord refused the bot's token since ")
    finally:
        fake.stop()


def wait_for_quietly(condition, *, seconds: float = 1.5) -> bool:
    """Whether ``condition`` becomes true within a short real wait (for what must not happen)."""
    try:
        wait_for(condition, timeout=seconds)
    except AssertionError:
        return False
    return True


def test_status_check_names_a_paused_or_failing_connector_and_a_stuck_outbox(
    tmp_path, fake_reddit, reddit_env
):
    config = write_config(tmp_path, fake_reddit)
    store = Store.open(tmp_path / "bot.db")
    assert mentionbot(config, "status", "--check").stdout == "healthy\n"  # Discord is not configured here
    now = datetime.now(UTC)
    for minutes in range(5, 0, -1):
        store.record_run(
            "reddit",
            started_at=now - timedelta(minutes=minutes),
            duration_ms=5,
            fetched=0,
            new=0,
            errors=1,
            status="error",
            error="HTTP 503",
        )
    store.enqueue(
        kind="reply",
        platform="reddit",
        mention_id="t1_x",
        text="Sorry",
        idempotency_key="k1",
        now=now - timedelta(hours=2),
    )
    done = mentionbot(config, "status", "--check", check=False)
    assert done.returncode == 1
    assert "unhealthy: connector reddit: its last 5 polls failed" in done.stderr
    assert "unhealthy: outbox: a post has waited 120 min to go out" in done.stderr
    store.record_run(
        "reddit", started_at=now, duration_ms=5, fetched=0, new=0, errors=0, status="ok", error=None
    )
    store.set_posting_paused("by alice")  # a pause is a manager's choice, not a stuck outbox
    store.set_connector_paused("reddit", "credentials revoked")
    done = mentionbot(config, "status", "--check", check=False)
    assert done.returncode == 1 and done.stderr.splitlines() == [
        "unhealthy: connector reddit is paused: credentials revoked"
    ]
    store.set_connector_paused("reddit", None)
    assert mentionbot(config, "status", "--check").returncode == 0
