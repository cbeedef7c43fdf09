"""The docs stay honest: every command has --help and a README entry; every config key is in config.toml."""

from __future__ import annotations

import dataclasses
import re
import tomllib

import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.config import Config
from connectors import REGISTRY, load
from connectors.base import ConnectorSettings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


def commands(group=cli, prefix=""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if hasattr(command, "commands"):
            yield from commands(command, f"{prefix}{name} ")


@pytest.mark.parametrize("name", [name for name, _ in commands()])
def test_every_command_has_help_and_is_documented(name):
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output
    assert f"mentionbot {name}" in README, f"README does not document `mentionbot {name}`"


def section_keys(cls, prefix):
    for f in dataclasses.fields(cls):
        if f.name in ("connectors", "path"):
            continue
        value = f.default_factory() if f.default_factory is not dataclasses.MISSING else None
        if dataclasses.is_dataclass(value):
            yield from section_keys(type(value), f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}"


def test_every_config_key_is_in_the_shipped_config_with_a_comment():
    text = (ROOT / "config.toml").read_text()
    shipped = tomllib.loads(text)
    keys = list(section_keys(Config, ""))
    for name in REGISTRY:
        keys += [f"connectors.{name}.{f.name}" for f in dataclasses.fields(load(name).Settings)]
    common = {
        "enabled",
        "interval_seconds",
        "own_accounts",
        "base_url",
        "timeout_seconds",
        "credentials_expire",
    }
    assert {f.name for f in dataclasses.fields(ConnectorSettings)} == common
    keys_every_connector = text[text.index("# Keys every connector accepts") :].split("\n[", 1)[0]
    for key in common:
        assert key in keys_every_connector, f"config.toml's keys every connector accepts do not name {key}"
    for key in keys:
        *tables, last = key.split(".")
        node = shipped
        for table in tables:
            assert table in node, f"config.toml has no [{'.'.join(tables)}] table (for {key})"
            node = node[table]
        if tables[:1] == ["connectors"] and last in common:
            assert "Keys every connector accepts" in text
            continue
        assert last in node, f"config.toml does not show {key}"
    assert len(re.findall(r"^\s*#", text, re.M)) >= len(keys) // 2
