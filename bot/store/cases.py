"""Cases (the private follow-up of a complaint or inquiry) and their history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.errors import StoreError
from bot.models import Case, Mention
from bot.store.base import Base
from bot.store.records import CaseEvent, ManualContact, case_from_row, iso, record


class Cases(Base):
    def open_case(self, mention: Mention, *, intent: str, due_at: datetime, now: datetime) -> Case:
        """Open the private case for ``mention`` (or return the one already open for it)."""
        existing = self.case_for(mention.platform, mention.id)
        if existing:
            return existing
        with self.write_transaction():
            rows = self._execute(
                "insert into cases (platform, mention_id, author_handle, author_name, intent, status, stage, "
                "opened_at, due_at, follow_ups) values (?, ?, ?, ?, ?, 'open', 'contact', ?, ?, 0) "
                "on conflict (platform, mention_id) do nothing returning id",
                [
                    mention.platform,
                    mention.id,
                    mention.author.handle,
                    mention.author.display_name or mention.author.handle,
                    intent,
                    iso(now),
                    iso(due_at),
                ],
            ).fetchall()
            if not rows:  # another process opened it meanwhile
                return self.case_for(mention.platform, mention.id)
            case_id = rows[0][0]
            self._execute("update cases set ref = ? where id = ?", [f"C-{case_id:05d}", case_id])
            self._case_event(case_id, now, "mentionbot", "opened", f"{intent} from {mention.author.handle}")
        return self.case(case_id)

    def case(self, case_id: int) -> Case:
        row = self._one("select * from cases where id = ?", [case_id])
        if not row:
            raise StoreError(f"no case {case_id}")
        return case_from_row(row)

    def case_by_ref(self, ref: str) -> Case:
        """The case named by its reference ("C-00012", any case) or its number."""
        row = self._one("select * from cases where ref = ?", [ref.upper()])
        if not row and ref.isdigit():
            row = self._one("select * from cases where id = ?", [int(ref)])
        if not row:
            raise StoreError(f"no case {ref}")
        return case_from_row(row)

    def case_for(self, platform: str, mention_id: str) -> Case | None:
        row = self._one("select * from cases where platform = ? and mention_id = ?", [platform, mention_id])
        return case_from_row(row) if row else None

    def cases(self, *, status: str | None = "open", due_before: datetime | None = None) -> list[Case]:
        sql, params = "select * from cases where 1 = 1", []
        if status:
            sql += " and status = ?"
            params.append(status)
        if due_before:
            sql += " and due_at <= ?"
            params.append(iso(due_before))
        return [case_from_row(r) for r in self._rows(sql + " order by due_at", params)]

    def open_case_of(self, platform: str, handle: str) -> Case | None:
        """The newest open case of a customer we have contacted in private (to attach their replies to)."""
        row = self._one(
            "select * from cases where platform = ? and lower(author_handle) = lower(?) and status = 'open' "
            "and contacted_at is not null order by id desc limit 1",
            [platform, handle],
        )
        return case_from_row(row) if row else None

    def awaiting_private_answers(self, platform: str) -> bool:
        """Whether any open case on ``platform`` has been contacted in private (an answer may come there)."""
        return bool(
            self._one(
                "select 1 as x from cases where platform = ? and status = 'open' and contacted_at is not null limit 1",
                [platform],
            )
        )

    def update_case(
        self, case_id: int, *, now: datetime, actor: str, event: str, note: str = "", **changes: Any
    ) -> None:
        """Change a case's fields and append the event to its history, in one transaction."""
        values = [iso(v) if isinstance(v, datetime) else v for v in changes.values()]
        with self.write_transaction():
            if changes:
                assignments = ", ".join(f"{k} = ?" for k in changes)
                self._execute(f"update cases set {assignments} where id = ?", [*values, case_id])
            self._case_event(case_id, now, actor, event, note)

    def _case_event(self, case_id: int, now: datetime, actor: str, kind: str, note: str) -> None:
        self._insert(
            "case_events",
            {"case_id": case_id, "at": iso(now), "actor": actor, "kind": kind, "note": note},
            returning=None,
        )

    def case_events(self, case_id: int) -> list[CaseEvent]:
        rows = self._rows("select * from case_events where case_id = ? order by id", [case_id])
        return [record(CaseEvent, r) for r in rows]

    def manual_cases_to_contact(self) -> list[ManualContact]:
        """Drafts answered by hand whose open case has had no private contact and none queued."""
        rows = self._rows(
            "select d.id as draft_id, d.platform, d.mention_id, d.case_id from drafts d "
            "join cases c on c.id = d.case_id where d.state = 'manual' and c.status = 'open' "
            "and c.contacted_at is null and not exists (select 1 from outbox o where o.case_id = d.case_id "
            "and o.kind = 'message') order by d.id"
        )
        return [ManualContact(**r) for r in rows]
