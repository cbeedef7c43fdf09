"""`mentionbot check`: every number, time and address in range, with the key and the range named."""

from __future__ import annotations

import socket

import pytest
import requests

from bot.errors import FatalError, TransientError
from bot.failures import cause
from connectors.fakes.discord import FakeDiscord
from tests.conftest import mentionbot, write_config

BRAND = '[brand]\ncontact_email = "care@acme.example"\n'


def check_offline(tmp_path, text: str, *, brand: str = BRAND):
    path = tmp_path / "config.toml"
    path.write_text(brand + text)
    return mentionbot(path, "check", "--offline", check=False)


RANGE_CASES = [
    (
        "[sla]\nacknowledge_hours = -4\n",
        "sla.acknowledge_hours: expected more than 0 and at most 8,760 hours, got -4",
    ),
    ("[sla]\nacknowledge_hours = 0\n", "sla.acknowledge_hours: expected more than 0"),
    ("[sla]\ninquiry_hours = -1\n", "sla.inquiry_hours: expected more than 0"),
    ("[sla]\nfollow_ups = -1\n", "sla.follow_ups: expected at least 0 and at most 10, got -1"),
    ("[sla]\nfollow_up_every_hours = 0\n", "sla.follow_up_every_hours: expected more than 0"),
    (
        "[sla]\nremind_before_hours = -2\n",
        "sla.remind_before_hours: expected at least 0 and at most 168 hours",
    ),
    (
        "[sla]\ntargets = { refund = -72 }\n",
        "sla.targets.refund: expected more than 0 and at most 8,760 hours, got -72",
    ),
    (
        "[replies]\nmax_age_hours = -1\n",
        "replies.max_age_hours: expected more than 0 and at most 8,760 hours, got -1",
    ),
    (
        "[report]\ncredentials_warn_days = -3\n",
        "report.credentials_warn_days: expected at least 0 and at most 365 days",
    ),
    ("[triage]\nretrain_every_hours = -1\n", "triage.retrain_every_hours: expected at least 0"),
    ("[triage]\nmin_labels = 3\n", "triage.min_labels: expected at least 10, got 3"),
    ("[triage]\nholdout = 0.9\n", "triage.holdout: expected at least 0.05 and at most 0.5, got 0.9"),
    ("[discord]\nguild_id = -5\n", "discord.guild_id: expected at least 0, got -5"),
    (
        "[connectors.hackernews]\ninterval_seconds = -5\n",
        "connectors.hackernews.interval_seconds: expected at least 1 and at most 86,400 seconds, got -5",
    ),
    (
        "[connectors.hackernews]\ninterval_seconds = 0\n",
        "connectors.hackernews.interval_seconds: expected at least 1",
    ),
    (
        "[connectors.hackernews]\ntimeout_seconds = 0\n",
        "connectors.hackernews.timeout_seconds: expected more than 0",
    ),
    (
        "[connectors.hackernews]\nbackfill_hours = -24\n",
        "connectors.hackernews.backfill_hours: expected at least 0",
    ),
    ("[connectors.hackernews]\nmax_pages = 0\n", "connectors.hackernews.max_pages: expected at least 1"),
    (
        "[connectors.hackernews]\nhits_per_page = 0\n",
        "connectors.hackernews.hits_per_page: expected at least 1",
    ),
    (
        '[connectors.yelp]\nbase_url = "localhost:8080"\n',
        "connectors.yelp.base_url: expected an address like https://",
    ),
    (
        '[discord]\ngateway_url = "http://127.0.0.1:1"\n',
        "discord.gateway_url: expected an address like wss://",
    ),
    ('[sla]\nsame_day_cutoff = "25:00"\n', "sla.same_day_cutoff: expected a 24-hour time like '18:00'"),
    ('[report]\ntime = "9am"\n', "report.time: expected a 24-hour time like '09:00'"),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    RANGE_CASES,
    ids=[c[1].split(":")[0] + "=" + c[0].split("=")[-1].strip() for c in RANGE_CASES],
)
def test_a_number_or_time_out_of_range_is_refused_with_its_key_and_range(tmp_path, text, expected):
    result = check_offline(tmp_path, text)
    assert result.returncode == 2, result.stdout
    assert f"  - {expected}" in result.stderr


@pytest.mark.parametrize(
    ("brand", "expected"),
    [
        (
            'contact_email = "not an email"',
            "brand.contact_email: expected an email address like care@example.com, got 'not an email'",
        ),
        (
            'contact_url = "acme.example/help"',
            "brand.contact_url: expected an address like https://example.com",
        ),
        ('contact_phone = "call us"', "brand.contact_phone: expected a phone number like +31 20 123 4567"),
    ],
)
def test_a_contact_route_that_is_not_an_address_is_refused(tmp_path, brand, expected):
    result = check_offline(tmp_path, "", brand=f"[brand]\n{brand}\n")
    assert result.returncode == 2
    assert f"  - {expected}" in result.stderr


def test_values_in_range_pass(tmp_path):
    result = check_offline(
        tmp_path,
        "[sla]\nfollow_ups = 0\nremind_before_hours = 0\ntargets = { refund = 0.5 }\n"
        '[connectors.hackernews]\ninterval_seconds = 60\nbackfill_hours = 0\nbase_url = "http://127.0.0.1:9"\n',
        brand='[brand]\ncontact_email = "care@acme.example"\ncontact_phone = "+31 (0)20-123 4567"\n',
    )
    assert result.returncode == 0, result.stderr


