"""The SQLite store: the single source of truth. All SQL lives here.

One file in WAL mode, schema through versioned ``sqlite_utils`` migrations applied at open. Every state change of a
draft is one transaction that also writes the audit trail; a poll's mentions and its cursor commit together.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from bot.errors import StoreError
from bot.models import (
    Author,
    Case,
    CredentialExpiry,
    Draft,
    Mention,
    Quarantined,
    QuarantinedItem,
    Triage,
    bounded_json,
    excerpt,
    safe_text,
    utc,
)
from bot.private import private_file, private_folder, tighten

migrations = Migrations("mentionbot")


def iso(dt: datetime | None) -> str | None:
    """A UTC timestamp as sortable ISO text."""
    return utc(dt).isoformat(timespec="seconds") if dt else None


def parse_time(text: str | None) -> datetime | None:
    return utc(datetime.fromisoformat(text)) if text else None


@migrations()
def m001_initial(db: Database) -> None:
    db["mentions"].create(
        {
            "platform": str,
            "id": str,
            "url": str,
            "author_handle": str,
            "author_name": str,
            "author_id": str,
            "text": str,
            "created_at": str,
            "fetched_at": str,
            "kind": str,
            "rating": int,
            "parent_id": str,
            "thread_id": str,
            "lang": str,
            "own": int,
            "intent": str,
            "urgency": int,
            "sentiment": float,
            "raw": str,
        },
        pk=("platform", "id"),
        not_null={"platform", "id", "text", "created_at"},
        defaults={"own": 0},
    )
    db["mentions"].create_index(["created_at"])
    db["mentions"].create_index(["platform", "author_handle"])
    db["cursors"].create({"connector": str, "cursor": str, "updated_at": str}, pk="connector")
    db["triage"].create(
        {
            "id": int,
            "platform": str,
            "mention_id": str,
            "intent": str,
            "urgency": int,
            "sentiment": float,
            "complaint_score": float,
            "scores": str,
            "reasons": str,
            "lang": str,
            "needs_human": int,
            "model_version": str,
            "decided_at": str,
        },
        pk="id",
    )
    db["triage"].create_index(["platform", "mention_id"])
    db["drafts"].create(
        {
            "id": int,
            "platform": str,
            "mention_id": str,
            "intent": str,
            "text": str,
            "state": str,
            "template": str,
            "route": str,
            "findings": str,
            "problems": str,
            "decided_by": str,
            "reason": str,
            "posted_id": str,
            "error": str,
            "case_id": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
    )
    # One public reply per mention, ever: the database refuses a second draft for the same mention.
    db["drafts"].create_index(["platform", "mention_id"], unique=True)
    db["drafts"].create_index(["state"])
    db["audit"].create(
        {"id": int, "at": str, "actor": str, "action": str, "draft_id": int, "case_id": int, "detail": str},
        pk="id",
    )
    db["outbox"].create(
        {
            "id": int,
            "draft_id": int,
            "case_id": int,
            "kind": str,
            "platform": str,
            "mention_id": str,
            "text": str,
            "idempotency_key": str,
            "state": str,
            "attempts": int,
            "next_attempt_at": str,
            "posted_id": str,
            "error": str,
            "created_at": str,
            "sent_at": str,
        },
        pk="id",
        defaults={"attempts": 0},
    )
    db["outbox"].create_index(["idempotency_key"], unique=True)
    db["outbox"].create_index(["state"])
    db["cases"].create(
        {
            "id": int,
            "ref": str,
            "platform": str,
            "mention_id": str,
            "author_handle": str,
            "author_name": str,
            "intent": str,
            "status": str,
            "stage": str,
            "owner": str,
            "opened_at": str,
            "due_at": str,
            "acknowledged_at": str,
            "contacted_at": str,
            "customer_replied_at": str,
            "resolved_at": str,
            "follow_ups": int,
            "next_follow_up_at": str,
            "action": str,
            "action_owner": str,
            "action_due": str,
        },
        pk="id",
        defaults={"follow_ups": 0},
    )
    db["cases"].create_index(["platform", "mention_id"], unique=True)
    db["cases"].create_index(["status", "due_at"])
    db["case_events"].create(
        {"id": int, "case_id": int, "at": str, "actor": str, "kind": str, "note": str}, pk="id"
    )
    db["case_events"].create_index(["case_id"])
    db["people"].create(
        {
            "platform": str,
            "handle": str,
            "display_name": str,
            "first_seen": str,
            "last_seen": str,
            "mentions": int,
            "complaints": int,
            "praise": int,
            "stage": str,
        },
        pk=("platform", "handle"),
        defaults={"mentions": 0, "complaints": 0, "praise": 0},
    )
    db["labels"].create(
        {
            "id": int,
            "platform": str,
            "mention_id": str,
            "text": str,
            "complaint": int,
            "intent": str,
            "source": str,
            "actor": str,
            "at": str,
        },
        pk="id",
    )
    db["runs"].create(
        {
            "id": int,
            "connector": str,
            "started_at": str,
            "duration_ms": int,
            "fetched": int,
            "new": int,
            "errors": int,
            "status": str,
            "error": str,
        },
        pk="id",
    )
    db["runs"].create_index(["connector", "started_at"])
    db["models"].create(
        {"version": str, "kind": str, "created_at": str, "active": int, "scores": str, "blob": bytes},
        pk="version",
        defaults={"active": 0},
    )
    db["settings"].create({"key": str, "value": str}, pk="key")


@migrations()
def m002_report_indexes(db: Database) -> None:
    # The weekly report reads week-sized ranges of a large history; these keep every query an index range.
    db["mentions"].create_index(
        ["created_at", "own", "platform", "intent", "sentiment", "id"], index_name="mentions_week"
    )
    db["mentions"].create_index(["platform", "created_at"])
    db["outbox"].create_index(["platform", "mention_id"])
    db["cases"].create_index(["opened_at"])
    db["cases"].create_index(["resolved_at"])
    db["cases"].create_index(["due_at"])
    db["case_events"].create_index(["kind", "at"])
    db["labels"].create_index(["at"])
    db["labels"].create_index(["platform", "mention_id"])
    db["runs"].create_index(["started_at"])


@migrations()
def m003_outbox_claims(db: Database) -> None:
    # Who is posting an item right now, and since when: another worker leaves a live claim alone.
    db["outbox"].add_column("claimed_by", str)
    db["outbox"].add_column("claimed_at", str)


@migrations()
def m004_drafts_template_index(db: Database) -> None:
    # Template rotation asks when each variant was last used: one index lookup per variant.
    db["drafts"].create_index(["template", "id"])


@migrations()
def m005_run_calls(db: Database) -> None:
    # API requests each poll made: X charges per call, and every platform's quota is counted in calls.
    db["runs"].add_column("calls", int)


@migrations()
def m006_discord(db: Database) -> None:
    # The Discord card of each draft and the thread of each case, so a restarted bot edits rather than reposts.
    db["discord_cards"].create({"draft_id": int, "message_id": str, "state": str}, pk="draft_id")
    db["discord_threads"].create({"case_id": int, "thread_id": str}, pk="case_id")


@migrations()
def m007_credentials(db: Database) -> None:
    # When each connector's credential expires, as its platform (or its config) said; recorded when it changes.
    db["credentials"].create(
        {"connector": str, "expires_at": str, "what": str, "renews": int, "recorded_at": str}, pk="connector"
    )


@migrations()
def m008_fewer_mention_indexes(db: Database) -> None:
    # Every index is paid on each stored mention. No query looks mentions up by author (people has its own
    # table), and ``mentions_week`` begins with created_at: these two only slowed bulk imports down.
    db.execute("drop index if exists idx_mentions_platform_author_handle")
    db.execute("drop index if exists idx_mentions_created_at")


@migrations()
def m009_untrusted(db: Database) -> None:
    # Items a connector could not read, kept aside with their raw body so its cursor can move past them; and the
    # mentions the platform would not take a reply to (removed, locked, archived), or that their author edited.
    db["quarantine"].create(
        {"id": int, "connector": str, "platform": str, "item_id": str, "reason": str, "raw": str, "at": str},
        pk="id",
    )
    db["quarantine"].create_index(["connector", "at"])
    db["mentions"].add_column("unanswerable", str)
    db["mentions"].add_column("edited", int)


@migrations()
def m010_dry_run(db: Database) -> None:
    # A dry run used to settle its drafts as "posted" and stamp their cases acknowledged and contacted although
    # nothing was sent: after a trial run, real complaints looked handled. Such records say "dry run" now, and the
    # open cases they touched are back to unanswered (their history keeps the dry run as its own event).
    db.execute(
        "update drafts set state = 'dry_run' where state = 'posted' and posted_id is null and id in "
        "(select draft_id from outbox where kind = 'reply' and state = 'dry_run' and draft_id is not null)"
    )
    db.execute("update outbox set sent_at = null where state = 'dry_run'")
    for field, kind, note in (
        ("acknowledged_at", "acknowledged", "reply recorded (dry run)"),
        ("contacted_at", "contacted", "message recorded (dry run)"),
    ):
        db.execute(
            f"update cases set {field} = null where status = 'open' and id in "
            "(select case_id from case_events where kind = ? and note = ?)",
            [kind, note],
        )
        db.execute("update case_events set kind = 'dry_run' where kind = ? and note = ?", [kind, note])
    db.execute(
        "update cases set stage = 'contact' where status = 'open' and stage = 'what_happened' "
        "and contacted_at is null and customer_replied_at is null "
        "and id in (select case_id from case_events where kind = 'dry_run')"
    )


@migrations()
def m011_draft_notes(db: Database) -> None:
    # What the manager should know about a draft without it blocking approval: why the name was left out.
    db["drafts"].add_column("notes", str)


@migrations()
def m012_case_mail(db: Database) -> None:
    # The email backend: each case's known customer address, and every mail of a case's thread (ours queued and
    # sent, the customer's received, the agents' from the shared mailbox), keyed by Message-ID so a mail read
    # twice (a new UIDVALIDITY, a crash before the cursor was saved) is attached once and a reply threads to it.
    db["case_mail_addresses"].create({"case_id": int, "address": str, "at": str}, pk="case_id")
    db["case_mail"].create(
        {
            "message_id": str,
            "case_id": int,
            "direction": str,  # out | in | agent | ignored
            "state": str,  # queued | sent | dry_run | received | flagged | ignored
            "sender": str,
            "recipient": str,
            "at": str,
            "raw": str,  # our queued mail, sent exactly as composed (its Message-ID fixed before it goes)
            "idempotency_key": str,
        },
        pk="message_id",
    )
    db["case_mail"].create_index(["case_id"])
    db["case_mail"].create_index(["idempotency_key"], unique=True)
    db["case_mail"].create_index(["state"])
    # A helpdesk backend: the ticket each case is mirrored to, and how far its state, owner and articles were read.
    db["case_mirrors"].create(
        {
            "case_id": int,
            "backend": str,
            "remote_id": str,
            "link": str,
            "state": str,
            "owner": str,
            "last_article": int,
            "at": str,
        },
        pk="case_id",
        defaults={"last_article": 0},
    )


_INSERT_CHUNK = 500  # rows per INSERT: 19 columns each stays far below SQLite's 32,766 parameters


class Store:
    """mentionbot's database. Open with ``Store.open(path)`` or ``Store.memory()`` in tests."""

    def __init__(self, db: Database):
        self.db = db
        migrations.apply(db)

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (and create or migrate) the database file at ``path`` in WAL mode; the file is 0600 (SQLite gives
        its WAL and shared-memory files the database's mode), a folder it creates 0700."""
        path = private_file(private_folder(Path(path).parent) / Path(path).name)
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        db = Database(conn)
        db.enable_wal()
        for suffix in ("-wal", "-shm"):  # left by an older version with the database's old mode
            side = path.with_name(path.name + suffix)
            if side.exists():
                tighten(side)
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        return cls(db)

    @classmethod
    def memory(cls) -> Store:
        return cls(Database(memory=True))

    def close(self) -> None:
        self.db.close()

    @property
    def path(self) -> Path | None:
        """The database file, or None for an in-memory store."""
        row = self._one("select file from pragma_database_list where name = 'main'")
        return Path(row["file"]) if row and row["file"] else None

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Settings for a backfill of many transactions, restored afterwards; durability is unchanged.

        SQLite copies the WAL back into the database every 1,000 pages by default, and a bulk insert into
        several indexes dirties the same pages again between checkpoints: checkpointing ten times less often
        makes an import's writes about a third cheaper. Each commit is still as durable (``synchronous``
        stays as it is); only the WAL file grows larger meanwhile.
        """
        conn = self.db.conn
        (checkpoint,) = conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        (cache,) = conn.execute("PRAGMA cache_size").fetchone()
        conn.execute("PRAGMA wal_autocheckpoint = 10000")
        conn.execute("PRAGMA cache_size = -65536")  # KiB: the indexes' pages stay in memory between batches
        try:
            yield
        finally:
            conn.execute(f"PRAGMA wal_autocheckpoint = {int(checkpoint)}")
            conn.execute(f"PRAGMA cache_size = {int(cache)}")

    def transaction(self):
        """A context manager wrapping several writes in one transaction (taking the write lock at once)."""
        return self.write_transaction()

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        cursor = self.db.execute(sql, list(params))
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    # -- Discord cards and threads ------------------------------------------------------------------------------

    def discord_card(self, draft_id: int) -> str | None:
        """The Discord message id of a draft's card, if one was posted."""
        row = self._one("select message_id from discord_cards where draft_id = ?", [draft_id])
        return row["message_id"] if row else None

    def set_discord_card(self, draft_id: int, message_id: str, *, state: str) -> None:
        """Remember the Discord message of a draft's card and the draft state it shows."""
        with self.write_transaction():
            self.db.execute(
                "insert or replace into discord_cards (draft_id, message_id, state) values (?, ?, ?)",
                [draft_id, message_id, state],
            )

    def stale_discord_cards(self) -> list[int]:
        """Drafts whose card shows an older state (decided on the command line, or posted since)."""
        sql = (
            "select d.id from drafts d join discord_cards c on c.draft_id = d.id "
            "where c.state is not d.state order by d.id"
        )
        return [r["id"] for r in self._rows(sql)]

    def drafts_without_card(self) -> list[Draft]:
        """Drafts awaiting approval whose card was never posted (Discord was down or the bot not running)."""
        sql = (
            "select d.* from drafts d left join discord_cards c on c.draft_id = d.id "
            "where d.state = 'awaiting' and c.draft_id is null order by d.id"
        )
        return [draft_from_row(r) for r in self._rows(sql)]

    def discord_thread(self, case_id: int) -> str | None:
        """The Discord thread id of a case, if one was started."""
        row = self._one("select thread_id from discord_threads where case_id = ?", [case_id])
        return row["thread_id"] if row else None

    def set_discord_thread(self, case_id: int, thread_id: str) -> None:
        """Remember the Discord thread of a case."""
        with self.write_transaction():
            self.db.execute(
                "insert or replace into discord_threads (case_id, thread_id) values (?, ?)",
                [case_id, thread_id],
            )

    # -- settings (small key/value state: paused posting, credential warnings) ---------------------------------

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self._one("select value from settings where key = ?", [key])
        return row["value"] if row else default

    def set_setting(self, key: str, value: str | None) -> None:
        with self.write_transaction():
            if value is None:
                self.db.execute("delete from settings where key = ?", [key])
            else:
                self.db["settings"].upsert({"key": key, "value": value}, pk="key")

    # -- mentions and cursors -----------------------------------------------------------------------------------

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
            for i in range(0, len(platform_ids), _INSERT_CHUNK):
                chunk = platform_ids[i : i + _INSERT_CHUNK]
                cur = self.db.execute(
                    f"select platform, id from mentions where platform = ? and id in ({', '.join('?' * len(chunk))})",
                    [platform, *chunk],
                )
                known.update(cur.fetchall())
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
        inserted: set[tuple[str, str]] = set()
        with self.write_transaction():
            conn = self.db.conn
            if rows:
                columns = ", ".join(rows[0])
                one = "(" + ", ".join("?" * len(rows[0])) + ")"
                # RETURNING names only the rows this statement inserted, so a racing writer's rows are not "new".
                for i in range(0, len(rows), _INSERT_CHUNK):
                    chunk = rows[i : i + _INSERT_CHUNK]
                    cur = conn.execute(
                        f"insert into mentions ({columns}) values {', '.join([one] * len(chunk))} "
                        "on conflict (platform, id) do nothing returning platform, id",
                        [value for row in chunk for value in row.values()],
                    )
                    inserted.update(cur.fetchall())
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
            conn.executemany(
                "insert into triage (platform, mention_id, intent, urgency, sentiment, complaint_score, scores, "
                "reasons, lang, needs_human, model_version, decided_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                decisions,
            )
            conn.executemany(
                "insert into people (platform, handle, display_name, first_seen, last_seen, mentions, complaints, "
                "praise, stage) values (?, ?, ?, ?, ?, ?, ?, ?, 'awareness') on conflict(platform, handle) do "
                "update set mentions = mentions + excluded.mentions, complaints = complaints + excluded.complaints, "
                "praise = praise + excluded.praise, last_seen = excluded.last_seen, "
                "display_name = excluded.display_name",
                [
                    (p, h, name, fetched_at, fetched_at, n, c, pr)
                    for (p, h), (name, n, c, pr) in people.items()
                ],
            )
            conn.executemany(
                "insert into quarantine (connector, platform, item_id, reason, raw, at) values (?, ?, ?, ?, ?, ?)",
                [(connector, q.platform, q.item_id, q.reason, q.raw, fetched_at) for q in quarantined],
            )
            if cursor is not None:
                conn.execute(
                    "insert into cursors (connector, cursor, updated_at) values (?, ?, ?) "
                    "on conflict(connector) do update set cursor = excluded.cursor, updated_at = excluded.updated_at",
                    [connector, cursor, fetched_at],
                )
        return new

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

    def person(self, platform: str, handle: str) -> dict[str, Any] | None:
        return self._one("select * from people where platform = ? and handle = ?", [platform, handle])

    # -- triage -------------------------------------------------------------------------------------------------

    def save_triage(self, mention: Mention, triage: Triage, *, now: datetime) -> None:
        """Record a triage decision for a stored mention and make it the mention's current one."""
        with self.write_transaction():
            self.db.execute(
                "insert into triage (platform, mention_id, intent, urgency, sentiment, complaint_score, scores, "
                "reasons, lang, needs_human, model_version, decided_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                triage_row(mention, triage, iso(now)),
            )
            self.db.execute(
                "update mentions set intent = ?, urgency = ?, sentiment = ?, lang = coalesce(?, lang) "
                "where platform = ? and id = ?",
                [triage.intent, triage.urgency, triage.sentiment, triage.lang, mention.platform, mention.id],
            )
            column = {"complaint": "complaints", "praise": "praise"}.get(triage.intent)
            if column:
                self.db.execute(
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
            for i in range(0, len(names_list), _INSERT_CHUNK):
                chunk = names_list[i : i + _INSERT_CHUNK]
                cur = self.db.execute(
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
        if not row:
            return None
        return Triage(
            intent=row["intent"],
            urgency=row["urgency"] or 0,
            sentiment=row["sentiment"] or 0.0,
            complaint_score=row["complaint_score"] or 0.0,
            scores=json.loads(row["scores"] or "{}"),
            reasons=tuple(json.loads(row["reasons"] or "[]")),
            lang=row["lang"],
            needs_human=bool(row["needs_human"]),
            model_version=row["model_version"] or "",
        )

    # -- drafts and the audit trail --------------------------------------------------------------------------

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
            cur = self.db.execute(
                "insert into drafts (platform, mention_id, intent, text, state, template, route, "
                "findings, problems, notes, case_id, created_at, updated_at) "
                "values (?, ?, ?, ?, 'awaiting', ?, ?, ?, ?, ?, ?, ?, ?) "
                "on conflict (platform, mention_id) do nothing",
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
            )
            if not cur.rowcount:
                return None
            draft_id = cur.lastrowid
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
        assignments = ", ".join(f"{k} = ?" for k in changes)
        sql = (
            f"update drafts set state = ?, updated_at = ?{', ' if changes else ''}{assignments} where id = ? "
        )
        sql += f"and state in ({', '.join('?' * len(from_states))})"
        with self.write_transaction():
            cur = self.db.execute(sql, [to_state, iso(now), *changes.values(), draft_id, *from_states])
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
        self.db["audit"].insert(
            {
                "at": iso(now),
                "actor": actor,
                "action": action,
                "draft_id": draft_id,
                "case_id": case_id,
                "detail": detail,
            }
        )

    def audit(self, *, draft_id: int | None = None, case_id: int | None = None) -> list[dict[str, Any]]:
        if draft_id is not None:
            return self._rows("select * from audit where draft_id = ? order by id", [draft_id])
        if case_id is not None:
            return self._rows("select * from audit where case_id = ? order by id", [case_id])
        return self._rows("select * from audit order by id")

    # -- the outbox ---------------------------------------------------------------------------------------------

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
            cur = self.db.execute(
                "insert into outbox (draft_id, case_id, kind, platform, mention_id, text, idempotency_key, "
                "state, attempts, created_at) values (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?) "
                "on conflict (idempotency_key) do nothing",
                [draft_id, case_id, kind, platform, mention_id, text, idempotency_key, iso(now)],
            )
        return cur.lastrowid if cur.rowcount else None

    def outbox(self, *states: str) -> list[dict[str, Any]]:
        sql = "select * from outbox"
        if states:
            sql += f" where state in ({', '.join('?' * len(states))})"
        return self._rows(sql + " order by id", states)

    def outbox_item(self, item_id: int) -> dict[str, Any]:
        row = self._one("select * from outbox where id = ?", [item_id])
        if not row:
            raise StoreError(f"no outbox item {item_id}")
        return row

    def claim_outbox(self, item_id: int, *, now: datetime, by: str | None = None) -> bool:
        """Mark an item as being sent (the write-ahead step); False if another worker has it."""
        with self.write_transaction():
            cur = self.db.execute(
                "update outbox set state = 'sending', attempts = attempts + 1, claimed_by = ?, claimed_at = ? "
                "where id = ? and state = 'pending'",
                [by, iso(now), item_id],
            )
            return bool(cur.rowcount)

    def take_over_outbox(self, item_id: int, *, claimed_by: str | None, by: str, now: datetime) -> bool:
        """Take an interrupted item over from its (dead or expired) claimant; False if someone else did first."""
        with self.write_transaction():
            cur = self.db.execute(
                "update outbox set claimed_by = ?, claimed_at = ? where id = ? and state = 'sending' "
                "and claimed_by is ?",
                [by, iso(now), item_id, claimed_by],
            )
            return bool(cur.rowcount)

    def settle_outbox(self, item_id: int, *, state: str, now: datetime, **changes: Any) -> None:
        if changes.get("error"):
            changes["error"] = excerpt(changes["error"])
        assignments = "".join(f", {k} = ?" for k in changes)
        changes = {k: iso(v) if isinstance(v, datetime) else v for k, v in changes.items()}
        with self.write_transaction():
            self.db.execute(
                f"update outbox set state = ?{assignments} where id = ?", [state, *changes.values(), item_id]
            )

    # -- cases --------------------------------------------------------------------------------------------------

    def open_case(self, mention: Mention, *, intent: str, due_at: datetime, now: datetime) -> Case:
        """Open the private case for ``mention`` (or return the one already open for it)."""
        existing = self.case_for(mention.platform, mention.id)
        if existing:
            return existing
        with self.write_transaction():
            case_id = (
                self.db["cases"]
                .insert(
                    {
                        "platform": mention.platform,
                        "mention_id": mention.id,
                        "author_handle": mention.author.handle,
                        "author_name": mention.author.display_name or mention.author.handle,
                        "intent": intent,
                        "status": "open",
                        "stage": "contact",
                        "opened_at": iso(now),
                        "due_at": iso(due_at),
                        "follow_ups": 0,
                    }
                )
                .last_pk
            )
            ref = f"C-{case_id:05d}"
            self.db.execute("update cases set ref = ? where id = ?", [ref, case_id])
            self._case_event(case_id, now, "mentionbot", "opened", f"{intent} from {mention.author.handle}")
        return self.case(case_id)

    def case(self, case_id: int) -> Case:
        row = self._one("select * from cases where id = ?", [case_id])
        if not row:
            raise StoreError(f"no case {case_id}")
        return case_from_row(row)

    def case_by_ref(self, ref: str) -> Case:
        row = self._one("select * from cases where ref = ? or id = ?", [ref.upper(), ref])
        if not row:
            raise StoreError(f"no case {ref}")
        return case_from_row(row)

    def case_for(self, platform: str, mention_id: str) -> Case | None:
        row = self._one("select * from cases where platform = ? and mention_id = ?", [platform, mention_id])
        return case_from_row(row) if row else None

    def cases(self, *, status: str | None = "open", due_before: datetime | None = None) -> list[Case]:
        sql, params = "select * from cases where 1", []
        if status:
            sql += " and status = ?"
            params.append(status)
        if due_before:
            sql += " and due_at <= ?"
            params.append(iso(due_before))
        return [case_from_row(r) for r in self._rows(sql + " order by due_at", params)]

    def update_case(
        self, case_id: int, *, now: datetime, actor: str, event: str, note: str = "", **changes: Any
    ):
        """Change a case's fields and append the event to its history, in one transaction."""
        changes = {k: iso(v) if isinstance(v, datetime) else v for k, v in changes.items()}
        with self.write_transaction():
            if changes:
                assignments = ", ".join(f"{k} = ?" for k in changes)
                self.db.execute(f"update cases set {assignments} where id = ?", [*changes.values(), case_id])
            self._case_event(case_id, now, actor, event, note)

    def _case_event(self, case_id: int, now: datetime, actor: str, kind: str, note: str) -> None:
        self.db["case_events"].insert(
            {"case_id": case_id, "at": iso(now), "actor": actor, "kind": kind, "note": note}
        )

    def case_events(self, case_id: int) -> list[dict[str, Any]]:
        return self._rows("select * from case_events where case_id = ? order by id", [case_id])

    # -- labels and models --------------------------------------------------------------------------------------

    def add_label(
        self,
        mention: Mention | None,
        *,
        complaint: bool,
        intent: str,
        source: str,
        actor: str,
        now: datetime,
        text: str | None = None,
    ) -> None:
        """Record a manager's decision as training data for the complaint model."""
        self.db["labels"].insert(
            {
                "platform": mention.platform if mention else None,
                "mention_id": mention.id if mention else None,
                "text": text if text is not None else (mention.text if mention else ""),
                "complaint": int(complaint),
                "intent": intent,
                "source": source,
                "actor": actor,
                "at": iso(now),
            }
        )

    def labels(self) -> list[dict[str, Any]]:
        """Every label, the latest decision per mention winning."""
        return self._rows(
            "select * from labels where id in (select max(id) from labels group by coalesce(platform || ':' || "
            "mention_id, 'id:' || id)) order by id"
        )

    def save_model(
        self, version: str, *, kind: str, blob: bytes, scores: dict, now: datetime, active: bool
    ) -> None:
        with self.write_transaction():
            if active:
                self.db.execute("update models set active = 0")
            self.db["models"].insert(
                {
                    "version": version,
                    "kind": kind,
                    "created_at": iso(now),
                    "active": int(active),
                    "scores": json.dumps(scores),
                    "blob": blob,
                },
                replace=True,
            )

    def active_model(self) -> dict[str, Any] | None:
        return self._one("select * from models where active = 1")

    def active_model_version(self) -> str | None:
        """The active model's version, without loading the model."""
        row = self._one("select version from models where active = 1")
        return row["version"] if row else None

    def model_blob(self, version: str) -> bytes:
        """The serialised model saved under ``version``."""
        row = self._one("select blob from models where version = ?", [version])
        if row is None:
            raise KeyError(version)
        return row["blob"]

    def models(self) -> list[dict[str, Any]]:
        return self._rows("select version, kind, created_at, active, scores from models order by created_at")

    # -- runs ---------------------------------------------------------------------------------------------------

    def record_run(
        self,
        connector: str,
        *,
        started_at: datetime,
        duration_ms: int,
        fetched: int,
        new: int,
        errors: int,
        status: str,
        error: str | None = None,
        calls: int | None = None,
    ) -> None:
        """Record one poll of ``connector``; its ``error`` is kept as one line of at most 300 characters."""
        self.db["runs"].insert(
            {
                "connector": connector,
                "started_at": iso(started_at),
                "duration_ms": duration_ms,
                "fetched": fetched,
                "new": new,
                "errors": errors,
                "status": status,
                "error": None if error is None else excerpt(error),
                "calls": calls,
            }
        )

    def runs(self, connector: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        if connector:
            return self._rows(
                "select * from runs where connector = ? order by id desc limit ?", [connector, limit]
            )
        return self._rows("select * from runs order by id desc limit ?", [limit])

    def last_runs(self) -> list[dict[str, Any]]:
        """The latest run of each connector, with the time of its latest successful one."""
        return self._rows(
            "select r.*, (select max(started_at) from runs s where s.connector = r.connector and s.status = 'ok') "
            "as last_ok from runs r where r.id in (select max(id) from runs group by connector) order by connector"
        )

    def intent_counts(self) -> dict[str, int]:
        """Mentions per current intent ("own" for the brand's own posts, "untriaged" for the rest)."""
        rows = self._rows(
            "select case when own then 'own' else coalesce(intent, 'untriaged') end as k, count(*) as n "
            "from mentions group by k"
        )
        return {r["k"]: r["n"] for r in rows}

    # -- the weekly report (times are UTC ISO text; ``start``/``end`` bound a half-open range) ----------------

    def report_buckets(self, bounds: list[str]) -> list[dict[str, Any]]:
        """Mentions (not our own) per time bucket, platform and intent, with their sentiment sum and count.

        ``bounds`` are the n+1 edges of n consecutive buckets; a row's ``bucket`` is its index.
        """
        cases = " ".join(f"when created_at < ? then {i}" for i in range(len(bounds) - 2))
        bucket = f"case {cases} else {len(bounds) - 2} end" if cases else "0"
        return self._rows(
            f"select {bucket} as bucket, platform, coalesce(intent, 'untriaged') as intent, count(*) as n, "
            "total(sentiment) as sentiment_sum, count(sentiment) as sentiment_n from mentions "
            "where created_at >= ? and created_at < ? and own = 0 group by 1, 2, 3",
            [*bounds[1:-1], bounds[0], bounds[-1]],
        )

    # The week's few thousand mentions must drive the report's lookups, not a scan of the whole outbox, drafts or
    # cases table: hence CROSS JOIN (SQLite keeps its order) and correlated subqueries.

    def report_first_replies(self, start: str, end: str) -> list[dict[str, Any]]:
        """For each mention posted in the range that got a public reply: when it was posted and first answered."""
        return self._rows(
            "select * from (select m.platform, m.intent, m.created_at, (select min(o.sent_at) from outbox o "
            "where o.platform = m.platform and o.mention_id = m.id and o.kind = 'reply') as sent_at "
            "from mentions m where m.created_at >= ? and m.created_at < ?) where sent_at is not null",
            [start, end],
        )

    def report_drafts(self, start: str, end: str) -> list[dict[str, Any]]:
        """Drafted replies to mentions posted in the range, counted by state."""
        return self._rows(
            "select d.state, count(*) as n from mentions m cross join drafts d on d.platform = m.platform "
            "and d.mention_id = m.id where m.created_at >= ? and m.created_at < ? group by d.state",
            [start, end],
        )

    def report_cases_for(self, start: str, end: str) -> list[dict[str, Any]]:
        """The cases opened for mentions posted in the range, with the mention's time."""
        return self._rows(
            "select c.platform, c.intent, c.status, m.created_at, c.contacted_at, c.customer_replied_at "
            "from mentions m cross join cases c on c.platform = m.platform and c.mention_id = m.id "
            "where m.created_at >= ? and m.created_at < ?",
            [start, end],
        )

    def report_case_activity(self, start: str, end: str) -> dict[str, int]:
        """Cases opened, resolved and overdue in the range, follow-ups sent, and how many of those opened in it
        were still open at its end."""
        row = self._one(
            "select (select count(*) from cases where opened_at >= ?1 and opened_at < ?2) as opened, "
            "(select count(*) from cases where resolved_at >= ?1 and resolved_at < ?2) as resolved, "
            "(select count(*) from cases where due_at >= ?1 and due_at < ?2 "
            " and (acknowledged_at is null or acknowledged_at > due_at)) as overdue, "
            "(select count(*) from case_events where kind = 'follow_up' and at >= ?1 and at < ?2) as follow_ups, "
            "(select count(*) from cases where opened_at >= ?1 and opened_at < ?2 "
            " and (resolved_at is null or resolved_at >= ?2)) as still_open",
            [start, end],
        )
        return dict(row or {})

    def report_texts(self, start: str, end: str, *, intent: str | None = None) -> Iterator[dict[str, Any]]:
        """The texts of mentions posted in the range (of ``intent``, or all), streamed, not loaded at once."""
        sql = (
            "select platform, id, url, author_handle, intent, text from mentions "
            "where created_at >= ? and created_at < ? and own = 0"
        )
        params: list[Any] = [start, end]
        if intent:
            sql += " and intent = ?"
            params.append(intent)
        cursor = self.db.execute(sql + " order by created_at", params)
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def report_people(self, start: str, end: str, *, intent: str, limit: int = 10) -> list[dict[str, Any]]:
        """People who posted ``intent`` in the range, most such posts first, with their all-time counts."""
        return self._rows(
            "select m.platform, m.author_handle as handle, max(m.author_name) as name, count(*) as n, "
            "max(m.url) as url, max(m.text) as example, coalesce(p.complaints, 0) as complaints, "
            "coalesce(p.praise, 0) as praise, coalesce(p.mentions, 0) as mentions, p.stage "
            "from mentions m left join people p on p.platform = m.platform and p.handle = m.author_handle "
            "where m.created_at >= ? and m.created_at < ? and m.intent = ? and m.own = 0 "
            "group by m.platform, m.author_handle order by n desc, complaints desc, praise desc, handle limit ?",
            [start, end, intent, limit],
        )

    def report_labels(self, start: str, end: str) -> list[dict[str, Any]]:
        """Managers' latest decision on each mention decided in the range, against what the filter said."""
        return self._rows(
            "select coalesce(m.intent, l.intent) as predicted, l.complaint, l.source, count(*) as n "
            "from labels l join mentions m on m.platform = l.platform and m.id = l.mention_id "
            "where l.at >= ? and l.at < ? and not exists (select 1 from labels later where "
            "later.platform = l.platform and later.mention_id = l.mention_id and later.id > l.id) "
            "group by 1, 2, 3",
            [start, end],
        )

    def report_runs(self, start: str, end: str) -> list[dict[str, Any]]:
        """Per connector: polls and errors in the range, and its last successful poll and last new mention."""
        names = [r["connector"] for r in self._rows("select distinct connector from runs order by connector")]
        out = []
        for name in names:
            row = self._one(
                "select ?1 as connector, count(*) as polls, coalesce(sum(status != 'ok'), 0) as failed, "
                "coalesce(sum(errors), 0) as errors, coalesce(sum(fetched), 0) as fetched, "
                "coalesce(sum(new), 0) as new, sum(calls) as calls, "
                "(select max(started_at) from runs where connector = ?1 and status = 'ok' and started_at < ?3) "
                "as last_ok, "
                "(select max(started_at) from runs where connector = ?1 and new > 0 and started_at < ?3) "
                "as last_new, "
                "(select error from runs where connector = ?1 and status != 'ok' and started_at < ?3 "
                " order by started_at desc limit 1) as last_error "
                "from runs where connector = ?1 and started_at >= ?2 and started_at < ?3",
                [name, start, end],
            )
            out.append(dict(row or {}))
        return out

    def calls_since(self, start: datetime) -> dict[str, int]:
        """API requests per connector since ``start`` (connectors that do not count them are left out)."""
        rows = self._rows(
            "select connector, sum(calls) as calls from runs where started_at >= ? and calls is not null "
            "group by connector",
            [iso(start)],
        )
        return {r["connector"]: r["calls"] for r in rows}

    def manual_cases_to_contact(self) -> list[dict[str, Any]]:
        """Drafts answered by hand whose open case has had no private contact and none queued."""
        return self._rows(
            "select d.id as draft_id, d.platform, d.mention_id, d.case_id from drafts d "
            "join cases c on c.id = d.case_id where d.state = 'manual' and c.status = 'open' "
            "and c.contacted_at is null and not exists (select 1 from outbox o where o.case_id = d.case_id "
            "and o.kind = 'message') order by d.id"
        )

    def quarantined(self, connector: str | None = None, *, limit: int = 20) -> list[QuarantinedItem]:
        """The items connectors could not read, newest first (of one connector, or of all)."""
        where, params = ("where connector = ?", [connector]) if connector else ("", [])
        rows = self._rows(f"select * from quarantine {where} order by id desc limit ?", [*params, limit])
        return [
            QuarantinedItem(
                id=r["id"],
                connector=r["connector"],
                at=parse_time(r["at"]),
                item=Quarantined(
                    platform=r["platform"], item_id=r["item_id"], reason=r["reason"], raw=r["raw"]
                ),
            )
            for r in rows
        ]

    def quarantine_counts(self) -> dict[str, int]:
        """How many items each connector has quarantined in all."""
        rows = self._rows("select connector, count(*) as n from quarantine group by connector")
        return {r["connector"]: r["n"] for r in rows}

    def paused_connectors(self) -> dict[str, str]:
        """Connectors paused for refused credentials, with the platform's message."""
        rows = self._rows("select key, value from settings where key like 'connector:%:paused'")
        return {r["key"].split(":")[1]: r["value"] for r in rows}

    def set_credential_expiry(
        self, connector: str, expiry: CredentialExpiry | None, *, now: datetime
    ) -> None:
        """Record when ``connector``'s credential expires (``None``: no expiry known any more)."""
        with self.write_transaction():
            if expiry is None:
                self.db.execute("delete from credentials where connector = ?", [connector])
                return
            self.db.execute(
                "insert or replace into credentials (connector, expires_at, what, renews, recorded_at) "
                "values (?, ?, ?, ?, ?)",
                [connector, iso(expiry.at), expiry.what, int(expiry.renews), iso(now)],
            )

    def credential_expiries(self) -> dict[str, CredentialExpiry]:
        """The recorded credential expiry of each connector that has one."""
        rows = self._rows("select connector, expires_at, what, renews from credentials order by connector")
        return {
            r["connector"]: CredentialExpiry(
                at=parse_time(r["expires_at"]), what=r["what"], renews=bool(r["renews"])
            )
            for r in rows
        }

    def first_mention_at(self) -> datetime | None:
        """When the oldest stored mention was posted (None on a new installation)."""
        row = self._one("select min(created_at) as t from mentions")
        return parse_time(row["t"]) if row else None

    def due_counts(self, *, now: datetime, soon: datetime) -> dict[str, int]:
        """Open, unacknowledged cases already overdue at ``now``, and those due by ``soon``."""
        row = self._one(
            "select coalesce(sum(due_at <= ?1), 0) as overdue, coalesce(sum(due_at > ?1 and due_at <= ?2), 0) "
            "as due_soon from cases where status = 'open' and acknowledged_at is null",
            [iso(now), iso(soon)],
        )
        return dict(row or {})

    def counts(self) -> dict[str, int]:
        """Headline numbers for the status line and the demo summary."""
        one = self._one(
            "select (select count(*) from mentions) as mentions, "
            "(select count(*) from drafts where state = 'awaiting') as awaiting, "
            "(select count(*) from drafts where state = 'posted') as posted, "
            "(select count(*) from drafts where state = 'manual') as manual, "
            "(select count(*) from drafts where state = 'rejected') as rejected, "
            "(select count(*) from drafts where state = 'dry_run') as dry_run, "
            "(select count(*) from outbox where state in ('pending', 'sending')) as outbox, "
            "(select count(*) from cases where status = 'open') as open_cases"
        )
        return dict(one or {})

    # -- responders: template rotation, advocates, private replies, handoff ---------------------------------------

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """A transaction that takes the write lock at once (``BEGIN IMMEDIATE``, waiting for it up to the busy
        timeout). Every write goes through it: a deferred one may be refused the upgrade, without waiting, when
        another connection (the Discord bot, a second daemon, the CLI) wrote since it began reading."""
        if self.db.conn.in_transaction:
            with self.db.atomic():  # nested: a savepoint
                yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.conn.in_transaction:
                self.db.conn.rollback()
            raise

    def template_last_used(self, template: str) -> int | None:
        """The id of the latest draft written from ``template`` (a variant's key), for rotation; None if never."""
        row = self._one("select max(id) as last from drafts where template = ?", [template])
        return row["last"] if row else None

    def mark_advocate(self, platform: str, handle: str) -> None:
        """Note a person as an advocate (doctrine §5: the last stage of attachment)."""
        with self.write_transaction():
            self.db.execute(
                "update people set stage = 'advocacy' where platform = ? and handle = ?", [platform, handle]
            )

    def awaiting_private_answers(self, platform: str) -> bool:
        """Whether any open case on ``platform`` has been contacted in private (an answer may come there)."""
        return bool(
            self._one(
                "select 1 as x from cases where platform = ? and status = 'open' and contacted_at is not null limit 1",
                [platform],
            )
        )

    def open_case_of(self, platform: str, handle: str) -> Case | None:
        """The newest open case of a customer we have contacted in private (to attach their replies to)."""
        row = self._one(
            "select * from cases where platform = ? and lower(author_handle) = lower(?) and status = 'open' "
            "and contacted_at is not null order by id desc limit 1",
            [platform, handle],
        )
        return case_from_row(row) if row else None

    def handoff_conversion(
        self, *, since: datetime | None = None, until: datetime | None = None
    ) -> dict[str, dict[str, int]]:
        """Per platform: cases opened, contacted in private, and those where the customer replied in private."""
        rows = self._rows(
            "select platform, count(*) as cases, count(contacted_at) as contacted, "
            "sum(contacted_at is not null and customer_replied_at is not null) as replied from cases "
            "where opened_at >= coalesce(?, '') and opened_at < coalesce(?, '9999') group by platform "
            "order by platform",
            [iso(since), iso(until)],
        )
        return {r.pop("platform"): r for r in rows}

    # --- casebackends additions ----------------------------------------------------------------------------------

    def case_address(self, case_id: int) -> str | None:
        """The customer's email address known for a case (the one its mail may come from), if any."""
        row = self._one("select address from case_mail_addresses where case_id = ?", [case_id])
        return row["address"] if row else None

    def set_case_address(self, case_id: int, address: str, *, now: datetime) -> None:
        """Remember ``address`` as the customer's for the case."""
        with self.write_transaction():
            self.db["case_mail_addresses"].upsert(
                {"case_id": case_id, "address": address.strip().lower(), "at": iso(now)}, pk="case_id"
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
            cursor = self.db.execute(
                "insert or ignore into case_mail (message_id, case_id, direction, state, sender, recipient, at, "
                "raw, idempotency_key) values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [message_id, case_id, direction, state, sender, recipient, iso(at), raw, idempotency_key],
            )
            return cursor.rowcount == 1

    def queued_mail(self) -> list[dict[str, Any]]:
        """Our case mails not sent yet, oldest first."""
        return self._rows("select * from case_mail where state = 'queued' order by at, rowid")

    def settle_mail(self, message_id: str, *, state: str, at: datetime) -> None:
        """Mark one of our queued mails sent (or recorded in a dry run)."""
        with self.write_transaction():
            self.db.execute(
                "update case_mail set state = ?, at = ? where message_id = ?", [state, iso(at), message_id]
            )

    def case_mails(self, case_id: int) -> list[dict[str, Any]]:
        """A case's mails (without their text), oldest first."""
        return self._rows(
            "select message_id, direction, state, sender, recipient, at from case_mail where case_id = ? "
            "order by at, rowid",
            [case_id],
        )

    def case_mirror(self, case_id: int) -> dict[str, Any] | None:
        """The helpdesk ticket a case is mirrored to (backend, remote_id, link, state, owner, last_article)."""
        return self._one("select * from case_mirrors where case_id = ?", [case_id])

    def cases_without_mirror(self, backend: str) -> list[Case]:
        """The open cases not yet mirrored to ``backend``, oldest first."""
        rows = self._rows(
            "select * from cases where status = 'open' and id not in "
            "(select case_id from case_mirrors where backend = ?) order by id",
            [backend],
        )
        return [case_from_row(r) for r in rows]

    def mirrored_cases(self, backend: str) -> list[tuple[Case, dict[str, Any]]]:
        """Each case mirrored to ``backend`` whose ticket is still to be followed, with its mirror row."""
        rows = self._rows(
            "select c.*, m.remote_id as m_remote_id, m.link as m_link, m.state as m_state, m.owner as m_owner, "
            "m.last_article as m_last_article from cases c join case_mirrors m on m.case_id = c.id "
            "where m.backend = ? and (c.status = 'open' or m.state not in ('closed', 'merged')) order by c.id",
            [backend],
        )
        out = []
        for row in rows:
            mirror = {k[2:]: row.pop(k) for k in list(row) if k.startswith("m_")}
            out.append((case_from_row(row), mirror))
        return out

    def set_case_mirror(self, case_id: int, *, backend: str, now: datetime, **fields: Any) -> None:
        """Record (or update) where a case is mirrored: ``remote_id``, ``link``, ``state``, ``owner``,
        ``last_article``."""
        with self.write_transaction():
            self.db["case_mirrors"].upsert(
                {"case_id": case_id, "backend": backend, "at": iso(now), **fields}, pk="case_id"
            )


def mention_row(
    mention: Mention, fetched_at: str | None, *, own: bool = False, triage: Triage | None = None
) -> dict[str, Any]:
    return {
        "platform": mention.platform,
        "id": mention.id,
        "url": mention.url,
        "author_handle": mention.author.handle,
        "author_name": mention.author.display_name,
        "author_id": mention.author.id,
        "text": mention.text,
        "created_at": iso(mention.created_at),
        "fetched_at": fetched_at,
        "kind": mention.kind,
        "rating": mention.rating,
        "parent_id": mention.parent_id,
        "thread_id": mention.thread_id,
        "lang": (triage.lang or mention.lang) if triage else mention.lang,
        "own": int(own),
        "intent": triage.intent if triage else None,
        "urgency": triage.urgency if triage else None,
        "sentiment": triage.sentiment if triage else None,
        "raw": bounded_json(mention.raw),
        "unanswerable": mention.unanswerable,
        "edited": int(mention.edited),
    }


def triage_row(mention: Mention, triage: Triage, decided_at: str | None) -> tuple[Any, ...]:
    return (
        mention.platform,
        mention.id,
        triage.intent,
        triage.urgency,
        triage.sentiment,
        triage.complaint_score,
        json.dumps(triage.scores),
        json.dumps(list(triage.reasons)),
        triage.lang,
        int(triage.needs_human),
        triage.model_version,
        decided_at,
    )


def mention_from_row(row: dict[str, Any]) -> Mention:
    return Mention(
        platform=row["platform"],
        id=row["id"],
        url=row["url"] or "",
        author=Author(row["author_handle"] or "", row["author_name"] or "", row["author_id"] or ""),
        text=row["text"],
        created_at=parse_time(row["created_at"]),
        kind=row["kind"] or "post",
        rating=row["rating"],
        parent_id=row["parent_id"],
        thread_id=row["thread_id"],
        lang=row["lang"],
        raw=json.loads(row["raw"] or "{}"),
        unanswerable=row.get("unanswerable"),
        edited=bool(row.get("edited")),
    )


def draft_from_row(row: dict[str, Any]) -> Draft:
    return Draft(
        id=row["id"],
        platform=row["platform"],
        mention_id=row["mention_id"],
        intent=row["intent"],
        text=row["text"],
        state=row["state"],
        created_at=parse_time(row["created_at"]),
        updated_at=parse_time(row["updated_at"]),
        template=row["template"] or "",
        route=row["route"] or "reply",
        findings=tuple(json.loads(row["findings"] or "[]")),
        problems=tuple(json.loads(row["problems"] or "[]")),
        decided_by=row["decided_by"],
        reason=row["reason"],
        posted_id=row["posted_id"],
        error=row["error"],
        case_id=row["case_id"],
        notes=tuple(json.loads(row.get("notes") or "[]")),
    )


def case_from_row(row: dict[str, Any]) -> Case:
    times = {
        "opened_at",
        "due_at",
        "acknowledged_at",
        "contacted_at",
        "customer_replied_at",
        "resolved_at",
        "next_follow_up_at",
        "action_due",
    }
    fields = Case.__dataclass_fields__
    return Case(**{k: parse_time(v) if k in times else v for k, v in row.items() if k in fields})


def as_dict(record: Any) -> dict[str, Any]:
    """A dataclass record as JSON-able dict (for ``--json`` output)."""
    return json.loads(json.dumps(asdict(record), default=str))
