"""Mentions, connector cursors, the people behind them and triage decisions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from bot.errors import StoreError
from bot.models import Mention, Quarantined, Triage, safe_text
from bot.store.base import CHUNK, Base
from bot.store.records import (
    Person,
    iso,
    mention_from_row,
    mention_row,
    parse_time,
    record,
    triage_from_row,
    triage_row,
)

_TRIAGE_COLUMNS = [
    "platform",
    "mention_id",
    "intent",
    "urgency",
    "sentiment",
    "complaint_score",
    "scores",
    "reasons",
    "lang",
    "needs_human",
    "model_version",
    "decided_at",
]
_TRIAGE_INSERT = (
    f"insert into triage ({', '.join(_TRIAGE_COLUMNS)}) values ({', '.join('?' * len(_TRIAGE_COLUMNS))})"
)


class Mentions(Base):
    def get_cursor(self, connector: str) -> str | None:
        row = self._one("select cursor from cursors where connector = ?", [connector])
        return row["cursor"] if row else None

    def unseen(self, mentions: Iterable[Mention]) -> list[Mention]:
        """The mentions not stored yet, in order; one repeated within ``mentions`` is unseen once."""
        mentions = list(mentions)
        ids: dict[str, list[str]] = {}
        for m in mentions:
            ids.setdefault(m.platform, []).append(m.id)
        known: set[tuple[str, str]] = set()
        for platform, platform_ids in ids.items():
            for i in range(0, len(platform_ids), CHUNK):
                chunk = platform_ids[i : i + CHUNK]
                cur = self._execute(
                    f"select platform, id from mentions where platform = ? and id in ({', '.join('?' * len(chunk))})",
                    [platform, *chunk],
                )
                known.update(tuple(row) for row in cur.fetchall())
        out = []
        for m in mentions:
            key = (m.platform, m.id)
            if key not in known:
                known.add(key)
                out.append(m)
        return out

    def save_fetch(
        self,
        connector: str,
        mentions: list[Mention],
        cursor: str | None,
        *,
        now: datetime,
        own: set[str] = frozenset(),
        triages: Mapping[str, Triage] | None = None,
        quarantined: Iterable[Quarantined] = (),
    ) -> list[Mention]:
        """Store the mentions not seen before, their triage decisions, the items the connector could not read
        (``quarantined``) and its new cursor in one transaction.

        ``own`` holds the keys of mentions written by the brand's own accounts; ``triages`` the decisions by
        mention key (a mention without one is stored untriaged). Returns the new mentions only.
        """
        triages = triages or {}
        if (
            cursor is not None
        ):  # it may carry a platform's id: a lone surrogate in it must not stop every poll
            cursor = safe_text(cursor, limit=len(cursor))
        fetched_at = iso(now)
        rows = [mention_row(m, fetched_at, own=m.key in own, triage=triages.get(m.key)) for m in mentions]
        with self.write_transaction():
            inserted = self._insert_new(rows)
            new: list[Mention] = []
            decisions = []
            people: dict[tuple[str, str], list[Any]] = {}
            for mention in mentions:
                key = (mention.platform, mention.id)
                if key not in inserted:
                    continue
                inserted.discard(key)  # a mention repeated in one fetch is new once
                new.append(mention)
                person = people.setdefault((mention.platform, mention.author.handle), [None, 0, 0, 0])
                person[0] = mention.author.display_name
                person[1] += 1
                if (t := triages.get(mention.key)) is not None:
                    decisions.append(triage_row(mention, t, fetched_at))
                    person[2] += t.intent == "complaint"
                    person[3] += t.intent == "praise"
            if self.pg and decisions:
                self.pg.copy_rows("triage", _TRIAGE_COLUMNS, decisions)
            else:
                self._executemany(_TRIAGE_INSERT, decisions)
            self._executemany(
                "insert into people (platform, handle, display_name, first_seen, last_seen, mentions, complaints, "
                "praise, stage) values (?, ?, ?, ?, ?, ?, ?, ?, 'awareness') on conflict (platform, handle) do "
                "update set mentions = people.mentions + excluded.mentions, "
                "complaints = people.complaints + excluded.complaints, praise = people.praise + excluded.praise, "
                "last_seen = excluded.last_seen, display_name = excluded.display_name",
                # In key order: two daemons upserting the same people lock their rows in the same order.
                [
                    (p, h, name, fetched_at, fetched_at, n, c, pr)
                    for (p, h), (name, n, c, pr) in sorted(people.items())
                ],
            )
            self._executemany(
                "insert into quarantine (connector, platform, item_id, reason, raw, at) values (?, ?, ?, ?, ?, ?)",
                [(connector, q.platform, q.item_id, q.reason, q.raw, fetched_at) for q in quarantined],
            )
            if cursor is not None:
                self._execute(
                    "insert into cursors (connector, cursor, updated_at) values (?, ?, ?) on conflict (connector) "
                    "do update set cursor = excluded.cursor, updated_at = excluded.updated_at",
                    [connector, cursor, fetched_at],
                )
        return new

    def _insert_new(self, rows: list[dict[str, Any]]) -> set[tuple[str, str]]:
        """Insert the mention rows whose (platform, id) is not stored yet; the keys of those inserted. RETURNING
        names only the rows this statement inserted, so a racing writer's rows are not "new"."""
        inserted: set[tuple[str, str]] = set()
        if not rows:
            return inserted
        columns = ", ".join(rows[0])
        if self.pg:
            # COPY into a staging table, then one INSERT … SELECT: PostgreSQL parses and plans one statement
            # instead of one per 500 rows, each binding 11,500 parameters. The CTE empties the staging table, so
            # a second batch in the same transaction starts from nothing; ``ord`` keeps the first of a repeat.
            self._execute(
                "create temp table if not exists mention_stage (like mentions including defaults, ord int)"
            )
            self.pg.copy_rows(
                "mention_stage", [*rows[0], "ord"], ((*row.values(), i) for i, row in enumerate(rows))
            )
            cur = self._execute(
                f"with staged as (delete from mention_stage returning *) insert into mentions ({columns}) "
                f"select {columns} from staged order by ord on conflict (platform, id) do nothing "
                "returning platform, id"
            )
            return {tuple(row) for row in cur.fetchall()}
        one = "(" + ", ".join("?" * len(rows[0])) + ")"
        for i in range(0, len(rows), CHUNK):
            chunk = rows[i : i + CHUNK]
            cur = self._execute(
                f"insert into mentions ({columns}) values {', '.join([one] * len(chunk))} "
                "on conflict (platform, id) do nothing returning platform, id",
                [value for row in chunk for value in row.values()],
            )
            inserted.update(tuple(row) for row in cur.fetchall())
        return inserted

    def mention(self, platform: str, mention_id: str) -> Mention:
        row = self._one("select * from mentions where platform = ? and id = ?", [platform, mention_id])
        if not row:
            raise StoreError(f"no mention {platform}:{mention_id}")
        return mention_from_row(row)

    def mention_is_own(self, platform: str, mention_id: str) -> bool:
        row = self._one("select own from mentions where platform = ? and id = ?", [platform, mention_id])
        return bool(row and row["own"])

    def mentions(self, *, since: datetime | None = None, limit: int | None = None) -> Iterator[Mention]:
        sql = "select * from mentions"
        params: list[Any] = []
        if since:
            sql += " where created_at >= ?"
            params.append(iso(since))
        sql += " order by created_at"
        if limit:
            sql += f" limit {int(limit)}"
        for row in self._rows(sql, params):
            yield mention_from_row(row)

    def recent_texts(self, limit: int) -> list[str]:
        """The texts of the ``limit`` most recent mentions with words that the brand did not post, oldest first."""
        rows = self._rows(
            "select text from mentions where own = 0 and text != '' order by created_at desc limit ?",
            [int(limit)],
        )
        return [row["text"] for row in rows][::-1]

    def first_mention_at(self) -> datetime | None:
        """When the oldest stored mention was posted (None on a new installation)."""
        row = self._one("select min(created_at) as t from mentions")
        return parse_time(row["t"]) if row else None

    def person(self, platform: str, handle: str) -> Person | None:
        row = self._one("select * from people where platform = ? and handle = ?", [platform, handle])
        return record(Person, row) if row else None

    def mark_advocate(self, platform: str, handle: str) -> None:
        """Note a person as an advocate (doctrine §5: the last stage of attachment)."""
        with self.write_transaction():
            self._execute(
                "update people set stage = 'advocacy' where platform = ? and handle = ?", [platform, handle]
            )

    def save_triage(self, mention: Mention, triage: Triage, *, now: datetime) -> None:
        """Record a triage decision for a stored mention and make it the mention's current one."""
        with self.write_transaction():
            self._execute(_TRIAGE_INSERT, triage_row(mention, triage, iso(now)))
            self._execute(
                "update mentions set intent = ?, urgency = ?, sentiment = ?, lang = coalesce(?, lang) "
                "where platform = ? and id = ?",
                [triage.intent, triage.urgency, triage.sentiment, triage.lang, mention.platform, mention.id],
            )
            column = {"complaint": "complaints", "praise": "praise"}.get(triage.intent)
            if column:
                self._execute(
                    f"update people set {column} = {column} + 1 where platform = ? and handle = ?",
                    [mention.platform, mention.author.handle],
                )

    def complaints_so_far(self, mentions: Iterable[Mention]) -> dict[tuple[str, str], int]:
        """How many complaints each author of ``mentions`` has made before, by (platform, handle)."""
        handles: dict[str, set[str]] = {}
        for m in mentions:
            handles.setdefault(m.platform, set()).add(m.author.handle)
        counts: dict[tuple[str, str], int] = {}
        for platform, names in handles.items():
            names_list = sorted(names)
            for i in range(0, len(names_list), CHUNK):
                chunk = names_list[i : i + CHUNK]
                cur = self._execute(
                    "select handle, complaints from people where complaints > 0 and platform = ? "
                    f"and handle in ({', '.join('?' * len(chunk))})",
                    [platform, *chunk],
                )
                counts.update(((platform, handle), n) for handle, n in cur.fetchall())
        return counts

    def triage_for(self, platform: str, mention_id: str) -> Triage | None:
        row = self._one(
            "select * from triage where platform = ? and mention_id = ? order by id desc limit 1",
            [platform, mention_id],
        )
        return triage_from_row(row) if row else None

    def intent_counts(self) -> dict[str, int]:
        """Mentions per current intent ("own" for the brand's own posts, "untriaged" for the rest)."""
        rows = self._rows(
            "select case when own = 1 then 'own' else coalesce(intent, 'untriaged') end as k, count(*) as n "
            "from mentions group by 1"
        )
        return {r["k"]: r["n"] for r in rows}
