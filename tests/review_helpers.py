"""Building a connector from its fake's demo settings, as the config loader would."""

from __future__ import annotations

from typing import Any

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
