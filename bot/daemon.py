"""The daemon: each connector's poll at its interval, the outbox, the SLA sweep, the weekly report and the model's
retraining, on the pipeline's clock, until a signal.

The jobs run one at a time in a worker thread, and none of them sleeps: a rate limit or a hung connection makes that
connector's poll raise, and the pipeline skips its polls until its back-off has passed (``Pipeline._failed``), so the
other connectors, the outbox and the sweep keep their pace. SIGTERM and SIGINT stop the worker after the job in
progress; a job still running ``STOP_GRACE_SECONDS`` later (a poll waiting out its read timeout) is left behind, and
the process ends without it: every write is a transaction, so what it had not committed is rolled back, and a post
it was making is reconciled on the next start (the outbox writes ahead). Every job is wrapped: one that fails is
logged with its name and the daemon carries on.

Several daemons may share one database (PostgreSQL): each connector's poll is done by the daemon holding its
lease, and one daemon, the leader, runs the Discord bot, the SLA sweep, the weekly report and retraining. A lease
lasts ``store.lease_seconds`` unless its holder renews it, so a dead daemon's work moves to another after that;
a daemon that stops cleanly gives its leases up at once. The outbox is shared: each item is claimed by one.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.clock import Clock
from bot.pipeline import Pipeline
from responders.outbox import HOST, claim_is_dead

log = logging.getLogger(__name__)

OUTBOX_EVERY_SECONDS = 5
SWEEP_EVERY_SECONDS = 60
MIRROR_EVERY_SECONDS = 60  # the shared mailbox or helpdesk of [cases] backend
REPORT_CHECK_SECONDS = 60
RETRAIN_CHECK_SECONDS = 600
LEADER = "leader"
# How long a stop waits for the job in progress: a poll or a post takes well under a second unless it hangs.
STOP_GRACE_SECONDS = 3.0


@dataclass
class Job:
    """A recurring job: its name, its interval, and when it is due next on the scheduler's clock."""

    name: str
    every: float
    fn: Callable[[], Any]
    next_at: datetime

    def __repr__(self) -> str:
        return f"Job({self.name!r}, every {self.every:g} s, next at {self.next_at:%Y-%m-%d %H:%M:%S})"


