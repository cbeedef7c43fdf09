"""`mentionbot demo` ends with the demo week's report and a command that works as printed."""

from __future__ import annotations

import os
import re
import shlex
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
