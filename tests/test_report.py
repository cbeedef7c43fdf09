"""The weekly report on a seeded database with known answers, its command, and its HTML in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
import textwrap
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from bot import report as weekly
from bot.cli import cli
from bot.clock import FakeClock
from bot.config import parse_config
from bot.errors import ConfigError
from bot.models import Author, CredentialExpiry, Mention, Triage
from bot.store import Store, iso
from bot.store.records import CaseActivity, Decisions

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday: the last complete week is 2026-W47
SECRET_FREE = {
    "brand": {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"},
    "sla": {"acknowledge_hours": 24, "inquiry_hours": 24, "targets": {"refund": 72}},
}


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A November 2026 local Amsterdam time, as UTC."""
    return datetime(2026, 11, day, hour, minute, tzinfo=AMS).astimezone(UTC)


class Seeder:
    """Writes mentions, triage, replies, cases, labels and runs through the store's own methods."""

    def __init__(self, store: Store):
        self.store, self.n = store, 0

    def mention(
        self,
        text,
        intent,
        at,
        *,
        author="someone",
        platform="reddit",
        sentiment=0.0,
        needs_human=False,
        rating=None,
    ) -> Mention:
        self.n += 1
        m = Mention(
            platform=platform,
            id=f"m{self.n}",
            url=f"https://example.test/{self.n}",
            author=Author(author, author.title()),
            text=text,
            created_at=at,
            kind="review" if rating else "post",
            rating=rating,
        )
        self.store.save_fetch(platform, [m], None, now=at)
        self.store.save_triage(m, Triage(intent=intent, sentiment=sentiment, needs_human=needs_human), now=at)
        return m

    def reply(self, m: Mention, after_hours: float) -> None:
        draft = self.store.add_draft(m, intent="complaint", text="Thank you", now=m.created_at)
        item = self.store.enqueue(
            kind="reply",
            platform=m.platform,
            mention_id=m.id,
            text="Thank you",
            idempotency_key=f"draft-{draft.id}-reply",
            now=m.created_at,
            draft_id=draft.id,
        )
        sent = m.created_at + timedelta(hours=after_hours)
        self.store.settle_outbox(item, state="sent", now=sent, sent_at=sent)
        self.store.transition(draft.id, from_states=["awaiting"], to_state="posted", actor="test", now=sent)

    def case(self, m: Mention, *, contacted_after: float | None = None, **changes) -> int:
        case = self.store.open_case(
            m, intent="complaint", due_at=m.created_at + timedelta(hours=24), now=m.created_at
        )
        if contacted_after is not None:
            changes["contacted_at"] = m.created_at + timedelta(hours=contacted_after)
        self.store.update_case(case.id, now=m.created_at, actor="test", event="seeded", **changes)
        return case.id


