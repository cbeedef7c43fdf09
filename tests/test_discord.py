"""The Discord approval bot: the real discord.py client against the loopback fake Discord."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FakeClock
from bot.config import load_config
from bot.models import CredentialExpiry, Draft
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.discord import FakeDiscord
from responders.discord import ApprovalBot, form_value
from responders.discord.cards import COMPLAINT_COLOURS
from tests.conftest import mentionbot, wait_for

MANAGER = "400000000000000001"
OUTSIDER = "400000000000000002"
BOT = "acme_support"
MANAGER_NAME = "Marta Kowalska"  # the manager's display name in the fake Discord


def shown(message: dict) -> str:
    """Everything a message shows: its text and its embeds' title, link, author, post, fields and footer."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds") or []:
        parts += [embed.get("title", ""), embed.get("url", ""), (embed.get("author") or {}).get("name", "")]
        parts.append(embed.get("description", ""))
        for field in embed.get("fields") or []:
            parts += [field["name"], field["value"]]
        parts.append((embed.get("footer") or {}).get("text", ""))
    return "\n".join(p for p in parts if p)


@pytest.fixture
def discord_fake():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


class Setup:
    def __init__(self, config_path, fake_reddit, discord_fake):
        self.config_path = config_path
        self.reddit = fake_reddit
        self.discord = discord_fake
        self.clock = FakeClock(datetime.now(UTC))
        self.pipeline = Pipeline(
            load_config(config_path),
            Store.open(config_path.parent / "bot.db"),
            clock=self.clock,
            on_event=self.on_event,
        )
        self.bot: ApprovalBot | None = None

    def on_event(self, kind, **data):
        if self.bot:
            self.bot.on_event(kind, **data)

    def start_bot(self) -> ApprovalBot:
        self.bot = ApprovalBot(
            store_path=self.config_path.parent / "bot.db",
            token="fake-token",
            guild_id=int(self.discord.guild_id),
            channel_id=int(self.discord.channel_id),
            manager_roles=["Community Manager"],
            clock=self.clock,
            post=self.pipeline.post,
            api_base=self.discord.api_base,
            gateway_url=self.discord.gateway_url,
            config=self.pipeline.config,
        ).start()
        assert self.bot.ready.wait(20), "the bot never became ready"
        return self.bot

    def complaint(self, body: str, author: str = "lena") -> tuple[str, int]:
        comment = self.reddit.add_comment(author=author, body=body)
        self.pipeline.poll("reddit")
        draft = self.pipeline.store.draft_for("reddit", comment)
        return comment, draft.id

    def card(self, draft_id: int) -> dict:
        """The draft's card, once the bot has recorded it (not merely once the fake has it)."""
        message_id = wait_for(
            lambda: self.pipeline.store.discord_card(draft_id), what=f"the card of draft {draft_id}"
        )
        return self.discord.message(message_id)

    def ephemeral(self, interaction_id: str) -> dict:
        return wait_for(
            lambda: next((r for r in self.discord.responses() if r["interaction"] == interaction_id), None),
            what="the interaction's response",
        )

    def card_says(self, card: dict, text: str) -> dict:
        """Wait until the bot has edited ``card`` to say ``text``; the card as it is then."""

        def edited() -> dict | None:
            message = self.discord.message(card["id"])
            return message if text in shown(message) else None

        return wait_for(edited, what=f"the card to say {text!r}")

    def posted(self, draft_id: int) -> dict:
        """Wait until the draft is posted and its card links to the reply (the last thing the bot does for it)."""

        def posted() -> Draft | None:
            draft = self.pipeline.store.draft(draft_id)
            return draft if draft.state == "posted" else None

        wait_for(posted, what=f"draft {draft_id} posted")
        return self.card_says(self.card(draft_id), "; posted: <")


@pytest.fixture
def setup(config_path, fake_reddit, discord_fake):
    s = Setup(config_path, fake_reddit, discord_fake)
    yield s
    if s.bot:
        s.bot.stop()


