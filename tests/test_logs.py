"""The daemon's log: text or JSON lines; an expected network failure is one line; no third-party noise."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap

from tests.conftest import ROOT, mentionbot


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def run_logged(code: str) -> str:
    """Run ``code`` after the daemon's log setup, in a fresh process; return what it logged."""
    script = "from bot import logs\nlogs.setup()\n" + textwrap.dedent(code)
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stderr


def test_an_expected_network_failure_is_one_line_with_its_cause():
    logged = run_logged(
        f"""
        import logging, requests
        try:
            requests.get("http://127.0.0.1:{closed_port()}/v1/reviews", timeout=5)
        except requests.RequestException:
            logging.getLogger("bot.pipeline").exception("trustpilot: poll failed")
        """
    )
    (line,) = logged.splitlines()
    assert line.endswith(
        "ERROR bot.pipeline: trustpilot: poll failed: cannot connect to 127.0.0.1:" + line.rsplit(":", 1)[1]
    )
    assert "Traceback" not in logged


def test_a_bug_keeps_its_traceback():
    logged = run_logged(
        """
        import logging
        try:
            {}["missing"]
        except KeyError:
            logging.getLogger("bot.pipeline").exception("reddit: could not handle mention 1")
        """
    )
    assert "Traceback" in logged and "KeyError" in logged


def test_discord_voice_warnings_are_silenced():
    logged = run_logged(
        """
        import discord
        discord.voice_client.VoiceClient.warn_nacl = True
        discord.Client(intents=discord.Intents.default())
        """
    )
    assert logged == ""  # without the filter: "PyNaCl is not installed, voice will NOT be supported"


def test_the_daemon_logs_json_lines(config_path):
    result = mentionbot(config_path, "run", "--once", "--log-format", "json")
    records = [json.loads(line) for line in result.stderr.splitlines()]
    assert any(r["message"].startswith("poll connector=reddit status=ok") for r in records)
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert records[0]["time"].endswith("+00:00")
