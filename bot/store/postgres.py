"""The PostgreSQL engine, through psycopg 3: one connection in autocommit, a transaction per write.

The store's SQL is written once with ``?`` parameters (SQLite's); here they become psycopg's ``%s``. Times stay
ISO text (``collate "C"``, so they sort byte-wise as in SQLite) and the record types are the same.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from connectors.base import Secret


@dataclass(frozen=True)
class Postgres:
    """Where a PostgreSQL store is: its URL (without the password) and the secret holding the password."""

    url: str
    password: Secret | None = None

    def __str__(self) -> str:
        return redacted(self.url)


def redacted(url: str) -> str:
    """``url`` without a password someone may have written into it."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def is_postgres(target: object) -> bool:
    return isinstance(target, Postgres) or str(target).startswith(("postgresql://", "postgres://"))


@lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """SQLite's ``?`` parameters as psycopg's ``%s`` (a literal ``%`` doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresEngine:
    name = "postgresql"
    # PostgreSQL plans a join by its statistics; the report's join order needs no pinning.
    pinned_join = "join"

    def __init__(self, target: Postgres):
        import psycopg

        self.target = target
        password = target.password.value() if target.password else None
        kwargs = {"password": password} if password else {}
        try:
            self.conn = psycopg.connect(target.url, autocommit=True, **kwargs)
        except psycopg.OperationalError as exc:
            from bot.errors import StoreError

            raise StoreError(f"cannot connect to {target}: {' '.join(str(exc).split())}") from None
        # The daemon's threads share the connection (as they share SQLite's): one statement or transaction at once.
        self.lock = threading.RLock()

    def execute(self, sql: str, params: list[Any]) -> Any:
        with self.lock:
            cursor = self.conn.cursor()
            cursor.execute(translate(sql), params)
            return cursor

    def executemany(self, sql: str, rows: list[Any]) -> None:
        with self.lock:
            self.conn.cursor().executemany(translate(sql), rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction (a savepoint when nested); rows it updates stay locked until it ends."""
        with self.lock, self.conn.transaction():
            yield

    def copy_rows(self, table: str, columns: list[str], rows: Any) -> int:
        """Load ``rows`` (tuples in ``columns`` order) with COPY, the bulk path; returns how many."""
        n = 0
        with self.lock, self.conn.transaction(), self.conn.cursor() as cur:
            with cur.copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
                for row in rows:
                    copy.write_row(row)
                    n += 1
            sequence = None
            if "id" in columns:
                (sequence,) = cur.execute("select pg_get_serial_sequence(%s, 'id')", [table]).fetchone()
            if sequence:  # explicit ids: the identity goes on after the highest
                cur.execute(
                    f"select setval(%s, coalesce((select max(id) from {table}), 0) + 1, false)", [sequence]
                )
        return n

    def close(self) -> None:
        self.conn.close()
