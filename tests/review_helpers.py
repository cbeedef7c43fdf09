"""Building a connector from its fake's demo settings, as the config loader would."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Config, parse_config
from bot.errors import TransientError
from connectors import load
from connectors.base import Secret


def connector_for(fake: Any, clock: Any, monkeypatch: Any, **overrides: Any) -> Any:
    """The registered connector for ``fake``, configured by ``fake.connector_settings()`` and its environment."""
    for key, value in fake.environment().items():
        monkeypatch.setenv(key, value)
    table = {**fake.connector_settings(), **overrides}
    table = {
        k: Secret(env=v["env"]) if isinstance(v, dict) and set(v) == {"env"} else v for k, v in table.items()
    }
    cls = load(fake.platform)
    return cls(cls.Settings(**table), clock=clock)


def config_for(tmp_path: Any, *fakes: Any) -> Config:
    """A config with posting on and each fake's connector table, the database in ``tmp_path``."""
    return parse_config(
        {
            "dry_run": False,
            "brand": {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"},
            "store": {"path": str(tmp_path / "bot.db")},
            "connectors": {f.platform: f.connector_settings() for f in fakes},
        }
    )


def fetch_refused(bot: Any, cursor: str | None = None) -> TransientError:
    """The ``TransientError`` the next fetch raises at once: no retry and no wait inside the poll (the pipeline
    polls the connector again after its back-off), so the injected clock has not moved."""
    started = bot.clock.now()
    with pytest.raises(TransientError) as caught:
        bot.fetch(cursor)
    assert bot.clock.now() == started
    return caught.value