@pytest.fixture
def seeded(engine, tmp_path):
    """The seeded week, on each engine: in ``tmp_path``'s bot.db, or a PostgreSQL database."""
    store = engine.open(tmp_path)
    s = Seeder(store)
    # Five answered complaints: waits of 1, 2, 3, 4 and 30 hours; the 3-hour one crosses local midnight.
    c1 = s.mention(
        "My parcel never arrived, the delivery is two weeks late", "complaint", local(17, 10), author="al"
    )
    c2 = s.mention(
        "I was charged twice this month, fix your billing", "complaint", local(17, 10), author="al"
    )
    c3 = s.mention("The app keeps crashing whenever I open it", "complaint", local(18, 22, 30))
    c4 = s.mention("Still waiting for my refund after three weeks", "complaint", local(19, 10), author="bo")
    c5 = s.mention("The courier left the package in the rain", "complaint", local(20, 10), author="cy")
    for m, wait in ((c1, 1), (c2, 2), (c3, 3), (c4, 4), (c5, 30)):
        s.reply(m, wait)
    # Two unanswered complaints about something no theme names: the phrase they share is "burnt plastic";
    # the single word "smell" they also share names no topic.
    s.mention("These headphones smell of burnt plastic", "complaint", local(21, 12), author="di")
    s.mention("Horrible smell: burnt plastic, out of the box", "complaint", local(22, 12), author="ed")
    # A post the filter called a complaint that a manager said is not one.
    c8 = s.mention("This ad campaign is killing it lol", "complaint", local(16, 9), author="fa")
    # Private contact after 2, 5 and 26 hours; c4's case was never contacted and is overdue; c1's customer replied.
    s.case(c1, contacted_after=2, customer_replied_at=local(17, 15), acknowledged_at=local(17, 11))
    s.case(c2, contacted_after=5, acknowledged_at=local(17, 12), resolved_at=local(18, 9), status="closed")
    s.case(c3, contacted_after=26, acknowledged_at=local(19, 1, 30))
    case4 = s.case(c4)
    store.update_case(case4, now=local(20, 11), actor="sla", event="follow_up")
    for q, who in (
        ("How do I cancel my subscription?", "q1"),
        ("Can I cancel my subscription online? Asking for a friend.", "q2"),
        ("Is there a way to cancel subscription before it renews?", "q3"),
        ("What are your opening hours?", "q4"),
    ):
        s.mention(q, "inquiry", local(18, 14), author=who)
    fan1 = s.mention(
        "Love the new app, you guys are the greatest", "praise", local(18, 9), author="fan", sentiment=0.9
    )
    fan2 = s.mention(
        "Acme support sorted it in minutes, thank you!", "praise", local(19, 9), author="fan", sentiment=0.8
    )
    for m in (fan1, fan2):  # a manager approved the replies to fan's praise; nobody confirmed joy's
        store.add_label(m, complaint=False, intent="praise", source="approved", actor="kim", now=local(20, 9))
    s.mention(
        "Great gadget, works well", "praise", local(20, 9), author="joy", platform="mastodon", sentiment=0.6
    )
    s.mention("Anyone selling an Acme lamp?", "other", local(22, 23, 30), platform="mastodon")
    s.mention("Acme was in the news today", "other", local(9, 12))  # the week before
    s.mention("The courier lost my parcel", "complaint", local(10, 12), author="old")  # the week before
    for m in (c1, c2, c3, c4):
        store.add_label(
            m, complaint=True, intent="complaint", source="approved", actor="kim", now=local(20, 9)
        )
    store.add_label(c8, complaint=False, intent="other", source="relabelled", actor="kim", now=local(20, 9))
    store.record_run(
        "reddit", started_at=local(22, 9), duration_ms=40, fetched=9, new=3, errors=0, status="ok"
    )
    store.record_run(
        "reddit",
        started_at=local(22, 10),
        duration_ms=40,
        fetched=0,
        new=0,
        errors=1,
        status="error",
        error="HTTP 503",
    )
    store.record_run(
        "mastodon", started_at=local(5, 9), duration_ms=40, fetched=2, new=2, errors=0, status="ok"
    )
    store.record_run(
        "mastodon", started_at=local(22, 9), duration_ms=40, fetched=0, new=0, errors=0, status="ok"
    )
    store.set_connector_paused("x", "401 Unauthorized: token revoked")
    yield store
    store.close()


def config(**extra):
    return parse_config({**SECRET_FREE, **extra}, check_env=False)


def test_week_edges_follow_the_time_zone():
    week = weekly.parse_week("2026-W47", AMS)
    assert week.start == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
    assert week.end == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)
    assert weekly.last_complete_week(NOW, AMS).label == "2026-W47"
    # Sunday 22:30 UTC is already Monday in Amsterdam: the last complete week is the one just ended.
    assert weekly.last_complete_week(datetime(2026, 11, 29, 23, 30, tzinfo=UTC), AMS).label == "2026-W48"
    # The week holding the October DST change has a 25-hour Sunday.
    dst = weekly.parse_week("2026-W43", AMS)
    assert dst.edges[7] - dst.edges[6] == timedelta(hours=25)
    with pytest.raises(ValueError, match="ISO week"):
        weekly.parse_week("last week", AMS)
    with pytest.raises(ValueError, match="no week 54"):
        weekly.parse_week("2026-W54", AMS)


def test_percentile_interpolates_between_ranks():
    assert weekly.percentile([1, 2, 3, 4, 30], 50) == 3
    assert weekly.percentile([1, 2, 3, 4, 30], 90) == pytest.approx(19.6)
    assert weekly.percentile([7], 90) == 7
    assert weekly.percentile([], 50) is None


