"""The two branches of failure: our own configuration, and the platforms we talk to."""

# A platform error's words go into logs and the ``runs`` table: a short line, never a copied response body.
EXCERPT_CHARS = 200
MESSAGE_CHARS = 300


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """``text`` as one short line: control and format characters (newlines, ANSI escapes, bidi marks, lone
    surrogates) become spaces, runs of spaces one, and beyond ``limit`` characters it ends in "…"."""
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in text[: limit * 4]).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


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
        super().__init__(f"{connector}: {excerpt(message, MESSAGE_CHARS)}")


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
