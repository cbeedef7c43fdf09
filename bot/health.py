"""Whether the daemon is doing its job, as ``mentionbot status --check`` (and a container's health check) asks:
plain functions over the store, so that another process than the daemon can tell."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.config import Config
from bot.models import DiscordState
from bot.store import Store

FAILING_POLLS = 5  # a connector whose last this many polls all failed is failing, not having a bad minute
OUTBOX_STUCK_MINUTES = 30  # a post waiting this long has not been retried away: something holds it
# The approval bot confirms its state every minute (responders.discord.connection.HEARTBEAT_SECONDS).
DISCORD_SILENT_MINUTES = 5


def discord_problem(state: DiscordState | None, *, now: datetime) -> str:
    """Why the approval bot is not connected to Discord now, or "" when it is."""
    if state is None:
        return "Discord: the approval bot has never run (is the daemon running?)"
    if state.state != "connected":
        said = {
            "refused": "Discord refused the bot's token",
            "down": "the approval bot cannot reach Discord",
            "connecting": "the approval bot is connecting to Discord",
            "stopped": "the approval bot is stopped (is the daemon running?)",
        }.get(state.state, state.state)
        minutes = max(0, int((now - state.since).total_seconds() // 60))
        return f"Discord: {said}, for {minutes} min" + (f" ({state.error})" if state.error else "")
    if now - state.checked_at > timedelta(minutes=DISCORD_SILENT_MINUTES):
        minutes = int((now - state.checked_at).total_seconds() // 60)
        return f"Discord: the approval bot has not reported for {minutes} min (is the daemon running?)"
    return ""


def problems(config: Config, store: Store, *, now: datetime, posting_paused: bool = False) -> list[str]:
    """Everything that keeps the daemon from doing its job now, one line each; empty when all is well.
    ``posting_paused``: a manager paused posting (then a waiting outbox is no fault)."""
    out = []
    if config.discord.enabled and (said := discord_problem(store.discord_state(), now=now)):
        out.append(said)
    enabled = set(config.enabled_connectors())
    for name, why in sorted(store.paused_connectors().items()):
        if name in enabled:
            out.append(f"connector {name} is paused: {why}")
    for name, failed in sorted(store.failing_polls().items()):
        if name in enabled and failed >= FAILING_POLLS:
            out.append(f"connector {name}: its last {failed} polls failed")
    oldest = store.oldest_waiting_post()
    if oldest and not posting_paused and now - oldest > timedelta(minutes=OUTBOX_STUCK_MINUTES):
        minutes = int((now - oldest).total_seconds() // 60)
        out.append(f"outbox: a post has waited {minutes} min to go out")
    return out
