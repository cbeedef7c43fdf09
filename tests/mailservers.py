"""The mail servers of the email backend's tests (``connectors.fakes.mail``), and dovecot's absence: the tests that
need it skip with the reason, except under ``CI=true``, where they fail."""

from __future__ import annotations

import os

import pytest

from connectors.fakes.mail import DOVECOT, MISSING, Dovecot, SmtpServer, customer_mail

__all__ = ["Dovecot", "SmtpServer", "customer_mail", "need_dovecot"]


def need_dovecot() -> str:
    """The dovecot binary; skip the test (fail it under CI) where it is not installed."""
    if DOVECOT:
        return DOVECOT
    if os.environ.get("CI") == "true":
        pytest.fail(MISSING)
    pytest.skip(MISSING)
