"""Connector runs and state (paused, private cursor, credential expiry, quarantined items) and the
installation's own state (posting paused, last weekly report, last retraining)."""

from __future__ import annotations

from datetime import datetime

from bot.models import CredentialExpiry, Quarantined, QuarantinedItem, excerpt
from bot.store.base import Base
from bot.store.records import Run, iso, parse_time, record


class Runs(Base):
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
        with self.write_transaction():
            self._insert(
                "runs",
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
                },
                returning=None,
            )

    def runs(self, connector: str | None = None, limit: int = 50) -> list[Run]:
        if connector:
            rows = self._rows(
                "select * from runs where connector = ? order by id desc limit ?", [connector, limit]
            )
        else:
            rows = self._rows("select * from runs order by id desc limit ?", [limit])
        return [record(Run, r) for r in rows]

    def last_runs(self) -> list[Run]:
        """The latest run of each connector, with the time of its latest successful one."""
        rows = self._rows(
            "select r.*, (select max(started_at) from runs s where s.connector = r.connector and s.status = 'ok') "
            "as last_ok from runs r where r.id in (select max(id) from runs group by connector) order by connector"
        )
        return [record(Run, r) for r in rows]

    def calls_since(self, start: datetime) -> dict[str, int]:
        """API requests per connector since ``start`` (connectors that do not count them are left out)."""
        rows = self._rows(
            "select connector, sum(calls) as calls from runs where started_at >= ? and calls is not null "
            "group by connector",
            [iso(start)],
        )
        return {r["connector"]: int(r["calls"]) for r in rows}

    # -- per connector --------------------------------------------------------------------------------------

    def _set_connector(self, connector: str, column: str, value: str | None, now: datetime | None) -> None:
        with self.write_transaction():
            self._execute(
                f"insert into connector_state (connector, {column}, updated_at) values (?, ?, ?) "
                f"on conflict (connector) do update set {column} = excluded.{column}, "
                "updated_at = excluded.updated_at",
                [connector, value, iso(now)],
            )

    def connector_paused(self, connector: str) -> str | None:
        """Why ``connector`` is paused (the platform's message refusing its credentials), or None."""
        row = self._one("select paused from connector_state where connector = ?", [connector])
        return row["paused"] if row else None

    def set_connector_paused(
        self, connector: str, reason: str | None, *, now: datetime | None = None
    ) -> None:
        """Pause ``connector`` with ``reason`` (None: resume it)."""
        self._set_connector(connector, "paused", reason, now)

    def connector_budget(self, connector: str) -> str | None:
        """What the connector last said of its own budget (YouTube's daily quota), for ``status``."""
        row = self._one("select budget from connector_state where connector = ?", [connector])
        return row["budget"] if row else None

    def set_connector_budget(
        self, connector: str, budget: str | None, *, now: datetime | None = None
    ) -> None:
        self._set_connector(connector, "budget", budget, now)

    def paused_connectors(self) -> dict[str, str]:
        """Connectors paused for refused credentials, with the platform's message."""
        rows = self._rows("select connector, paused from connector_state where paused is not null")
        return {r["connector"]: r["paused"] for r in rows}

    def private_cursor(self, connector: str) -> str | None:
        """Where ``connector``'s reading of private messages got to."""
        row = self._one("select private_cursor from connector_state where connector = ?", [connector])
        return row["private_cursor"] if row else None

    def set_private_cursor(self, connector: str, cursor: str, *, now: datetime | None = None) -> None:
        self._set_connector(connector, "private_cursor", cursor, now)

    def set_credential_expiry(
        self, connector: str, expiry: CredentialExpiry | None, *, now: datetime
    ) -> None:
        """Record when ``connector``'s credential expires (``None``: no expiry known any more)."""
        with self.write_transaction():
            if expiry is None:
                self._execute("delete from credentials where connector = ?", [connector])
                return
            self._execute(
                "insert into credentials (connector, expires_at, what, renews, recorded_at) values (?, ?, ?, ?, ?) "
                "on conflict (connector) do update set expires_at = excluded.expires_at, what = excluded.what, "
                "renews = excluded.renews, recorded_at = excluded.recorded_at",
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

    # -- the installation -----------------------------------------------------------------------------------

    def _state(self, column: str) -> str | int | None:
        row = self._one(f"select {column} from bot_state where id = 1")
        return row[column] if row else None

    def _set_state(self, **values: str | int | None) -> None:
        with self.write_transaction():
            self._execute(
                f"update bot_state set {', '.join(f'{k} = ?' for k in values)} where id = 1",
                list(values.values()),
            )

    def posting_paused(self) -> str | None:
        """Who paused all posting and when, or None while posting is on."""
        return self._state("posting_paused")

    def set_posting_paused(self, reason: str | None) -> None:
        self._set_state(posting_paused=reason)

    def report_last_week(self) -> str | None:
        """The week ("2026-W47") of the last weekly report written."""
        return self._state("report_last_week")

    def set_report_last_week(self, label: str) -> None:
        self._set_state(report_last_week=label)

    def retrained(self) -> tuple[datetime | None, int]:
        """When the complaint model was last retrained, and on how many labels it was last trained."""
        row = self._one("select retrained_at, retrain_labels from bot_state where id = 1") or {}
        return parse_time(row.get("retrained_at")), int(row.get("retrain_labels") or 0)

    def set_retrained(self, at: datetime, *, labels: int | None = None) -> None:
        """Note a retraining at ``at``; ``labels``: how many it trained on (None: it skipped)."""
        if labels is None:
            self._set_state(retrained_at=iso(at))
        else:
            self._set_state(retrained_at=iso(at), retrain_labels=labels)
