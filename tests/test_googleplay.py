"""Google Play connector through google-api-python-client against the loopback Android Publisher API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import FatalError, ReplyNotAllowed
from bot.models import CredentialExpiry
from connectors.base import Secret
from connectors.fakes.googleplay import FakeGooglePlay
from connectors.fakes.server import Fault
from connectors.googleplay import GooglePlayConnector, GooglePlaySettings
from tests.review_helpers import fetch_refused


@pytest.fixture
def fake():
    with FakeGooglePlay(max_results=4) as fake:
        yield fake


@pytest.fixture
def bot(fake, clock, monkeypatch):
    for key, value in fake.environment().items():
        monkeypatch.setenv(key, value)
    table = fake.connector_settings()
    table["service_account_file"] = Secret(env=table["service_account_file"]["env"])
    return GooglePlayConnector(GooglePlaySettings(**table), clock=clock)


def seed(fake, clock, n):
    return [
        fake.add_review(
            author=f"Jane {i}",
            rating=i % 5 + 1,
            title="Crashes" if i % 2 else "",
            text=f"Acme app review {i}",
            modified=clock.now() - timedelta(minutes=n - i),
        )
        for i in range(n)
    ]


def test_fetch_pages_maps_rating_and_tab_joined_text(fake, bot, clock):
    ids = seed(fake, clock, 10)
    result = bot.fetch(None)
    assert [m.id for m in result.mentions] == ids
    assert all(":" in m.id for m in result.mentions)
    assert [m.rating for m in result.mentions][:5] == [1, 2, 3, 4, 5]
    assert result.mentions[0].text == "Acme app review 0"
    assert result.mentions[1].text == "Crashes\n\nAcme app review 1"
    assert result.mentions[0].kind == "review" and result.mentions[0].lang == "en"
    assert len(fake.calls("GET", "/reviews$")) == 3  # 4 + 4 + 2


def test_reply_edits_the_single_reply_and_is_found(fake, bot, clock):
    [rid] = seed(fake, clock, 1)
    review = bot.fetch(None).mentions[0]
    assert bot.find_reply(review) is None
    assert bot.reply(review, "Sorry! Write to care@acme.example", idempotency_key="a") == f"{rid}/reply"
    bot.reply(review, "Edited reply", idempotency_key="b")
    assert fake.reply_of(rid) == "Edited reply"
    assert bot.find_reply(review) == f"{rid}/reply"
    assert [p["text"] for p in fake.posted()] == ["Sorry! Write to care@acme.example", "Edited reply"]


def test_reply_length_rule_is_data_and_enforced(fake, bot, clock):
    assert bot.rules.max_length == 350 and bot.rules.one_reply_per_item
    seed(fake, clock, 1)
    review = bot.fetch(None).mentions[0]
    with pytest.raises(ReplyNotAllowed):
        bot.reply(review, "x" * 351, idempotency_key="a")
    assert fake.calls("POST", ":reply") == []
    # The fake refuses like the real API does if a long reply ever got through.
    fake.inject(Fault(400, {"error": {"code": 400, "status": "INVALID_ARGUMENT"}}, path=":reply"))
    with pytest.raises(ReplyNotAllowed):
        bot.reply(review, "short", idempotency_key="b")


def test_restart_without_duplicates(fake, bot, clock, monkeypatch):
    seed(fake, clock, 5)
    first = bot.fetch(None)
    clock.advance(minutes=3)
    new = fake.add_review(author="Late", rating=1, text="Refund please", modified=clock.now())
    table = fake.connector_settings()
    table["service_account_file"] = Secret(env=table["service_account_file"]["env"])
    restarted = GooglePlayConnector(GooglePlaySettings(**table), clock=clock)
    second = restarted.fetch(first.cursor)
    assert [m.id for m in second.mentions] == [new]
    assert restarted.fetch(second.cursor).mentions == []


def test_faults_are_survived(fake, bot, clock):
    seed(fake, clock, 2)
    fake.inject(Fault(500, {"error": {"code": 500}}, path="/reviews"))
    assert fetch_refused(bot).retry_after is None
    fake.inject(Fault(200, raw=b"{not json", path="/reviews"))
    assert "malformed" in str(fetch_refused(bot))
    assert len(bot.fetch(None).mentions) == 2
    fake.inject(
        Fault(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, headers={"Retry-After": "20"})
    )
    assert fetch_refused(bot).retry_after == 20
    assert len(bot.fetch(None).mentions) == 2


def test_service_account_is_traded_for_a_token(fake, bot, clock):
    seed(fake, clock, 1)
    bot.fetch(None)
    assert (
        fake.calls("POST", "^/token$")[0].form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    )
    assert fake.calls("GET", "/reviews$")[0].header("authorization") == "Bearer ya29.fake-play-token"


def test_refused_key_or_token_is_fatal(fake, clock, monkeypatch):
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    monkeypatch.setenv("GOOGLEPLAY_SERVICE_ACCOUNT_FILE", fake.key_file(other))
    table = {
        **fake.connector_settings(),
        "service_account_file": Secret(env="GOOGLEPLAY_SERVICE_ACCOUNT_FILE"),
    }
    with pytest.raises(FatalError):
        GooglePlayConnector(GooglePlaySettings(**table), clock=clock).fetch(None)
    monkeypatch.setenv("GOOGLEPLAY_SERVICE_ACCOUNT_FILE", fake.key_file())
    fake.inject(Fault(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}}, path="/reviews", times=5))
    with pytest.raises(FatalError):
        GooglePlayConnector(GooglePlaySettings(**table), clock=clock).fetch(None)


def test_the_service_account_key_expiry_is_read_from_its_certificate_once_a_day(fake, bot, clock, caplog):
    bot.fetch(None)
    assert bot.credential_expiry() is None  # Google's certificate of a key without an expiry ends in 9999
    assert len(fake.calls("GET", "/robot/v1/metadata/x509/")) == 1
    fake.key_expires = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)  # the key's end date is set (or rotated)
    clock.advance(hours=23)
    bot.fetch(None)
    assert bot.credential_expiry() is None and len(fake.calls("GET", "/robot/v1/metadata/x509/")) == 1
    clock.advance(hours=2)
    bot.fetch(None)
    assert bot.credential_expiry() == CredentialExpiry(
        at=datetime(2026, 11, 26, 12, 0, tzinfo=UTC), what="service account key 01234567"
    )
    # the certificate endpoint failing leaves the poll alone and the last known expiry in place
    clock.advance(hours=25)
    fake.inject(Fault(500, {"error": {"code": 500}}, path="/robot/"))
    bot.fetch(None)
    assert "could not read the service account key's certificate: HTTP 500" in caplog.text
    assert bot.credential_expiry().at == datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
