"""The daemon writes the weekly report at the configured local day and time, once, across DST changes."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
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
    Daemon(Pipeline(config, Store.memory(), clock=clock, connectors={})).weekly_report()
    assert smtp.received == []
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