def test_a_card_is_posted_for_a_new_complaint_pinging_nobody(setup):
    setup.start_bot()
    _, draft_id = setup.complaint("u/acme_support @everyone my refund never came, third time asking")
    card = setup.card(draft_id)
    assert card["allowed_mentions"] == {"parse": []}
    assert "@everyone" not in shown(card).replace("@\u200beveryone", "")
    (embed,) = card["embeds"]
    assert (
        embed["title"] == f"Complaint on reddit · draft #{draft_id}" and embed["color"] in COMPLAINT_COLOURS
    )
    assert "Draft reply" in shown(card) and "Tone guard" not in shown(card)  # only when it found something
    ids = [c["custom_id"] for row in card["components"] for c in row["components"]]
    assert ids == [f"mb:{a}:{draft_id}" for a in ("approve", "edit", "reject", "relabel", "take")]


def test_a_managers_approval_posts_the_reply_and_updates_the_card(setup):
    setup.start_bot()
    comment, draft_id = setup.complaint("u/acme_support where is my refund? Third time asking.")
    card = setup.card(draft_id)
    setup.discord.click(card["id"], f"mb:approve:{draft_id}", MANAGER)
    wait_for(lambda: setup.reddit.replies_to(comment, author=BOT), what="the reply on Reddit")
    wait_for(lambda: setup.pipeline.store.draft(draft_id).state == "posted", what="the draft posted")
    assert setup.pipeline.store.draft(draft_id).decided_by.startswith("discord:")
    (reply,) = setup.reddit.replies_to(comment, author=BOT)
    link = f"<https://www.reddit.com/comments/{reply['link_id'].removeprefix('t3_')}/_/{reply['id']}/>"
    wait_for(lambda: link in shown(setup.discord.message(card["id"])), what="the card's link to the reply")
    assert setup.discord.message(card["id"])["components"] == []


def test_a_non_manager_is_refused(setup):
    setup.start_bot()
    _, draft_id = setup.complaint("u/acme_support my order is late")
    card = setup.card(draft_id)
    response = setup.ephemeral(setup.discord.click(card["id"], f"mb:approve:{draft_id}", OUTSIDER))
    assert response["type"] == 4 and response["data"]["flags"] & 64
    assert "Only community managers" in response["data"]["content"]
    assert setup.pipeline.store.draft(draft_id).state == "awaiting"


def test_an_edit_with_a_forbidden_phrase_is_stopped_by_the_tone_guard(setup):
    setup.start_bot()
    _, draft_id = setup.complaint("u/acme_support my order is late again")
    card = setup.card(draft_id)
    modal = setup.ephemeral(setup.discord.click(card["id"], f"mb:edit:{draft_id}", MANAGER))
    assert modal["type"] == 9 and modal["data"]["custom_id"] == f"mb-edit:{draft_id}"
    default = modal["data"]["components"][0]["components"][0]["value"]
    assert default == setup.pipeline.store.draft(draft_id).text
    response = setup.ephemeral(
        setup.discord.submit_modal(
            f"mb-edit:{draft_id}", {"text": "Sorry, but that is our policy."}, MANAGER, card["id"]
        )
    )
    content = response["data"]["content"]
    assert "tone guard" in content and "policy" in content and "instead" in content
    assert response["data"]["flags"] & 64
    assert setup.pipeline.store.draft(draft_id).state == "awaiting"


def test_a_click_after_a_restart_still_works(setup, fake_reddit):
    setup.start_bot()
    comment, draft_id = setup.complaint("u/acme_support broken parcel, need help")
    card = setup.card(draft_id)
    setup.bot.stop()
    setup.start_bot()  # a new client on the same database: the card is not posted again
    assert len([m for m in setup.discord.messages() if f"draft #{draft_id}" in shown(m)]) == 1
    setup.discord.click(card["id"], f"mb:approve:{draft_id}", MANAGER)
    card = setup.posted(draft_id)
    assert f"Posted by {MANAGER_NAME}" in shown(card) and card["components"] == []
    assert len(fake_reddit.replies_to(comment, author=BOT)) == 1


