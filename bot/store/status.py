"""Read-only queries for ``mentionbot status``, the health checks, the Discord cards and the demo summary."""

from __future__ import annotations

from datetime import datetime

from bot.models import AuthorHistory
from bot.store.base import Base
from bot.store.records import Counts, DueCases, Handoff, iso, parse_time


class Status(Base):
    def due_counts(self, *, now: datetime, soon: datetime) -> DueCases:
        """Open, unacknowledged cases already overdue at ``now``, and those due by ``soon``."""
        row = self._one(
            "select coalesce(sum(case when due_at <= ? then 1 else 0 end), 0) as overdue, "
            "coalesce(sum(case when due_at > ? and due_at <= ? then 1 else 0 end), 0) as due_soon "
            "from cases where status = 'open' and acknowledged_at is null",
            [iso(now), iso(now), iso(soon)],
        )
        # int(): PostgreSQL sums integers as numeric.
        return DueCases(overdue=int(row["overdue"]), due_soon=int(row["due_soon"]))

    def counts(self) -> Counts:
        """Headline numbers for the status line and the demo summary."""
        row = self._one(
            "select (select count(*) from mentions) as mentions, "
            "(select count(*) from drafts where state = 'awaiting') as awaiting, "
            "(select count(*) from drafts where state = 'posted') as posted, "
            "(select count(*) from drafts where state = 'manual') as manual, "
            "(select count(*) from drafts where state = 'rejected') as rejected, "
            "(select count(*) from drafts where state = 'dry_run') as dry_run, "
            "(select count(*) from outbox where state in ('pending', 'sending')) as outbox, "
            "(select count(*) from cases where status = 'open') as open_cases"
        )
        return Counts(**{k: int(v) for k, v in row.items()})

    def handoff_conversion(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, Handoff]:
        """Per platform: cases opened, contacted in private, and those where the customer replied in private."""
        rows = self._rows(
            "select platform, count(*) as cases, count(contacted_at) as contacted, "
            "sum(case when contacted_at is not null and customer_replied_at is not null then 1 else 0 end) "
            "as replied from cases where opened_at >= ? and opened_at < ? group by platform order by platform",
            [iso(since) or "", iso(until) or "9999"],
        )
        return {r["platform"]: Handoff(int(r["cases"]), int(r["contacted"]), int(r["replied"])) for r in rows}

    def author_history(
        self, platform: str, handle: str, *, before: datetime, besides: str = ""
    ) -> AuthorHistory:
        """What we know of one author on one platform from before ``before`` (the post on the card), leaving out
        the case of the mention ``besides`` (the card's own)."""
        who = "platform = ? and lower(author_handle) = lower(?)"
        row = self._one(
            f"select (select count(*) from mentions where {who} and created_at < ?) as earlier, "
            f"(select count(*) from mentions where {who} and created_at < ? and intent = 'complaint') as complaints, "
            f"(select count(*) from cases where {who} and status = 'open' and mention_id != ?) as open_cases, "
            "(select max(o.sent_at) from outbox o join mentions m on m.platform = o.platform "
            "and m.id = o.mention_id where o.platform = ? and lower(m.author_handle) = lower(?) "
            "and o.state = 'sent') as last_contact",
            [platform, handle, iso(before)] * 2 + [platform, handle, besides, platform, handle],
        )
        return AuthorHistory(
            earlier_mentions=row["earlier"],
            complaints=row["complaints"],
            open_cases=row["open_cases"],
            last_contact=parse_time(row["last_contact"]),
        )

    def failing_polls(self) -> dict[str, int]:
        """For each connector, how many of its polls failed in a row since its last successful one."""
        rows = self._rows(
            "select connector, count(*) as n from runs r where status in ('error', 'fatal') and id > "
            "coalesce((select max(id) from runs s where s.connector = r.connector and s.status = 'ok'), 0) "
            "group by connector"
        )
        return {r["connector"]: r["n"] for r in rows}

    def oldest_waiting_post(self) -> datetime | None:
        """When the oldest item still waiting in the outbox (pending or sending) was queued."""
        row = self._one("select min(created_at) as t from outbox where state in ('pending', 'sending')")
        return parse_time(row["t"])
