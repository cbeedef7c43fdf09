"""What connectors keep across restarts and daemons (``connectors.base.PlatformState``): a daily quota ledger
(YouTube) and the private replies sent with the customers' last messages (Meta's messaging windows)."""

from __future__ import annotations

from datetime import date, datetime

from bot.models import PrivateReply
from bot.store.base import Base
from bot.store.records import iso, parse_time


class PlatformState(Base):
    def quota_used(self, connector: str, day: date) -> int:
        """Units of ``connector``'s daily quota booked for ``day``."""
        row = self._one(
            "select used from quota where connector = ? and day = ?", [connector, day.isoformat()]
        )
        return int(row["used"]) if row else 0

    def spend_quota(self, connector: str, day: date, units: int, *, cap: int) -> int | None:
        """Book ``units`` on ``day`` only if the day's total stays within ``cap``; the new total, or ``None`` when
        it would not. One transaction: two daemons booking at once are counted one after the other."""
        with self.write_transaction():
            self._execute("delete from quota where connector = ? and day < ?", [connector, day.isoformat()])
            self._execute(
                "insert into quota (connector, day, used) values (?, ?, 0) on conflict (connector, day) do nothing",
                [connector, day.isoformat()],
            )
            rows = self._execute(
                "update quota set used = used + ? where connector = ? and day = ? and used + ? <= ? returning used",
                [units, connector, day.isoformat(), units, cap],
            ).fetchall()
        return int(rows[0][0]) if rows else None

    def quota_spent(self, connector: str, day: date, *, limit: int) -> None:
        """Book ``day``'s quota as ``limit`` (the platform said it is gone), never less than already booked."""
        with self.write_transaction():
            self._execute(
                "insert into quota (connector, day, used) values (?, ?, ?) on conflict (connector, day) do update "
                "set used = case when quota.used > excluded.used then quota.used else excluded.used end",
                [connector, day.isoformat(), limit],
            )

    def private_reply(self, connector: str, mention_id: str) -> PrivateReply | None:
        """The private reply ``connector`` sent for ``mention_id``, if any."""
        row = self._one(
            "select recipient, sent_at from private_replies where connector = ? and mention_id = ?",
            [connector, mention_id],
        )
        if row is None:
            return None
        return PrivateReply(recipient=row["recipient"], at=datetime.fromisoformat(row["sent_at"]))

    def record_private_reply(self, connector: str, mention_id: str, reply: PrivateReply) -> None:
        """Note the private reply sent for ``mention_id``."""
        with self.write_transaction():
            self._execute(
                "insert into private_replies (connector, mention_id, recipient, sent_at) values (?, ?, ?, ?) "
                "on conflict (connector, mention_id) do update set recipient = excluded.recipient, "
                "sent_at = excluded.sent_at",
                [connector, mention_id, reply.recipient, iso(reply.at)],
            )

    def customer_wrote(self, connector: str, recipient: str) -> datetime | None:
        """When the customer ``recipient`` last wrote to ``connector``'s account privately, if ever."""
        row = self._one(
            "select last_at from private_senders where connector = ? and recipient = ?",
            [connector, recipient],
        )
        return parse_time(row["last_at"]) if row else None

    def note_customer_wrote(self, connector: str, recipient: str, at: datetime) -> None:
        """The customer ``recipient`` wrote at ``at``; an earlier time than the one known changes nothing."""
        with self.write_transaction():
            self._execute(
                "insert into private_senders (connector, recipient, last_at) values (?, ?, ?) "
                "on conflict (connector, recipient) do update set last_at = case "
                "when excluded.last_at > private_senders.last_at then excluded.last_at "
                "else private_senders.last_at end",
                [connector, recipient, iso(at)],
            )
