"""The two branches of failure: our own configuration, and the platforms we talk to."""

from bot.models import excerpt

# A platform error's words go into logs and the ``runs`` table: a short line, never a copied response body.
EXCERPT_CHARS = 200


class MentionbotError(Exception):
    """Base of every error mentionbot raises on purpose."""


class ConfigError(MentionbotError):
    """The configuration is invalid; ``problems`` lists every problem with the key's path."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class ConnectorError(MentionbotError):
    """A platform call failed; its message is one bounded line (``excerpt``), whatever the platform sent."""

    def __init__(self, connector: str, message: str):
        self.connector = connector
        super().__init__(f"{connector}: {excerpt(message)}")


class TransientError(ConnectorError):
    """A platform call failed in a way that may pass: timeout, 5xx, 429, malformed answer. Back off and retry."""

    def __init__(self, connector: str, message: str, *, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(connector, message)


class FatalError(ConnectorError):
    """A platform call failed in a way that will not pass by itself (revoked credential, forbidden)."""


class ReplyNotAllowed(ConnectorError):
    """The platform does not allow this reply (e.g. X replies where the author did not summon the account)."""


class StoreError(MentionbotError):
    """The database refused an operation (unknown id, illegal state change)."""