def test_known_answers(seeded):
    r = weekly.build(seeded, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    assert r.total == 16
    assert r.days["reddit"] == [1, 2, 6, 2, 1, 1, 1]
    assert r.days["mastodon"] == [0, 0, 0, 0, 1, 0, 1]
    assert r.complaints == 8
    assert r.complaint_rate == pytest.approx(8 / 16)
    assert r.silent_estimate == 8 * 26
    assert [t.mentions for t in r.trend][-2:] == [2, 16]

    reply = r.reply
    assert reply.answered == 5
    assert reply.median_hours == pytest.approx(3)
    assert reply.p90_hours == pytest.approx(19.6)
    assert reply.same_day == pytest.approx(
        3 / 5
    )  # the 3-hour reply fell on the next local day; so did the 30 h
    assert reply.within_24h == pytest.approx(4 / 5)
    assert reply.within_target == pytest.approx(4 / 5)

    contact = r.contact
    assert contact.answered == 3
    assert contact.median_hours == pytest.approx(5)
    assert contact.p90_hours == pytest.approx(21.8)
    assert contact.within_24h == pytest.approx(2 / 3)

    assert r.cases == CaseActivity(opened=4, resolved=1, overdue=1, follow_ups=1, still_open=3)
    assert r.handoff == {"reddit": {"cases": 4, "contacted": 3, "replied": 1}}

    themes = {t.name: t for t in r.themes}
    assert themes["delivery"].count == 2 and themes["delivery"].previous == 1
    assert {e["author"] for e in themes["delivery"].examples} == {"al", "cy"}
    assert themes["billing"].count == 1
    assert themes["crash / bug"].count == 1
    assert themes["refund"].count == 1 and themes["refund"].target_hours == 72
    assert themes["support wait"].count == 1
    assert themes["burnt plastic"].count == 2 and themes["burnt plastic"].kind == "phrase"
    assert "smell" not in themes and themes["billing"].previous == 0

    assert [(q.topic, q.count) for q in r.questions] == [("cancel subscription", 3)]
    assert [(p.handle, p.n) for p in r.advocates] == [("fan", 2)]
    assert [(p.handle, p.n) for p in r.repeat_complainers] == [("al", 2)]
    assert r.precision == {"tp": 4, "fp": 1, "tn": 2}
    assert r.decisions == Decisions(
        approved=0, edited=0, rejected=0
    )  # labels written directly, no drafts decided

    health = {c.connector: c for c in r.connectors}
    assert health["reddit"].health == "ok"
    assert health["reddit"].runs.polls == 2 and health["reddit"].runs.failed == 1
    assert health["reddit"].runs.last_error == "HTTP 503"
    assert health["mastodon"].health.startswith("silent")
    assert health["x"].health == "paused: 401 Unauthorized: token revoked"


def test_markdown_says_it_all(seeded):
    r = weekly.build(seeded, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    text = weekly.markdown(r)
    for expected in (
        "# Acme — weekly mentions report, 2026-W47 (Mon 16 Nov – Sun 22 Nov 2026)",
        "16 mentions this week: 8 complaints (50% of those triaged)",
        "would stand for about 208 unhappy customers; nothing here checks that it does",
        "| first public reply | 5 | 3.0 h | 19.6 h | 60% | 80% | 80% |",
        "| first private contact | 3 | 5.0 h | 21.8 h |",
        "| 4 | 1 | 1 | 1 | 3 |",
        "| reddit | 4 | 3 | 1 | 33% |",
        "| delivery | 2 | 1 | +1 | 24 h |",
        "| refund | 1 | 0 | +1 (new) | 72 h |",
        "| burnt plastic | 2 | 0 | +2 (new) | 24 h |",
        "| cancel subscription | 3 |",
        "| @fan (reddit) | 2 |",
        "| @al (reddit) | 2 |",
        "Precision 80%, measured on a sample of 5 posts",
        "| x | paused: 401 Unauthorized: token revoked |",
    ):
        assert expected in text, expected


def test_an_empty_week_and_a_new_installation_get_a_friendly_report(seeded, tmp_path):
    empty = weekly.build(seeded, config(), week=weekly.parse_week("2026-W30", AMS), now=NOW)
    text = weekly.markdown(empty)
    assert "No mentions were posted this week" in text
    assert "| first public reply | 0 | – | – | – | – | – |" in text
    assert "No complaints this week." in text
    weekly.write(empty, tmp_path, formats=("md", "html"))

    fresh = Store.memory()
    report, paths = weekly.make_report(fresh, config(), now=NOW, folder=tmp_path / "new")
    assert report.new_install and report.week.label == "2026-W47"
    assert "Welcome! No mentions are stored yet" in paths[0].read_text()
    assert "No connector has polled yet." in paths[1].read_text()


def test_report_command_writes_both_formats(tmp_path, seeded, engine):
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [brand]
            contact_email = "care@acme.example"
            timezone = "Europe/Amsterdam"
            [store]
            {engine.store_toml}
            [report]
            folder = "weekly"
            """
        )
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["-c", str(cfg), "report", "--week", "2026-W47"])
    assert result.exit_code == 0, result.output
    assert "2026-W47" in result.output and "16 mentions" in result.output
    names = sorted(p.name for p in (tmp_path / "weekly").iterdir())
    assert names == [
        "report-2026-W47-themes.png",
        "report-2026-W47-trend.png",
        "report-2026-W47-volume.png",
        "report-2026-W47.html",
        "report-2026-W47.md",
    ]
    out = tmp_path / "elsewhere"
    result = runner.invoke(
        cli, ["-c", str(cfg), "report", "--week", "2026-W47", "--format", "html", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert [p.name for p in out.iterdir()] == ["report-2026-W47.html"]
    bad = runner.invoke(cli, ["-c", str(cfg), "report", "--week", "someday"])
    assert bad.exit_code == 2 and "expected an ISO week like 2026-W47" in bad.output


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")
def test_html_report_renders_its_charts_in_chromium(seeded, tmp_path):
    from PIL import Image

    r = weekly.build(seeded, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    (page,) = weekly.write(r, tmp_path, formats=("html",))
    assert page.read_text().count('src="data:image/png;base64,') == 3
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--hide-scrollbars",
            "--window-size=1100,3600",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    print(f"screenshot: {shot}")
    colours = {c: n for n, c in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24)}
    # The bars of the theme chart (#c0504d) and matplotlib's first series colour (#1f77b4) are on screen.
    assert colours.get((0xC0, 0x50, 0x4D), 0) > 500
    assert colours.get((0x1F, 0x77, 0xB4), 0) > 500
    # The headline's cards and sparklines, in the brand's colour (the default #1f4e79).
    assert colours.get((0x1F, 0x4E, 0x79), 0) > 2000

    # The PDF is Chromium's print of the same page; pdftoppm, where installed, turns its first page into a PNG.
    (pdf,) = weekly.write(r, tmp_path / "pdf", formats=("pdf",))
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and data.count(b"/Type /Page") >= 3
    print(f"pdf: {pdf}")
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", pdf, tmp_path / "page"], check=True
        )
        print(f"pdf page: {next(tmp_path.glob('page*.png'))}")


def test_status_command(tmp_path, seeded, engine):
    for lease in ("leader", "poll:reddit"):  # a daemon running elsewhere on the same database
        seeded.take_lease(lease, "vm:4242", now=datetime.now(UTC), ttl=timedelta(minutes=5))
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[brand]\ncontact_email = "care@acme.example"\ntimezone = "Europe/Amsterdam"\n[store]\n{engine.store_toml}\n'
    )
    result = CliRunner().invoke(cli, ["-c", str(cfg), "status"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "reddit" in out and "2026-11-22 10:00" in out and "HTTP 503" in out
    assert "paused: 401 Unauthorized: token revoked" in out
    assert "queue: 0 drafts awaiting approval, 0 posts waiting in the outbox" in out
    assert "cases: 3 open, 1 overdue, 0 due within 2 h" in out
    assert "weekly report: last written never" in out
    assert "daemon vm:4242: leader, reddit" in out


def test_handles_and_links_are_not_words_or_themes():
    assert weekly.words(
        "u/acme_support how do I reset my password? https://acme.example/x @acme", "Acme"
    ) == [
        "reset",
        "password",
    ]
    store = Store.memory()
    Seeder(store).mention("u/acme_support the lamp arrived damaged", "complaint", local(17, 10))
    week = weekly.parse_week("2026-W47", AMS)
    themes = weekly.complaint_themes(store, iso(week.start), iso(week.end), brand="Acme", targets={})
    assert [(t.name, t.count) for t in themes] == [("delivery", 1), ("product quality", 1)]


def test_demo_complaints_land_in_their_topics_and_a_time_span_names_no_theme():
    store = Store.memory()
    s = Seeder(store)
    for i, text in enumerate(
        (
            "The Acme app keeps logging me out every time I switch networks. Third week now.",
            "acme app keeps logging me out every single time I switch apps. so annoying",
            "Acme's new pricing is a joke. Raised the Pro plan by 40% with two days notice.",
            "Acme support closed my ticket without answering. Third time now.",
            "Support chat closed my ticket without answering, again",
            "My Acme Speaker crackles at full volume after two days, really disappointed",
            "The hub hums loudly after two days of use",
        )
    ):
        s.mention(text, "complaint", local(17, 9 + i), author=f"a{i}")
    week = weekly.parse_week("2026-W47", AMS)
    themes = weekly.complaint_themes(store, iso(week.start), iso(week.end), brand="Acme", targets={})
    assert [(t.name, t.count) for t in themes] == [("login / account", 2), ("support wait", 2), ("price", 1)]


def test_a_handle_that_already_starts_with_an_at_sign_is_shown_with_one():
    store = Store.memory()
    s = Seeder(store)
    for i in range(2):
        s.mention(
            "Does the Acme Hub work with Zigbee bulbs?", "inquiry", local(17, 9 + i), author="@marco.diy"
        )
        s.mention(
            "My parcel never arrived", "complaint", local(18, 9 + i), author="@marco.diy", platform="youtube"
        )
    r = weekly.build(store, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    text = weekly.markdown(r)
    assert "@marco.diy (youtube): My parcel never arrived" in text
    assert "@marco.diy: Does the Acme Hub" in text
    assert "@@" not in text


def test_the_silent_complaint_estimate_is_only_a_footnote_below_the_report(seeded, tmp_path):
    r = weekly.build(seeded, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    text = weekly.markdown(r)
    assert "silent unhappy customers" not in "\n".join(
        line for line in text.splitlines() if line.startswith("#")
    )
    last_section = text.rindex("\n## ")
    footnote = text.index("about 208 unhappy customers")
    assert footnote > text.index("\n\n---\n\n", last_section)  # below the rule that ends the last section
    assert "source 003" in text[footnote - 400 : footnote] and "4% of unhappy customers complain" in text
    (page,) = weekly.write(r, tmp_path, formats=("html",))
    html = page.read_text()
    footer = html[html.index("<footer>") : html.index("</footer>")]
    assert "about 208 unhappy customers" in footer and html.count("about 208 unhappy customers") == 1


def seed_expiries(store: Store) -> None:
    """Credential expiries as the connectors would have recorded them at their last poll."""
    for name, expiry in {
        "googleplay": CredentialExpiry(
            at=NOW + timedelta(days=9, hours=3), what="service account key 01234567"
        ),
        "reddit": CredentialExpiry(at=datetime(2026, 12, 31, tzinfo=UTC), what="credentials_expire (config)"),
        "bluesky": CredentialExpiry(at=NOW + timedelta(days=2), what="session refresh token", renews=True),
        "trustpilot": CredentialExpiry(at=NOW - timedelta(days=1), what="credentials_expire (config)"),
    }.items():
        store.set_credential_expiry(name, expiry, now=NOW)


def test_connector_health_says_when_credentials_expire_and_warns_before(seeded, tmp_path):
    seed_expiries(seeded)
    r = weekly.build(seeded, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    health = {c.connector: (c.health, c.credentials) for c in r.connectors}
    assert health["googleplay"] == (
        "renew credentials: service account key 01234567 expires in 9 days (2026-12-04)",
        "service account key 01234567 expires in 9 days (2026-12-04)",
    )
    assert health["trustpilot"][0] == "renew credentials: credentials_expire (config) expired on 2026-11-24"
    # 35 days away is beyond the 14-day warning; a session the connector renews itself never warns
    assert health["reddit"] == ("ok", "credentials_expire (config) expires in 35 days (2026-12-31)")
    assert health["bluesky"][0] == "not polled this week"
    assert (
        health["bluesky"][1] == "session refresh token expires in 2 days (2026-11-27), renewed automatically"
    )
    # a refused credential stays "paused" whatever its date says
    assert health["x"][0] == "paused: 401 Unauthorized: token revoked"
    md = weekly.markdown(r)
    assert "| credentials |" in md
    assert (
        "Renew the credentials of googleplay before they stop working: "
        "service account key 01234567 expires in 9 days (2026-12-04)." in md
    )
    assert "Renew the credentials of trustpilot" in md and "Renew the credentials of reddit" not in md
    # the threshold is configurable: at 40 days Reddit's configured date warns too
    r = weekly.build(
        seeded, config(report={"credentials_warn_days": 40}), week=weekly.parse_week("2026-W47", AMS), now=NOW
    )
    assert "Renew the credentials of reddit" in weekly.markdown(r)
    # the injected clock moves: once past the date, it says expired
    later = NOW + timedelta(days=10)
    r = weekly.build(seeded, config(), week=weekly.parse_week("2026-W47", AMS), now=later)
    health = {c.connector: c.health for c in r.connectors}
    assert health["googleplay"] == "renew credentials: service account key 01234567 expired on 2026-12-04"


def test_status_shows_credentials_expiring(tmp_path, seeded, engine):
    seed_expiries(seeded)
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[brand]\ncontact_email = "care@acme.example"\ntimezone = "Europe/Amsterdam"\n[store]\n{engine.store_toml}\n'
        "[report]\ncredentials_warn_days = 10\n"
    )
    result = CliRunner().invoke(cli, ["-c", str(cfg), "status"], obj=FakeClock(NOW))
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│")}
    assert "service account key 01234567 expires in 9 days (2026-12-04)" in lines["googleplay"]
    assert "credentials_expire (config) expires in 35 days (2026-12-31)" in lines["reddit"]
    assert "session refresh token expires in 2 days (2026-11-27)," in lines["bluesky"]
    assert "renewed automatically" in result.output  # the cell wraps
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: renew the credentials of googleplay before they stop working: service account key 01234567 "
        "expires in 9 days (2026-12-04)",
        "warning: renew the credentials of trustpilot before they stop working: credentials_expire (config) "
        "expired on 2026-11-24",
    ]


def test_overdue_counts_due_times_that_passed_unacknowledged_as_status_does():
    store = Store.memory()
    s = Seeder(store)
    late = s.mention("My parcel never came", "complaint", local(23, 8))  # due Tue 08:00, before NOW
    s.case(late)
    fresh = s.mention("Still no parcel", "complaint", local(24, 20))  # due Wed 20:00, after NOW
    s.case(fresh)
    met = s.mention("Where is my parcel", "complaint", local(23, 9))  # acknowledged in time
    s.case(met, acknowledged_at=local(23, 10))
    week = weekly.parse_week("2026-W48", AMS)
    for now, overdue in ((NOW, 1), (NOW + timedelta(days=1), 2)):
        r = weekly.build(store, config(), week=week, now=now)
        assert r.cases.overdue == overdue
        assert store.due_counts(now=now, soon=now).overdue == overdue
    assert "This week is not over yet: the figures cover Mon 23 Nov to Thu 26 Nov 10:00 only." in r.notes[0]


def test_after_a_fresh_install_the_default_week_is_the_latest_with_data(tmp_path):
    store = Store.memory()
    s = Seeder(store)
    s.mention("The courier lost my parcel", "complaint", local(24, 9))  # this week, W48, not over
    s.mention("Love it", "praise", local(24, 10), sentiment=0.8)
    report, (md, _) = weekly.make_report(store, config(), now=NOW, folder=tmp_path)
    assert report.week.label == "2026-W48"
    text = md.read_text()
    assert "The last complete week, 2026-W47, holds no mentions, so this report covers 2026-W48" in text
    assert "This week is not over yet" in text
    assert "The first stored mention was posted on Tue 24 Nov 09:00: the days before it hold no data" in text
    # as after the demo: one mention in the last complete week, the rest in this one
    s.mention("Anyone tried the Acme lamp?", "other", local(22, 20))
    report, (md, _) = weekly.make_report(store, config(), now=NOW, folder=tmp_path)
    assert report.week.label == "2026-W48"
    assert report.notes[0] == (
        "Mentionbot has collected mentions since Sun 22 Nov; the last complete week, 2026-W47, holds only 1 mention, "
        "so this report covers 2026-W48, the latest week that has data. Ask for another with --week."
    )
    # an installation that ran before the last complete week reports that week, without a note
    s.mention("Old news", "other", local(2, 20))
    report, _ = weekly.make_report(store, config(), now=NOW, folder=tmp_path)
    assert report.week.label == "2026-W47" and report.notes == ()
    # asked for, the empty week says it is empty
    empty, (md, _) = weekly.make_report(store, config(), now=NOW, week="2026-W46", folder=tmp_path)
    assert empty.notes == () and empty.total == 0
    assert "No mentions were posted this week" in md.read_text()


def test_advocates_are_confirmed_praise_and_precision_says_what_it_rests_on():
    from bot import decisions

    store = Store.memory()
    s = Seeder(store)
    drafts = []
    for i, (text, intent, sentiment, held) in enumerate(
        (
            ("Thanks for fixing my order so fast", "praise", 0.8, False),
            ("Oh great, another week without my refund. Love it", "praise", 0.4, True),  # sarcasm: held
            ("The app is fine I guess, but the update broke sync", "praise", 0.0, False),  # mixed
            ("My order arrived broken", "complaint", -0.6, False),
            ("I was charged twice", "complaint", -0.5, False),
            ("Nice weather today", "complaint", 0.2, False),
            (
                "New pricing is a joke. Loyal for 5 years and this is the thanks",
                "praise",
                0.8,
                False,
            ),  # mixed
        )
    ):
        m = s.mention(text, intent, local(17, 9 + i), author=f"p{i}", sentiment=sentiment, needs_human=held)
        if i == 6:  # the complaint model saw its signals, below a complaint's 0.5
            store.save_triage(
                m, Triage(intent="praise", sentiment=0.8, complaint_score=0.48), now=local(17, 15)
            )
        drafts.append(
            store.add_draft(m, intent=intent, text="Thank you for telling us.", now=local(17, 9 + i))
        )
    at = local(18, 9)
    for d in (*drafts[:3], drafts[6]):
        decisions.approve(store, d.id, actor="kim", now=at)
    decisions.approve(store, drafts[3].id, actor="kim", now=at)
    decisions.edit(store, drafts[4].id, actor="kim", now=at, text="We are sorry: we will refund you.")
    decisions.reject(store, drafts[5].id, actor="kim", now=at, reason="not a complaint")
    r = weekly.build(store, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    assert [p.handle for p in r.advocates] == ["p0"]
    assert r.decisions == Decisions(approved=5, edited=1, rejected=1)
    assert r.precision["tp"] == 2 and "fp" not in r.precision
    text = weekly.markdown(r)
    assert "Precision 100%, measured on a sample of 2 posts the filter called complaints" in text
    assert (
        "Of the 7 drafted replies managers decided on this week, 5 (71%) were approved as drafted, 1 (14%) edited "
        "and 1 (14%) rejected or withdrawn." in text
    )
    assert "shows that managers agreed" not in text  # one was edited, so they did read

    only_approved = Store.memory()
    m = Seeder(only_approved).mention("My order arrived broken", "complaint", local(17, 9))
    d = only_approved.add_draft(m, intent="complaint", text="Thank you for telling us.", now=local(17, 9))
    decisions.approve(only_approved, d.id, actor="kim", now=at)
    r = weekly.build(only_approved, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    assert "Precision 100%, measured on a sample of 1 post " in weekly.markdown(r)
    assert "shows that managers agreed, not that they checked" in weekly.markdown(r)


@pytest.fixture
def two_weeks():
    """Two weeks with known headline figures, owners and review ratings."""
    store = Store.memory()
    s = Seeder(store)
    for day, wait in ((10, 2), (11, 30)):  # W46: first replies after 2 h and 30 h: median 16 h, half in 24 h
        s.reply(s.mention("My parcel never arrived", "complaint", local(day, 10)), wait)
    for day, stars in ((10, 2), (12, 4)):
        s.mention("Meh", "other", local(day, 12), platform="trustpilot", rating=stars)
    for day, wait in ((17, 1), (18, 2), (19, 3)):  # W47: 1, 2 and 3 h: median 2 h, all within 24 h
        s.reply(s.mention("I was charged twice", "complaint", local(day, 10), author=f"c{day}"), wait)
    for day, stars in ((17, 5), (18, 4)):
        s.mention("Lovely", "praise", local(day, 12), platform="trustpilot", rating=stars, sentiment=0.5)
    ann1, ann2, ben = (store.mention("reddit", f"m{i}") for i in (5, 6, 7))
    s.case(ann1, acknowledged_at=local(17, 12), owner="ann")  # due 18 Nov 10:00: in time
    s.case(ann2, owner="ann")  # due 19 Nov 10:00, never acknowledged: overdue
    s.case(ben, acknowledged_at=local(20, 12), owner="ben")  # due 20 Nov 10:00: two hours late
    yield store
    store.close()


def test_headline_owners_and_ratings_have_known_answers(two_weeks):
    r = weekly.build(two_weeks, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    head = {h.name: (h.value, h.previous) for h in r.headline}
    assert head["mentions"] == (5, 4)
    assert head["complaints"] == (3, 2)
    assert head["median first response"] == (pytest.approx(2), pytest.approx(16))
    assert head["SLA met"] == (1.0, 0.5)
    assert head["rating"] == (4.5, 3.0)
    assert len(r.headline[0].series) == 8 and r.headline[0].series[-3:] == (0, 4, 5)
    assert [(o.name, o.answered, o.within_target, o.overdue) for o in r.owners] == [
        ("ann", 2, 0.5, 1),
        ("ben", 1, 0.0, 0),
    ]
    assert [(c.name, c.answered, c.within_target) for c in r.reply_by_channel] == [("reddit", 3, 1.0)]
    (site,) = r.ratings
    assert (site.platform, site.average, site.count) == ("trustpilot", 4.5, 2)
    assert site.trend[-2:] == (3.0, 4.5) and site.trend[0] is None
    text = weekly.markdown(r)
    for expected in (
        "| mentions | 5 | 4 | +1 | ▁▁▁▁▁▁▆█ |",
        "| median first response | 2.0 h | 16.0 h | −14.0 h |",
        "| SLA met | 100% | 50% | +50 pts |",
        "| rating | 4.5★ | 3.0★ | +1.5★ |",
        "| ann | 2 | 50% | 1 | – |",
        "| trustpilot | 4.5★ | 2 | 3.0★ | +1.5★ | – – – – – – 3.0★ 4.5★ |",
    ):
        assert expected in text, expected


def test_the_eight_week_trend_of_sentiment_and_complaint_rate_has_known_answers(two_weeks):
    r = weekly.build(two_weeks, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    assert [t.label for t in r.trend] == [f"2026-W{n}" for n in range(40, 48)]
    *empty, w46, w47 = r.trend
    assert all(t.mentions == 0 and t.sentiment is None and t.complaint_rate is None for t in empty)
    assert (w46.sentiment, w46.complaint_rate) == (pytest.approx(0.0), pytest.approx(2 / 4))
    assert (w47.sentiment, w47.complaint_rate) == (pytest.approx(1.0 / 5), pytest.approx(3 / 5))
    assert "| 2026-W47 | 5 | 3 | 0 | 2 | 0 | 60% | +0.20 | 2.0 h | 100% |" in weekly.markdown(r)


def test_the_first_private_contact_is_a_trend_with_known_answers():
    store = Store.memory()
    s = Seeder(store)
    for day, hours in ((10, 4), (11, 8)):  # W46: contacted after 4 and 8 hours: median 6 h
        s.case(
            s.mention("My parcel never arrived", "complaint", local(day, 10), author=f"a{day}"),
            contacted_after=hours,
        )
    for day, hours in ((17, 1), (18, 3), (19, 5)):  # W47: 1, 3 and 5 hours: median 3 h
        s.case(
            s.mention("I was charged twice", "complaint", local(day, 10), author=f"c{day}"),
            contacted_after=hours,
        )
    r = weekly.build(store, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    *empty, w46, w47 = r.trend
    assert all(t.contact_median_hours is None for t in empty)
    assert (w46.contact_median_hours, w47.contact_median_hours) == (pytest.approx(6), pytest.approx(3))
    assert r.contact.median_hours == pytest.approx(3)


def test_a_brand_template_logo_and_colour_and_every_stranger_escaped(two_weeks, tmp_path):
    Seeder(two_weeks).mention(
        "<script>alert(1)</script> my parcel never came",
        "complaint",
        local(20, 9),
        author="<b>x",
        platform="mastodon",
    )
    template = tmp_path / "brand.html.j2"
    template.write_text(
        "<h1 style='color:{{ colour }}'>{{ title }}</h1><img src='{{ logo }}'>"
        "{% for h in headline %}<p>{{ h.name }}: {{ h.value }} ({{ h.change }})</p>{% endfor %}"
        "{% for s in sections %}{% for r in s.rows or [] %}{{ r | join(' / ') }}{% endfor %}{% endfor %}"
    )
    logo = tmp_path / "logo.png"
    logo.write_bytes(b"\x89PNG\r\n\x1a\n-logo-")
    cfg = config(
        brand={**SECRET_FREE["brand"], "logo": str(logo), "colour": "#ff0066"},
        report={"template": str(template)},
    )
    report, (page,) = weekly.make_report(
        two_weeks, cfg, now=NOW, week="2026-W47", formats=("html",), folder=tmp_path
    )
    html = page.read_text()
    assert html.startswith("<h1 style='color:#ff0066'>Acme — weekly mentions report, 2026-W47")
    assert "src='data:image/png;base64," in html and "<p>SLA met: 100% (+50 pts)</p>" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html and "<b>x" not in html
    shipped = weekly.to_html(report, {}, weekly.Style(logo=logo, colour="#ff0066"))
    assert "--brand:#ff0066" in shipped and "&lt;script&gt;" in shipped and "<script>" not in shipped

    for bad, message in (
        (
            {"brand": {**SECRET_FREE["brand"], "colour": "pink"}},
            "brand.colour: expected a colour like '#1f4e79'",
        ),
        ({"brand": {**SECRET_FREE["brand"], "logo": "logo.pdf"}}, "brand.logo: expected a PNG, JPEG, SVG"),
        ({"report": {"template": "brand.css"}}, "report.template: expected an HTML template file"),
    ):
        with pytest.raises(ConfigError, match=re.escape(message)):
            config(**bad)
    with pytest.raises(ConfigError, match=r"report\.template: no such file"):
        weekly.make_report(
            two_weeks, config(report={"template": str(tmp_path / "gone.html.j2")}), now=NOW, folder=tmp_path
        )


def test_a_change_from_a_tiny_base_is_absolute_never_a_huge_percentage():
    from bot.report.render import change

    assert change(153, 1) == "+152"  # not "+15200%"
    assert "%" not in change(153, 1)
    assert change(9, 0) == "+9 (new)"
    assert change(2, 9) == "-7"
    assert change(12, 10) == "+2 (+20%)"
    assert change(5, 20) == "-15 (-75%)"
    assert change(4, 4) == "0"


def test_the_posts_with_the_widest_reach_have_known_answers(engine, tmp_path):
    store = engine.open(tmp_path)

    def post(n: int, at: datetime, reach: int | None, intent: str, *, own: bool = False) -> None:
        m = Mention(
            platform="x",
            id=f"r{n}",
            url=f"https://x.com/u{n}/status/{n}",
            author=Author(f"u{n}", f"U{n}", str(n), reach=reach),
            text=f"post {n} about Acme",
            created_at=at,
        )
        store.save_fetch("x", [m], None, now=at, own={m.key} if own else frozenset())
        store.save_triage(m, Triage(intent=intent), now=at)

    post(1, local(17, 9), 1_200, "complaint")
    post(2, local(18, 9), 50, "praise")
    post(3, local(19, 9), None, "complaint")  # the platform did not say
    post(4, local(19, 10), 9_000_000, "other", own=True)  # the brand's own post
    post(5, local(10, 9), 7_000_000, "complaint")  # the week before
    r = weekly.build(store, config(), week=weekly.parse_week("2026-W47", AMS), now=NOW)
    assert [(p.handle, p.reach, p.intent) for p in r.reach] == [
        ("u1", 1200, "complaint"),
        ("u2", 50, "praise"),
    ]
    text = weekly.markdown(r)
    assert "Posts with the widest reach" in text and "1,200" in text
    assert store.mention("x", "r1").author.reach == 1200  # stored and read back


def test_a_reach_the_platform_garbled_is_dropped_not_stored():
    assert Author("a", reach=-5).reach is None
    assert Author("a", reach="12").reach is None  # type: ignore[arg-type]
    assert Author("a", reach=True).reach is None
    assert Author("a", reach=12).reach == 12
    from connectors.x import followers

    assert followers({"public_metrics": "lots"}) is None and followers({}) is None
    assert followers({"public_metrics": {"followers_count": 7}}) == 7
