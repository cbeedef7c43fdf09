"""The weekly report's mail: each week's message, and per recipient whether it went or when to try again."""

from __future__ import annotations

from datetime import datetime

from bot.models import excerpt
from bot.store.base import Base
from bot.store.records import ReportMail, iso, record

_SELECT = (
    "select r.week, r.recipient, r.state, r.attempts, r.next_attempt_at, r.error, r.sent_at, m.queued_at "
    "from report_mail_recipients r join report_mails m on m.week = r.week"
)


class ReportMailing(Base):
    def queue_report_mail(self, week: str, raw: str, recipients: list[str], *, now: datetime) -> None:
        """Note the mail of ``week`` (``raw``: the message as it is to be sent) as due at ``now`` to each of
        ``recipients``; a week queued before keeps its message and what each recipient got."""
        with self.write_transaction():
            self._execute(
                "insert into report_mails (week, raw, queued_at) values (?, ?, ?) on conflict (week) do nothing",
                [week, raw, iso(now)],
            )
            self._executemany(
                "insert into report_mail_recipients (week, recipient, state, attempts, next_attempt_at, "
                "updated_at) values (?, ?, 'pending', 0, ?, ?) on conflict (week, recipient) do nothing",
                [(week, to, iso(now), iso(now)) for to in recipients],
            )

    def report_mail_due(self, *, now: datetime) -> list[ReportMail]:
        """The recipients still waiting for a report mail whose next try has come, oldest week first."""
        rows = self._rows(
            f"{_SELECT} where r.state = 'pending' and r.next_attempt_at <= ? order by r.week, r.recipient",
            [iso(now)],
        )
        return [record(ReportMail, r) for r in rows]

    def report_mail_message(self, week: str) -> str | None:
        """The message of ``week``'s report mail, or None once no recipient waits for it."""
        row = self._one("select raw from report_mails where week = ?", [week])
        return row["raw"] if row else None

    def settle_report_mail(
        self,
        week: str,
        recipient: str,
        *,
        state: str,
        now: datetime,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None:
        """Record one try of ``week``'s mail to ``recipient``: ``state`` sent, pending (try again at
        ``next_attempt_at``) or failed (given up). The message is dropped once nobody waits for it."""
        with self.write_transaction():
            self._execute(
                "update report_mail_recipients set state = ?, attempts = attempts + 1, next_attempt_at = ?, "
                "error = ?, sent_at = ?, updated_at = ? where week = ? and recipient = ?",
                [
                    state,
                    iso(next_attempt_at),
                    excerpt(error) if error else None,
                    iso(now) if state == "sent" else None,
                    iso(now),
                    week,
                    recipient,
                ],
            )
            self._execute(
                "update report_mails set raw = null where week = ? and not exists (select 1 from "
                "report_mail_recipients r where r.week = report_mails.week and r.state = 'pending')",
                [week],
            )

    def report_mail(self, week: str | None = None) -> list[ReportMail]:
        """The recipients of ``week``'s report mail (by default the latest week queued), by address."""
        if week is None:
            row = self._one("select max(week) as week from report_mails")
            week = row["week"] if row else None
        return [
            record(ReportMail, r)
            for r in self._rows(f"{_SELECT} where r.week = ? order by r.recipient", [week])
        ]