def test_an_edit_form_submitted_after_a_restart_is_tone_checked_and_posted(setup, fake_reddit):
    setup.start_bot()
    comment, draft_id = setup.complaint("u/acme_support my parcel is lost, please help")
    card = setup.card(draft_id)
    form = setup.ephemeral(setup.discord.click(card["id"], f"mb:edit:{draft_id}", MANAGER))
    assert form["type"] == 9
    setup.bot.stop()
    setup.start_bot()  # the form is still open in the manager's Discord; this process never showed it
    refused = setup.ephemeral(
        setup.discord.submit_modal(
            f"mb-edit:{draft_id}", {"text": "Sorry, but that is our policy."}, MANAGER, card["id"]
        )
    )
    assert "tone guard" in refused["data"]["content"] and refused["data"]["flags"] & 64
    assert setup.pipeline.store.draft(draft_id).state == "awaiting"
    text = setup.pipeline.store.draft(draft_id).text + " We will look at it today."
    done = setup.ephemeral(
        setup.discord.submit_modal(f"mb-edit:{draft_id}", {"text": text}, MANAGER, card["id"])
    )
    assert done["data"]["content"] == f"Done: edit draft #{draft_id}."
    card = setup.posted(draft_id)
    assert f"Posted by {MANAGER_NAME}" in shown(card) and text.replace("```", "'''") in shown(card)
    (reply,) = fake_reddit.replies_to(comment, author=BOT)
    assert reply["body"] == text
    assert setup.pipeline.store.draft(draft_id).text == text


def test_a_rejection_asks_for_a_reason_and_is_in_the_audit_trail(setup, fake_reddit):
    setup.start_bot()
    comment, draft_id = setup.complaint("u/acme_support the refund is late")
    card = setup.card(draft_id)
    form = setup.ephemeral(setup.discord.click(card["id"], f"mb:reject:{draft_id}", MANAGER))
    assert form["type"] == 9 and form["data"]["custom_id"] == f"mb-reject:{draft_id}"
    outsider = setup.ephemeral(
        setup.discord.submit_modal(f"mb-reject:{draft_id}", {"text": "no"}, OUTSIDER, card["id"])
    )
    assert "Only community managers" in outsider["data"]["content"]
    empty = setup.ephemeral(
        setup.discord.submit_modal(f"mb-reject:{draft_id}", {"text": " "}, MANAGER, card["id"])
    )
    assert "needs a reason" in empty["data"]["content"]
    assert setup.pipeline.store.draft(draft_id).state == "awaiting"
    reason = "answered by phone already"
    done = setup.ephemeral(
        setup.discord.submit_modal(f"mb-reject:{draft_id}", {"text": reason}, MANAGER, card["id"])
    )
    assert done["data"]["content"] == f"Done: reject draft #{draft_id}."
    draft = setup.pipeline.store.draft(draft_id)
    assert (draft.state, draft.reason, draft.decided_by) == ("rejected", reason, "discord:user01")
    (entry,) = [a for a in setup.pipeline.store.audit(draft_id=draft_id) if a.action == "rejected"]
    assert (entry.actor, entry.detail) == ("discord:user01", reason)
    at = draft.updated_at.astimezone(ZoneInfo("Europe/Amsterdam"))
    card = setup.card_says(
        card, f"Rejected by {MANAGER_NAME} · {at:%a} {at.day} {at:%b %H:%M} {at.tzname()}: {reason}"
    )
    assert card["components"] == []
    assert setup.pipeline.post() == [] and fake_reddit.replies_to(comment, author=BOT) == []


