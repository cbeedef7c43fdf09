"""Where a case lives beside the store: the email backend's thread of mails and the helpdesk ticket it mirrors."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.models import Case
from bot.store.base import Base
from bot.store.records import CaseMail, CaseMirror, case_from_row, iso, record


class CaseMirrors(Base):
    def case_address(self, case_id: int) -> str | None:
        """The customer's email address known for a case (the one its mail may come from), if any."""
        row = self._one("select address from case_mail_addresses where case_id = ?", [case_id])
        return row["address"] if row else None

    def set_case_address(self, case_id: int, address: str, *, now: datetime) -> None:
        """Remember ``address`` as the customer's for the case."""
        with self.write_transaction():
            self._execute(
                "insert into case_mail_addresses (case_id, address, at) values (?, ?, ?) on conflict (case_id) "
                "do update set address = excluded.address, at = excluded.at",
                [case_id, address.strip().lower(), iso(now)],
            )

    def mail_cursor(self, folder: str) -> str | None:
        """How far ``folder`` of the shared mailbox was read ("UIDVALIDITY:UID"), None before its first read."""
        row = self._one("select cursor from mail_cursors where folder = ?", [folder])
        return row["cursor"] if row else None

    def set_mail_cursor(self, folder: str, cursor: str) -> None:
        with self.write_transaction():
            self._execute(
                "insert into mail_cursors (folder, cursor) values (?, ?) on conflict (folder) "
                "do update set cursor = excluded.cursor",
                [folder, cursor],
            )

    def mail_known(self, message_id: str) -> bool:
        """Whether a mail with this Message-ID was already handled (read, flagged, ignored or sent)."""
        return bool(self._one("select 1 as x from case_mail where message_id = ?", [message_id]))

    def case_of_mail(self, message_ids: Iterable[str]) -> int | None:
        """The case a thread belongs to: that of the newest of ``message_ids`` we hold (ours or the customer's)."""
        ids = [m for m in message_ids if m]
        if not ids:
            return None
        marks = ", ".join("?" * len(ids))
        row = self._one(
            f"select case_id from case_mail where message_id in ({marks}) and case_id is not null "
            "and direction != 'ignored' order by at desc limit 1",
            ids,
        )
        return row["case_id"] if row else None

    def record_mail(
        self,
        message_id: str,
        *,
        case_id: int | None,
        direction: str,
        state: str,
        at: datetime,
        sender: str = "",
        recipient: str = "",
        raw: str | None = None,
        idempotency_key: str | None = None,
    ) -> bool:
        """Record one mail of a case's thread; False (nothing written) if its Message-ID or key is known."""
        with self.write_transaction():
            cursor = self._execute(
                "insert into case_mail (message_id, case_id, direction, state, sender, recipient, at, raw, "
                "idempotency_key) values (?, ?, ?, ?, ?, ?, ?, ?, ?) on conflict do nothing",
                [message_id, case_id, direction, state, sender, recipient, iso(at), raw, idempotency_key],
            )
            return cursor.rowcount == 1

    def queued_mail(self) -> list[CaseMail]:
        """Our case mails not sent yet, oldest first."""
        rows = self._rows("select * from case_mail where state = 'queued' order by at, message_id")
        return [record(CaseMail, r) for r in rows]

    def settle_mail(self, message_id: str, *, state: str, at: datetime) -> None:
        """Mark one of our queued mails sent (or recorded in a dry run)."""
        with self.write_transaction():
            self._execute(
                "update case_mail set state = ?, at = ? where message_id = ?", [state, iso(at), message_id]
            )

    def case_mails(self, case_id: int) -> list[CaseMail]:
        """A case's mails (without their text), oldest first."""
        rows = self._rows(
            "select message_id, case_id, direction, state, sender, recipient, at, idempotency_key from case_mail "
            "where case_id = ? order by at, message_id",
            [case_id],
        )
        return [record(CaseMail, r) for r in rows]

    def case_mirror(self, case_id: int) -> CaseMirror | None:
        """The helpdesk ticket a case is mirrored to, None before it is."""
        row = self._one("select * from case_mirrors where case_id = ?", [case_id])
        return record(CaseMirror, row) if row else None

    def cases_without_mirror(self, backend: str) -> list[Case]:
        """The open cases not yet mirrored to ``backend``, oldest first."""
        rows = self._rows(
            "select * from cases where status = 'open' and id not in "
            "(select case_id from case_mirrors where backend = ?) order by id",
            [backend],
        )
        return [case_from_row(r) for r in rows]

    def mirrored_cases(self, backend: str) -> list[tuple[Case, CaseMirror]]:
        """Each case mirrored to ``backend`` whose ticket is still to be followed, with its mirror."""
        rows = self._rows(
            "select c.*, m.case_id as m_case_id, m.backend as m_backend, m.remote_id as m_remote_id, "
            "m.link as m_link, m.state as m_state, m.owner as m_owner, m.last_article as m_last_article, "
            "m.at as m_at from cases c join case_mirrors m on m.case_id = c.id "
            "where m.backend = ? and (c.status = 'open' or m.state not in ('closed', 'merged')) order by c.id",
            [backend],
        )
        out = []
        for row in rows:
            mirror = {k[2:]: row.pop(k) for k in list(row) if k.startswith("m_")}
            out.append((case_from_row(row), record(CaseMirror, mirror)))
        return out

    def set_case_mirror(self, case_id: int, *, backend: str, now: datetime, **fields: Any) -> None:
        """Record (or update) where a case is mirrored: ``remote_id``, ``link``, ``state``, ``owner``,
        ``last_article``."""
        values = {"case_id": case_id, "backend": backend, "at": iso(now), **fields}
        updates = ", ".join(f"{k} = excluded.{k}" for k in values if k != "case_id")
        with self.write_transaction():
            self._execute(
                f"insert into case_mirrors ({', '.join(values)}) values ({', '.join('?' * len(values))}) "
                f"on conflict (case_id) do update set {updates}",
                list(values.values()),
            )
