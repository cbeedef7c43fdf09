"""The daemon writes the weekly report at the configured local day and time, once, across DST changes."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from bot import report as weekly
from bot.clock import FakeClock
from bot.config import parse_config
from bot.daemon import Daemon
from bot.errors import ConfigError
from bot.pipeline import Pipeline
from bot.store import Store

AMS = ZoneInfo("Europe/Amsterdam")


def make_daemon(tmp_path, start: datetime, **report):
    config = parse_config(
        {
            "brand": {"contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"},
            "report": {"folder": str(tmp_path / "reports"), **report},
        },
        check_env=False,
    )
    clock = FakeClock(start)
    events = []
    pipeline = Pipeline(
        config,
        Store.memory(),
        clock=clock,
        connectors={},
        on_event=lambda kind, **d: events.append((kind, d)),
    )
    return Daemon(pipeline), clock, events


def run_minutely(daemon, clock, until: datetime) -> list[tuple[datetime, str]]:
    """Advance the clock a minute at a time, running the report check each minute as the scheduler would."""
    written = []
    while clock.now() < until:
        clock.advance(minutes=1)
        before = daemon.pipeline.store.report_last_week()
        daemon.weekly_report()
        after = daemon.pipeline.store.report_last_week()
        if after != before:
            written.append((clock.now(), after))
    return written


def test_the_weekly_report_keeps_local_time_when_summer_time_ends(tmp_path):
    # Summer time ends on Sunday 25 October 2026: Monday 09:00 is 07:00 UTC before and 08:00 UTC after.
    daemon, clock, events = make_daemon(tmp_path, datetime(2026, 10, 19, 6, 0, tzinfo=UTC))
    daemon.pipeline.store.set_report_last_week("2026-W41")
    written = run_minutely(daemon, clock, datetime(2026, 10, 27, 0, 0, tzinfo=UTC))
    assert written == [
        (datetime(2026, 10, 19, 7, 0, tzinfo=UTC), "2026-W42"),
        (datetime(2026, 10, 26, 8, 0, tzinfo=UTC), "2026-W43"),
    ]
    assert (tmp_path / "reports" / "report-2026-W43.html").exists()
    assert [kind for kind, _ in events] == ["report", "report"]


def test_the_weekly_report_keeps_local_time_when_summer_time_begins(tmp_path):
    # Summer time begins on Sunday 29 March 2026; a Sunday 18:30 report moves from 17:30 UTC to 16:30 UTC.
    daemon, clock, _ = make_daemon(
        tmp_path, datetime(2026, 3, 22, 17, 0, tzinfo=UTC), day="sunday", time="18:30"
    )
    daemon.pipeline.store.set_report_last_week("2026-W10")
    written = run_minutely(daemon, clock, datetime(2026, 3, 30, 0, 0, tzinfo=UTC))
    # On a Sunday the week in progress is not complete: the report covers the week before.
    assert written == [
        (datetime(2026, 3, 22, 17, 30, tzinfo=UTC), "2026-W11"),
        (datetime(2026, 3, 29, 16, 30, tzinfo=UTC), "2026-W12"),
    ]


def test_a_restart_catches_up_once_and_never_repeats(tmp_path):
    start = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # Wednesday: Monday's report was missed while down
    daemon, _, _ = make_daemon(tmp_path, start)
    daemon.weekly_report()
    assert daemon.pipeline.store.report_last_week() == "2026-W47"
    assert (
        weekly.run_due(daemon.pipeline.store, daemon.pipeline.config, now=start + timedelta(hours=1)) is None
    )


def test_the_daemon_schedules_the_report_check():
    config = parse_config({"brand": {"contact_email": "c@a.example"}}, check_env=False)
    daemon = Daemon(Pipeline(config, Store.memory(), clock=FakeClock(), connectors={}))
    jobs = [repr(job) for job in daemon.scheduler.jobs]
    assert any("weekly report" in job for job in jobs)


def test_scheduled_week_for_a_moment_on_the_schedule():
    settings = parse_config({"brand": {"contact_email": "c@a.example"}}, check_env=False).report
    moment, week = weekly.scheduled_week(datetime(2026, 11, 23, 8, 0, tzinfo=UTC), settings, AMS)
    assert moment == datetime(2026, 11, 23, 8, 0, tzinfo=UTC) and week.label == "2026-W47"
    moment, week = weekly.scheduled_week(datetime(2026, 11, 23, 7, 59, tzinfo=UTC), settings, AMS)
    assert moment == datetime(2026, 11, 16, 8, 0, tzinfo=UTC) and week.label == "2026-W46"


def test_a_bad_schedule_is_reported_with_its_key():
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {"brand": {"contact_email": "c@a.example"}, "report": {"day": "funday", "time": "9am"}},
            check_env=False,
        )
    assert caught.value.problems == [
        "report.day: expected a weekday name like 'monday', got 'funday'",
        "report.time: expected a 24-hour time like '09:00', got '9am'",
    ]


CHILD_SCRIPT = """
import sys
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from bot import report as weekly
from bot.clock import FakeClock
from bot.config import parse_config
from bot.daemon import Daemon
from bot.models import Author, Mention, Triage
from bot.pipeline import Pipeline
from bot.store import Store