def test_not_a_complaint_is_a_label_for_the_model(setup, fake_reddit):
    setup.start_bot()
    comment, draft_id = setup.complaint("u/acme_support my order is late, where is it")
    card = setup.card(draft_id)
    done = setup.ephemeral(setup.discord.click(card["id"], f"mb:relabel:{draft_id}", MANAGER))
    assert done["data"]["content"] == f"Done: relabel draft #{draft_id}."
    (label,) = [row for row in setup.pipeline.store.labels() if row.mention_id == comment]
    assert (label.complaint, label.intent, label.source, label.actor) == (
        0,
        "other",
        "relabelled",
        "discord:user01",
    )
    assert setup.pipeline.store.draft(draft_id).state == "rejected"
    card = setup.card_says(card, f"Rejected by {MANAGER_NAME}")
    assert "relabelled as other" in shown(card) and card["components"] == []
    assert setup.pipeline.post() == [] and fake_reddit.replies_to(comment, author=BOT) == []


def test_take_case_makes_the_manager_its_owner(setup):
    setup.start_bot()
    _, draft_id = setup.complaint("u/acme_support my gadget broke after two days")
    card = setup.card(draft_id)
    done = setup.ephemeral(setup.discord.click(card["id"], f"mb:take:{draft_id}", MANAGER))
    assert done["data"]["content"] == f"Done: take draft #{draft_id}."
    store = setup.pipeline.store
    case = store.case(store.draft(draft_id).case_id)
    assert case.owner == "discord:user01"
    assert [e.actor for e in store.case_events(case.id) if e.kind == "owner"] == ["discord:user01"]
    card = setup.card_says(card, f"owner {MANAGER_NAME}")
    ids = [c["custom_id"] for row in card["components"] for c in row["components"]]
    assert f"mb:approve:{draft_id}" in ids  # the draft still awaits its decision: the buttons stay
    assert f"mb:take:{draft_id}" not in ids  # but the case has its owner
    thread = wait_for(lambda: setup.discord.threads(), what="the case thread")[0]
    said = wait_for(lambda: setup.discord.messages(thread["id"]), what="the take in the thread")
    assert said[0]["content"].startswith(f"Case taken by {MANAGER_NAME} · ")


def test_cards_missed_while_discord_was_down_are_posted_on_connect(setup):
    _, draft_id = setup.complaint("u/acme_support the app crashes every time")
    setup.start_bot()
    setup.card(draft_id)


def test_two_simultaneous_approvals_post_once(setup, fake_reddit):
    setup.start_bot()
    comment, draft_id = setup.complaint("u/acme_support charged twice for my subscription")
    card = setup.card(draft_id)
    # Both see the card with its buttons and click at once: both interactions carry them.
    clicks = setup.discord.click_together(card["id"], f"mb:approve:{draft_id}", [MANAGER, MANAGER])
    texts = sorted(setup.ephemeral(i)["data"]["content"] for i in clicks)
    assert texts[0] == f"Done: approve draft #{draft_id}." and texts[1].startswith("Not done: ")
    setup.posted(draft_id)
    assert len(fake_reddit.replies_to(comment, author=BOT)) == 1


def test_pause_stops_posting(setup, fake_reddit):
    setup.start_bot()
    setup.ephemeral(setup.discord.slash("pause", user_id=MANAGER))
    comment, draft_id = setup.complaint("u/acme_support still no refund")
    card = setup.card(draft_id)
    setup.ephemeral(setup.discord.click(card["id"], f"mb:approve:{draft_id}", MANAGER))
    assert setup.pipeline.post() == []
    assert fake_reddit.replies_to(comment, author=BOT) == []
    resumed = setup.ephemeral(setup.discord.slash("resume", user_id=MANAGER))
    assert resumed["data"]["content"] == "Posting resumed by user01."
    setup.posted(draft_id)  # what was approved during the pause goes out on /resume
    assert len(fake_reddit.replies_to(comment, author=BOT)) == 1


