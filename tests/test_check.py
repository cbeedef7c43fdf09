"""`mentionbot check`: every number, time and address in range, with the key and the range named."""

from __future__ import annotations

import pytest

from tests.conftest import mentionbot

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
        "expected one of brand, connectors, discord, dry_run, replies, report, sla, store, templates, triage"
    )
    assert "  - sla.acknowlege_hours: unknown key (did you mean 'acknowledge_hours'?)" in result.stderr


def test_an_unknown_connector_gets_a_did_you_mean(tmp_path):
    result = check_offline(tmp_path, "[connectors.reddditt]\nenabled = true\n")
    assert "  - connectors.reddditt: unknown connector (did you mean 'reddit'?)" in result.stderr


def test_a_missing_templates_file_names_its_key(tmp_path):
    result = check_offline(tmp_path, '[templates]\npath = "my-templates.toml"\n')
    assert result.returncode == 2
    assert f"  - templates.path: {tmp_path / 'my-templates.toml'}: templates file not found" in result.stderr
