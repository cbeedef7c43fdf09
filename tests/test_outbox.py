"""Exactly one reply on the platform, whatever happens: faults injected into the fake Reddit, driven by real praw."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest

from bot import decisions
from bot.clock import FakeClock
from bot.config import load_config
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.reddit import FakeReddit
from connectors.fakes.server import Fault, route
from responders.outbox import LEASE
from tests.conftest import ROOT, mentionbot, open_store, write_config

BOT = "acme_support"


@pytest.fixture
def config_path(tmp_path, fake_reddit, reddit_env, engine):
    """The shared config, on each engine (SQLite and PostgreSQL)."""
    return write_config(tmp_path, fake_reddit, store=engine.store_toml)


def bot_replies(fake, comment):
    return fake.replies_to(comment, author=BOT)


def pipeline(config_path, clock=None) -> Pipeline:
    config = load_config(config_path)
    return Pipeline(config, Store.open(config.store_location()), clock=clock or FakeClock(datetime.now(UTC)))


def approved_complaint(config_path, fake, *, author="lena", clock=None):
    """A complaint on the fake, drafted and approved; returns (the comment's id, the draft)."""
    comment = fake.add_comment(author=author, body="u/acme_support where is my refund? Third time asking.")
    p = pipeline(config_path, clock)
    p.poll("reddit")
    draft = p.store.draft_for("reddit", comment)
    decisions.approve(p.store, draft.id, actor="alice", now=p.clock.now())
    return comment, draft


def test_killed_between_the_platforms_success_and_our_commit_posts_once(config_path, fake_reddit):
    comment, draft = approved_complaint(config_path, fake_reddit)
    crashed = mentionbot(
        config_path, "run", "--once", env={"MENTIONBOT_CRASH_AT": "outbox.after_post"}, check=False
    )
    assert crashed.returncode == -signal.SIGKILL
    assert len(bot_replies(fake_reddit, comment)) == 1
    mentionbot(config_path, "run", "--once")
    assert len(bot_replies(fake_reddit, comment)) == 1
    store = open_store(config_path)
    assert store.draft(draft.id).state == "posted"
    assert store.draft(draft.id).posted_id == bot_replies(fake_reddit, comment)[0]["name"]


def test_two_managers_approving_at_once_queue_one_post(config_path, fake_reddit):
    comment, _ = approved_complaint(config_path, fake_reddit, author="first")
    second = fake_reddit.add_comment(author="marta", body="u/acme_support my parcel arrived broken")
    p = pipeline(config_path)
    p.poll("reddit")
    draft = p.store.draft_for("reddit", second)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def approve(who):
        store = open_store(config_path)  # each manager has their own connection
        barrier.wait()
        try:
            decisions.approve(store, draft.id, actor=who, now=datetime.now(UTC))
            results.append("approved")
        except decisions.DecisionError:
            results.append("refused")

    threads = [threading.Thread(target=approve, args=(f"manager{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["approved", "refused", "refused", "refused"]
    assert len([i for i in p.store.outbox() if i.draft_id == draft.id]) == 1
    mentionbot(config_path, "run", "--once")
    assert len(bot_replies(fake_reddit, second)) == 1 and len(bot_replies(fake_reddit, comment)) == 1


def test_two_approvals_from_the_command_line_post_once(config_path, fake_reddit):
    comment, draft = approved_complaint(config_path, fake_reddit)
    again = mentionbot(config_path, "approve", str(draft.id), check=False)
    assert again.returncode == 1 and "not awaiting approval" in again.stderr
    mentionbot(config_path, "run", "--once")
    assert len(bot_replies(fake_reddit, comment)) == 1


class SlowReddit(FakeReddit):
    """A fake Reddit whose comment endpoint waits until the test lets it answer."""

    def __init__(self):
        super().__init__()
        self.entered, self.gate = threading.Event(), threading.Event()

    @route("POST", r"/api/comment/?")
    def comment(self, request):
        self.entered.set()
        self.gate.wait(10)
        return super().comment(request)


def test_a_second_worker_leaves_an_item_being_posted_alone(tmp_path, monkeypatch, engine):
    with SlowReddit() as fake:
        for key, value in fake.environment().items():
            monkeypatch.setenv(key, value)
        config = write_config(tmp_path, fake, store=engine.store_toml)
        comment, draft = approved_complaint(config, fake)
        first, second = pipeline(config), pipeline(config)
        worker = threading.Thread(target=first.post)
        worker.start()
        assert fake.entered.wait(10)
        assert second.post() == []  # the item is claimed by a live worker: no reconcile, no second post
        fake.gate.set()
        worker.join(10)
        second.post()
        assert len(bot_replies(fake, comment)) == 1
        assert second.store.draft(draft.id).state == "posted"


def test_a_claim_from_a_worker_that_vanished_is_taken_over_after_its_lease(config_path, fake_reddit):
    clock = FakeClock(datetime.now(UTC))
    comment, _ = approved_complaint(config_path, fake_reddit, clock=clock)
    p = pipeline(config_path, clock)
    (item,) = p.store.outbox("pending")
    assert p.store.claim_outbox(item.id, now=clock.now(), by="other-host:1:1")
    assert p.post() == [] and bot_replies(fake_reddit, comment) == []
    clock.advance(seconds=LEASE.total_seconds() + 1)
    p.post()  # reconcile: not on the platform, so back to pending ...
    p.post()  # ... and posted once
    assert len(bot_replies(fake_reddit, comment)) == 1


def test_a_timeout_after_the_platform_took_the_post_is_reconciled_not_repeated(config_path, fake_reddit):
    comment, draft = approved_complaint(config_path, fake_reddit)
    # Reddit stores the comment, then the connection drops before the answer: praw sees a connection error.
    fake_reddit.inject(Fault(disconnect=True, after=True, path="/api/comment"))
    mentionbot(config_path, "run", "--once")
    assert len(bot_replies(fake_reddit, comment)) == 1  # praw did not retry the POST on its own
    store = open_store(config_path)
    assert [i.state for i in store.outbox()] == ["sending"]  # uncertain: to be reconciled
    mentionbot(config_path, "run", "--once")
    assert len(bot_replies(fake_reddit, comment)) == 1
    store = open_store(config_path)
    assert store.draft(draft.id).state == "posted"
    assert len(fake_reddit.calls("POST", "/api/comment")) == 1


def test_a_timeout_before_the_platform_took_the_post_is_retried_once_later(config_path, fake_reddit):
    clock = FakeClock(datetime.now(UTC))
    comment, draft = approved_complaint(config_path, fake_reddit, clock=clock)
    fake_reddit.inject(Fault(disconnect=True, path="/api/comment"))
    p = pipeline(config_path, clock)
    p.post()
    assert bot_replies(fake_reddit, comment) == []
    p.post()  # reconcile: not there, so pending again, but not before its back-off
    assert bot_replies(fake_reddit, comment) == []
    clock.advance(minutes=3)
    p.post()
    p.post()
    assert len(bot_replies(fake_reddit, comment)) == 1
    assert p.store.draft(draft.id).state == "posted"


def test_no_post_where_a_teammate_already_replied_on_the_platform(config_path, fake_reddit):
    comment, draft = approved_complaint(config_path, fake_reddit)
    teammate = fake_reddit.add_comment(
        author="acme", body="Hi Lena, sorted: refund sent today.", parent=comment
    )
    mentionbot(config_path, "run", "--once")
    assert bot_replies(fake_reddit, comment) == [] and fake_reddit.messages == []
    store = open_store(config_path)
    settled = store.draft(draft.id)
    assert settled.state == "team_replied" and settled.posted_id == f"acme:{teammate}"
    assert ("outbox", "answered by a teammate") in [
        (a.actor, a.action) for a in store.audit(draft_id=draft.id)
    ]
    case = store.case(draft.case_id)
    assert case.acknowledged_at is not None  # the teammate's reply acknowledged the customer
    assert [i.state for i in store.outbox()] == ["team_replied"]
    mentionbot(config_path, "run", "--once")
    assert bot_replies(fake_reddit, comment) == []


def test_the_first_private_message_moves_the_case_to_what_happened(config_path, fake_reddit):
    comment, draft = approved_complaint(config_path, fake_reddit)
    mentionbot(config_path, "run", "--once")
    assert len(bot_replies(fake_reddit, comment)) == 1 and len(fake_reddit.messages) == 1
    store = open_store(config_path)
    assert store.case(draft.case_id).stage == "what_happened"


def test_tone_override_is_recorded_in_the_audit_trail(config_path, fake_reddit):
    fake_reddit.add_comment(author="bob", body="u/acme_support I was charged twice")
    mentionbot(config_path, "run", "--once")
    (draft,) = open_store(config_path).drafts("awaiting")
    text = "Thanks Bob, but we need the order number first."
    refused = mentionbot(config_path, "edit", str(draft.id), "--text", text, check=False)
    assert refused.returncode == 1 and "'but'" in refused.stderr and "instead: and" in refused.stderr
    mentionbot(
        config_path,
        "edit",
        str(draft.id),
        "--text",
        text,
        "--override",
        "customer asked bluntly",
        "--as",
        "eve",
    )
    store = open_store(config_path)
    (approval,) = [a for a in store.audit(draft_id=draft.id) if a.action == "approved after edit"]
    assert (
        approval.actor == "eve" and "customer asked bluntly" in approval.detail and "but" in approval.detail
    )
    assert store.draft(draft.id).reason == "customer asked bluntly"


def test_killed_after_the_private_message_went_out_sends_it_once(config_path, fake_reddit):
    comment, draft = approved_complaint(config_path, fake_reddit)
    crashed = mentionbot(
        config_path, "run", "--once", env={"MENTIONBOT_CRASH_AT": "outbox.after_message"}, check=False
    )
    assert crashed.returncode == -signal.SIGKILL
    assert len(bot_replies(fake_reddit, comment)) == 1 and len(fake_reddit.messages) == 1
    mentionbot(config_path, "run", "--once")
    assert len(fake_reddit.messages) == 1
    store = open_store(config_path)
    (message,) = [i for i in store.outbox() if i.kind == "message"]
    assert message.state == "sent" and message.posted_id.startswith("t4_")
    assert store.case(draft.case_id).contacted_at is not None


def test_two_daemons_posting_at_once_post_once(config_path, fake_reddit):
    comment, draft = approved_complaint(config_path, fake_reddit)
    runs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "-c", str(config_path), "run", "--once"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 0, stderr
    assert len(bot_replies(fake_reddit, comment)) == 1 and len(fake_reddit.messages) == 1
    assert open_store(config_path).draft(draft.id).state == "posted"


def test_an_own_account_reddit_does_not_know_does_not_block_posting(config_path, fake_reddit):
    fake_reddit.unknown_users.add("acme")
    comment, draft = approved_complaint(config_path, fake_reddit)
    mentionbot(config_path, "run", "--once")
    assert len(bot_replies(fake_reddit, comment)) == 1
    assert open_store(config_path).draft(draft.id).state == "posted"
