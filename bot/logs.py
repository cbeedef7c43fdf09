"""The daemon's log: one line per event, as text or JSON; an expected network failure is one line, not a traceback."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from bot.failures import cause

# Third-party loggers that say at WARNING what our own lines already say (prawcore's "Retrying due to …" before the
# poll's failure) or what is no concern of ours.
QUIET = {
    "urllib3": logging.WARNING,
    "prawcore": logging.ERROR,
    "schedule": logging.WARNING,
    "discord": logging.WARNING,
    "asyncio": logging.WARNING,
    "httpx": logging.WARNING,
}


class Expected(logging.Filter):
    """Turns a network failure into its plain cause: in the message's arguments and instead of a traceback; drops
    discord.py's voice warning (this bot never speaks)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("discord") and str(record.msg).endswith("voice will NOT be supported"):
            return False  # "PyNaCl is not installed, …" at every start
        if isinstance(record.args, tuple) and any(isinstance(a, BaseException) for a in record.args):
            record.args = tuple(self._plain(a) for a in record.args)
        if record.exc_info and record.exc_info[1] is not None:
            found = cause(record.exc_info[1])
            if found.network:
                record.msg = f"{record.getMessage()}: {found.text}"
                record.args = ()
                record.exc_info = None
                record.exc_text = None
        return True

    @staticmethod
    def _plain(arg: object) -> object:
        if isinstance(arg, BaseException):
            found = cause(arg)
            return found.text if found.network else arg
        return arg


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (ISO 8601 UTC), level, logger, message, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup(*, verbose: bool = False, fmt: str = "text") -> None:
    """Log to stderr in ``fmt`` (text or json); ``verbose`` adds debug detail."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(Expected())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
