"""The connector contract: one platform's API, nothing else.

A connector fetches new mentions after a cursor and, where the platform allows, posts a public reply and a private
message. It never decides what to say. Each module in ``connectors/`` defines one ``Connector`` subclass with its own
``Settings`` dataclass (the keys of its ``[connectors.<name>]`` table) and a loopback fake in ``connectors/fakes/``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import ClassVar, Protocol

from bot.clock import Clock, SystemClock
from bot.models import Author, CredentialExpiry, FetchResult, Mention, PrivateReply, ReplyRules


@dataclass(kw_only=True)
class Secret:
    """A credential named by its environment variable; the value is read when needed and never printed."""

    env: str

    def value(self) -> str:
        import os

        return os.environ.get(self.env, "")

    def __repr__(self) -> str:
        return f"Secret(env={self.env!r})"


@dataclass(kw_only=True)
class ConnectorSettings:
    """Keys every ``[connectors.<name>]`` table accepts."""

    enabled: bool = False
    interval_seconds: int = 300
    own_accounts: list[str] = field(default_factory=list)
    base_url: str = ""
    timeout_seconds: float = 20.0
    # When the credentials stop working, where the platform does not say (a token's or a contract's end date).
    credentials_expire: date | None = None


class PlatformState(Protocol):
    """What a connector keeps across restarts, shared by every daemon on the same database: the bot passes its
    store, which implements this; a connector built alone keeps it in memory (``MemoryState``)."""

    def quota_used(self, connector: str, day: date) -> int:
        """Units of ``connector``'s daily quota booked for ``day``."""
        ...

    def spend_quota(self, connector: str, day: date, units: int, *, cap: int) -> int | None:
        """Book ``units`` on ``day`` at once for every daemon, only if the day's total stays within ``cap``; the
        new total, or ``None`` when it would not (then nothing is booked)."""
        ...

    def quota_spent(self, connector: str, day: date, *, limit: int) -> None:
        """The platform said ``day``'s quota is gone: book it as ``limit`` (never less than already booked)."""
        ...

    def private_reply(self, connector: str, mention_id: str) -> PrivateReply | None:
        """The private reply sent for ``mention_id``, if any."""
        ...

    def record_private_reply(self, connector: str, mention_id: str, reply: PrivateReply) -> None:
        """Note the private reply sent for ``mention_id`` (a later one for the same mention replaces it)."""
        ...

    def customer_wrote(self, connector: str, recipient: str) -> datetime | None:
        """When the customer ``recipient`` last wrote to us privately, if ever."""
        ...

    def note_customer_wrote(self, connector: str, recipient: str, at: datetime) -> None:
        """The customer ``recipient`` wrote at ``at``; an earlier time than the one known changes nothing."""
        ...


