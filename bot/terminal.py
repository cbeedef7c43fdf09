"""What a person reads in the terminal: the two consoles, and times in the brand's zone."""

from __future__ import annotations

import os
import sys

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