class Scheduler:
    """Recurring jobs, as ``schedule`` has them, but on an injected clock (tests move time instead of waiting)."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self.jobs: list[Job] = []

    def every(self, seconds: float, name: str, fn: Callable[[], Any]) -> Job:
        """Run ``fn`` every ``seconds``, the first time ``seconds`` from now."""
        job = Job(name, seconds, fn, self.clock.now() + timedelta(seconds=seconds))
        self.jobs.append(job)
        return job

    def run_pending(self, run: Callable[[Job], Any]) -> None:
        """Hand each job that is due to ``run``, the longest due first."""
        for job in sorted((j for j in self.jobs if j.next_at <= self.clock.now()), key=lambda j: j.next_at):
            run(job)
            # The next run is an interval after this one was due, not after it finished: a slow neighbour does not
            # push every later run back. One that ran past its next turn runs at the next tick instead.
            job.next_at = max(job.next_at + timedelta(seconds=job.every), self.clock.now())


class Daemon:
    """Schedules the pipeline's jobs and runs them until stopped."""

    def __init__(self, pipeline: Pipeline, *, on_leadership: Callable[[bool], Any] | None = None):
        self.pipeline = pipeline
        self.clock = pipeline.clock
        self.scheduler = Scheduler(pipeline.clock)
        self.stopping = threading.Event()
        self.current: str | None = None  # the job in progress, for the log when a stop cannot wait for it
        self.left_behind = False  # whether ``run`` returned with a job still running
        self.me = f"{HOST}:{os.getpid()}"  # this daemon, as its leases name it
        self.lease = timedelta(seconds=pipeline.config.store.lease_seconds)
        self.leader = False
        self.on_leadership = on_leadership or (lambda leading: None)  # start or stop the Discord bot
        # Renewed three times per lease: a daemon that is alive never loses one.
        self.scheduler.every(max(1, int(self.lease.total_seconds() / 3)), "leases", self.renew)
        for name, connector in pipeline.connectors.items():
            every = max(1, int(connector.settings.interval_seconds))
            self.scheduler.every(every, f"poll {name}", functools.partial(self.poll, name))
        self.scheduler.every(OUTBOX_EVERY_SECONDS, "outbox", pipeline.post)
        self.scheduler.every(SWEEP_EVERY_SECONDS, "sla sweep", self.sweep)
        if pipeline.mirror is not None:
            self.scheduler.every(MIRROR_EVERY_SECONDS, "case backend", self.mirror)
        # Checked every minute against the injected clock, so the report keeps its local time across DST.
        self.scheduler.every(REPORT_CHECK_SECONDS, "weekly report", self.weekly_report)
        self.scheduler.every(RETRAIN_CHECK_SECONDS, "model retrain", self.retrain)

    # -- leases ---------------------------------------------------------------------------------------------

    def _take(self, name: str) -> bool:
        """Take or renew a lease; one held by a daemon on this host that has exited is taken at once."""
        p, now = self.pipeline, self.clock.now()
        with p.lock:
            if p.store.take_lease(name, self.me, now=now, ttl=self.lease):
                return True
            holder = next((lease.holder for lease in p.store.leases() if lease.name == name), None)
            return bool(holder and claim_is_dead(holder)) and p.store.take_lease(
                name, self.me, now=now, ttl=self.lease, replacing=holder
            )

    def lead(self) -> bool:
        """Renew the leader lease, or take it when its holder is gone; whether this daemon leads."""
        leading = self._take(LEADER)
        if leading != self.leader:
            self.leader = leading
            log.info("daemon: %s the leader (%s)", "now" if leading else "no longer", self.me)
            self.on_leadership(leading)
        return leading

    def renew(self) -> None:
        """Renew the leader lease (or take it) and the leases of the connectors this daemon polls."""
        self.lead()
        for lease in self.pipeline.store.leases():
            if lease.holder == self.me and lease.name.startswith("poll:"):
                self._take(lease.name)

    def poll(self, name: str) -> None:
        """Poll ``name`` if this daemon holds (or can take) its lease: never two daemons at once."""
        if self._take(f"poll:{name}"):
            self.pipeline.poll(name)

    def sweep(self) -> None:
        if self.lead():
            self.pipeline.sweep()

    def mirror(self) -> None:
        """The case backend's cycle (the shared mailbox, the helpdesk), in the leader only: one reader of each."""
        if self.lead():
            self.pipeline.mirror_cycle()

    def first_cycle(self) -> None:
        """Every job once at start: the leases first, then polls, the outbox and the sweep."""
        self.renew()
        for name in self.pipeline.connectors:
            self.poll(name)
        while self.pipeline.post():  # a posted reply may queue the case's private message: send it too
            pass
        if self.leader and self.pipeline.sweep():
            self.pipeline.post()

    def _job(self, what: str, fn: Callable[[], Any]) -> None:
        if self.stopping.is_set():
            return
        self.current = what
        try:
            fn()
        except Exception:
            log.exception("daemon: job %r failed; carrying on", what)
        finally:
            self.current = None

    def weekly_report(self) -> None:
        """Write last week's report when its configured day and time have come, and send its mail to the
        recipients whose next try has come."""
        from bot import report
        from bot.report.deliver import deliver_due, queue_report

        p = self.pipeline
        if not self.lead():
            return
        now = p.clock.now()
        # In a child process: charts and the week's rows would otherwise stay in the daemon's memory for good.
        with p.lock:  # the pipeline's store connection is shared with the Discord bot's thread
            done = report.run_due(p.store, p.config, now=now, in_child=True)
        if done:
            written, paths, pngs = done
            log.info("daemon: weekly report %s written to %s", written.week.label, paths[0].parent)
            p.on_event("report", report=written, paths=paths, charts=pngs)
            with p.lock:
                queue_report(p.store, written, paths, p.config, now=now)
        deliver_due(p.store, p.config, now=now, lock=p.lock)

    def retrain(self) -> None:
        """Retrain the complaint model when ``triage.retrain_every_hours`` have passed and new labels came in;
        the next poll triages with it if it beat the cold-start rules."""
        from bot.triage import retrain_if_due

        p = self.pipeline
        if not self.lead():
            return
        # The pipeline's store connection is shared with the Discord bot's thread: used under its lock.
        result = retrain_if_due(
            p.store, now=p.clock.now(), settings=p.config.triage, in_child=True, lock=p.lock
        )
        if result and "skipped" in result:
            log.info("daemon: model retrain skipped: %s", result["skipped"])
        elif result:
            log.info(
                "daemon: trained %s: held-back macro-F1 %.3f vs rules %.3f (%s)",
                result["version"],
                result["candidate"]["macro_f1"],
                result["rules"]["macro_f1"],
                "activated" if result["activated"] else "not better: kept the current model",
            )

    def install_signal_handlers(self) -> None:
        """Stop cleanly on SIGTERM and SIGINT."""

        def stop(signum: int, frame: Any) -> None:
            log.info(
                "daemon: %s received; stopping after the current job (waiting for it %g s at most)",
                signal.Signals(signum).name,
                STOP_GRACE_SECONDS,
            )
            self.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def stop(self) -> None:
        """Ask the jobs to stop: none starts after this, the one in progress finishes (see ``run``)."""
        self.stopping.set()

    def work(self, *, tick_seconds: float = 1.0, until: datetime | None = None) -> None:
        """Run one full cycle at once, then each job as it falls due on the pipeline's clock, until ``stop()``
        (or until the clock reads ``until``)."""
        self._job("first cycle", self.first_cycle)
        while not self.stopping.is_set() and (until is None or self.clock.now() < until):
            self.scheduler.run_pending(lambda job: self._job(job.name, job.fn))
            self.clock.wait(self.stopping, tick_seconds)

    def run(self, *, tick_seconds: float = 1.0, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Run the jobs (``work``) in a worker thread until ``stop()``; then wait ``grace_seconds`` at most for the
        job in progress, and return without it if it still runs (``left_behind``: the caller should then end the
        process with ``os._exit``, as Python's own exit would wait for it)."""
        log.info("daemon: started with connectors %s", ", ".join(self.pipeline.connectors) or "(none)")
        worker = threading.Thread(
            target=self.work, kwargs={"tick_seconds": tick_seconds}, name="mentionbot-jobs", daemon=True
        )
        worker.start()
        # This thread only waits for the signal (real time, whatever the pipeline's clock).
        while worker.is_alive() and not self.stopping.wait(0.5):
            pass
        worker.join(grace_seconds)
        self.left_behind = worker.is_alive()
        if self.left_behind:
            log.warning(
                "daemon: %s still running %g s after the stop; stopping without it (what it had not committed "
                "is rolled back)",
                self.current or "a job",
                grace_seconds,
            )
        else:
            self.pipeline.close()
            self.release()
        log.info("daemon: stopped")

    def release(self) -> None:
        """Give every lease up, so another daemon takes this one's work over at once."""
        try:
            with self.pipeline.lock:
                self.pipeline.store.release_leases(self.me)
        except Exception:
            log.exception("daemon: could not give the leases up; they run out by themselves")
        if self.leader:
            self.leader = False
            self.on_leadership(False)
