"""Drafted public replies and the audit trail of every decision on them."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.errors import StoreError
from bot.models import Draft, Mention, excerpt
from bot.store.base import Base
from bot.store.records import AuditEntry, draft_from_row, iso, record


class Drafts(Base):
    def add_draft(
        self,
        mention: Mention,
        *,
        intent: str,
        text: str,
        now: datetime,
        template: str = "",
        route: str = "reply",
        findings: Iterable[str] = (),
        problems: Iterable[str] = (),
        actor: str = "mentionbot",
        case_id: int | None = None,
        notes: Iterable[str] = (),
    ) -> Draft | None:
        """Create the draft awaiting approval; ``None`` when this mention already has one."""
        with self.write_transaction():
            rows = self._execute(
                "insert into drafts (platform, mention_id, intent, text, state, template, route, "
                "findings, problems, notes, case_id, created_at, updated_at) "
                "values (?, ?, ?, ?, 'awaiting', ?, ?, ?, ?, ?, ?, ?, ?) "
                "on conflict (platform, mention_id) do nothing returning id",
                [
                    mention.platform,
                    mention.id,
                    intent,
                    text,
                    template,
                    route,
                    json.dumps(list(findings)),
                    json.dumps(list(problems)),
                    json.dumps(list(notes)),
                    case_id,
                    iso(now),
                    iso(now),
                ],
            ).fetchall()
            if not rows:
                return None
            draft_id = rows[0][0]
            self._audit(now, actor, "drafted", draft_id=draft_id, detail=template)
        return self.draft(draft_id)

    def draft(self, draft_id: int) -> Draft:
        row = self._one("select * from drafts where id = ?", [draft_id])
        if not row:
            raise StoreError(f"no draft {draft_id}")
        return draft_from_row(row)

    def draft_for(self, platform: str, mention_id: str) -> Draft | None:
        row = self._one("select * from drafts where platform = ? and mention_id = ?", [platform, mention_id])
        return draft_from_row(row) if row else None

    def drafts(self, *states: str, limit: int | None = None) -> list[Draft]:
        sql = "select * from drafts"
        if states:
            sql += f" where state in ({', '.join('?' * len(states))})"
        sql += " order by id"
        if limit:
            sql += f" limit {int(limit)}"
        return [draft_from_row(r) for r in self._rows(sql, states)]

    def template_last_used(self, template: str) -> int | None:
        """The id of the latest draft written from ``template`` (a variant's key), for rotation; None if never."""
        row = self._one("select max(id) as last from drafts where template = ?", [template])
        return row["last"] if row else None

    def transition(
        self,
        draft_id: int,
        *,
        from_states: Iterable[str],
        to_state: str,
        actor: str,
        now: datetime,
        action: str | None = None,
        detail: str | None = None,
        **changes: Any,
    ) -> bool:
        """Move a draft to ``to_state`` if it is in one of ``from_states``; record who and when. One transaction.

        Returns False (and changes nothing) when the draft was not in an allowed state: that is how two managers
        approving at once produce one approval.
        """
        from_states = list(from_states)
        if changes.get("error"):
            changes["error"] = excerpt(changes["error"])
        for key in ("findings", "problems"):
            if key in changes:
                changes[key] = json.dumps(list(changes[key]))
        assignments = "".join(f", {k} = ?" for k in changes)
        sql = (
            f"update drafts set state = ?, updated_at = ?{assignments} where id = ? "
            f"and state in ({', '.join('?' * len(from_states))})"
        )
        with self.write_transaction():
            cur = self._execute(sql, [to_state, iso(now), *changes.values(), draft_id, *from_states])
            if not cur.rowcount:
                return False
            self._audit(now, actor, action or to_state, draft_id=draft_id, detail=detail)
        return True

    def _audit(
        self,
        now: datetime,
        actor: str,
        action: str,
        *,
        draft_id: int | None = None,
        case_id: int | None = None,
        detail: str | None = None,
    ) -> None:
        self._insert(
            "audit",
            {
                "at": iso(now),
                "actor": actor,
                "action": action,
                "draft_id": draft_id,
                "case_id": case_id,
                "detail": detail,
            },
            returning=None,
        )

    def audit(self, *, draft_id: int | None = None, case_id: int | None = None) -> list[AuditEntry]:
        if draft_id is not None:
            rows = self._rows("select * from audit where draft_id = ? order by id", [draft_id])
        elif case_id is not None:
            rows = self._rows("select * from audit where case_id = ? order by id", [case_id])
        else:
            rows = self._rows("select * from audit order by id")
        return [record(AuditEntry, r) for r in rows]
