"""The two branches of failure: our own configuration, and the platforms we talk to."""


class MentionbotError(Exception):
    """Base of every error mentionbot raises on purpose."""


class ConfigError(MentionbotError):
    """The configuration is invalid; ``problems`` lists every problem with the key's path."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


class ConnectorError(MentionbotError):
    """A platform call failed."""

    def __init__(self, connector: str, message: str):
        self.connector = connector
        super().__init__(f"{connector}: {message}")


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