folder = Path(sys.argv[1])
now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
config = parse_config(
    {"brand": {"contact_email": "c@a.example"}, "report": {"folder": str(folder / "reports")}}, check_env=False
)
store = Store.open(folder / "bot.db")
for i in range(20):
    at = now - timedelta(days=7, hours=i)
    m = Mention("reddit", f"m{i}", "", Author(f"u{i}"), f"post {i} about the lamp shade", at)
    store.save_fetch("reddit", [m], None, now=at)
    store.save_triage(m, Triage(intent="complaint" if i % 2 else "praise"), now=at)
events = []
daemon = Daemon(Pipeline(config, store, clock=FakeClock(now), connectors={}, on_event=lambda k, **d: events.append(d)))
daemon.weekly_report()
(event,) = events
print(event["report"].week.label, sorted(event["charts"]), [p.name for p in event["paths"]])
print("matplotlib loaded:", any(name.startswith("matplotlib") for name in sys.modules))
"""


def test_the_daemon_draws_the_report_in_a_child_process_and_keeps_no_chart_stack(tmp_path):
    # A fresh interpreter, since this test process may have imported matplotlib already.
    out = subprocess.run(
        [sys.executable, "-c", CHILD_SCRIPT, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "2026-W47 ['themes', 'trend', 'volume'] ['report-2026-W47.md', 'report-2026-W47.html']",
        "matplotlib loaded: False",
    ]
    assert (tmp_path / "reports" / "report-2026-W47-trend.png").stat().st_size > 1000
    assert Store.open(tmp_path / "bot.db").report_last_week() == "2026-W47"


def mail_config(tmp_path, smtp, **changes):
    settings = {
        "dry_run": False,
        "brand": {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"},
        "report": {
            "folder": str(tmp_path / "reports"),
            "recipients": ["boss@acme.example", "cm@acme.example"],
        },
        "cases": {
            "email": {
                "smtp_host": "127.0.0.1",
                "smtp_port": smtp.port,
                "smtp_user": smtp.user,
                "smtp_password": {"env": "TEST_SMTP_PASSWORD"},
                "ca_file": str(smtp.cert),
            }
        },
    }
    return parse_config(settings | changes)


@pytest.fixture
def smtp(monkeypatch):
    from tests.mailservers import SmtpServer

    server = SmtpServer().start()
    monkeypatch.setenv("TEST_SMTP_PASSWORD", server.password)
    yield server
    server.close()


def test_the_daemon_emails_the_weekly_report_to_its_recipients_over_smtp(tmp_path, smtp):
    clock = FakeClock(
        datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    )  # Monday 09:30 in Amsterdam: the report is due
    daemon = Daemon(Pipeline(mail_config(tmp_path, smtp), Store.memory(), clock=clock, connectors={}))
    daemon.weekly_report()
    assert sorted(to for _, (to,), _ in smtp.received) == ["boss@acme.example", "cm@acme.example"]
    sender, _, message = smtp.received[0]
    assert sender == "care@acme.example"
    assert message["Subject"] == "Acme weekly mention report, 2026-W47"
    assert message["To"] == "boss@acme.example, cm@acme.example"
    parts = {part.get_content_type(): part for part in message.walk()}
    assert "<html" in parts["text/html"].get_payload(decode=True).decode()
    assert "2026-W47" in parts["text/plain"].get_payload(decode=True).decode()
    if weekly.browser():  # CI installs chromium: the PDF printed from the same HTML is attached
        pdf = parts["application/pdf"]
        assert pdf.get_filename() == "report-2026-W47.pdf"
        assert pdf.get_payload(decode=True).startswith(b"%PDF")
    daemon.weekly_report()  # written and sent once a week, not once a minute
    assert len(smtp.received) == 2


def test_a_dry_run_writes_the_report_and_emails_nobody(tmp_path, smtp):
    clock = FakeClock(datetime(2026, 11, 23, 8, 30, tzinfo=UTC))
    config = mail_config(tmp_path, smtp, dry_run=True)
    store = Store.memory()
    Daemon(Pipeline(config, store, clock=clock, connectors={})).weekly_report()
    assert smtp.received == [] and store.report_mail() == []  # nor queued to go out later
    assert (tmp_path / "reports" / "report-2026-W47.html").is_file()


def test_a_server_that_refuses_the_login_loses_nothing_but_the_mail(tmp_path, smtp, monkeypatch, caplog):
    monkeypatch.setenv("TEST_SMTP_PASSWORD", "wrong")
    clock = FakeClock(datetime(2026, 11, 23, 8, 30, tzinfo=UTC))
    daemon = Daemon(Pipeline(mail_config(tmp_path, smtp), Store.memory(), clock=clock, connectors={}))
    daemon.weekly_report()
    assert smtp.received == []
    assert (tmp_path / "reports" / "report-2026-W47.html").is_file()
    assert "not emailed" in caplog.text and "wrong" not in caplog.text


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"report": {"recipients": ["boss at acme"]}}, "report.recipients: expected email addresses"),
        ({"report": {"recipients": ["boss@acme.example"]}}, "report.recipients: needs cases.email.smtp_host"),
    ],
)
def test_recipients_are_checked_and_need_an_smtp_server(changes, expected):
    with pytest.raises(ConfigError) as error:
        parse_config({"brand": {"contact_email": "care@acme.example"}, **changes}, check_env=False)
    assert expected in str(error.value)


# -- the report's mail is durable: retried on later cycles, never sent twice -------------------------------------


@pytest.fixture
def smtp_down(monkeypatch):
    """An SMTP server not started yet: its port refuses connections until the test starts it."""
    from tests.mailservers import SmtpServer

    server = SmtpServer()
    monkeypatch.setenv("TEST_SMTP_PASSWORD", server.password)
    yield server
    server.close()


MONDAY_0930 = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # in Amsterdam: the report is due


def mail_daemon(tmp_path, smtp, store=None):
    clock = FakeClock(MONDAY_0930)
    store = store or Store.memory()
    return Daemon(Pipeline(mail_config(tmp_path, smtp), store, clock=clock, connectors={})), clock


def mailing(daemon) -> dict[str, tuple[str, int]]:
    return {m.recipient: (m.state, m.attempts) for m in daemon.pipeline.store.report_mail()}


def received_by(smtp) -> list[str]:
    return sorted(to for _, tos, _ in smtp.received for to in tos)


def test_a_report_mail_the_server_was_down_for_goes_out_once_on_a_later_cycle(tmp_path, smtp_down, caplog):
    daemon, clock = mail_daemon(tmp_path, smtp_down)
    daemon.weekly_report()
    assert mailing(daemon) == {"boss@acme.example": ("pending", 1), "cm@acme.example": ("pending", 1)}
    assert "not emailed to boss@acme.example yet (try 1); trying again at 2026-11-23T08:31" in caplog.text
    clock.advance(seconds=59)
    daemon.weekly_report()  # not due yet: the server is not called
    assert mailing(daemon)["boss@acme.example"] == ("pending", 1)
    clock.advance(seconds=1)
    daemon.weekly_report()  # still down: the next try two minutes later
    (waiting,) = {m.next_attempt_at for m in daemon.pipeline.store.report_mail()}
    assert waiting == datetime(2026, 11, 23, 8, 33, tzinfo=UTC)
    smtp_down.start()
    clock.advance(minutes=2)
    daemon.weekly_report()
    assert received_by(smtp_down) == ["boss@acme.example", "cm@acme.example"]
    assert mailing(daemon) == {"boss@acme.example": ("sent", 3), "cm@acme.example": ("sent", 3)}
    assert daemon.pipeline.store.report_mail_message("2026-W47") is None  # nobody waits: the copy is dropped
    for _ in range(3):
        clock.advance(hours=1)
        daemon.weekly_report()
    assert len(smtp_down.received) == 2


def test_only_the_recipient_refused_for_now_is_tried_again(tmp_path, smtp, engine):
    smtp.refuse["cm@acme.example"] = "450 4.2.1 Mailbox busy, try later"
    daemon, clock = mail_daemon(tmp_path, smtp, engine.open(tmp_path))
    daemon.weekly_report()
    assert received_by(smtp) == ["boss@acme.example"]
    assert mailing(daemon) == {"boss@acme.example": ("sent", 1), "cm@acme.example": ("pending", 1)}
    (refused,) = [m for m in daemon.pipeline.store.report_mail() if m.state == "pending"]
    assert "450" in refused.error
    clock.advance(minutes=1)
    daemon.weekly_report()  # refused again
    assert mailing(daemon)["cm@acme.example"] == ("pending", 2)
    del smtp.refuse["cm@acme.example"]
    clock.advance(minutes=2)
    daemon.weekly_report()
    clock.advance(hours=2)
    daemon.weekly_report()
    assert received_by(smtp) == ["boss@acme.example", "cm@acme.example"]
    assert mailing(daemon) == {"boss@acme.example": ("sent", 1), "cm@acme.example": ("sent", 3)}


def test_a_recipient_refused_for_good_is_given_up_at_once(tmp_path, smtp, caplog):
    smtp.refuse["cm@acme.example"] = "550 5.1.1 No such user"
    daemon, clock = mail_daemon(tmp_path, smtp)
    daemon.weekly_report()
    clock.advance(hours=2)
    daemon.weekly_report()
    assert received_by(smtp) == ["boss@acme.example"]
    assert mailing(daemon) == {"boss@acme.example": ("sent", 1), "cm@acme.example": ("failed", 1)}
    assert "2026-W47 not emailed to cm@acme.example: given up at once" in caplog.text


def test_a_report_mail_is_retried_with_growing_waits_and_given_up_after_a_day(tmp_path, smtp_down, caplog):
    daemon, clock = mail_daemon(tmp_path, smtp_down)
    queued = clock.now()
    tries = []
    while clock.now() < queued + timedelta(hours=26):
        before = mailing(daemon)["boss@acme.example"][1] if daemon.pipeline.store.report_mail() else 0
        daemon.weekly_report()
        if mailing(daemon)["boss@acme.example"][1] > before:
            tries.append(clock.now() - queued)
        clock.advance(minutes=1)
    waits = [later - earlier for earlier, later in pairwise(tries)]
    minute = timedelta(minutes=1)
    assert waits[:7] == [minute, 2 * minute, 4 * minute, 8 * minute, 16 * minute, 32 * minute, 60 * minute]
    assert set(waits[6:-1]) == {60 * minute}
    assert tries[-1] == timedelta(hours=24)  # the last try at the deadline, then no more
    assert mailing(daemon) == {
        "boss@acme.example": ("failed", len(tries)),
        "cm@acme.example": ("failed", len(tries)),
    }
    assert f"not emailed to boss@acme.example: given up after {len(tries)} tries in 24 h" in caplog.text


def test_status_shows_the_report_mail_waiting_and_given_up(tmp_path, smtp, engine):
    from click.testing import CliRunner

    from bot.cli import cli as main

    smtp.refuse["boss@acme.example"] = "450 4.2.1 Mailbox busy"
    smtp.refuse["cm@acme.example"] = "550 5.1.1 No such user"
    (tmp_path / "config.toml").write_text(
        f"""dry_run = false