def test_a_case_gets_a_thread_and_its_nudges_go_there(setup):
    setup.start_bot()
    _, draft_id = setup.complaint("u/acme_support my gadget arrived broken and nobody answers")
    card = setup.card(draft_id)
    setup.clock.sleep(timedelta(hours=30).total_seconds())
    assert setup.pipeline.sweep(), "the case should be overdue"
    thread = wait_for(lambda: setup.discord.threads(), what="the case thread")[0]
    assert thread["message_id"] == card["id"] and thread["name"].startswith("case ")
    said = wait_for(lambda: setup.discord.messages(thread["id"]), what="the nudge in the thread")
    assert "overdue" in said[0]["content"] or "reminder" in said[0]["content"]


def test_a_nudge_that_comes_while_its_card_is_posted_waits_for_the_card(setup):
    setup.start_bot()
    setup.discord.hold_messages()
    _, draft_id = setup.complaint("u/acme_support my gadget arrived broken and nobody answers")
    wait_for(
        lambda: any(f"draft #{draft_id}" in shown(m) for m in setup.discord.messages()),
        what="the card, sent but not yet answered",
    )
    setup.clock.sleep(timedelta(hours=30).total_seconds())
    assert setup.pipeline.sweep(), "the case should be overdue"
    setup.discord.release_messages()
    thread = wait_for(lambda: setup.discord.threads(), what="the case thread")[0]
    assert thread["message_id"] == setup.card(draft_id)["id"]
    wait_for(lambda: setup.discord.messages(thread["id"]), what="the nudge in the thread")


def test_a_paused_connector_is_said_once_in_the_channel(setup):
    setup.start_bot()
    for _ in range(2):
        setup.bot.on_event("connector_paused", connector="reddit", error="credentials revoked")
    wait_for(
        lambda: any("reddit is paused" in m["content"] for m in setup.discord.messages()), what="the notice"
    )
    setup.bot.call(asyncio.sleep(0))
    assert len([m for m in setup.discord.messages() if "is paused" in m["content"]]) == 1


def test_the_command_line_pause_is_the_same_pause(config_path, fake_reddit):
    mentionbot(config_path, "pause", "--as", "alice")
    store = Store.open(config_path.parent / "bot.db")
    assert store.posting_paused().startswith("by alice")
    mentionbot(config_path, "resume")
    assert store.posting_paused() is None


def test_an_approval_on_the_command_line_updates_the_card(setup):
    setup.start_bot()
    _, draft_id = setup.complaint("u/acme_support I was charged twice")
    card = setup.card(draft_id)
    mentionbot(setup.config_path, "approve", str(draft_id), "--as", "carol")
    # At once rather than at the bot's next sync (every few seconds), which may also come first: either way the
    # card is current when this returns.
    setup.bot.call(setup.bot.sync_cards())
    content = shown(setup.discord.message(card["id"]))
    assert "Approved by carol" in content and setup.discord.message(card["id"])["components"] == []
    assert setup.bot.call(setup.bot.sync_cards()) == 0


def test_case_status_and_report_commands(setup):
    setup.start_bot()
    _, draft_id = setup.complaint("u/acme_support my order never arrived")
    setup.card(draft_id)
    ref = setup.pipeline.store.case(setup.pipeline.store.draft(draft_id).case_id).ref
    case = setup.ephemeral(setup.discord.slash("case", {"ref": ref}, MANAGER))
    assert ref in case["data"]["content"] and "owner nobody yet" in case["data"]["content"]
    expires = setup.clock.now() + timedelta(days=3, hours=1)
    setup.pipeline.store.set_credential_expiry(
        "reddit", CredentialExpiry(at=expires, what="credentials_expire (config)"), now=setup.clock.now()
    )
    status = setup.ephemeral(setup.discord.slash("status", user_id=MANAGER))
    assert "reddit: last poll" in status["data"]["content"] and "1 awaiting" in status["data"]["content"]
    assert (
        "reddit: renew credentials: credentials\\_expire (config) expires in 3 days"
        in status["data"]["content"]
    )
    interaction = setup.discord.slash("report", user_id=MANAGER)
    report = wait_for(
        lambda: next(
            (
                r
                for r in setup.discord.responses()
                if r["interaction"] == interaction and r["type"] == "followup"
            ),
            None,
        ),
        what="the report follow-up",
    )
    assert report["data"]["content"].startswith("Weekly report ")
    # last week is empty here, so there is no trend chart to attach
    assert report["data"]["content"].endswith("no mentions") and not report["data"].get("attachments")


