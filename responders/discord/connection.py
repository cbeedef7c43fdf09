"""The approval bot's connection to Discord: a thread with its own event loop, and a client that is logged in and
connected again, with jittered back-off, for as long as the daemon runs.

Each attempt is a new discord.py client (a closed one is not reused) with ``reconnect=False``: every drop comes
back here, so one back-off on the injected clock covers a Discord down at start, a lost gateway and a refused
token, and each state is recorded in the store for ``mentionbot status`` in another process. A refused token is
said once and tried again only after ``REFUSED_RETRY_SECONDS`` (a token is fixed in the config and the env, not by
retrying).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import discord
import yarl

from bot.clock import Clock, SystemClock
from bot.models import DiscordState, excerpt
from bot.store import Store

log = logging.getLogger(__name__)

FIRST_RETRY_SECONDS = 2.0
MAX_RETRY_SECONDS = 300.0
REFUSED_RETRY_SECONDS = 3600.0
HEARTBEAT_SECONDS = 60  # how often a running bot confirms its state in the store (``status`` reads its age)
TICK_SECONDS = 1.0  # a wait looks at the clock at least this often (real time)

# What a network or a Discord outage raises from login or the gateway; anything else is logged as a bug.
UNREACHABLE = (
    OSError,
    aiohttp.ClientError,
    asyncio.TimeoutError,
    discord.HTTPException,
    discord.GatewayNotFound,
    discord.ConnectionClosed,
)


def point_at(*, api_base: str | None, gateway_url: str | None) -> None:
    """Point discord.py at another Discord (the loopback fake); process-wide, as discord.py keeps these globally."""
    if api_base:
        discord.http.Route.BASE = api_base
    if gateway_url:
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class Backoff:
    """Exponential back-off with jitter: each delay is drawn from the upper half of a doubling window, so that
    bots restarted together do not come back together."""

    def __init__(
        self,
        *,
        first: float = FIRST_RETRY_SECONDS,
        cap: float = MAX_RETRY_SECONDS,
        rng: random.Random | None = None,
    ):
        self.first, self.cap = first, cap
        self.rng = rng or random.Random()
        self.failures = 0

    def next(self) -> float:
        """The delay before the next attempt, after one more failure."""
        window = min(self.cap, self.first * 2**self.failures)
        self.failures += 1
        return window * (0.5 + 0.5 * self.rng.random())

    def reset(self) -> None:
        """Start again from the first delay (after a success)."""
        self.failures = 0


class Connection:
    """The thread, the loop and the connection of a discord.py client; subclasses say what the client is
    (``make_client``) and what to do once it is ready."""

    def __init__(
        self,
        *,
        store_path: str | Path,
        token: str,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        api_base: str | None = None,
        gateway_url: str | None = None,
    ):
        self.store_path = store_path
        self.token = token
        self.clock = clock or SystemClock()
        self.rng = rng
        point_at(api_base=api_base, gateway_url=gateway_url)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.client: discord.Client | None = None
        self.store: Store | None = None
        self.ready = threading.Event()
        self.state: DiscordState | None = None
        self._thread: threading.Thread | None = None
        self._lock = asyncio.Lock()
        self._wake: asyncio.Event | None = None
        self._work: set[asyncio.Task] = set()  # decisions, their posts and card updates in progress
        self._closing = False

    def make_client(self) -> discord.Client:
        """A new client for one connection attempt."""
        raise NotImplementedError

    async def every_while(self) -> None:
        """Periodic work of the subclass, run every few seconds whether connected or not."""

    # -- the thread and the loop ------------------------------------------------------------------------------

    def start(self) -> Connection:
        """Run the client in a thread with its own event loop (again after ``stop``: a new loop, a new client)."""
        self.loop = asyncio.new_event_loop()
        self._lock, self._closing = asyncio.Lock(), False
        self._thread = threading.Thread(target=self._run, name="discord", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        loop = self.loop
        assert loop
        asyncio.set_event_loop(loop)
        self.store = Store.open(self.store_path)
        self._wake = asyncio.Event()
        loop.create_task(self._stay_connected(), name="discord connection")
        loop.create_task(self._keep_beating(), name="discord heartbeat")
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

    async def _stay_connected(self) -> None:
        backoff = Backoff(rng=self.rng)
        while not self._closing:
            self.client = client = self.make_client()
            refused = False
            # Down or refused stays so until it connects: one warning, one "since".
            if self.state is None or self.state.state in ("connected", "stopped"):
                self.record("connecting")
            try:
                await client.login(self.token)
                await client.connect(reconnect=False)  # returns on a clean close, from Discord or from stop()
                if not self._closing:
                    self.record("down", "Discord closed the connection")
            except discord.LoginFailure as exc:
                refused = True
                self.record("refused", f"Discord refused the token: {exc}")
            except UNREACHABLE as exc:
                self.record("down", f"{type(exc).__name__}: {exc}")
            except Exception as exc:
                log.exception("discord: the client stopped unexpectedly")
                self.record("down", f"{type(exc).__name__}: {exc}")
            finally:
                self.ready.clear()
                await client.close()
            if self._closing:
                break
            if self.connected_once(client):
                backoff.reset()
            delay = REFUSED_RETRY_SECONDS if refused else backoff.next()
            log.info("discord: next connection attempt in %.0f s", delay)
            await self.pause(delay)
        self.record("stopped")

    def connected_once(self, client: discord.Client) -> bool:
        """Whether this attempt got as far as a ready connection (then the back-off starts over)."""
        return bool(getattr(client, "was_ready", False))

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds`` on the injected clock (or until ``stop``): look at it every tick and whenever
        ``clock_moved`` says so, so that a test moves a fake clock instead of waiting."""
        assert self._wake
        deadline = self.clock.now() + timedelta(seconds=seconds)
        while not self._closing and self.clock.now() < deadline:
            left = (deadline - self.clock.now()).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=min(left, TICK_SECONDS))
            self._wake.clear()

    def clock_moved(self) -> None:
        """Have a waiting retry look at the clock now (thread-safe)."""
        if self.loop and self._wake:
            self.loop.call_soon_threadsafe(self._wake.set)

    # -- the recorded state -----------------------------------------------------------------------------------

    def record(self, state: str, error: str = "") -> None:
        """Record the connection's state in the store (and log each change once)."""
        now = self.clock.now()
        before = self.state
        changed = before is None or before.state != state
        if changed:
            if state == "refused":
                log.error("discord: %s; not retrying for %.0f min", error, REFUSED_RETRY_SECONDS / 60)
            elif state == "down":
                log.warning("discord: not connected: %s", error)
            elif state == "connected":
                log.info("discord: connected")
        since = now if changed or before is None else before.since
        self.state = DiscordState(
            state=state,  # type: ignore[arg-type]
            since=since,
            checked_at=now,
            error=excerpt(error) if error else "",
        )
        if self.store:
            self.store.set_discord_state(self.state)

    async def _keep_beating(self) -> None:
        beat_at: datetime | None = None
        while True:
            await asyncio.sleep(5)
            try:
                await self.every_while()
            except Exception:
                log.exception("discord: periodic work failed")
            now = self.clock.now()
            if self.state and (beat_at is None or (now - beat_at).total_seconds() >= HEARTBEAT_SECONDS):
                beat_at = now
                self.record(self.state.state, self.state.error)

    # -- work in progress and stopping ------------------------------------------------------------------------

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
        if self._wake:
            self._wake.set()
        if self.client:
            await self.client.close()
        self.record("stopped")

    def busy(self) -> None:
        """Count the running task as work in progress, which ``stop`` lets finish."""
        task = asyncio.current_task()
        if task is not None:
            self.track(task)

    def track(self, task: asyncio.Task) -> None:
        """Count ``task`` as work in progress."""
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

    def soon(self, name: str, make: Callable[[], Any]) -> None:
        """Run the coroutine ``make()`` on the loop as tracked work (thread-safe); dropped once stopping."""

        def spawn() -> None:
            # The coroutine is made here, on the loop, only while it still runs: none is left never awaited.
            if self._closing:
                return
            assert self.loop
            self.track(self.loop.create_task(make(), name=name))

        if self.loop:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: same as not connected
                self.loop.call_soon_threadsafe(spawn)
