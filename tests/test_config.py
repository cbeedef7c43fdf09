"""Bad configuration gets one clear message per problem, naming the key and what is expected."""

from __future__ import annotations

import pytest

from bot.config import load_config, parse_config
from bot.errors import ConfigError
from tests.conftest import ROOT, mentionbot

BRAND = {"contact_email": "care@acme.example"}


def problems(data: dict, *, check_env: bool = True) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data, check_env=check_env)
    return info.value.problems


def test_the_shipped_config_is_valid():
    config = load_config(ROOT / "config.toml", check_env=False)
    assert config.dry_run is True
    assert set(config.connectors) >= {"file", "reddit"}


def test_unknown_key_names_the_key_and_the_expected_ones():
    (problem,) = problems({"brand": {**BRAND, "mascot": "red"}})
    assert problem.startswith("brand.mascot: unknown key; expected one of ")
    assert "contact_email" in problem


def test_wrong_type_names_the_key_and_the_type():
    (problem,) = problems({"brand": BRAND, "replies": {"max_age_hours": "three days"}})
    assert problem == "replies.max_age_hours: expected a number, got a string 'three days'"


def test_wrong_item_type_in_a_list():
    (problem,) = problems({"brand": {**BRAND, "languages": ["en", 7]}})
    assert problem == "brand.languages[1]: expected a string, got an integer 7"


def test_bad_values_are_explained():
    found = problems({"brand": {**BRAND, "timezone": "Mars/Olympus"}, "replies": {"reply_to": ["rant"]}})
    assert any(p.startswith("brand.timezone: unknown time zone 'Mars/Olympus'") for p in found)
    assert any(p.startswith("replies.reply_to: unknown intent 'rant'") for p in found)


def test_missing_environment_variable_for_an_enabled_connector(monkeypatch):
    monkeypatch.delenv("MB_TEST_REDDIT_SECRET", raising=False)
    monkeypatch.setenv("MB_TEST_REDDIT_ID", "x")
    monkeypatch.setenv("MB_TEST_REDDIT_PW", "x")
    reddit = {
        "enabled": True,
        "username": "bot",
        "client_id": {"env": "MB_TEST_REDDIT_ID"},
        "client_secret": {"env": "MB_TEST_REDDIT_SECRET"},
        "password": {"env": "MB_TEST_REDDIT_PW"},
    }
    (problem,) = problems({"brand": BRAND, "connectors": {"reddit": reddit}})
    assert problem == (
        "connectors.reddit.client_secret: environment variable MB_TEST_REDDIT_SECRET is not set "
        "(needed because connectors.reddit is enabled)"
    )
    reddit["enabled"] = False
    parse_config({"brand": BRAND, "connectors": {"reddit": reddit}})  # a disabled connector needs no secrets


def test_a_secret_written_in_the_file_is_refused():
    (problem,) = problems({"brand": BRAND, "connectors": {"reddit": {"client_secret": "hunter2"}}})
    assert problem.startswith('connectors.reddit.client_secret: expected { env = "NAME" }')
    assert "hunter2" not in problem


def test_unknown_connector():
    (problem,) = problems({"brand": BRAND, "connectors": {"myspace": {"enabled": True}}})
    assert problem.startswith("connectors.myspace: unknown connector; expected one of ")


def test_all_problems_are_reported_at_once_by_check(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        'dry_run = "yes"\n[brand]\ncontact_email = "a@b.c"\ntimezone = "Nowhere/Land"\n'
        '[replies]\nmax_age_hours = "x"\n[connectors.reddit]\nenabled = true\nusername = "bot"\n'
        'client_id = { env = "MB_UNSET_1" }\nclient_secret = { env = "MB_UNSET_2" }\npassword = "plain"\n'
    )
    result = mentionbot(config, "check", check=False)
    assert result.returncode == 2
    for key in (
        "dry_run",
        "brand.timezone",
        "replies.max_age_hours",
        "connectors.reddit.client_id",
        "connectors.reddit.client_secret",
        "connectors.reddit.password",
    ):
        assert f"  - {key}:" in result.stderr, key
    assert "6 problem(s)" in result.stderr


def test_check_logs_in_to_each_enabled_platform(config_path):
    result = mentionbot(config_path, "check")
    assert "reddit: logged in as u/acme_support" in result.stdout
    assert "reddit: credentials_expire" not in result.stdout  # no date configured, none known


def test_check_says_when_the_configured_credentials_expire(config_path):
    config_path.write_text(config_path.read_text() + "credentials_expire = 2020-01-31\n")
    result = mentionbot(config_path, "check")
    assert "reddit: credentials_expire (config) expired on 2020-01-31" in result.stdout


def test_invalid_toml_and_missing_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("dry_run = = true")
    assert "not valid TOML" in mentionbot(bad, "check", check=False).stderr
    assert "file not found" in mentionbot(tmp_path / "none.toml", "check", check=False).stderr


def test_an_empty_exclude_phrase_is_refused(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[brand]\ncontact_email = "a@b.c"\nexclude = ["ACME protocol", " "]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert any(p.startswith("brand.exclude:") for p in caught.value.problems)


def test_a_binary_non_utf8_or_empty_config_is_a_clear_error_not_a_traceback(tmp_path):
    cases = {
        "binary.toml": (
            b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe",
            "a binary file; expected a TOML text file like the shipped config.toml",
        ),
        "latin.toml": (b'[brand]\nname = "Caf\xe9"\n', "not UTF-8 text (line 2)"),
        "empty.toml": (b"", "no settings in it"),
        "comments.toml": (b"# all commented out\n\n", "no settings in it"),
        "nobrand.toml": (b"dry_run = true\n", "brand: expected at least one of contact_email"),
    }
    for name, (content, says) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        result = mentionbot(path, "check", "--offline", check=False)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr and says in result.stderr, (name, result.stderr)
        assert str(path) in result.stderr and "valid" not in result.stdout
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    result = mentionbot(folder, "check", "--offline", check=False)
    assert result.returncode == 2 and "cannot be read" in result.stderr and "Traceback" not in result.stderr
