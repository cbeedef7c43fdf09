"""The outbox: every post to a platform, written ahead, claimed by one worker, settled once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.errors import StoreError
from bot.models import excerpt
from bot.store.base import Base
from bot.store.records import OutboxItem, iso, record


class Outbox(Base):
    def enqueue(
        self,
        *,
        kind: str,
        platform: str,
        mention_id: str,
        text: str,
        idempotency_key: str,
        now: datetime,
        draft_id: int | None = None,
        case_id: int | None = None,
    ) -> int | None:
        """Queue one post; the idempotency key makes a second enqueue of the same thing a no-op."""
        with self.write_transaction():
            rows = self._execute(
                "insert into outbox (draft_id, case_id, kind, platform, mention_id, text, idempotency_key, "
                "state, attempts, created_at) values (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?) "
                "on conflict (idempotency_key) do nothing returning id",
                [draft_id, case_id, kind, platform, mention_id, text, idempotency_key, iso(now)],
            ).fetchall()
        return rows[0][0] if rows else None

    def outbox(self, *states: str) -> list[OutboxItem]:
        sql = "select * from outbox"
        if states:
            sql += f" where state in ({', '.join('?' * len(states))})"
        return [record(OutboxItem, r) for r in self._rows(sql + " order by id", states)]

    def claim_next_outbox(
        self, *, now: datetime, by: str, skip_platforms: list[str] | tuple[str, ...] = ()
    ) -> OutboxItem | None:
        """Claim the oldest pending item due at ``now`` (not on ``skip_platforms``) as being sent by ``by``, the
        write-ahead step; None when nothing is due. Several daemons claim different items without waiting on one
        another: PostgreSQL skips the rows another transaction has locked (``for update skip locked``); SQLite
        has one writer at a time."""
        skip = f" and platform not in ({', '.join('?' * len(skip_platforms))})" if skip_platforms else ""
        lock = " for update skip locked" if self.pg else ""
        with self.write_transaction():
            rows = self._rows(
                "update outbox set state = 'sending', attempts = attempts + 1, claimed_by = ?, claimed_at = ? "
                "where state = 'pending' and id = (select id from outbox where state = 'pending' "
                f"and (next_attempt_at is null or next_attempt_at <= ?){skip} order by id limit 1{lock}) "
                "returning *",
                [by, iso(now), iso(now), *skip_platforms],
            )
        return record(OutboxItem, rows[0]) if rows else None

    def outbox_item(self, item_id: int) -> OutboxItem:
        row = self._one("select * from outbox where id = ?", [item_id])
        if not row:
            raise StoreError(f"no outbox item {item_id}")
        return record(OutboxItem, row)

    def claim_outbox(self, item_id: int, *, now: datetime, by: str | None = None) -> bool:
        """Mark an item as being sent (the write-ahead step); False if another worker has it."""
        with self.write_transaction():
            cur = self._execute(
                "update outbox set state = 'sending', attempts = attempts + 1, claimed_by = ?, claimed_at = ? "
                "where id = ? and state = 'pending'",
                [by, iso(now), item_id],
            )
            return bool(cur.rowcount)

    def take_over_outbox(self, item_id: int, *, claimed_by: str | None, by: str, now: datetime) -> bool:
        """Take an interrupted item over from its (dead or expired) claimant; False if someone else did first."""
        with self.write_transaction():
            cur = self._execute(
                "update outbox set claimed_by = ?, claimed_at = ? where id = ? and state = 'sending' "
                "and claimed_by is not distinct from ?",
                [by, iso(now), item_id, claimed_by],
            )
            return bool(cur.rowcount)

    def settle_outbox(self, item_id: int, *, state: str, now: datetime, **changes: Any) -> None:
        if changes.get("error"):
            changes["error"] = excerpt(changes["error"])
        assignments = "".join(f", {k} = ?" for k in changes)
        values = [iso(v) if isinstance(v, datetime) else v for v in changes.values()]
        with self.write_transaction():
            self._execute(f"update outbox set state = ?{assignments} where id = ?", [state, *values, item_id])
