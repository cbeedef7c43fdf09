"""Discord bookkeeping: the card of each draft and the thread of each case, so a restarted bot edits rather
than reposts."""

from __future__ import annotations

from collections.abc import Iterable

from bot.models import DiscordState, Draft
from bot.store.base import Base
from bot.store.records import draft_from_row, iso, parse_time


class DiscordBookkeeping(Base):
    def discord_card(self, draft_id: int) -> str | None:
        """The Discord message id of a draft's card, if one was posted."""
        row = self._one("select message_id from discord_cards where draft_id = ?", [draft_id])
        return row["message_id"] if row else None

    def set_discord_card(self, draft_id: int, message_id: str, *, state: str) -> None:
        """Remember the Discord message of a draft's card and the draft state it shows."""
        with self.write_transaction():
            self._execute(
                "insert into discord_cards (draft_id, message_id, state) values (?, ?, ?) on conflict (draft_id) "
                "do update set message_id = excluded.message_id, state = excluded.state",
                [draft_id, message_id, state],
            )

    def stale_discord_cards(self) -> list[int]:
        """Drafts whose card shows an older state (decided on the command line, or posted since)."""
        sql = (
            "select d.id from drafts d join discord_cards c on c.draft_id = d.id "
            "where c.state is distinct from d.state order by d.id"
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
            self._execute(
                "insert into discord_threads (case_id, thread_id) values (?, ?) on conflict (case_id) "
                "do update set thread_id = excluded.thread_id",
                [case_id, thread_id],
            )

    def set_discord_state(self, state: DiscordState) -> None:
        """Record the approval bot's connection to Discord, for ``status`` in another process."""
        with self.write_transaction():
            self._execute(
                "update bot_state set discord_state = ?, discord_since = ?, discord_checked_at = ?, "
                "discord_error = ? where id = 1",
                [state.state, iso(state.since), iso(state.checked_at), state.error],
            )

    def discord_state(self) -> DiscordState | None:
        """The approval bot's connection to Discord as last recorded (None: it never ran)."""
        row = self._one(
            "select discord_state, discord_since, discord_checked_at, discord_error from bot_state where id = 1"
        )
        if not row or not row["discord_state"]:
            return None
        return DiscordState(
            state=row["discord_state"],
            since=parse_time(row["discord_since"]),
            checked_at=parse_time(row["discord_checked_at"]),
            error=row["discord_error"] or "",
        )

    def display_names(self, actors: Iterable[str]) -> dict[str, str]:
        """The Discord display names known for these actors (those without one are left out)."""
        actors = list(actors)
        if not actors:
            return {}
        marks = ", ".join("?" for _ in actors)
        rows = self._rows(f"select actor, display_name from discord_names where actor in ({marks})", actors)
        return {r["actor"]: r["display_name"] for r in rows}

    def set_display_name(self, actor: str, display_name: str) -> None:
        with self.write_transaction():
            self._execute(
                "insert into discord_names (actor, display_name) values (?, ?) on conflict (actor) "
                "do update set display_name = excluded.display_name",
                [actor, display_name],
            )
