"""The managers' Discord: a card per draft whose buttons call ``bot.decisions``, a thread per case, commands.

The client runs in a thread of its own (``connection``); the daemon hands it pipeline events with ``on_event``
(thread-safe). What a card shows is ``cards``; its buttons and forms are ``ui``; the commands are ``commands``.
"""

from __future__ import annotations

import asyncio
import io
import logging
import random
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import discord
from discord import app_commands

from bot import decisions
from bot.clock import Clock
from bot.models import Draft
from responders.discord import commands, ui
from responders.discord.cards import (
    by_hand,
    card_actions,
    card_context,
    card_embed,
    decision_line,
    local,
)
from responders.discord.connection import Connection
from responders.discord.markup import cut, link, quote

log = logging.getLogger(__name__)

NONE = discord.AllowedMentions.none()
THREAD_TEXT = 1800  # of a customer's private answer, in the case thread


class _Tree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        interaction.client.approval.busy()  # type: ignore[attr-defined]
        return True


class _Client(discord.Client):
    def __init__(self, approval: ApprovalBot):
        super().__init__(intents=discord.Intents.default())
        self.approval = approval
        self.tree = _Tree(self)
        self.was_ready = False

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ui.ActionButton)
        commands.register(self.approval, self.tree)
        await self.tree.sync(guild=discord.Object(self.approval.guild_id))

    async def on_ready(self) -> None:
        self.was_ready = True
        await self.approval.connected()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.modal_submit:
            await self.approval.submitted(interaction)


