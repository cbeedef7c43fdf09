"""`mentionbot demo` ends with the demo week's report and a command that works as printed."""

from __future__ import annotations

import os
import re
import shlex
import sqlite3
import subprocess
from pathlib import Path

from connectors.fakes.mail import DOVECOT
from tests.conftest import ROOT, mentionbot


def test_the_demo_writes_its_report_and_ends_with_a_command_that_runs_as_printed(tmp_path):
    out = tmp_path / "demo-output"
    result = mentionbot(tmp_path / "unused.toml", "demo", "--out", str(out), "--cycles", "1", timeout=300)
    # Two simulated customers answer in private, one by a Reddit message, one by mail (where dovecot runs).
    assert re.search(r"C-\d{5}: the customer's answer by reddit message: attached", result.stdout)
    if DOVECOT:
        assert re.search(r"C-\d{5}: the customer's answer by mail: attached", result.stdout)
    *_, report_line, last = result.stdout.strip().splitlines()
    assert report_line.startswith("the demo week's report (")
    paths = [Path(p) for p in report_line.split("): ", 1)[1].split(", ")]
    assert [p.suffix for p in paths] == [".md", ".html"] and all(p.is_file() for p in paths)
    assert last.startswith("look around: ")
    command = last.removeprefix("look around: ").split("   (or:")[0]
    env = {**os.environ, "COLUMNS": "200"}
    shown = subprocess.run(
        shlex.split(command), capture_output=True, text=True, cwd=ROOT, env=env, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "C-00001" in shown.stdout
    with sqlite3.connect(out / "mentionbot.db") as db:
        platforms = {row[0] for row in db.execute("select distinct platform from mentions")}
        # The simulated X and Mastodon authors have followers: the report's widest reach is not all 0s.
        reach = db.execute(
            "select min(author_reach), max(author_reach), count(distinct author_reach) from mentions "
            "where platform in ('x', 'mastodon') and own = 0"
        ).fetchone()
    assert {"youtube", "facebook", "instagram"} <= platforms
    assert reach[0] > 0 and reach[1] >= 10_000 and reach[2] >= 10, reach
    widest = paths[0].read_text().split("## Posts with the widest reach", 1)[1].split("\n## ", 1)[0]
    followers = [
        int(row.split(" | ")[1].replace(",", "")) for row in widest.splitlines() if row.startswith("| @")
    ]
    assert len(followers) == 5 and min(followers) > 0, widest


def test_the_demo_manager_corrects_the_bot_and_the_demo_learns_from_it(tmp_path):
    """The simulated manager knows what each sample meant: it relabels what triage got wrong, no sarcastic or
    angry post is thanked, and the demo retrains from the decisions and shows the backtest."""
    from bot.store import Store

    out = tmp_path / "demo-output"
    result = mentionbot(tmp_path / "unused.toml", "demo", "--out", str(out), "--cycles", "1", timeout=300)
    assert "manager relabels #" in result.stdout
    assert "trained on" in result.stdout and "model backtest: " in result.stdout
    store = Store.open(out / "mentionbot.db")
    sent = {store.mention(d.platform, d.mention_id).text: d for d in store.drafts() if d.state == "posted"}
    for angry in ("pricing is a joke", "saved lists are gone", "More like Acne", "Great job Acme"):
        thanked = [
            d.template for text, d in sent.items() if angry in text and d.template.startswith("praise")
        ]
        assert not thanked, angry
    store.close()
