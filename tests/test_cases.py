"""The private case: same-day clocks in the brand's time zone, reminders, three follow-ups and closure, the
personal moves, who will do what by when, one owner, the customer's private answer, handoff conversion."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bot import cases, decisions
from bot.cli import cli as main_cli
from bot.clock import FakeClock
from bot.config import SlaSettings, load_config
from bot.pipeline import Pipeline
from bot.store import Handoff, Store
from tests.conftest import mentionbot, open_store, write_config

# Monday 16 November 2026, 09:00 UTC = 10:00 in Amsterdam (UTC+1).
T = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
AMS = "Europe/Amsterdam"


def at(hour: int, minute: int = 0, day: int = 16) -> datetime:
    """A time given in Amsterdam's winter time (UTC+1), as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


# -- the due time -----------------------------------------------------------------------------------------------


def test_a_morning_complaint_is_due_by_the_end_of_the_local_day():
    assert cases.due_time("complaint", at(10), SlaSettings(), tz=AMS) == at(0, day=17)


def test_a_late_complaint_is_due_within_24_hours_not_at_midnight():
    assert cases.due_time("complaint", at(23), SlaSettings(), tz=AMS) == at(23, day=17)
    assert cases.due_time("complaint", at(18), SlaSettings(), tz=AMS) == at(18, day=17)
    assert cases.due_time("complaint", at(17, 59), SlaSettings(), tz=AMS) == at(0, day=17)


def test_the_hours_rule_wins_when_it_is_earlier_and_targets_are_per_type():
    sla = SlaSettings(acknowledge_hours=4, targets={"inquiry": 2})
    assert cases.due_time("complaint", at(10), sla, tz=AMS) == at(14)
    assert cases.due_time("inquiry", at(10), sla, tz=AMS) == at(12)
    assert cases.due_time("inquiry", at(10), SlaSettings(same_day_cutoff="00:00"), tz=AMS) == at(10, day=17)


def test_a_bad_cutoff_is_a_config_error(tmp_path, fake_reddit, reddit_env):
    config = write_config(tmp_path, fake_reddit, extra='\n[sla]\nsame_day_cutoff = "6pm"\n')
    result = mentionbot(config, "check", "--offline", check=False)
    assert result.returncode == 2 and "sla.same_day_cutoff: expected a 24-hour time" in result.stderr


# -- the clocks, through the pipeline with the fake Reddit ------------------------------------------------------


@pytest.fixture
def world(config_path, fake_reddit):
    clock = FakeClock(T)
    events: list[tuple[str, dict]] = []
    config = load_config(config_path)
    pipeline = Pipeline(
        config,
        Store.open(config_path.parent / "bot.db"),
        clock=clock,
        on_event=lambda kind, **data: events.append((kind, data)),
    )
    return pipeline, clock, events, fake_reddit


def nudges(events, case):
    return [d["nudge"].kind for k, d in events if k == "nudge" and d["nudge"].case.id == case.id]


def test_a_case_due_a_reminder_then_overdue_each_once(world):
    pipeline, clock, events, fake = world
    fake.add_comment(
        author="marta", body="u/acme_support my parcel arrived broken", created_utc=T.timestamp()
    )
    pipeline.run_cycle()
    (case,) = pipeline.store.cases()
    assert case.due_at == at(0, day=17)  # same local day (config: Europe/Amsterdam)
    for when in (at(21, 59), at(22), at(22, 30), at(0, day=17), at(1, day=17)):
        clock.set(when)
        pipeline.sweep()
    assert nudges(events, case) == ["reminder", "overdue"]
    history = [e.kind for e in pipeline.store.case_events(case.id)]
    assert history == ["opened", "reminder", "overdue"]


