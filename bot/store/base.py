"""The connection every group of store methods shares: queries, one-row lookups and write transactions."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from bot.private import private_file, private_folder, tighten
from bot.store.postgres import Postgres, PostgresEngine, is_postgres
from bot.store.schema import apply_postgres, migrations

# Rows per multi-row INSERT and ids per IN (...) list: 19 columns each stays far below SQLite's 32,766 parameters.
CHUNK = 500


class Base:
    """The connection: a SQLite file (WAL, the embedded default) or a PostgreSQL database, migrated at open.

    SQL is written once for both engines: ``?`` parameters, ``on conflict`` upserts, ``returning`` ids,
    ``case when`` instead of summing booleans, ``is distinct from``.
    """

    def __init__(self, db: Database | PostgresEngine):
        self.pg: PostgresEngine | None = db if isinstance(db, PostgresEngine) else None
        self.db: Database = None if self.pg else db  # type: ignore[assignment]
        if self.pg:
            apply_postgres(self.pg)
        else:
            migrations.apply(db)
        # SQLite keeps the order of a CROSS JOIN: the report starts from the week's mentions, not a whole table.
        self.pinned_join = self.pg.pinned_join if self.pg else "cross join"

    @classmethod
    def open(cls, target: str | Path | Postgres):
        """Open (and create or migrate) the store at ``target``: a ``postgresql://`` URL (or ``Postgres``), or a
        SQLite file in WAL mode; the file is 0600 (SQLite gives its WAL and shared-memory files the database's
        mode), a folder it creates 0700."""
        if is_postgres(target):
            return cls(PostgresEngine(target if isinstance(target, Postgres) else Postgres(str(target))))
        path = private_file(private_folder(Path(target).parent) / Path(target).name)
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
    def memory(cls):
        return cls(Database(memory=True))

    def close(self) -> None:
        (self.pg or self.db).close()

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for an in-memory or PostgreSQL store."""
        if self.pg:
            return None
        row = self._one("select file from pragma_database_list where name = 'main'")
        return Path(row["file"]) if row and row["file"] else None

    @property
    def location(self) -> Path | Postgres | None:
        """What ``open`` takes to open this store again (in a child process), or None for an in-memory one."""
        return self.pg.target if self.pg else self.path

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Settings for a backfill of many transactions, restored afterwards; durability is unchanged.

        SQLite copies the WAL back into the database every 1,000 pages by default, and a bulk insert into
        several indexes dirties the same pages again between checkpoints: checkpointing ten times less often
        makes an import's writes about a third cheaper. Each commit is still as durable (``synchronous``
        stays as it is); only the WAL file grows larger meanwhile. PostgreSQL needs no such settings.
        """
        if self.pg:
            yield
            return
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

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        """A transaction that takes the write lock at once (``BEGIN IMMEDIATE``, waiting for it up to the busy
        timeout). Every write goes through it: a deferred one may be refused the upgrade, without waiting, when
        another connection (the Discord bot, a second daemon, the CLI) wrote since it began reading.
        On PostgreSQL: a transaction (a savepoint when nested) whose updated rows stay locked until it ends."""
        if self.pg:
            with self.pg.transaction():
                yield
            return
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

    def _execute(self, sql: str, params: Iterable[Any] = ()) -> Any:
        """Run one statement; the cursor has ``fetchall``, ``rowcount`` and ``description``."""
        if self.pg:
            return self.pg.execute(sql, list(params))
        return self.db.execute(sql, list(params))

    def _executemany(self, sql: str, rows: list[Any]) -> None:
        if not rows:
            return
        if self.pg:
            self.pg.executemany(sql, rows)
        else:
            self.db.conn.executemany(sql, rows)

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        rows = self._rows(sql, params)
        return rows[0] if rows else None

    def _stream(self, sql: str, params: Iterable[Any] = ()) -> Iterator[dict[str, Any]]:
        """The rows of a query one by one, not loaded at once."""
        cursor = self._execute(sql, params)
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def _insert(self, table: str, values: dict[str, Any], *, returning: str | None = "id") -> Any:
        """Insert one row; the value of its ``returning`` column (its new id)."""
        sql = f"insert into {table} ({', '.join(values)}) values ({', '.join('?' * len(values))})"
        if returning is None:
            self._execute(sql, values.values())
            return None
        (row,) = self._execute(f"{sql} returning {returning}", values.values()).fetchall()
        return row[0]
