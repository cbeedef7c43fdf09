"""What a person reads in the terminal: the two consoles, and times in the brand's zone."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from rich.console import Console

# Piped output (scripts, tests, logs) gets wide lines instead of tables squeezed to 80 columns.
_WIDTH = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 200))
console = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)


def command_name() -> str:
    """How to run this same ``mentionbot`` from the current folder, as a person would type it.

    Only ``mentionbot`` when that is the one on PATH; else its path (``.venv/bin/mentionbot`` after ``make``).
    """
    import shutil
    from pathlib import Path

    argv0 = Path(sys.argv[0])
    if argv0.name == "__main__.py":  # python -m bot
        return f"{_relative(Path(sys.executable))} -m bot"
    found = shutil.which("mentionbot")
    if found and Path(found).resolve() == argv0.resolve():
        return "mentionbot"
    return _relative(argv0)


def _relative(path) -> str:
    import os

    rel = os.path.relpath(path.absolute())
    if rel.startswith(".."):
        return str(path.absolute())
    return rel if "/" in rel else f"./{rel}"


def local(value: datetime | str | None, tz: ZoneInfo, *, named: bool = True) -> str:
    """A stored UTC time (a datetime or ISO text) as the brand's wall-clock time with its zone: '2026-12-02 06:41
    CET' (``named=False`` in a table whose heading names the zone, see ``zone``)."""
    if value is None or value == "":
        return "-"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z" if named else "%Y-%m-%d %H:%M")


def span(seconds: float) -> str:
    """A duration as a person says it: '40 min', '17 h', '3 d'."""
    seconds = abs(seconds)
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} d"


def due(value: datetime, now: datetime) -> str:
    """'due in 17 h' or 'overdue by 2 h'."""
    seconds = (value - now).total_seconds()
    return f"due in {span(seconds)}" if seconds >= 0 else f"overdue by {span(seconds)}"


def zone(tz: ZoneInfo, now: datetime) -> str:
    """The zone's name as the header of a table of times: 'times in Europe/Amsterdam (CET)'."""
    return f"times in {tz.key} ({now.astimezone(tz):%Z})"
