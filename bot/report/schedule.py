"""Which week a report covers and when it is written: on demand (``mentionbot report``) and on the daemon's weekly
schedule, in a child process so that the long-running daemon never holds matplotlib or the week's rows."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.child import in_child_process
from bot.config import WEEKDAYS, Config, ReportSettings
from bot.errors import ConfigError
from bot.report.figures import Report, Week, build, default_week, last_complete_week, parse_week, week_of
from bot.report.render import Style, browser, charts, load_charting, write
from bot.store import Store

log = logging.getLogger(__name__)


def style(config: Config) -> Style:
    """The brand's template, logo and colour from the config (paths relative to the config file)."""
    files = {}
    for key, value in (("report.template", config.report.template), ("brand.logo", config.brand.logo)):
        if value:
            files[key] = config.resolve(value)
            if not files[key].is_file():
                raise ConfigError([f"{key}: no such file {str(files[key])!r}"])
    return Style(
        template=files.get("report.template"), logo=files.get("brand.logo"), colour=config.brand.colour
    )


def make_report(
    store: Store,
    config: Config,
    *,
    now: datetime,
    week: str | None = None,
    formats: Iterable[str] = ("md", "html"),
    folder: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> tuple[Report, list[Path]]:
    """Build the report for ``week`` and write it to the reports folder. The default is the last complete week,
    or, when that holds no mention (a fresh install), the latest week that does, with a note saying so."""
    tz = ZoneInfo(config.brand.timezone)
    load_charting()
    chosen, note = (parse_week(week, tz), None) if week else default_week(store, now, tz)
    report = build(store, config, week=chosen, now=now, notes=[note] if note else [], progress=progress)
    if progress:
        progress("charts")
    folder = folder or config.resolve(config.report.folder)
    return report, write(report, folder, formats=formats, style=style(config))


def scheduled_week(now: datetime, settings: ReportSettings, tz: ZoneInfo) -> tuple[datetime, Week]:
    """The latest scheduled report time at or before ``now`` (UTC) and the week that report covers.

    The schedule is a weekday and a wall-clock time in ``tz``, so it stays at 09:00 local across DST changes.
    """
    hour, minute = (int(x) for x in settings.time.split(":"))
    this_week = week_of(now.astimezone(tz).date(), tz)
    day = this_week.monday + timedelta(days=WEEKDAYS.index(settings.day.lower()))
    moment = datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)
    if moment > now:
        moment = datetime.combine(day - timedelta(weeks=1), time(hour, minute), tzinfo=tz).astimezone(UTC)
    return moment, last_complete_week(moment, tz)


def run_due(
    store: Store, config: Config, *, now: datetime, in_child: bool = False
) -> tuple[Report, list[Path], dict[str, bytes]] | None:
    """Write the scheduled weekly report if its time has come and it is not written yet (once per week, even
    across restarts); return it with the files written and its charts, or None when nothing is due.

    With ``in_child`` (the daemon) the report is built and drawn in a short-lived child process, so that the
    long-running process never holds matplotlib and the week's rows: their memory goes back to the system
    when the child exits. A store without a file (tests) is reported in this process."""
    tz = ZoneInfo(config.brand.timezone)
    _, week = scheduled_week(now, config.report, tz)
    if store.report_last_week() == week.label:
        return None
    folder = config.resolve(config.report.folder)
    if in_child and store.location is not None:
        report, paths, pngs = in_child_process(_write_from_file, store.location, config, week, now, folder)
    else:
        report, paths, pngs = _write_week(store, config, week, now, folder)
    store.set_report_last_week(week.label)
    return report, paths, pngs


def _write_week(
    store: Store, config: Config, week: Week, now: datetime, folder: Path
) -> tuple[Report, list[Path], dict[str, bytes]]:
    load_charting()
    report = build(store, config, week=week, now=now)
    pngs = charts(report)
    # The emailed report carries its PDF, printed where a headless browser is installed.
    formats = ("md", "html", "pdf") if config.report.recipients and browser() else ("md", "html")
    return report, write(report, folder, formats=formats, pngs=pngs, style=style(config)), pngs


def _write_from_file(
    path: Any, config: Config, week: Week, now: datetime, folder: Path
) -> tuple[Report, list[Path], dict[str, bytes]]:
    store = Store.open(path)
    try:
        return _write_week(store, config, week, now, folder)
    finally:
        store.close()


def trend_from_file(path: Any, config: Config, week: Week, now: datetime) -> tuple[Report, bytes | None]:
    """The report of ``week`` (not written) and its trend chart, read from the database at ``path``."""
    store = Store.open(path)
    try:
        report = build(store, config, week=week, now=now)
    finally:
        store.close()
    return report, charts(report).get("trend")