def test_the_daemons_weekly_report_is_posted_with_the_chart_drawn_by_its_child_process(setup):
    from bot import report as weekly

    setup.start_bot()
    built = weekly.build(
        setup.pipeline.store,
        setup.pipeline.config,
        week=weekly.last_complete_week(setup.clock.now(), ZoneInfo("Europe/Amsterdam")),
        now=setup.clock.now(),
    )
    # the daemon hands over the charts its report child drew; the bot does not draw them again
    setup.on_event("report", report=built, paths=[], charts={"trend": b"\x89PNG fake chart"})
    posted = wait_for(
        lambda: next((m for m in setup.discord.messages() if m["content"].startswith("Weekly report")), None),
        what="the weekly report in the channel",
    )
    assert [a["filename"] for a in posted["attachments"]] == ["trend.png"]


def test_stopping_lets_a_decision_in_progress_finish(setup, fake_reddit):
    setup.start_bot()
    comment, draft_id = setup.complaint("u/acme_support my refund is two weeks late")
    card = setup.card(draft_id)
    setup.ephemeral(setup.discord.click(card["id"], f"mb:approve:{draft_id}", MANAGER))
    setup.bot.stop()  # the card update and the post are still to come when the decision answers
    assert setup.pipeline.store.draft(draft_id).state == "posted"
    assert len(fake_reddit.replies_to(comment, author=BOT)) == 1
    assert "; posted: <" in shown(setup.discord.message(card["id"]))


def test_a_forms_value_is_found_in_action_rows_and_in_labels():
    rows = {"components": [{"type": 1, "components": [{"type": 4, "custom_id": "text", "value": "a"}]}]}
    labels = {"components": [{"type": 18, "component": {"type": 4, "custom_id": "text", "value": "b"}}]}
    assert (form_value(rows), form_value(labels), form_value({})) == ("a", "b", "")


def test_the_read_commands_are_for_managers_unless_opened(setup):
    bot = setup.start_bot()
    _, draft_id = setup.complaint("u/acme_support my order never arrived")
    setup.card(draft_id)
    ref = setup.pipeline.store.case(setup.pipeline.store.draft(draft_id).case_id).ref
    commands = {"queue": {}, "case": {"ref": ref}, "status": {}, "report": {}}
    for name, options in commands.items():
        refused = setup.ephemeral(setup.discord.slash(name, options, OUTSIDER))
        assert refused["data"]["flags"] & 64, name
        assert refused["data"]["content"] == "Only community managers can see this.", name
    queue = setup.ephemeral(setup.discord.slash("queue", user_id=MANAGER))
    assert f"#{draft_id} reddit complaint" in queue["data"]["content"]
    bot.open_read_commands = True  # [discord] open_read_commands = true
    opened = setup.ephemeral(setup.discord.slash("queue", user_id=OUTSIDER))
    assert f"#{draft_id} reddit complaint" in opened["data"]["content"]
    approve = setup.ephemeral(
        setup.discord.click(setup.card(draft_id)["id"], f"mb:approve:{draft_id}", OUTSIDER)
    )
    assert "Only community managers" in approve["data"]["content"]  # reading, not deciding


