"""The slash commands: /queue, /case, /status, /report (managers only unless ``open_read_commands``), /pause and
/resume, registered for the bot's guild."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.child import in_child_process
from bot.store import iso
from responders.discord.cards import due, local
from responders.discord.markup import quote

if TYPE_CHECKING:
    from responders.discord.approval import ApprovalBot

NONE = discord.AllowedMentions.none()


def register(bot: ApprovalBot, tree: app_commands.CommandTree) -> None:
    """Register the commands of ``bot`` on ``tree`` for its guild."""
    guild = discord.Object(bot.guild_id)

    @tree.command(name="queue", description="Drafts awaiting a decision", guild=guild)
    async def queue(interaction: discord.Interaction) -> None:
        assert bot.store
        if not await bot.may_read(interaction):
            return
        drafts = bot.store.drafts("awaiting")
        text = "\n".join(f"#{d.id} {quote(d.platform)} {d.intent}: {quote(d.text[:80])}" for d in drafts[:20])
        await interaction.response.send_message(
            text or "Nothing awaits a decision.", ephemeral=True, allowed_mentions=NONE
        )

    @tree.command(name="case", description="One case and its history", guild=guild)
    async def case(interaction: discord.Interaction, ref: str) -> None:
        assert bot.store
        if not await bot.may_read(interaction):
            return
        try:
            c = bot.store.case_by_ref(ref.upper())
        except Exception:
            await interaction.response.send_message(f"No case {quote(ref)}.", ephemeral=True)
            return
        now = bot.clock.now()
        when = f"{due(c, now=now)} ({local(c.due_at, bot.tz)})" if c.due_at else "no due time"
        text = (
            f"Case {c.ref} ({c.intent}) on {quote(c.platform)}: {quote(c.author_name or c.author_handle)}, "
            f"owner {quote(c.owner or 'nobody yet')}, {c.status}, {c.stage}, {when}"
        )
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NONE)

    @tree.command(name="status", description="Connectors, queue and cases", guild=guild)
    async def status(interaction: discord.Interaction) -> None:
        assert bot.store
        if not await bot.may_read(interaction):
            return
        paused = bot.store.paused_connectors()
        lines = []
        for run in bot.store.last_runs():
            name = run.connector
            result = f"paused: {paused[name]}" if name in paused else run.status
            lines.append(f"{name}: last poll {iso(run.started_at)}, {result}")
        lines += bot.credential_warnings()
        counts = bot.store.counts()
        lines.append(
            f"queue: {counts.awaiting} awaiting, {counts.outbox} in the outbox; "
            f"cases: {counts.open_cases} open; posting {'paused' if bot.paused() else 'on'}"
        )
        await interaction.response.send_message(
            quote("\n".join(lines)), ephemeral=True, allowed_mentions=NONE
        )

    @tree.command(name="report", description="The latest weekly report", guild=guild)
    async def report(interaction: discord.Interaction) -> None:
        from bot import report as weekly

        assert bot.store
        if not await bot.may_read(interaction):
            return
        if bot.config is None:
            await interaction.response.send_message("No configuration to build a report.", ephemeral=True)
            return
        await interaction.response.defer(ephemeral=True)
        now = bot.clock.now()
        week = weekly.last_complete_week(now, bot.tz)
        path = bot.store.location
        if path is None:  # an in-memory store (tests)
            built = weekly.build(bot.store, bot.config, week=week, now=now)
            png = weekly.charts(built).get("trend")
        else:  # drawn in a short-lived process, like the daemon's weekly report: no chart stack kept here
            built, png = await asyncio.to_thread(
                in_child_process, weekly.trend_from_file, path, bot.config, week, now
            )
        await interaction.followup.send(**bot.report_message(built, png), ephemeral=True)

    @tree.command(name="pause", description="Stop all posting", guild=guild)
    async def pause(interaction: discord.Interaction) -> None:
        await bot.set_paused(interaction, True)

    @tree.command(name="resume", description="Restart posting", guild=guild)
    async def resume(interaction: discord.Interaction) -> None:
        await bot.set_paused(interaction, False)
