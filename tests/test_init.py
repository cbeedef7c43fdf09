"""`mentionbot init`: a commented config and the secrets' env-file template, never overwriting."""

from __future__ import annotations

import tomllib

from tests.conftest import mentionbot


def env_names(path) -> list[str]:
    return [
        line.split("=", 1)[0] for line in path.read_text().splitlines() if line and not line.startswith("#")
    ]


def test_init_then_check_offline_passes_with_the_env_vars_set(tmp_path):
    config = tmp_path / "config.toml"
    result = mentionbot(config, "init", "reddit", "x", "hackernews")
    assert f"wrote {config}" in result.stdout
    data = tomllib.loads(config.read_text())
    assert set(data["connectors"]) == {"reddit", "x", "hackernews"}
    assert all(section["enabled"] for section in data["connectors"].values())
    assert data["dry_run"] is True
    assert config.read_text().count("\n#") > 40  # the shipped comments come along
    env_file = tmp_path / "mentionbot.env"
    names = env_names(env_file)
    assert names == [
        "REDDIT_CLIENT_ID",
        "REDDIT_CLIENT_SECRET",
        "REDDIT_PASSWORD",
        "X_BEARER_TOKEN",
        "X_CONSUMER_KEY",
        "X_CONSUMER_SECRET",
        "X_ACCESS_TOKEN",
        "X_ACCESS_TOKEN_SECRET",
    ]
    assert "# DISCORD_BOT_TOKEN=" in env_file.read_text()
    assert env_file.stat().st_mode & 0o077 == 0
    clean = {name: "" for name in names}
    assert mentionbot(config, "check", "--offline", env=clean, check=False).returncode == 2
    assert "valid" in mentionbot(config, "check", "--offline", env=dict.fromkeys(names, "set")).stdout


def test_init_refuses_to_overwrite(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("# mine\n")
    result = mentionbot(config, "init", "reddit", check=False)
    assert result.returncode == 1
    assert "already exist" in result.stderr
    assert config.read_text() == "# mine\n"
    assert not (tmp_path / "mentionbot.env").exists()


def test_init_names_an_unknown_connector(tmp_path):
    result = mentionbot(tmp_path / "config.toml", "init", "redit", check=False)
    assert result.returncode == 2
    assert "redit: unknown connector (did you mean 'reddit'?)" in result.stderr
    assert not (tmp_path / "config.toml").exists()
