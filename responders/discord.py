"""The managers' Discord: a card per draft with buttons that call ``bot.decisions``, threads per case, commands.

The discord.py client runs in a thread of its own with its own event loop; the daemon hands it pipeline events with
``on_event`` (thread-safe). Buttons are ``DynamicItem``s carrying the draft id, and the Edit and Reject forms are
routed by their custom_id (which carries it too), so a card or a form opened before a restart still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

import discord
import yarl
from discord import app_commands

from bot import decisions
from bot.child import in_child_process
from bot.clock import Clock, SystemClock
from bot.escape import visible
from bot.models import Draft
from bot.store import Store, iso
from connectors import rules_for
from responders import guard, tone

log = logging.getLogger(__name__)

SYNC_SECONDS = 5  # how soon a decision made in a terminal shows on its card

ACTIONS = {
    "approve": ("Approve & post", discord.ButtonStyle.success),
    "edit": ("Edit", discord.ButtonStyle.primary),
    "reject": ("Reject", discord.ButtonStyle.danger),
    "relabel": ("Not a complaint", discord.ButtonStyle.secondary),
    "take": ("Take case", discord.ButtonStyle.secondary),
}

FORMS = {"edit": ("Edit draft #{}", "Reply"), "reject": ("Reject draft #{}", "Reason")}
FORM_ID = re.compile(r"mb-(?P<action>edit|reject):(?P<draft>\d+)")
FIELD = "text"  # the custom_id of a form's one text input


def point_at(*, api_base: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another Discord (the loopback fake); process-wide, as discord.py keeps these globally."""
    if api_base:
        discord.http.Route.BASE = api_base
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


# Every character Discord's Markdown acts on: emphasis, code, spoilers, quotes, headings and subtext, lists,
# masked links ("[" and "]"), and "<" which opens user, role, channel, emoji, timestamp and command mentions.
_MARKDOWN = re.compile(r"[\\*_~|`>#\-\[\]<]")
_PINGS = re.compile(r"@(?=everyone|here|[!&]?\d)", re.I)
# A link Discord shows as what it is, inside "<…>" (which also keeps it from unfurling): http(s), no markup.
_PLAIN_LINK = re.compile(r"https?://[^\s<>()\[\]`|\\\"']+")


def quote(text: str, *, lines: bool = False) -> str:
    """Outside text made inert for Discord: no Markdown, no mention or ping, no link in disguise, nothing invisible;
    one line unless ``lines`` (a post's text)."""
    text = _MARKDOWN.sub(lambda m: "\\" + m.group(0), visible(str(text), lines=lines))
    return _PINGS.sub("@\u200b", text)


def link(url: str) -> str:
    """A URL from outside as a card shows it: a plain web link in ``<…>``, anything else as inert text."""
    return f"<{url}>" if _PLAIN_LINK.fullmatch(url) else quote(url)