class MemoryState:
    """``PlatformState`` in this process's memory: for a connector built without a store (tests, fixtures)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._quota: dict[tuple[str, date], int] = {}
        self._replies: dict[tuple[str, str], PrivateReply] = {}
        self._wrote: dict[tuple[str, str], datetime] = {}

    def quota_used(self, connector: str, day: date) -> int:
        return self._quota.get((connector, day), 0)

    def spend_quota(self, connector: str, day: date, units: int, *, cap: int) -> int | None:
        with self._lock:
            total = self._quota.get((connector, day), 0) + units
            if total > cap:
                return None
            self._quota[connector, day] = total
            return total

    def quota_spent(self, connector: str, day: date, *, limit: int) -> None:
        with self._lock:
            self._quota[connector, day] = max(limit, self._quota.get((connector, day), 0))

    def private_reply(self, connector: str, mention_id: str) -> PrivateReply | None:
        return self._replies.get((connector, mention_id))

    def record_private_reply(self, connector: str, mention_id: str, reply: PrivateReply) -> None:
        self._replies[connector, mention_id] = reply

    def customer_wrote(self, connector: str, recipient: str) -> datetime | None:
        return self._wrote.get((connector, recipient))

    def note_customer_wrote(self, connector: str, recipient: str, at: datetime) -> None:
        with self._lock:
            known = self._wrote.get((connector, recipient))
            self._wrote[connector, recipient] = at if known is None else max(known, at)


class Capability(StrEnum):
    """What a connector can do beyond fetching, each one a method it implements."""

    REPLY = "reply"  # post a public reply: ``reply``
    MESSAGE = "message"  # send a private message: ``message``
    RECONCILE = "reconcile"  # find our reply after an interrupted post: ``find_reply``
    RECONCILE_MESSAGE = "reconcile_message"  # find our private message likewise: ``find_message``
    PRIVATE = (
        "private"  # read private messages to us, to attach a customer's answer to the case: ``fetch_private``
    )


IMPLEMENTED_BY: dict[Capability, str] = {
    Capability.REPLY: "reply",
    Capability.MESSAGE: "message",
    Capability.RECONCILE: "find_reply",
    Capability.RECONCILE_MESSAGE: "find_message",
    Capability.PRIVATE: "fetch_private",
}


class Connector:
    """Base class of every platform connector.

    A subclass declares its ``capabilities``; declaring one without implementing its method, implementing one
    without declaring it, or reply rules that disagree with them, fails when the class is defined. An instance may
    narrow them to what its configuration allows (read-only credentials).
    """

    name: ClassVar[str] = ""
    Settings: ClassVar[type[ConnectorSettings]] = ConnectorSettings
    rules: ClassVar[ReplyRules] = ReplyRules(can_reply=False)
    capabilities: frozenset[Capability] = frozenset()
    # True where the platform itself drops a repeated post with the same idempotency key (Mastodon).
    idempotent_posts: ClassVar[bool] = False

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        clock: Clock | None = None,
        state_dir: Path | None = None,
        state: PlatformState | None = None,
    ):
        self.settings = settings
        self.clock = clock or SystemClock()
        # Where a connector may keep files of its own (a login session), beside the database.
        self.state_dir = state_dir or Path.cwd()
        # What it keeps in the store (YouTube's quota ledger, Meta's private replies), shared by all daemons.
        self.state: PlatformState = state if state is not None else MemoryState()

    @classmethod
    def from_config(
        cls,
        settings: ConnectorSettings,
        *,
        clock: Clock | None = None,
        state_dir: Path | None = None,
        state: PlatformState | None = None,
    ) -> Connector:
        """Build the connector from its validated settings; ``state``: the store, where it keeps its state."""
        return cls(settings, clock=clock, state_dir=state_dir, state=state)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if problems := capability_problems(cls):
            raise TypeError(f"{cls.__name__}: " + "; ".join(problems))

    @property
    def calls(self) -> int | None:
        """API requests made so far (the pipeline records each poll's share in ``runs.calls``); ``None`` where
        they are not counted. Connectors on ``connectors.http.HttpClient`` (as ``self.http``) count every request;
        others override this."""
        return getattr(getattr(self, "http", None), "calls", None)

    def fetch(self, cursor: str | None) -> FetchResult:
        """Return the mentions newer than ``cursor`` and the cursor that covers them (``None`` = first run)."""
        raise NotImplementedError

    def credential_expiry(self) -> CredentialExpiry | None:
        """When the credential in use stops working, if known, without a request: what the platform said last
        (connectors override ``platform_expiry``) or the configured ``credentials_expire``. The first one someone
        must renew comes first; one the connector renews by itself only when there is no other."""
        known = [e for e in (self.platform_expiry(), configured_expiry(self.settings)) if e is not None]
        return min(known, key=lambda e: (e.renews, e.at)) if known else None

    def platform_expiry(self) -> CredentialExpiry | None:
        """The expiry of the credential in use as the platform announced it (a token's ``exp``), if it does."""
        return None

    def check(self) -> str:
        """Log in cheaply and say as whom; raise ``ConnectorError`` when that fails."""
        return "no login needed"

    def own_accounts(self) -> set[str]:
        """The brand's own handles and ids on this platform, lower-cased: never triaged, never answered."""
        return {a.lower() for a in self.settings.own_accounts}

    def is_own(self, author: Author) -> bool:
        """Whether ``author`` is one of the brand's own accounts."""
        own = self.own_accounts()
        return bool(own) and (author.handle.lower() in own or (author.id and author.id.lower() in own))

    def can_reply(self, mention: Mention) -> bool:
        """Whether the platform lets us reply publicly to this particular mention."""
        return self.rules.can_reply

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        """Post ``text`` publicly in reply to ``mention``; return the posted item's id."""
        raise NotImplementedError(f"{self.name} cannot reply")

    def message(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        """Send ``text`` privately to the author of ``mention``; return the message id."""
        raise NotImplementedError(f"{self.name} cannot send private messages")

    # Whether ``reply_url`` shows our one reply; False where the platform has no public page per item (the
    # App Store shows a review and its answer only in the app's list of reviews).
    reply_url_is_exact: bool = True

    @classmethod
    def reply_url(cls, mention: Mention, posted_id: str) -> str:
        """Where people see our reply with id ``posted_id`` (by default the page of the post it answers)."""
        return mention.url

    def find_reply(self, mention: Mention) -> str | None:
        """Look on the platform for a reply by our account to ``mention`` (used to reconcile an uncertain post)."""
        return None

    def find_message(self, mention: Mention, text: str) -> str | None:
        """Look on the platform for a private message with ``text`` we sent to ``mention``'s author (reconcile)."""
        return None

    def fetch_private(self, cursor: str | None) -> FetchResult:
        """Private messages to us newer than ``cursor`` (``kind="dm"``), where the platform lets us read them;
        used to attach a customer's answer to their case. ``None`` = first run."""
        return FetchResult([], cursor)

    def team_replied(self, mention: Mention) -> str | None:
        """A reply to ``mention`` already there by one of the brand's accounts (a teammate answered on the
        platform directly), as ``handle:id``; ``None`` when there is none or the platform cannot tell."""
        return None

    def budget(self) -> str | None:
        """What is left of a budget the connector keeps itself (YouTube's daily quota), for ``status``; ``None``
        where there is none."""
        return None


def capability_problems(cls: type[Connector]) -> list[str]:
    """Where a connector class's declared capabilities disagree with its methods or its reply rules."""
    problems = []
    for capability, method in IMPLEMENTED_BY.items():
        implemented = getattr(cls, method) is not getattr(Connector, method)
        declared = capability in cls.capabilities
        if declared and not implemented:
            problems.append(f"declares '{capability}' but does not implement {method}()")
        elif implemented and not declared:
            problems.append(f"implements {method}() but does not declare '{capability}'")
    for capability, allowed in (
        (Capability.REPLY, cls.rules.can_reply),
        (Capability.MESSAGE, cls.rules.can_message),
    ):
        if allowed != (capability in cls.capabilities):
            problems.append(f"rules say can_{capability}={allowed} but capabilities say otherwise")
    return problems


def configured_expiry(settings: ConnectorSettings) -> CredentialExpiry | None:
    """``credentials_expire`` as an expiry: a date is its midnight UTC, a date-time its instant."""
    value = settings.credentials_expire
    if value is None:
        return None
    if isinstance(value, datetime):
        at = value.replace(tzinfo=value.tzinfo or UTC).astimezone(UTC)
    else:
        at = datetime.combine(value, time(0), tzinfo=UTC)
    return CredentialExpiry(at=at, what="credentials_expire (config)")