def test_an_inquiry_is_followed_up_three_times_then_closed(world):
    pipeline, clock, events, fake = world
    comment = fake.add_comment(
        author="nina", body="u/acme_support do you ship to Norway?", created_utc=T.timestamp()
    )
    pipeline.run_cycle()
    draft = pipeline.store.draft_for("reddit", comment)
    assert draft.intent == "inquiry" and "within 24 hours" in draft.text
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    pipeline.run_cycle()
    case = pipeline.store.case(draft.case_id)
    assert case.acknowledged_at and case.contacted_at and case.stage == "what_happened"
    assert len(fake.messages) == 1  # the first private message
    for n in (1, 2, 3):
        clock.advance(hours=24)
        pipeline.run_cycle()
        assert pipeline.store.case(case.id).follow_ups == n
        assert len(fake.messages) == 1 + n
    assert "last check-in" in fake.messages[-1]["text"]
    clock.advance(hours=24)
    pipeline.run_cycle()
    closed = pipeline.store.case(case.id)
    assert closed.status == "closed" and closed.follow_ups == 3 and len(fake.messages) == 4
    assert nudges(events, case) == ["follow_up", "follow_up", "follow_up", "closed"]
    clock.advance(hours=24)
    pipeline.run_cycle()
    assert len(fake.messages) == 4 and nudges(events, case)[-1] == "closed"


def test_the_customers_private_answer_is_attached_and_stops_the_follow_ups(world):
    pipeline, clock, events, fake = world
    comment = fake.add_comment(
        author="nina", body="u/acme_support do you ship to Norway?", created_utc=T.timestamp()
    )
    pipeline.run_cycle()
    draft = pipeline.store.draft_for("reddit", comment)
    decisions.approve(pipeline.store, draft.id, actor="alice", now=clock.now())
    pipeline.run_cycle()
    fake.customer_message(
        author="nina", body="Order 1234, shipping to Bergen", created_utc=T.timestamp() + 600
    )
    fake.customer_message(author="stranger", body="hello?", created_utc=T.timestamp() + 600)
    for _ in pipeline.connectors["reddit"].sources():  # messages are read on the inbox's turn
        clock.advance(minutes=10)
        pipeline.run_cycle()
    case = pipeline.store.case(draft.case_id)
    assert case.customer_replied_at == T + timedelta(minutes=10)
    assert case.stage == "find_solution"
    assert [d["mention"].author.handle for k, d in events if k == "customer_replied"] == ["nina"]
    replies = [e for e in pipeline.store.case_events(case.id) if e.kind == "customer_reply"]
    assert [(e.actor, e.note) for e in replies] == [("nina", "Order 1234, shipping to Bergen")]
    for _ in range(4):
        clock.advance(hours=24)
        pipeline.run_cycle()
    assert pipeline.store.case(case.id).follow_ups == 0 and len(fake.messages) == 1
    assert pipeline.store.handoff_conversion() == {"reddit": Handoff(cases=1, contacted=1, replied=1)}


def test_who_will_do_what_by_when_with_reminders(world):
    pipeline, clock, events, fake = world
    fake.add_comment(
        author="marta", body="u/acme_support my parcel arrived broken", created_utc=T.timestamp()
    )
    pipeline.run_cycle()
    (case,) = pipeline.store.cases()
    sla = SlaSettings(targets={"refund": 72})
    planned = cases.plan(
        pipeline.store,
        case,
        actor="alice",
        now=clock.now(),
        action="send a replacement",
        kind="refund",
        sla=sla,
    )
    assert planned.owner == "alice" and planned.action_owner == "alice"
    assert planned.action_due == T + timedelta(hours=72) and planned.stage == "find_solution"
    with pytest.raises(cases.CaseError, match="owned by alice"):
        cases.plan(
            pipeline.store, planned, actor="bob", now=clock.now(), action="call", due=T + timedelta(hours=1)
        )
    clock.set(T + timedelta(hours=70))
    pipeline.sweep()
    clock.set(T + timedelta(hours=72))
    pipeline.sweep()
    pipeline.sweep()
    assert [k for k in nudges(events, case) if k.startswith("action")] == [
        "action_reminder",
        "action_overdue",
    ]
    # A new plan gets its own reminders.
    cases.plan(
        pipeline.store,
        planned,
        actor="alice",
        now=clock.now(),
        action="confirm delivery",
        due=clock.now() + timedelta(hours=1),
    )
    pipeline.sweep()
    assert [k for k in nudges(events, case) if k.startswith("action")][-1] == "action_reminder"