def card_text(store: Store, draft: Draft, *, now: datetime, decision: str = "") -> str:
    """The card of one draft: the post, its triage, the reply, the tone guard, the platform's rules, the SLA."""
    mention = store.mention(draft.platform, draft.mention_id)
    triage = store.triage_for(draft.platform, draft.mention_id)
    lines = [
        f"**{quote(draft.platform)}** · draft #{draft.id} · {link(mention.url)}",
        f"From: {quote(mention.author.display_name or mention.author.handle)} (@{quote(mention.author.handle)})",
        "> " + quote(mention.text[:600], lines=True).replace("\n", "\n> "),
    ]
    if triage:
        scores = ", ".join(f"{k} {v:.2f}" for k, v in sorted(triage.scores.items()))
        lines.append(
            f"Triage: {triage.intent}, urgency {triage.urgency}, complaint {triage.complaint_score:.2f}"
            + (f" ({scores})" if scores else "")
        )
        if triage.reasons:
            lines.append("Why: " + quote("; ".join(triage.reasons)))
    lines.append("Reply:\n```\n" + visible(draft.text).replace("```", "'''") + "\n```")
    findings = tone.check(draft.text, ignore=(guard.greeting(mention.author).name,))
    lines.append("Tone guard: " + ("; ".join(quote(str(f)) for f in findings) if findings else "clean"))
    lines += [f"Note: {quote(note)}" for note in draft.notes]
    lines += [f"Problem: {quote(problem)}" for problem in draft.problems]
    rules = rules_for(draft.platform)
    if draft.route == "manual" or not rules.can_reply:
        lines.append("Platform: reply by hand (the bot cannot post here)")
    elif rules.max_length:
        lines.append(f"Platform: {rules.max_length - len(draft.text)} {rules.length_unit} left")
    case = store.case_for(draft.platform, draft.mention_id)
    if case and case.due_at:
        minutes = int((case.due_at - now).total_seconds() // 60)
        lines.append(
            (f"SLA: case {case.ref} due in {minutes} min" if minutes >= 0 else f"SLA: {-minutes} min overdue")
            + (f", owner {quote(case.owner)}" if case.owner else "")
        )
    if decision:
        lines.append(decision)
    return "\n".join(lines)[:2000]


class ActionButton(
    discord.ui.DynamicItem[discord.ui.Button],
    template=r"mb:(?P<action>approve|edit|reject|relabel|take):(?P<draft>\d+)",
):
    """One of a card's buttons; the custom_id carries the action and the draft id."""

    def __init__(self, action: str, draft_id: int):
        label, style = ACTIONS[action]
        super().__init__(discord.ui.Button(label=label, style=style, custom_id=f"mb:{action}:{draft_id}"))
        self.action = action
        self.draft_id = draft_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ):
        return cls(match["action"], int(match["draft"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        bot: ApprovalBot = interaction.client.approval  # type: ignore[attr-defined]
        await bot.act(interaction, self.action, self.draft_id)


def card_view(draft_id: int) -> discord.ui.View:
    """The buttons of a card."""
    view = discord.ui.View(timeout=None)
    for action in ACTIONS:
        view.add_item(ActionButton(action, draft_id))
    return view


def form(action: str, draft_id: int, *, default: str = "") -> discord.ui.Modal:
    """The Edit or Reject form of a draft: one long text field; its custom_id carries the action and the draft."""
    title, label = FORMS[action]
    modal = discord.ui.Modal(title=title.format(draft_id), custom_id=f"mb-{action}:{draft_id}", timeout=None)
    modal.add_item(
        discord.ui.TextInput(
            label=label,
            custom_id=FIELD,
            default=default or None,
            style=discord.TextStyle.long,
            max_length=4000,
        )
    )
    # The submit is routed by custom_id (ApprovalBot.submitted), never by this object, so that a form opened before
    # a restart is handled like any other; a finished modal is not kept in discord.py's view store.
    modal.stop()
    return modal


def form_value(data: dict[str, Any], custom_id: str = FIELD) -> str:
    """The value of one text input in a modal submit's ``data`` (inside action rows or labels)."""
    pending = list(data.get("components") or [])
    while pending:
        component = pending.pop(0)
        if component.get("custom_id") == custom_id and "value" in component:
            return str(component["value"])
        pending.extend(component.get("components") or [])
        if component.get("component"):
            pending.append(component["component"])
    return ""


class _Tree(app_commands.CommandTree):
    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        interaction.client.approval.busy()  # type: ignore[attr-defined]
        return True


class _Client(discord.Client):
    def __init__(self, approval: ApprovalBot):
        super().__init__(intents=discord.Intents.default())
        self.approval = approval
        self.tree = _Tree(self)

    async def setup_hook(self) -> None:
        self.add_dynamic_items(ActionButton)
        self.approval.commands(self.tree)
        await self.tree.sync(guild=discord.Object(self.approval.guild_id))

    async def on_ready(self) -> None:
        await self.approval.catch_up()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        if interaction.type is discord.InteractionType.modal_submit:
            await self.approval.submitted(interaction)


class ApprovalBot:
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
        post: Callable[[], Any] | None = None,
        api_base: str | None = None,
        gateway_url: str | None = None,
        config: Any = None,
    ):
        self.config = config
        self.store_path = store_path
        self.token = token
        self.guild_id = int(guild_id)
        self.channel_id = int(channel_id)
        self.manager_roles = tuple(manager_roles)
        self.open_read_commands = open_read_commands
        self.clock = clock or SystemClock()
        self.post = post
        point_at(api_base=api_base, gateway_url=gateway_url)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: _Client | None = None
        self.store: Store | None = None
        self.ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = asyncio.Lock()
        self._paused_told: set[str] = set()
        self._syncer: asyncio.Task | None = None
        self._work: set[asyncio.Task] = set()  # decisions, their posts and card updates in progress
        self._closing = False

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

    # -- life cycle -------------------------------------------------------------------------------------------

    def start(self) -> ApprovalBot:
        """Run the client in a thread with its own event loop (again after ``stop``: a new loop, a new client)."""
        self.loop = asyncio.new_event_loop()
        self._lock, self._closing, self._syncer = asyncio.Lock(), False, None
        self._thread = threading.Thread(target=self._run, name="discord", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        loop = self.loop
        assert loop
        asyncio.set_event_loop(loop)
        self.store = Store.open(self.store_path)
        self.client = _Client(self)
        loop.create_task(self._connect())
        try:
            loop.run_forever()
        finally:
            # What is left after the drain in _shutdown (an interaction that arrived as the connection closed) is
            # cancelled and awaited here, so that no task is destroyed pending and no post outlives the loop.
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            self.store.close()

    async def _connect(self) -> None:
        try:
            await self.client.start(self.token)  # type: ignore[union-attr]
        except Exception:
            log.exception("discord: the client stopped")

    def stop(self, *, timeout: float = 10) -> None:
        """Let the work in progress finish (a decision, its post, its card update), then close the connection and
        the thread."""
        if self.loop and self._thread and self._thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(timeout), self.loop).result(timeout + 10)
            except Exception:
                log.exception("discord: could not stop cleanly")
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread:
            self._thread.join(timeout)

    async def _shutdown(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        if self._syncer:
            self._syncer.cancel()
        await asyncio.sleep(0)  # an interaction already dispatched takes its first step and counts as work
        deadline = loop.time() + timeout
        while self._work:
            left = deadline - loop.time()
            if left <= 0:
                log.warning("discord: stopping with %d task(s) unfinished", len(self._work))
                break
            await asyncio.wait(set(self._work), timeout=left)
        self._closing = True
        self.ready.clear()  # pipeline events are dropped from here on: catch_up and sync_cards cover them
        if self.client:
            await self.client.close()

    def busy(self) -> None:
        """Count the running task as work in progress, which ``stop`` lets finish."""
        task = asyncio.current_task()
        if task is not None:
            self._track(task)

    def _track(self, task: asyncio.Task) -> None:
        if task in self._work:
            return
        self._work.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self._work.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("discord: %s failed", task.get_name(), exc_info=task.exception())

    def call(self, coro) -> Any:
        """Run a coroutine on the client's loop from another thread and wait for its result."""
        assert self.loop
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    def on_event(self, kind: str, **data: Any) -> None:
        """A pipeline event (thread-safe): new drafts get a card, posts update it, nudges go to the case thread."""
        handler = {
            "drafted": self._drafted,
            "posted": self._posted,
            "nudge": self._nudge,
            "connector_paused": self._connector_paused,
            "report": self._report,
        }.get(kind)
        if not (handler and self.loop and self.ready.is_set()):
            return  # catch_up posts the missing cards on (re)connect and sync_cards brings the others up to date
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: same as not connected
            self.loop.call_soon_threadsafe(self._spawn, kind, handler, data)

    def _spawn(self, kind: str, handler: Callable, data: dict[str, Any]) -> None:
        # The coroutine is made here, on the loop, only while it still runs: none is left never awaited.
        if self._closing:
            return
        assert self.loop
        self._track(self.loop.create_task(handler(**data), name=f"discord event {kind}"))

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
        if not self.ready.is_set():
            assert self.loop
            self._syncer = self.loop.create_task(self._keep_cards_current())
        self.ready.set()

    async def post_card(self, draft: Draft) -> None:
        """Post one draft's card (once)."""
        assert self.store
        async with self._lock:
            if self.store.discord_card(draft.id):
                return
            message = await self.channel.send(
                card_text(self.store, draft, now=self.clock.now()),
                view=card_view(draft.id),
                allowed_mentions=discord.AllowedMentions.none(),
            )
            self.store.set_discord_card(draft.id, str(message.id), state=draft.state)
        log.info("discord: card for draft %s posted as message %s", draft.id, message.id)

    async def update_card(self, draft_id: int, decision: str) -> None:
        """Rewrite a card after a decision; buttons go once the draft is no longer awaiting."""
        assert self.store
        message_id = self.store.discord_card(draft_id)
        if not message_id:
            return
        draft = self.store.draft(draft_id)
        view = card_view(draft_id) if draft.state == "awaiting" else None
        message = self.channel.get_partial_message(int(message_id))  # type: ignore[attr-defined]
        await message.edit(
            content=card_text(self.store, draft, now=self.clock.now(), decision=decision),
            view=view,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.store.set_discord_card(draft_id, message_id, state=draft.state)

    def _reply_link(self, platform: str, mention_id: str, posted_id: str) -> str:
        """The public link of our posted reply (the platform's page where it shows)."""
        from connectors import REGISTRY, load

        mention = self.store.mention(platform, mention_id) if self.store else None
        if mention is None or platform not in REGISTRY:
            return quote(posted_id)
        return link(load(platform).reply_url(mention, posted_id))

    async def sync_cards(self) -> int:
        """Update the cards of drafts decided elsewhere (``mentionbot approve`` in a terminal); returns how many."""
        assert self.store
        stale = self.store.stale_discord_cards()
        for draft_id in stale:
            draft = self.store.draft(draft_id)
            outcome = (
                f"; posted: {self._reply_link(draft.platform, draft.mention_id, draft.posted_id)}"
                if draft.posted_id
                else ""
            )
            outcome += f"; error: {quote(draft.error)}" if draft.error else ""
            await self.update_card(draft_id, _decided(draft) + outcome)
        return len(stale)

    async def _keep_cards_current(self) -> None:
        while True:
            await asyncio.sleep(SYNC_SECONDS)
            try:
                await self.sync_cards()
            except Exception:
                log.exception("discord: could not update the cards")

    async def _drafted(self, draft: Draft, **_: Any) -> None:
        if draft.state == "awaiting":
            await self.post_card(draft)

    async def _posted(self, sent: Any, **_: Any) -> None:
        assert self.store
        draft = self.store.draft_for(sent.platform, sent.mention_id)
        if not draft or sent.kind != "reply":
            return
        if sent.state == "dry_run":
            outcome = "dry run: not posted (dry_run is on)"
        elif sent.posted_id:
            outcome = f"posted: {self._reply_link(sent.platform, sent.mention_id, sent.posted_id)}"
        else:
            outcome = f"not posted: {quote(sent.error or sent.state)}"
        await self.update_card(draft.id, f"{_decided(draft)}; {outcome}")

    async def _nudge(self, nudge: Any, **_: Any) -> None:
        thread = await self.case_thread(nudge.case.id)
        text = f"{nudge.kind.replace('_', ' ')}: {nudge.text}"
        if thread is None:  # a case without a card (yet): said in the channel rather than not at all
            thread, text = self.channel, f"case {nudge.case.ref}: {text}"
        await thread.send(quote(text), allowed_mentions=discord.AllowedMentions.none())

    async def _connector_paused(self, connector: str, error: str, **_: Any) -> None:
        if connector in self._paused_told:
            return
        self._paused_told.add(connector)
        await self.channel.send(
            quote(f"Connector {connector} is paused: {error}"),
            allowed_mentions=discord.AllowedMentions.none(),
        )

    async def _report(self, report: Any, paths: Any = (), charts: Any = None, **_: Any) -> None:
        png = (charts or {}).get("trend")
        await self.channel.send(
            **self.report_message(report, png), allowed_mentions=discord.AllowedMentions.none()
        )

    def report_message(self, report: Any, png: bytes | None) -> dict[str, Any]:
        """The weekly report as a message: a short summary and the trend chart (PNG)."""
        intents = ", ".join(f"{k} {v}" for k, v in sorted(report.intents.items()))
        text = f"Weekly report {report.week.label} for {quote(report.brand)}: {intents or 'no mentions'}"
        files = [discord.File(io.BytesIO(png), filename="trend.png")] if png else []
        return {"content": text, "files": files}

    def credential_warnings(self) -> list[str]:
        """A line for each connector whose credentials must be renewed soon (as connector health warns)."""
        from zoneinfo import ZoneInfo

        from bot import report as weekly
        from bot.config import ReportSettings

        assert self.store
        settings = self.config.report if self.config else ReportSettings()
        tz = ZoneInfo(self.config.brand.timezone if self.config else "UTC")
        out = []
        for name, expiry in self.store.credential_expiries().items():
            note = weekly.credentials(
                expiry, now=self.clock.now(), tz=tz, warn_days=settings.credentials_warn_days
            )
            if note.warn:
                out.append(f"{name}: renew credentials: {note.text}")
        return out

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
        if action in FORMS:
            default = self.store.draft(draft_id).text if action == "edit" else ""
            await interaction.response.send_modal(form(action, draft_id, default=default))
        else:
            await self._decide(interaction, draft_id, action)

    async def submitted(self, interaction: discord.Interaction) -> None:
        """A form's submit (Edit, Reject), routed by its custom_id; a form opened before a restart works alike."""
        data: dict[str, Any] = interaction.data or {}  # type: ignore[assignment]
        match = FORM_ID.fullmatch(str(data.get("custom_id", "")))
        if not match:
            return
        self.busy()
        if not await self._allowed(interaction):
            return
        await self._decide(interaction, int(match["draft"]), match["action"], text=form_value(data))

    async def _may_read(self, interaction: discord.Interaction) -> bool:
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
        actor = f"discord:{interaction.user.name}"
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
                f"Not done: {quote(str(exc))}",
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            return
        draft = self.store.draft(draft_id)
        line = (
            f"{_decided(draft)}" if action != "take" else f"Case taken by {actor} at {now:%Y-%m-%d %H:%M} UTC"
        )
        await interaction.response.send_message(f"Done: {action} draft #{draft_id}.", ephemeral=True)
        await self.update_card(draft_id, line)
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

    # -- slash commands ---------------------------------------------------------------------------------------

    def commands(self, tree: app_commands.CommandTree) -> None:
        """Register /queue, /case, /status, /report (managers only unless ``open_read_commands``), /pause and
        /resume for the guild."""
        guild = discord.Object(self.guild_id)

        @tree.command(name="queue", description="Drafts awaiting a decision", guild=guild)
        async def queue(interaction: discord.Interaction) -> None:
            assert self.store
            if not await self._may_read(interaction):
                return
            drafts = self.store.drafts("awaiting")
            text = "\n".join(
                f"#{d.id} {quote(d.platform)} {d.intent}: {quote(d.text[:80])}" for d in drafts[:20]
            )
            await interaction.response.send_message(
                text or "Nothing awaits a decision.",
                ephemeral=True,
                allowed_mentions=discord.AllowedMentions.none(),
            )

        @tree.command(name="case", description="One case and its history", guild=guild)
        async def case(interaction: discord.Interaction, ref: str) -> None:
            assert self.store
            if not await self._may_read(interaction):
                return
            try:
                c = self.store.case_by_ref(ref.upper())
            except Exception:
                await interaction.response.send_message(f"No case {quote(ref)}.", ephemeral=True)
                return
            due = f"due {c.due_at:%Y-%m-%d %H:%M} UTC" if c.due_at else "no due time"
            text = (
                f"Case {c.ref} ({c.intent}) on {quote(c.platform)}: {quote(c.author_name or c.author_handle)}, "
                f"owner {quote(c.owner or 'nobody yet')}, {c.status}, {c.stage}, {due}"
            )
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )

        @tree.command(name="status", description="Connectors, queue and cases", guild=guild)
        async def status(interaction: discord.Interaction) -> None:
            assert self.store
            if not await self._may_read(interaction):
                return
            paused = self.store.paused_connectors()
            lines = []
            for run in self.store.last_runs():
                name = run.connector
                result = f"paused: {paused[name]}" if name in paused else run.status
                lines.append(f"{name}: last poll {iso(run.started_at)}, {result}")
            lines += self.credential_warnings()
            counts = self.store.counts()
            lines.append(
                f"queue: {counts.get('awaiting', 0)} awaiting, {counts.get('outbox', 0)} in the outbox; "
                f"cases: {counts.get('open_cases', 0)} open; posting {'paused' if self.paused() else 'on'}"
            )
            await interaction.response.send_message(
                quote("\n".join(lines)), ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
            )

        @tree.command(name="report", description="The latest weekly report", guild=guild)
        async def report(interaction: discord.Interaction) -> None:
            from zoneinfo import ZoneInfo

            from bot import report as weekly

            assert self.store
            if not await self._may_read(interaction):
                return
            if self.config is None:
                await interaction.response.send_message("No configuration to build a report.", ephemeral=True)
                return
            await interaction.response.defer(ephemeral=True)
            now = self.clock.now()
            week = weekly.last_complete_week(now, ZoneInfo(self.config.brand.timezone))
            path = self.store.location
            if path is None:  # an in-memory store (tests)
                built = weekly.build(self.store, self.config, week=week, now=now)
                png = weekly.charts(built).get("trend")
            else:  # drawn in a short-lived process, like the daemon's weekly report: no chart stack kept here
                built, png = await asyncio.to_thread(
                    in_child_process, weekly.trend_from_file, path, self.config, week, now
                )
            await interaction.followup.send(**self.report_message(built, png), ephemeral=True)

        @tree.command(name="pause", description="Stop all posting", guild=guild)
        async def pause(interaction: discord.Interaction) -> None:
            await self._set_paused(interaction, True)

        @tree.command(name="resume", description="Restart posting", guild=guild)
        async def resume(interaction: discord.Interaction) -> None:
            await self._set_paused(interaction, False)

    async def _set_paused(self, interaction: discord.Interaction, paused: bool) -> None:
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


def _decided(draft: Draft) -> str:
    when = f"{draft.updated_at:%Y-%m-%d %H:%M} UTC"
    who = quote(draft.decided_by or "")
    if draft.state == "rejected":
        return f"{draft.state.capitalize()} by {who} at {when}: {quote(draft.reason or '')}"
    if draft.state == "dry_run":
        return f"Approved by {who}; dry run: not posted (recorded at {when})"
    return f"{draft.state.capitalize()} by {who} at {when}"