def test_open_read_commands_is_read_from_the_config(config_path):
    from bot.config import load_config

    config_path.write_text(
        config_path.read_text()
        + '\n[discord]\nguild_id = 1\nchannel_id = 2\nmanager_roles = ["M"]\nopen_read_commands = true\n'
    )
    assert ApprovalBot.from_config(load_config(config_path)).open_read_commands is True


def test_an_edit_with_a_strangers_link_or_handle_is_refused_by_the_final_check(setup, fake_reddit):
    setup.start_bot()
    comment, draft_id = setup.complaint("u/acme_support my parcel is lost", author="mal_2024")
    card = setup.card(draft_id)
    assert re.search(r"• name left out: the \w+( name)? 'mal\\_2024' is not plainly", shown(card))
    for text in ("Refunds here: [acme support](https://evil.example)", "Ask u/victim, they know @everyone"):
        refused = setup.ephemeral(
            setup.discord.submit_modal(f"mb-edit:{draft_id}", {"text": text}, MANAGER, card["id"])
        )
        assert "final check refused" in refused["data"]["content"]
        assert "@everyone" not in refused["data"]["content"].replace("@\u200beveryone", "")
    assert setup.pipeline.store.draft(draft_id).state == "awaiting"
    assert fake_reddit.replies_to(comment, author=BOT) == []


def test_a_dry_run_card_says_nothing_was_posted(tmp_path, fake_reddit, reddit_env, discord_fake):
    from tests.conftest import write_config

    s = Setup(write_config(tmp_path, fake_reddit, dry_run=True), fake_reddit, discord_fake)
    try:
        s.start_bot()
        comment, draft_id = s.complaint("u/acme_support where is my refund? Third time asking.")
        card = s.card(draft_id)
        s.discord.click(card["id"], f"mb:approve:{draft_id}", MANAGER)
        card = s.card_says(card, "dry run: not posted")
        assert "Posted" not in shown(card) and fake_reddit.replies_to(comment, author=BOT) == []
        assert s.pipeline.store.draft(draft_id).state == "dry_run"
    finally:
        s.bot.stop()


def test_a_cases_thread_has_its_reminders_private_answers_and_decisions(setup):
    from bot.models import Author, Mention

    setup.start_bot()
    _, draft_id = setup.complaint("u/acme_support my gadget arrived broken and nobody answers")
    card = setup.card(draft_id)
    store = setup.pipeline.store
    case = store.case(store.draft(draft_id).case_id)
    setup.clock.sleep(timedelta(hours=30).total_seconds())
    assert setup.pipeline.sweep(), "the case should be overdue"
    thread = wait_for(lambda: setup.discord.threads(), what="the case thread")[0]
    assert thread["message_id"] == card["id"] and thread["name"] == f"case {case.ref}"

    def said() -> list[str]:
        return [m["content"] for m in setup.discord.messages(thread["id"])]

    wait_for(said, what="the reminder in the thread")
    setup.discord.click(card["id"], f"mb:approve:{draft_id}", MANAGER)
    setup.posted(draft_id)
    answer = Mention(
        platform="reddit",
        id="dm1",
        url="",
        author=Author("lena", "Lena", "u1"),
        text="Order 4411, @everyone <@&1> it was in the box like that",
        created_at=setup.clock.now(),
        kind="dm",
    )
    setup.on_event("customer_replied", case=case, mention=answer)
    wait_for(lambda: len(said()) >= 4, what="the decision, the post and the answer in the thread")
    lines = said()
    assert "overdue" in lines[0] or "reminder" in lines[0]
    assert lines[1].startswith(f"draft #{draft_id}: Approved by {MANAGER_NAME} · ")
    assert (
        lines[2].startswith(f"draft #{draft_id}: Posted by {MANAGER_NAME} · ") and "; posted: <" in lines[2]
    )
    assert lines[3].startswith("Lena answered in private (") and "Order 4411" in lines[3]
    assert "@\u200beveryone \\<@\u200b&1\\>" in lines[3]  # pings nobody, mentions no role
    assert len(setup.discord.threads()) == 1