def test_the_personal_moves_in_order_and_one_owner(world):
    pipeline, clock, _, fake = world
    fake.add_comment(
        author="marta", body="u/acme_support my parcel arrived broken", created_utc=T.timestamp()
    )
    pipeline.run_cycle()
    (case,) = pipeline.store.cases()
    stages = [case.stage]
    for _ in range(4):
        case = cases.advance(pipeline.store, case, actor="alice", now=clock.now())
        stages.append(case.stage)
    assert stages == list(cases.STAGES)
    history = pipeline.store.case_events(case.id)
    assert case.acknowledged_at == case.contacted_at == clock.now()  # contact made by hand counts
    assert [e.kind for e in history][-1] == "resolved" and {e.actor for e in history[1:]} == {"alice"}
    assert case.status == "closed" and case.resolved_at == clock.now()
    with pytest.raises(cases.CaseError, match="closed"):
        cases.advance(pipeline.store, case, actor="alice", now=clock.now())


# -- the commands ---------------------------------------------------------------------------------------------


def test_plan_advance_resolve_and_cases_due_from_the_command_line(tmp_path, fake_reddit, reddit_env):
    config = write_config(tmp_path, fake_reddit, extra='\n[sla]\nsame_day_cutoff = "00:00"\n')
    # Posted 23 hours ago: the 24-hour clock runs out within the reminder window.
    fake_reddit.add_comment(
        author="marta", body="u/acme_support my parcel arrived broken", created_utc=time.time() - 23 * 3600
    )
    fake_reddit.add_comment(author="joe", body="u/acme_support my order is late")
    mentionbot(config, "run", "--once")  # the real daemon cycle, then the commands in-process
    store = open_store(config)
    late, fresh = sorted(store.cases(), key=lambda c: c.author_handle)[::-1]
    assert late.author_handle == "marta"
    due = cli(config, "cases", "--due").stdout
    assert late.ref in due and fresh.ref not in due

    planned = mentionbot(
        config, "plan", fresh.ref, "--do", "send a replacement", "--by", "+2h", "--as", "alice"
    )
    assert (
        f"{fresh.ref}: open · stage find solution · owner alice · next: alice will send a replacement, due in 2 h"
        in planned.stdout
    )
    assert fresh.ref in cli(config, "cases", "--due").stdout  # its action is due within the window
    refused = mentionbot(
        config, "plan", fresh.ref, "--do", "call her", "--by", "+1d", "--as", "bob", check=False
    )
    assert refused.returncode == 1 and "owned by alice" in refused.stderr
    bad = cli(config, "plan", fresh.ref, "--do", "x", "--by", "friday", "--as", "alice", check=False)
    assert bad.returncode == 2 and "expected a date or time" in bad.stderr
    no_when = cli(config, "plan", fresh.ref, "--do", "x", "--as", "alice", check=False)
    assert no_when.returncode == 1 and "say by when" in no_when.stderr

    cli(config, "resolve", fresh.ref, "--note", "replacement delivered", "--as", "alice")
    history = cli(config, "case", fresh.ref).stdout
    assert (
        "plan" in history
        and "alice will send a replacement" in history
        and "replacement delivered" in history
    )
    assert "closed" in history

    advanced = cli(config, "advance", late.ref, "--as", "carol")
    assert "stage thank you · owner carol" in advanced.stdout


def cli(config, *args, check=True):
    """The command line in-process (fast); ``stdout`` / ``stderr`` / ``returncode`` like a subprocess."""
    result = CliRunner().invoke(main_cli, ["-c", str(config), *args])
    if check and result.exit_code != 0:
        raise AssertionError(f"mentionbot {' '.join(args)} exited {result.exit_code}: {result.output}")
    result.returncode = result.exit_code
    return result
