"""The operator's commands: read-only ones never create a database; times, JSON and decisions as a person needs."""

from __future__ import annotations

import pytest

from tests.conftest import mentionbot

BRAND = '[brand]\ncontact_email = "care@acme.example"\ntimezone = "Europe/Amsterdam"\n'


@pytest.mark.parametrize(
    "args",
    [["status"], ["queue"], ["cases"], ["case", "C-00001"], ["report"], ["model", "list"], ["approve", "1"]],
    ids=lambda a: a[0] if a[0] != "model" else "model list",
)
def test_a_read_only_command_in_an_empty_folder_creates_nothing(tmp_path, args):
    config = tmp_path / "config.toml"
    config.write_text(BRAND)
    result = mentionbot(config, *args, check=False)
    assert result.returncode != 0
    assert f"no database at {tmp_path / 'mentionbot.db'}" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]
