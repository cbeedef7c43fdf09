"""Leases: what one daemon among several on the same database does until it stops renewing (a connector's
poll, the leader's duties). A dead daemon's leases run out and another takes them over."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.store.base import Base
from bot.store.records import Lease, iso, record


class Leases(Base):
    def take_lease(
        self, name: str, holder: str, *, now: datetime, ttl: timedelta, replacing: str | None = None
    ) -> bool:
        """Take or renew the lease ``name`` for ``ttl``; False while another holder's lease has not run out
        (unless that holder is ``replacing``: one known to be dead)."""
        with self.write_transaction():
            rows = self._execute(
                "insert into leases (name, holder, acquired_at, expires_at) values (?, ?, ?, ?) "
                "on conflict (name) do update set holder = excluded.holder, expires_at = excluded.expires_at, "
                "acquired_at = case when leases.holder = excluded.holder then leases.acquired_at "
                "else excluded.acquired_at end "
                "where leases.holder = excluded.holder or leases.expires_at <= excluded.acquired_at "
                "or leases.holder = ? returning holder",
                [name, holder, iso(now), iso(now + ttl), replacing],
            ).fetchall()
        return bool(rows)

    def release_lease(self, name: str, holder: str) -> None:
        """Give the lease up (a clean stop): another daemon may take it at once."""
        with self.write_transaction():
            self._execute("delete from leases where name = ? and holder = ?", [name, holder])

    def release_leases(self, holder: str) -> None:
        with self.write_transaction():
            self._execute("delete from leases where holder = ?", [holder])

    def leases(self, *, now: datetime | None = None) -> list[Lease]:
        """The leases held (at ``now``: only those that have not run out), by name."""
        sql, params = "select * from leases", []
        if now is not None:
            sql += " where expires_at > ?"
            params.append(iso(now))
        return [record(Lease, r) for r in self._rows(sql + " order by name", params)]
