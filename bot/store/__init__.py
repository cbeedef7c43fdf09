"""The store: the single source of truth. All SQL lives in this package.

One SQLite file in WAL mode, schema through versioned migrations applied at open. Every state change of a draft
is one transaction that also writes the audit trail; a poll's mentions and its cursor commit together. Each
module holds the methods of one group of tables; ``Store`` is all of them on one connection.
"""

from __future__ import annotations

from bot.store.casemail import CaseMirrors
from bot.store.cases import Cases
from bot.store.copy import Copying
from bot.store.discord import DiscordBookkeeping
from bot.store.drafts import Drafts
from bot.store.learning import Learning
from bot.store.leases import Leases
from bot.store.mentions import Mentions
from bot.store.outbox import Outbox
from bot.store.platform import PlatformState
from bot.store.records import (
    AuditEntry,
    CaseEvent,
    CaseMail,
    CaseMirror,
    Counts,
    DueCases,
    Handoff,
    Label,
    Lease,
    ManualContact,
    OutboxItem,
    Person,
    ReportMail,
    Run,
    StoredModel,
    iso,
    parse_time,
)
from bot.store.reportmail import ReportMailing
from bot.store.reports import Reports
from bot.store.runs import Runs
from bot.store.schema import migrations
from bot.store.status import Status


class Store(
    Mentions,
    Drafts,
    Outbox,
    Cases,
    CaseMirrors,
    Learning,
    Runs,
    PlatformState,
    Reports,
    ReportMailing,
    Status,
    DiscordBookkeeping,
    Leases,
    Copying,
):
    """mentionbot's database. Open with ``Store.open(path)`` or ``Store.memory()`` in tests."""


__all__ = [
    "AuditEntry",
    "CaseEvent",
    "CaseMail",
    "CaseMirror",
    "Counts",
    "DueCases",
    "Handoff",
    "Label",
    "Lease",
    "ManualContact",
    "OutboxItem",
    "Person",
    "ReportMail",
    "Run",
    "Store",
    "StoredModel",
    "iso",
    "migrations",
    "parse_time",
]