class ApprovalBot(Connection):
    """The Discord side of mentionbot for one guild and one managers' channel."""

    def __init__(
        self,
        *,
        store_path: str | Path,
        token: str,
        guild_id: int,
        channel_id: int,
        manager_roles: Iterable[str],
        open_read_commands: bool = False,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        post: Callable[[], Any] | None = None,
        api_base: str | None = None,
        gateway_url: str | None = None,
        config: Any = None,
    ):
        super().__init__(
            store_path=store_path,
            token=token,
            clock=clock,
            rng=rng,
            api_base=api_base,
            gateway_url=gateway_url,
        )
        self.config = config
        self.guild_id = int(guild_id)
        self.channel_id = int(channel_id)
        self.manager_roles = tuple(manager_roles)
        self.open_read_commands = open_read_commands
        self.post = post
        self.tz = ZoneInfo(config.brand.timezone if config else "UTC")
        self._paused_told: set[str] = set()

    @classmethod
    def from_config(cls, config: Any, *, clock: Clock | None = None, post: Callable[[], Any] | None = None):
        """The bot the ``[discord]`` table describes, for the store of ``config``."""
        d = config.discord
        return cls(
            store_path=config.store_location(),
            token=d.token.value() if d.token else "",
            guild_id=d.guild_id,
            channel_id=d.channel_id,
            manager_roles=d.manager_roles,
            open_read_commands=d.open_read_commands,
            clock=clock,
            post=post,
            api_base=d.api_base or None,
            gateway_url=d.gateway_url or None,
            config=config,
        )

    def start(self) -> ApprovalBot:
        """Connect in a thread of its own, and keep connecting for as long as it runs."""
        super().start()
        return self

    def make_client(self) -> discord.Client:
        return _Client(self)

    async def connected(self) -> None:
        """Once (re)connected: say so in the store, post the cards missed meanwhile, bring the others up to date."""
        self.record("connected")
        await self.catch_up()

    async def every_while(self) -> None:
        if self.ready.is_set():
            await self.sync_cards()  # decisions made in a terminal show on their cards within seconds

    # -- pipeline events --------------------------------------------------------------------------------------

    def on_event(self, kind: str, **data: Any) -> None:
        """A pipeline event (thread-safe): new drafts get a card, posts update it, nudges and private answers go
        to the case thread."""
        handler = {
            "drafted": self._drafted,
            "posted": self._posted,
            "nudge": self._nudge,
            "customer_replied": self._customer_replied,
            "connector_paused": self._connector_paused,
            "report": self._report,
        }.get(kind)
        if handler and self.ready.is_set():
            # Not connected: catch_up posts the missing cards on (re)connect, sync_cards updates the others.
            self.soon(f"discord event {kind}", lambda: handler(**data))

    async def _drafted(self, draft: Draft, **_: Any) -> None:
        if draft.state == "awaiting":
            await self.post_card(draft)

    async def _posted(self, sent: Any, **_: Any) -> None:
        assert self.store
        draft = self.store.draft_for(sent.platform, sent.mention_id)
        if not draft or sent.kind != "reply":
            return
        if sent.state == "dry_run":
            outcome = ""  # the card's decision line says "dry run: not posted"
        elif sent.posted_id:
            outcome = self.posted_outcome(sent.platform, sent.mention_id, sent.posted_id)
        else:
            outcome = f"not posted: {quote(sent.error or sent.state)}"
        await self.update_card(draft.id, outcome, tell_case=True)

    async def _nudge(self, nudge: Any, **_: Any) -> None:
        text = f"{nudge.kind.replace('_', ' ')}: {nudge.text}"
        await self.tell_case(nudge.case.id, quote(text), fallback=f"case {nudge.case.ref}: ")

    async def _customer_replied(self, case: Any, mention: Any, **_: Any) -> None:
        who = mention.author.display_name or mention.author.handle
        text = f"{quote(who)} answered in private ({local(mention.created_at, self.tz)}):\n> " + quote(
            cut(mention.text, THREAD_TEXT), lines=True
        ).replace("\n", "\n> ")
        await self.tell_case(case.id, text, fallback=f"case {case.ref}: ")

    async def _connector_paused(self, connector: str, error: str, **_: Any) -> None:
        if connector in self._paused_told:
            return
        self._paused_told.add(connector)
        await self.channel.send(quote(f"Connector {connector} is paused: {error}"), allowed_mentions=NONE)

    async def _report(self, report: Any, paths: Any = (), charts: Any = None, **_: Any) -> None:
        png = (charts or {}).get("trend")
        await self.channel.send(**self.report_message(report, png), allowed_mentions=NONE)

    def report_message(self, report: Any, png: bytes | None) -> dict[str, Any]:
        """The weekly report as a message: a short summary and the trend chart (PNG)."""
        intents = ", ".join(f"{k} {v}" for k, v in sorted(report.intents.items()))
        text = f"Weekly report {report.week.label} for {quote(report.brand)}: {intents or 'no mentions'}"
        files = [discord.File(io.BytesIO(png), filename="trend.png")] if png else []
        return {"content": text, "files": files}

    def credential_warnings(self) -> list[str]:
        """A line for each connector whose credentials must be renewed soon (as connector health warns)."""
        from bot import report as weekly
        from bot.config import ReportSettings

        assert self.store
        settings = self.config.report if self.config else ReportSettings()
        out = []
        for name, expiry in self.store.credential_expiries().items():
            note = weekly.credentials(
                expiry, now=self.clock.now(), tz=self.tz, warn_days=settings.credentials_warn_days
            )
            if note.warn:
                out.append(f"{name}: renew credentials: {note.text}")
        return out

    # -- cards ------------------------------------------------------------------------------------------------

    @property
    def channel(self) -> discord.abc.Messageable:
        assert self.client
        return self.client.get_channel(self.channel_id) or self.client.get_partial_messageable(
            self.channel_id
        )

    async def catch_up(self) -> None:
        """Post a card for every draft still awaiting a decision that has none (nothing is lost while down)."""
        assert self.store
        for draft in self.store.drafts_without_card():
            await self.post_card(draft)
        await self.sync_cards()
        self.ready.set()

    def card(self, draft: Draft, outcome: str = "") -> tuple[discord.Embed, discord.ui.View | None]:
        """The embed and the buttons of a draft's card as it stands."""
        assert self.store
        ctx = card_context(
            self.store, draft, now=self.clock.now(), tz=self.tz, outcome=outcome, names=self.names(draft)
        )
        return card_embed(ctx), ui.card_view(draft.id, card_actions(ctx), by_hand=by_hand(ctx))

    def names(self, draft: Draft) -> dict[str, str]:
        """Display names of the draft's decider and its case's owner, as Discord last showed them."""
        assert self.store
        case = self.store.case(draft.case_id) if draft.case_id else None
        actors = {draft.decided_by or "", (case.owner if case else None) or ""} - {""}
        return self.store.display_names(actors)

    async def post_card(self, draft: Draft) -> None:
        """Post one draft's card (once)."""
        assert self.store
        async with self._lock:
            if self.store.discord_card(draft.id):
                return
            embed, view = self.card(draft)
            message = await self.channel.send(embed=embed, view=view, allowed_mentions=NONE)
            self.store.set_discord_card(draft.id, str(message.id), state=draft.state)
        log.info("discord: card for draft %s posted as message %s", draft.id, message.id)

    async def update_card(self, draft_id: int, outcome: str = "", *, tell_case: bool = False) -> None:
        """Redraw a card after a decision (its buttons go once the draft is decided); with ``tell_case``, say the
        decision in the case's thread too."""
        assert self.store
        message_id = self.store.discord_card(draft_id)
        if not message_id:
            return
        draft = self.store.draft(draft_id)
        # Marked current before the edit is awaited: the periodic sync and a pipeline event that both see the same
        # change redraw the card twice at worst, but say it in the case's thread once.
        changed = draft_id in self.store.stale_discord_cards()
        self.store.set_discord_card(draft_id, message_id, state=draft.state)
        embed, view = self.card(draft, outcome)
        message = self.channel.get_partial_message(int(message_id))  # type: ignore[attr-defined]
        try:
            await message.edit(content=None, embed=embed, view=view, allowed_mentions=NONE)
        except Exception:
            # Stale again: the next sync redraws it.
            self.store.set_discord_card(draft_id, message_id, state="")
            raise
        if tell_case and changed and draft.case_id:
            ctx = card_context(
                self.store, draft, now=self.clock.now(), tz=self.tz, outcome=outcome, names=self.names(draft)
            )
            line = decision_line(ctx)
            if line:
                await self.tell_case(draft.case_id, f"draft #{draft.id}: {line}")

    def posted_outcome(self, platform: str, mention_id: str, posted_id: str) -> str:
        """What the card says of a posted reply: a link to it, or where to see it when the platform has no link to
        one reply (the App Store)."""
        from connectors import REGISTRY, load

        mention = self.store.mention(platform, mention_id) if self.store else None
        if mention is None or platform not in REGISTRY:
            return f"posted as {quote(posted_id)}"
        connector = load(platform)
        url = link(connector.reply_url(mention, posted_id))
        if connector.reply_url_is_exact:
            return f"posted: {url}"
        return f"posted; {quote(platform)} has no link to one reply, it shows under the review on {url}"

    def outcome_of(self, draft: Draft) -> str:
        """The outcome line of a draft decided elsewhere (a terminal), from the store alone."""
        if draft.posted_id:
            return self.posted_outcome(draft.platform, draft.mention_id, draft.posted_id)
        return f"error: {quote(draft.error)}" if draft.error else ""

    async def sync_cards(self) -> int:
        """Update the cards of drafts decided elsewhere (``mentionbot approve`` in a terminal); returns how many."""
        assert self.store
        stale = self.store.stale_discord_cards()
        for draft_id in stale:
            draft = self.store.draft(draft_id)
            await self.update_card(draft_id, self.outcome_of(draft), tell_case=True)
        return len(stale)

    # -- case threads -----------------------------------------------------------------------------------------

    async def case_thread(self, case_id: int) -> discord.abc.Messageable | None:
        """The case's thread, started on its draft's card the first time; None while the case has no card."""
        assert self.store and self.client
        # Under the cards' lock: a nudge that comes while its card is being posted waits for the card, and two
        # nudges for one case start one thread.
        async with self._lock:
            thread_id = self.store.discord_thread(case_id)
            if thread_id:
                return self.client.get_partial_messageable(int(thread_id))
            case = self.store.case(case_id)
            draft = self.store.draft_for(case.platform, case.mention_id)
            message_id = self.store.discord_card(draft.id) if draft else None
            if not message_id:
                return None
            message = self.channel.get_partial_message(int(message_id))  # type: ignore[attr-defined]
            thread = await message.create_thread(name=f"case {case.ref}")
            self.store.set_discord_thread(case_id, str(thread.id))
            return thread

    async def tell_case(self, case_id: int, text: str, *, fallback: str = "") -> None:
        """Say ``text`` (Discord-ready) in the case's thread; a case without a card yet has it said in the channel
        with ``fallback`` before it, when given (a reminder is said rather than not at all)."""
        thread = await self.case_thread(case_id)
        if thread is None:
            if not fallback:
                return
            thread, text = self.channel, fallback + text
        await thread.send(cut(text, 2000), allowed_mentions=NONE)

    # -- decisions --------------------------------------------------------------------------------------------

    def may_act(self, user: discord.abc.User) -> bool:
        """Whether this member holds a manager role."""
        roles = [r.name for r in getattr(user, "roles", [])]
        return decisions.may_act(roles, self.manager_roles)

    async def act(self, interaction: discord.Interaction, action: str, draft_id: int) -> None:
        """A button click: check the role, then call the same decision the CLI calls."""
        assert self.store
        self.busy()
        if not await self._allowed(interaction):
            return
        if action in ui.FORMS:
            default = self.store.draft(draft_id).text if action == "edit" else ""
            await interaction.response.send_modal(ui.form(action, draft_id, default=default))
        else:
            await self._decide(interaction, draft_id, action)

    async def submitted(self, interaction: discord.Interaction) -> None:
        """A form's submit (Edit, Reject), routed by its custom_id; a form opened before a restart works alike."""
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        match = ui.FORM_ID.fullmatch(str(data.get("custom_id", "")))
        if not match:
            return
        self.busy()
        if not await self._allowed(interaction):
            return
        await self._decide(interaction, int(match["draft"]), match["action"], text=ui.form_value(data))

    async def may_read(self, interaction: discord.Interaction) -> bool:
        """Whether the member may use the read commands (else they are told so)."""
        roles = [r.name for r in getattr(interaction.user, "roles", [])]
        if decisions.may_read(roles, self.manager_roles, open_to_all=self.open_read_commands):
            return True
        await interaction.response.send_message("Only community managers can see this.", ephemeral=True)
        return False

    async def _allowed(self, interaction: discord.Interaction) -> bool:
        if self.may_act(interaction.user):
            return True
        await interaction.response.send_message("Only community managers can act on drafts.", ephemeral=True)
        return False

    async def _decide(
        self, interaction: discord.Interaction, draft_id: int, action: str, *, text: str = ""
    ) -> None:
        assert self.store
        user = interaction.user
        actor = f"discord:{user.name}"
        now = self.clock.now()
        try:
            async with self._lock:  # one decision at a time: two clicks on Approve make one post
                brand = self.config.brand if self.config else None
                if action == "approve":
                    decisions.approve(self.store, draft_id, actor=actor, now=now, brand=brand)
                elif action == "edit":
                    decisions.edit(self.store, draft_id, actor=actor, now=now, text=text, brand=brand)
                elif action == "reject":
                    decisions.reject(self.store, draft_id, actor=actor, now=now, reason=text)
                elif action == "relabel":
                    decisions.relabel(self.store, draft_id, actor=actor, now=now, intent="other")
                elif action == "take":
                    decisions.take_draft_case(self.store, draft_id, actor=actor, now=now)
        except decisions.DecisionError as exc:
            await interaction.response.send_message(
                f"Not done: {quote(str(exc))}", ephemeral=True, allowed_mentions=NONE
            )
            return
        if user.display_name != user.name:
            self.store.set_display_name(actor, user.display_name)
        await interaction.response.send_message(f"Done: {action} draft #{draft_id}.", ephemeral=True)
        draft = self.store.draft(draft_id)
        await self.update_card(draft_id, tell_case=action != "take")
        if action == "take" and draft.case_id:
            await self.tell_case(
                draft.case_id, f"Case taken by {quote(user.display_name)} · {local(now, self.tz)}"
            )
        if action in ("approve", "edit"):
            await self.post_approved()

    async def post_approved(self) -> None:
        """Post what is approved now rather than at the daemon's next outbox run, unless posting is paused."""
        if not self.post or self.paused():
            return
        try:
            await asyncio.get_running_loop().run_in_executor(None, self.post)
        except Exception:
            log.exception("discord: posting the approved replies failed; the outbox will retry")

    def paused(self) -> bool:
        """Whether all posting is paused (``/pause``)."""
        assert self.store
        return bool(self.store.posting_paused())

    async def set_paused(self, interaction: discord.Interaction, paused: bool) -> None:
        """``/pause`` and ``/resume``: managers only; a resume posts what was approved meanwhile."""
        assert self.store
        if not self.may_act(interaction.user):
            await interaction.response.send_message("Only community managers can do that.", ephemeral=True)
            return
        self.store.set_posting_paused(f"by {interaction.user.name} in Discord" if paused else None)
        word = "paused" if paused else "resumed"
        log.info("discord: posting %s by %s", word, interaction.user.name)
        await interaction.response.send_message(f"Posting {word} by {interaction.user.name}.")
        if not paused:
            await self.post_approved()  # what was approved during the pause goes out now