def test_an_unknown_key_gets_a_did_you_mean_and_the_complete_list(tmp_path):
    result = check_offline(tmp_path, "[conectors]\n[sla]\nacknowlege_hours = 4\n")
    assert result.returncode == 2
    top = next(line for line in result.stderr.splitlines() if line.startswith("  - conectors:"))
    assert "(did you mean 'connectors'?)" in top
    assert top.endswith(
        "expected one of brand, cases, connectors, discord, dry_run, replies, report, sla, store, templates, triage, "
        "webhooks"
    )
    assert "  - sla.acknowlege_hours: unknown key (did you mean 'acknowledge_hours'?)" in result.stderr


def test_an_unknown_connector_gets_a_did_you_mean(tmp_path):
    result = check_offline(tmp_path, "[connectors.reddditt]\nenabled = true\n")
    assert "  - connectors.reddditt: unknown connector (did you mean 'reddit'?)" in result.stderr


def test_a_missing_templates_file_names_its_key(tmp_path):
    result = check_offline(tmp_path, '[templates]\npath = "my-templates.toml"\n')
    assert result.returncode == 2
    assert f"  - templates.path: {tmp_path / 'my-templates.toml'}: templates file not found" in result.stderr


# -- online: one line per platform and for Discord, then "N of M logged in" -------------------------------------


def discord_table(api_base: str, gateway_url: str) -> str:
    return (
        f'\n[discord]\nenabled = true\ntoken = {{ env = "MB_TEST_DISCORD_TOKEN" }}\nguild_id = 100000000000000001\n'
        f'channel_id = 200000000000000001\nmanager_roles = ["Community Manager"]\napi_base = "{api_base}"\n'
        f'gateway_url = "{gateway_url}"\n'
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.fixture
def discord_fake():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


def test_check_logs_in_to_each_platform_and_discord_and_counts(
    tmp_path, fake_reddit, reddit_env, discord_fake
):
    config = write_config(
        tmp_path, fake_reddit, extra=discord_table(discord_fake.api_base, discord_fake.gateway_url)
    )
    result = mentionbot(config, "check", env={"MB_TEST_DISCORD_TOKEN": "demo-token"})
    lines = result.stdout.splitlines()
    assert "  reddit: logged in as u/acme_support" in lines
    assert "  discord: logged in as mentionbot (id 900000000000000001)" in lines
    assert lines[-1] == "2 of 2 logged in"


def test_check_says_in_plain_words_that_nothing_listens(tmp_path, fake_reddit, reddit_env):
    port = closed_port()
    config = write_config(
        tmp_path,
        fake_reddit,
        extra=discord_table(f"http://127.0.0.1:{port}/api/v10", f"ws://127.0.0.1:{port}/gw"),
    )
    config.write_text(config.read_text().replace(fake_reddit.base_url, f"http://127.0.0.1:{port}"))
    result = mentionbot(config, "check", env={"MB_TEST_DISCORD_TOKEN": "demo-token"}, check=False)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert f"  reddit: not logged in: cannot connect to 127.0.0.1:{port}" in lines
    assert f"  discord: not logged in: cannot connect to 127.0.0.1:{port}" in lines
    assert lines[-1] == "0 of 2 logged in"
    assert "Traceback" not in result.stderr and "HTTPConnectionPool" not in result.stdout


def test_check_says_when_the_credentials_are_refused(config_path, fake_reddit):
    fake_reddit.revoked = True
    result = mentionbot(config_path, "check", check=False)
    assert result.returncode == 1
    assert "  reddit: not logged in: credentials refused (" in result.stdout
    assert result.stdout.splitlines()[-1] == "0 of 1 logged in"


def chained(outer: Exception, inner: BaseException) -> Exception:
    """``outer`` raised from ``inner``, as a connector raises our error from the client library's."""
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except Exception as final:
        return final


@pytest.mark.parametrize(
    ("error", "said"),
    [
        (
            chained(TransientError("x", "ConnectionError"), socket.gaierror(-2, "Name or service not known")),
            "cannot resolve host",
        ),
        (
            chained(
                TransientError("reddit", "RequestException"),
                requests.exceptions.ConnectionError(
                    "HTTPSConnectionPool(host='www.reddit.com', port=443): Max retries exceeded (Caused by "
                    "NameResolutionError(\"Failed to resolve 'www.reddit.com'\"))"
                ),
            ),
            "cannot resolve host www.reddit.com",
        ),
        (
            chained(TransientError("x", "GET /2/users"), requests.exceptions.ReadTimeout("read timed out")),
            "timed out",
        ),
        (TransientError("reddit", "rate limited (HTTP 429)", retry_after=30), "rate limited"),
        (FatalError("x", "login refused (HTTP 401)"), "credentials refused (login refused (HTTP 401))"),
    ],
    ids=["gaierror", "reddit-dns-text", "timeout", "rate", "refused"],
)
def test_the_cause_of_a_failure_in_plain_words(error, said):
    assert cause(error).text == said
