"""Latency of the approval loop through the real daemon pieces: a post appearing on the fake Reddit → its card on
the fake Discord, and an Approve click on the card → the reply on the fake Reddit.

Runs the daemon's scheduler (real clock, the connector polled every ``BENCH_DISCORD_POLL`` seconds) and the real
discord.py approval bot against the loopback fakes; posts ``BENCH_DISCORD_POSTS`` complaints at random moments
(so they fall anywhere in the poll cycle), then approves each card and waits for its reply. Prints p50/p95 of both
against the targets: post → card p95 ≤ poll interval + 2 s; approve → posted p95 ≤ 2 s.

Reddit reads one source per poll in turn (``rotation``: posts, comments, inbox), so a comment waits up to one full
rotation; the bench reads the inbox only (where a comment naming u/acme_support arrives), so that the poll interval is
the time between two looks at it.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from bot.config import load_config
from bot.daemon import Daemon
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.discord import MANAGER_ID, FakeDiscord
from connectors.fakes.reddit import FakeReddit
from responders.discord import ApprovalBot

POSTS = int(os.environ.get("BENCH_DISCORD_POSTS", 100))
POLL_SECONDS = int(os.environ.get("BENCH_DISCORD_POLL", 2))
TIMEOUT = 60.0


def config_text(reddit: FakeReddit, discord: FakeDiscord) -> str:
    return f"""
dry_run = false
[brand]
name = "Acme"
contact_email = "care@acme.example"
timezone = "Europe/Amsterdam"
[store]
path = "bot.db"
{reddit.config_toml(interval_seconds=POLL_SECONDS, rotation=["mentions"])}[discord]
enabled = true
token = {{ env = "BENCH_DISCORD_TOKEN" }}
guild_id = {discord.guild_id}
channel_id = {discord.channel_id}
manager_roles = ["Community Manager"]
api_base = "{discord.api_base}"
gateway_url = "{discord.gateway_url}"
"""


def until(condition, what: str):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.005)
    raise TimeoutError(f"bench_discord: timed out waiting for {what}")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def line(name: str, values: list[float], target: float) -> str:
    p50, p95 = statistics.median(values), percentile(values, 95)
    verdict = "ok" if p95 <= target else "OVER TARGET"
    return f"{name}: p50 {p50:.2f} s, p95 {p95:.2f} s, max {max(values):.2f} s over {len(values)} (target p95 ≤ {target:g} s: {verdict})"


def main() -> None:
    """Run the daemon and the bot against the fakes, post, approve, and print the latencies."""
    reddit, discord = FakeReddit(), FakeDiscord()
    reddit.start()
    discord.start()
    folder = Path(tempfile.mkdtemp(prefix="bench-discord-"))
    os.environ.update(reddit.environment(), BENCH_DISCORD_TOKEN="bench-token")
    (folder / "config.toml").write_text(config_text(reddit, discord))
    config = load_config(folder / "config.toml")
    pipeline = Pipeline(config, Store.open(folder / "bot.db"))
    bot = ApprovalBot.from_config(config, post=pipeline.post).start()
    pipeline.on_event = bot.on_event
    daemon = Daemon(pipeline)
    worker = threading.Thread(target=daemon.work, kwargs={"tick_seconds": 0.05}, daemon=True)
    try:
        until(bot.ready.is_set, "the bot to connect")
        worker.start()
        rng = random.Random(17)
        posted: dict[str, float] = {}
        seen: dict[str, tuple[float, str]] = {}  # marker -> (when the card was seen, its message id)
        for n in range(POSTS):
            marker = f"order {100000 + n}"
            posted[marker] = time.monotonic()
            reddit.add_comment(author=f"customer{n}", body=f"u/acme_support my refund never came, {marker}")
            pause = time.monotonic() + rng.uniform(0, 0.4)
            while time.monotonic() < pause:
                watch(discord, posted, seen)
                time.sleep(0.005)
        until(lambda: watch(discord, posted, seen) or len(seen) == POSTS, f"{POSTS} cards")
        to_card = [seen[m][0] - posted[m] for m in posted]

        to_reply = []
        store = Store.open(folder / "bot.db")
        for marker, (_, message_id) in seen.items():
            draft_id = next(
                int(c["custom_id"].split(":")[2])
                for row in discord.message(message_id)["components"]
                for c in row["components"]
            )
            draft = store.draft(draft_id)
            started = time.monotonic()
            discord.click(message_id, f"mb:approve:{draft_id}", MANAGER_ID)
            until(
                lambda d=draft: reddit.replies_to(d.mention_id, author="acme_support"),
                f"the reply to {marker}",
            )
            to_reply.append(time.monotonic() - started)
        print(f"poll interval: {POLL_SECONDS} s (reddit), {POSTS} posts")
        print(line("post → card", to_card, POLL_SECONDS + 2))
        print(line("approve → posted", to_reply, 2))
    finally:
        daemon.stop()
        worker.join(10)
        bot.stop()
        pipeline.close()
        discord.stop()
        reddit.stop()


def watch(discord: FakeDiscord, posted: dict[str, float], seen: dict[str, tuple[float, str]]) -> bool:
    """Note the moment each new card shows up on the fake Discord."""
    now = time.monotonic()
    for message in discord.messages():
        for embed in message.get("embeds") or []:
            text = embed.get("description", "")
            for marker in posted:
                if marker not in seen and marker in text:
                    seen[marker] = (now, message["id"])
    return False


if __name__ == "__main__":
    main()
