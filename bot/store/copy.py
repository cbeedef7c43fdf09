"""Copy a whole store into another (SQLite → PostgreSQL and back), checked by counting every table's rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.errors import StoreError
from bot.store.base import CHUNK, Base

# Every table the migrations create, in an order where each row's references are copied before it.
TABLES = (
    "mentions",
    "cursors",
    "people",
    "triage",
    "cases",
    "case_events",
    "case_mail_addresses",
    "mail_cursors",
    "case_mail",
    "case_mirrors",
    "drafts",
    "audit",
    "outbox",
    "labels",
    "models",
    "runs",
    "discord_cards",
    "discord_threads",
    "discord_names",
    "credentials",
    "quarantine",
    "connector_state",
    "bot_state",
    "leases",
    "quota",
    "private_replies",
    "private_senders",
    "report_mails",
    "report_mail_recipients",
)


class Copying(Base):
    def table_counts(self) -> dict[str, int]:
        """How many rows each table holds."""
        return {t: self._one(f"select count(*) as n from {t}")["n"] for t in TABLES}

    def _table_rows(self, table: str) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
        cursor = self._execute(f"select * from {table}")
        return [d[0] for d in cursor.description], (tuple(row) for row in cursor)

    def _load_rows(self, table: str, columns: list[str], rows: Iterator[tuple[Any, ...]]) -> None:
        if self.pg:
            self.pg.copy_rows(table, columns, rows)
            return
        sql = f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})"
        with self.write_transaction():
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) == CHUNK:
                    self._executemany(sql, batch)
                    batch = []
            self._executemany(sql, batch)

    def copy_into(self, target: Base) -> dict[str, int]:
        """Copy every row of this store into ``target``, which must hold none yet (its installation row aside);
        returns the rows per table, after checking that both stores count the same."""
        if any(n for t, n in target.table_counts().items() if t != "bot_state"):
            raise StoreError("the target store is not empty: copy into a new database")
        for table in TABLES:
            columns, rows = self._table_rows(table)
            with target.write_transaction():
                if table == "bot_state":  # one row, created by the migrations: replaced by the source's
                    target._execute("delete from bot_state")
                target._load_rows(table, columns, rows)
        if target.pg:  # the planner's statistics, for the week-sized ranges the report reads
            target._execute("analyze")
        counts, copied = self.table_counts(), target.table_counts()
        if counts != copied:
            wrong = ", ".join(f"{t}: {counts[t]} → {copied[t]}" for t in TABLES if counts[t] != copied[t])
            raise StoreError(f"the copy does not count the same rows: {wrong}")
        return counts