[brand]
name = "Acme"
contact_email = "care@acme.example"
timezone = "Europe/Amsterdam"
[store]
{engine.store_toml}
[report]
folder = "reports"
recipients = ["boss@acme.example", "cm@acme.example"]
[cases.email]
smtp_host = "127.0.0.1"
smtp_port = {smtp.port}
smtp_user = "{smtp.user}"
smtp_password = {{ env = "TEST_SMTP_PASSWORD" }}
ca_file = "{smtp.cert}"
"""
    )
    clock = FakeClock(datetime(2026, 11, 23, 8, 30, tzinfo=UTC))
    store = engine.open(tmp_path)
    Daemon(Pipeline(mail_config(tmp_path, smtp), store, clock=clock, connectors={})).weekly_report()
    store.close()
    result = CliRunner().invoke(main, ["-c", str(tmp_path / "config.toml"), "status"], obj=clock)
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert "report mail 2026-W47: sent to 0 of 2 recipients" in lines
    assert (
        "boss@acme.example: waiting, 1 try so far, next 2026-11-23 09:31 CET: email: SMTP 127.0.0.1: "
        "recipient refused (450)" in lines
    )
    assert (
        "cm@acme.example: not sent, given up after 1 try: email: SMTP 127.0.0.1: recipient refused (550)"
        in lines
    )
    result = CliRunner().invoke(main, ["-c", str(tmp_path / "config.toml"), "status", "--json"], obj=clock)
    mail = json.loads(result.output)["report"]["mail"]
    assert [(m["recipient"], m["state"], m["tries"]) for m in mail] == [
        ("boss@acme.example", "pending", 1),
        ("cm@acme.example", "failed", 1),
    ]
    assert mail[0]["next_try"] == "2026-11-23T08:31:00+00:00"
