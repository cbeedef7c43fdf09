"""One mention from the fake Reddit to a posted reply and an open case, through the real CLI, daemon and praw."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT, mentionbot, open_store, wait_for, write_config


@pytest.fixture
def config_path(tmp_path, fake_reddit, reddit_env, engine):
    """The shared config, on each engine: the pipeline and the daemon run on SQLite and on PostgreSQL."""
    return write_config(tmp_path, fake_reddit, store=engine.store_toml)


def test_mention_to_posted_reply_and_open_case(config_path, fake_reddit):
    comment = fake_reddit.add_comment(
        author="marta", body="u/acme_support my order is 5 days late, still waiting"
    )

    first = mentionbot(config_path, "run", "--once")
    assert "1 drafts awaiting approval" in first.stdout
    queue = mentionbot(config_path, "queue")
    assert "marta" in queue.stdout and "complaint" in queue.stdout

    store = open_store(config_path)
    (draft,) = store.drafts("awaiting")
    assert draft.mention_id == comment and draft.case_id
    assert (
        "Thank you" in draft.text and "care@acme.example" not in draft.text
    )  # Reddit can DM: offer that route
    assert store.triage_for("reddit", comment).reasons

    approved = mentionbot(config_path, "approve", str(draft.id), "--as", "alice")
    assert "queued for posting" in approved.stdout
    mentionbot(config_path, "run", "--once")

    replies = fake_reddit.replies_to(comment, author="acme_support")
    assert [r["body"] for r in replies] == [draft.text]
    assert [m["to"] for m in fake_reddit.messages] == ["marta"]  # the case's first private message
    store = open_store(config_path)
    assert store.draft(draft.id).state == "posted"
    case = store.case(draft.case_id)
    assert case.acknowledged_at and case.contacted_at and case.status == "open"
    cases = mentionbot(config_path, "cases")
    assert case.ref in cases.stdout and "marta" in cases.stdout
    history = mentionbot(config_path, "case", case.ref)
    assert "opened" in history.stdout and "acknowledged" in history.stdout
    audit = [(a.actor, a.action) for a in store.audit(draft_id=draft.id)]
    assert ("alice", "approved") in audit and ("outbox", "posted") in audit

    # A second cycle fetches nothing new and posts nothing again.
    mentionbot(config_path, "run", "--once")
    assert open_store(config_path).runs("reddit", limit=1)[0].new == 0
    assert len(fake_reddit.replies_to(comment, author="acme_support")) == 1
    assert len(fake_reddit.messages) == 1


def test_dry_run_records_the_would_be_post_and_posts_nothing(tmp_path, fake_reddit, reddit_env, engine):
    config = write_config(tmp_path, fake_reddit, dry_run=True, store=engine.store_toml)
    comment = fake_reddit.add_comment(
        author="bob", body="u/acme_support I was charged twice, I want a refund"
    )
    mentionbot(config, "run", "--once")
    (draft,) = open_store(config).drafts("awaiting")
    mentionbot(config, "approve", str(draft.id))
    mentionbot(config, "run", "--once")
    assert fake_reddit.replies_to(comment) == [] and fake_reddit.messages == []
    store = open_store(config)
    assert [i.state for i in store.outbox()] == ["dry_run", "dry_run"]
    assert any(a.action == "dry run: not posted" for a in store.audit(draft_id=draft.id))
    # Nothing was sent, so nothing looks handled: the draft says dry run, the case still waits for its answer.
    assert store.draft(draft.id).state == "dry_run" and store.counts().posted == 0
    case = store.case(draft.case_id)
    assert case.acknowledged_at is None and case.contacted_at is None and case.stage == "contact"
    assert "1 reply only recorded in a dry run, not posted" in mentionbot(config, "status").stdout
    assert "dry run: not posted" in mentionbot(config, "queue", "--all").stdout
    assert "dry_run" in mentionbot(config, "case", case.ref).stdout


def _approve_one(config, fake_reddit):
    comment = fake_reddit.add_comment(
        author="lena", body="u/acme_support where is my refund? Third time asking."
    )
    mentionbot(config, "run", "--once")
    (draft,) = open_store(config).drafts("awaiting")
    mentionbot(config, "approve", str(draft.id))
    return comment


def test_killed_after_the_platform_accepted_the_post_replies_once(config_path, fake_reddit):
    comment = _approve_one(config_path, fake_reddit)
    crashed = mentionbot(
        config_path, "run", "--once", env={"MENTIONBOT_CRASH_AT": "outbox.after_post"}, check=False
    )
    assert crashed.returncode == -signal.SIGKILL
    assert len(fake_reddit.replies_to(comment, author="acme_support")) == 1
    assert open_store(config_path).outbox("sending")  # the process died before recording the post

    mentionbot(config_path, "run", "--once")
    assert len(fake_reddit.replies_to(comment, author="acme_support")) == 1
    store = open_store(config_path)
    assert store.drafts("posted") and not store.outbox("sending", "pending")


def test_killed_before_posting_posts_once_after_restart(config_path, fake_reddit):
    comment = _approve_one(config_path, fake_reddit)
    crashed = mentionbot(
        config_path, "run", "--once", env={"MENTIONBOT_CRASH_AT": "outbox.before_post"}, check=False
    )
    assert crashed.returncode == -signal.SIGKILL
    assert fake_reddit.replies_to(comment) == []
    mentionbot(config_path, "run", "--once")
    assert len(fake_reddit.replies_to(comment, author="acme_support")) == 1


def test_daemon_runs_until_sigterm_and_stops_cleanly(config_path, fake_reddit):
    fake_reddit.add_comment(author="kim", body="u/acme_support the app crashes every time I open it")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "bot", "-c", str(config_path), "run"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: open_store(config_path).drafts("awaiting"), what="the daemon to draft a reply")
        second = fake_reddit.add_comment(author="joe", body="u/acme_support my parcel is missing")
        wait_for(lambda: open_store(config_path).draft_for("reddit", second), what="the next scheduled poll")
        daemon.send_signal(signal.SIGTERM)
        _, stderr = daemon.communicate(timeout=20)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, stderr
    assert "SIGTERM received" in stderr and "daemon: stopped" in stderr
    assert "poll connector=reddit status=ok" in stderr


def test_guards_own_account_old_posts_and_repeats(config_path, fake_reddit):
    own = fake_reddit.add_comment(author="acme", body="u/acme_support we are looking into the login trouble")
    old = fake_reddit.add_comment(
        author="ann", body="u/acme_support my order never arrived", created_utc=time.time() - 5 * 86400
    )
    mentionbot(config_path, "run", "--once")
    mentionbot(config_path, "run", "--once")
    store = open_store(config_path)
    assert store.mention_is_own("reddit", own)
    assert store.draft_for("reddit", own) is None and store.triage_for("reddit", own) is None
    assert store.draft_for("reddit", old) is None and store.triage_for("reddit", old) is not None
    assert store.drafts() == []


def test_a_repeat_complainer_is_more_urgent(config_path, fake_reddit):
    first = fake_reddit.add_comment(author="marta", body="u/acme_support my order is late")
    mentionbot(config_path, "run", "--once")
    second = fake_reddit.add_comment(author="marta", body="u/acme_support still no order, nobody answers")
    mentionbot(config_path, "run", "--once")
    store = open_store(config_path)
    before, after = store.triage_for("reddit", first), store.triage_for("reddit", second)
    assert after.reasons[0] == "repeat contact: complaint #2 from this person"
    assert after.urgency == min(3, before.urgency + 1) or after.urgency > before.urgency
    assert store.person("reddit", "marta").complaints == 2


def test_an_excluded_phrase_marks_a_post_off_topic(config_path, fake_reddit):
    config_path.write_text(
        config_path.read_text().replace(
            'timezone = "Europe/Amsterdam"', 'timezone = "Europe/Amsterdam"\nexclude = ["ACME protocol"]'
        )
    )
    other = fake_reddit.add_submission(
        author="dev",
        title="#AcmeProtocol help",
        selftext="How do I renew certificates? My client keeps failing.",
    )
    ours = fake_reddit.add_comment(author="kim", body="u/acme_support my order never arrived")
    mentionbot(config_path, "run", "--once")
    store = open_store(config_path)
    triage = store.triage_for("reddit", other)
    assert triage.intent == "other"
    assert triage.reasons[0] == "off-topic: contains 'ACME protocol' (brand.exclude)"
    assert [d.mention_id for d in store.drafts("awaiting")] == [ours]
