"""Discord bookkeeping: the card of each draft and the thread of each case, so a restarted bot edits rather
than reposts."""

from __future__ import annotations

from bot.models import Draft
from bot.store.base import Base
from bot.store.records import draft_from_row


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
