"""Read-only queries for the weekly report.

Times are UTC ISO text; ``start``/``end`` bound a half-open range.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.store.base import Base
from bot.store.records import (
    CaseActivity,
    CaseTiming,
    ConnectorRuns,
    Decisions,
    LabelCount,
    MentionText,
    PersonWeek,
    ReachPost,
    VolumeBucket,
    Wait,
    iso,
    parse_time,
    record,
)


class Reports(Base):
    def report_buckets(self, bounds: list[str]) -> list[VolumeBucket]:
        """Mentions (not our own) per time bucket, platform and intent, with their sentiment and star ratings,
        in one pass over the range.

        ``bounds`` are the n+1 edges of n consecutive buckets; a row's ``bucket`` is its index.
        """
        cases = " ".join(f"when created_at < ? then {i}" for i in range(len(bounds) - 2))
        bucket = f"case {cases} else {len(bounds) - 2} end" if cases else "0"
        rows = self._execute(
            f"select {bucket} as bucket, platform, coalesce(intent, 'untriaged') as intent, count(*) as n, "
            "coalesce(sum(sentiment), 0.0) as sentiment_sum, count(sentiment) as sentiment_n, "
            "coalesce(sum(rating), 0) as rating_sum, count(rating) as rating_n from mentions "
            "where created_at >= ? and created_at < ? and own = 0 group by 1, 2, 3",
            [*bounds[1:-1], bounds[0], bounds[-1]],
        ).fetchall()
        return [
            VolumeBucket(int(b), platform, intent, int(n), float(s), int(sn), int(r), int(rn))
            for b, platform, intent, n, s, sn, r, rn in rows
        ]

    # The week's few thousand mentions must drive the report's lookups, not a scan of the whole outbox, drafts or
    # cases table: hence ``pinned_join`` (SQLite keeps a CROSS JOIN's order) and correlated subqueries.

    def report_first_replies(self, start: str, end: str) -> list[Wait]:
        """For each mention posted in the range that got a public reply: when it was posted and first answered.

        Driven by the replies sent since the range began (a reply never precedes its post; a day's margin for
        clocks), each joined to its mention: over eight weeks that reads far fewer rows than probing the outbox
        for every mention of the range."""
        first: dict[tuple[str, str], tuple[Any, ...]] = {}
        since = iso(datetime.fromisoformat(start) - timedelta(days=1))
        for row in self._execute(
            f"select o.platform, o.mention_id, m.intent, m.created_at, o.sent_at from outbox o {self.pinned_join} "
            "mentions m on m.platform = o.platform and m.id = o.mention_id where o.kind = 'reply' "
            "and o.sent_at >= ? and m.created_at >= ? and m.created_at < ?",
            [since, start, end],
        ):
            key = (row[0], row[1])
            if key not in first or row[4] < first[key][4]:
                first[key] = row
        return [
            Wait(platform, intent, parse_time(posted), parse_time(sent))
            for platform, _, intent, posted, sent in first.values()
        ]

    def report_first_contacts(self, start: str, end: str) -> list[Wait]:
        """For each mention posted in the range whose case contacted the person in private: when it was posted
        and when that first contact was."""
        rows = self._execute(
            "select c.platform, c.intent, m.created_at, c.contacted_at "
            f"from mentions m {self.pinned_join} cases c on c.platform = m.platform and c.mention_id = m.id "
            "where m.created_at >= ? and m.created_at < ? and c.contacted_at is not null",
            [start, end],
        ).fetchall()
        return [
            Wait(p, intent, parse_time(posted), parse_time(contacted))
            for p, intent, posted, contacted in rows
        ]

    def report_drafts(self, start: str, end: str) -> dict[str, int]:
        """Drafted replies to mentions posted in the range: how many are in each state."""
        rows = self._execute(
            f"select d.state, count(*) from mentions m {self.pinned_join} drafts d on d.platform = m.platform "
            "and d.mention_id = m.id where m.created_at >= ? and m.created_at < ? group by d.state",
            [start, end],
        ).fetchall()
        return {state: int(n) for state, n in rows}

    def report_cases_for(self, start: str, end: str) -> list[CaseTiming]:
        """The cases opened for mentions posted in the range, with the mention's time."""
        rows = self._execute(
            "select c.platform, c.intent, c.status, c.owner, m.created_at, c.due_at, c.acknowledged_at, "
            "c.contacted_at, c.customer_replied_at "
            f"from mentions m {self.pinned_join} cases c on c.platform = m.platform and c.mention_id = m.id "
            "where m.created_at >= ? and m.created_at < ?",
            [start, end],
        ).fetchall()
        return [
            CaseTiming(platform, intent, status, owner, *map(parse_time, times))
            for platform, intent, status, owner, *times in rows
        ]

    def report_case_activity(self, start: str, end: str, *, now: str) -> CaseActivity:
        """Cases opened and resolved in the range, those overdue in it (due in the range and before ``now``, and
        not acknowledged by then, as ``status`` counts them), follow-ups sent, and how many of those opened in it
        were still open at its end."""
        due_end = min(end, now)
        row = self._one(
            "select (select count(*) from cases where opened_at >= ? and opened_at < ?) as opened, "
            "(select count(*) from cases where resolved_at >= ? and resolved_at < ?) as resolved, "
            "(select count(*) from cases where due_at >= ? and due_at <= ? "
            " and (acknowledged_at is null or acknowledged_at > due_at)) as overdue, "
            "(select count(*) from case_events where kind = 'follow_up' and at >= ? and at < ?) as follow_ups, "
            "(select count(*) from cases where opened_at >= ? and opened_at < ? "
            " and (resolved_at is null or resolved_at >= ?)) as still_open",
            [start, end, start, end, start, due_end, start, end, start, end, end],
        )
        return CaseActivity(**_plain_numbers(row or {}))

    def last_mention_before(self, end: str) -> datetime | None:
        """When the latest mention (not our own) posted before ``end`` was posted, or None."""
        row = self._one("select max(created_at) as t from mentions where created_at < ? and own = 0", [end])
        return parse_time(row["t"]) if row else None

    def report_decisions(self, start: str, end: str) -> Decisions:
        """Managers' decisions on drafts in the range, by kind: approved as drafted, edited, rejected."""
        row = self._one(
            "select coalesce(sum(case when action in ('approved', 'approved (reply by hand)') then 1 else 0 end), 0)"
            " as approved, "
            "coalesce(sum(case when action like 'approved%after edit' then 1 else 0 end), 0) as edited, "
            "coalesce(sum(case when action in ('rejected', 'relabelled') then 1 else 0 end), 0) as rejected "
            "from audit where at >= ? and at < ? and draft_id is not null",
            [start, end],
        )
        return Decisions(**_plain_numbers(row or {}))

    def report_advocates(
        self, start: str, end: str, *, mixed_from: float, limit: int = 10
    ) -> list[PersonWeek]:
        """People whose praise posted in the range a manager confirmed: the mention's latest label says praise
        (approving the reply writes one; a relabel counts, whatever triage said), positive, never held by triage
        for a person nor scored ``mixed_from`` or more as a complaint ("a joke … this is the thanks"); most such
        posts first."""
        latest = (
            "(select {col} from labels l where l.platform = m.platform and l.mention_id = m.id "
            "order by l.id desc limit 1)"
        )
        # People are looked up per advocate after grouping: PostgreSQL cannot estimate the label subqueries,
        # guesses one mention, and joined every advocate to a scan of the whole people table (2.8 s at 1 M).
        rows = self._rows(
            "select a.*, coalesce((select p.praise from people p where p.platform = a.platform "
            "and p.handle = a.handle), 0) as praise from ("
            "select m.platform, m.author_handle as handle, max(m.author_name) as name, count(*) as n, "
            "max(m.url) as url, max(m.text) as example from mentions m "
            "where m.created_at >= ? and m.created_at < ? and m.own = 0 and coalesce(m.sentiment, 0) > 0 "
            f"and {latest.format(col='l.intent')} = 'praise' and {latest.format(col='l.complaint')} = 0 "
            "and not exists (select 1 from triage t where t.platform = m.platform and t.mention_id = m.id "
            "  and (t.needs_human = 1 or t.complaint_score >= ?)) "
            "group by m.platform, m.author_handle) a order by n desc, praise desc, handle limit ?",
            [start, end, mixed_from, limit],
        )
        return [PersonWeek(**_plain_numbers(r)) for r in rows]

    def report_widest_reach(self, start: str, end: str, *, limit: int = 5) -> list[ReachPost]:
        """The week's posts whose authors had the most followers (or karma) when the post was read."""
        rows = self._rows(
            "select platform, author_handle as handle, author_reach as reach, intent, url, text from mentions "
            "where created_at >= ? and created_at < ? and own = 0 and author_reach is not null "
            "order by author_reach desc, platform, id limit ?",
            [start, end, limit],
        )
        return [ReachPost(**_plain_numbers(r)) for r in rows]

    def report_texts(self, start: str, end: str, *, intent: str | None = None) -> Iterator[MentionText]:
        """The texts of mentions posted in the range (of ``intent``, or all), streamed, not loaded at once."""
        sql = (
            "select platform, id, url, author_handle, intent, text from mentions "
            "where created_at >= ? and created_at < ? and own = 0"
        )
        params: list[Any] = [start, end]
        if intent:
            sql += " and intent = ?"
            params.append(intent)
        for row in self._execute(sql + " order by created_at", params):
            yield MentionText(*row)

    def report_people(self, start: str, end: str, *, intent: str, limit: int = 10) -> list[PersonWeek]:
        """People who posted ``intent`` in the range, most such posts first, with their all-time counts."""
        rows = self._rows(
            "select m.platform, m.author_handle as handle, max(m.author_name) as name, count(*) as n, "
            "max(m.url) as url, max(m.text) as example, coalesce(max(p.complaints), 0) as complaints, "
            "coalesce(max(p.praise), 0) as praise, coalesce(max(p.mentions), 0) as mentions, max(p.stage) as stage "
            "from mentions m left join people p on p.platform = m.platform and p.handle = m.author_handle "
            "where m.created_at >= ? and m.created_at < ? and m.intent = ? and m.own = 0 "
            "group by m.platform, m.author_handle order by n desc, complaints desc, praise desc, handle limit ?",
            [start, end, intent, limit],
        )
        return [PersonWeek(**_plain_numbers(r)) for r in rows]

    def report_labels(self, start: str, end: str) -> list[LabelCount]:
        """Managers' latest decision on each mention decided in the range, against what the filter said."""
        rows = self._rows(
            "select coalesce(m.intent, l.intent) as predicted, l.complaint, l.source, count(*) as n "
            "from labels l join mentions m on m.platform = l.platform and m.id = l.mention_id "
            "where l.at >= ? and l.at < ? and not exists (select 1 from labels later where "
            "later.platform = l.platform and later.mention_id = l.mention_id and later.id > l.id) "
            "group by 1, 2, 3",
            [start, end],
        )
        return [LabelCount(**_plain_numbers(r)) for r in rows]

    def report_runs(self, start: str, end: str) -> list[ConnectorRuns]:
        """Per connector: polls and errors in the range, and its last successful poll and last new mention."""
        rows = self._rows(
            "select c.connector, coalesce(w.polls, 0) as polls, coalesce(w.failed, 0) as failed, "
            "coalesce(w.errors, 0) as errors, coalesce(w.fetched, 0) as fetched, coalesce(w.new, 0) as new, "
            "w.calls, "
            "(select max(r.started_at) from runs r where r.connector = c.connector and r.status = 'ok' "
            " and r.started_at < ?) as last_ok, "
            "(select max(r.started_at) from runs r where r.connector = c.connector and r.new > 0 "
            " and r.started_at < ?) as last_new_at, "
            "(select r.error from runs r where r.connector = c.connector and r.status <> 'ok' "
            " and r.started_at < ? order by r.started_at desc limit 1) as last_error "
            "from (select distinct connector from runs) c left join ("
            "select connector, count(*) as polls, sum(case when status <> 'ok' then 1 else 0 end) as failed, "
            "sum(errors) as errors, sum(fetched) as fetched, sum(new) as new, sum(calls) as calls from runs "
            "where started_at >= ? and started_at < ? group by connector) w on w.connector = c.connector "
            "order by c.connector",
            [end, end, end, start, end],
        )
        return [record(ConnectorRuns, _plain_numbers(r)) for r in rows]


def _plain_numbers(row: dict[str, Any]) -> dict[str, Any]:
    """A row whose sums are ints (PostgreSQL sums integers as numeric)."""
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in row.items()}
