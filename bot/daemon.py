"""The daemon: ``schedule`` runs each connector at its interval, the outbox, the SLA sweep, the weekly report and
the model's retraining, until a signal.

SIGTERM and SIGINT let the job in progress finish (every write is a transaction, so nothing is half-written) and
then stop. Every job is wrapped: one that fails is logged with its name and the daemon carries on.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

import schedule

from bot.pipeline import Pipeline

log = logging.getLogger(__name__)

OUTBOX_EVERY_SECONDS = 5
SWEEP_EVERY_SECONDS = 60
REPORT_CHECK_SECONDS = 60
RETRAIN_CHECK_SECONDS = 600


class Daemon:
    """Schedules the pipeline's jobs and runs them until stopped."""

    def __init__(self, pipeline: Pipeline, *, scheduler: schedule.Scheduler | None = None):
        self.pipeline = pipeline
        self.scheduler = scheduler or schedule.Scheduler()
        self.stopping = threading.Event()
        for name, connector in pipeline.connectors.items():
            every = max(1, int(connector.settings.interval_seconds))
            self.scheduler.every(every).seconds.do(self._job, f"poll {name}", pipeline.poll, name).tag(name)
        self.scheduler.every(OUTBOX_EVERY_SECONDS).seconds.do(self._job, "outbox", pipeline.post)
        self.scheduler.every(SWEEP_EVERY_SECONDS).seconds.do(self._job, "sla sweep", pipeline.sweep)
        # Checked every minute against the injected clock, so the report keeps its local time across DST.
        self.scheduler.every(REPORT_CHECK_SECONDS).seconds.do(self._job, "weekly report", self.weekly_report)
        self.scheduler.every(RETRAIN_CHECK_SECONDS).seconds.do(self._job, "model retrain", self.retrain)

    def _job(self, what: str, fn: Callable[..., Any], *args: Any) -> None:
        if self.stopping.is_set():
            return
        try:
            fn(*args)
        except Exception:
            log.exception("daemon: job %r failed; carrying on", what)

    def weekly_report(self) -> None:
        """Write last week's report when its configured day and time have come."""
        from bot import report

        p = self.pipeline
        # In a child process: charts and the week's rows would otherwise stay in the daemon's memory for good.
        with p.lock:  # the pipeline's store connection is shared with the Discord bot's thread
            done = report.run_due(p.store, p.config, now=p.clock.now(), in_child=True)
        if done:
            written, paths, pngs = done
            log.info("daemon: weekly report %s written to %s", written.week.label, paths[0].parent)
            p.on_event("report", report=written, paths=paths, charts=pngs)

    def retrain(self) -> None:
        """Retrain the complaint model when ``triage.retrain_every_hours`` have passed and new labels came in;
        the next poll triages with it if it beat the cold-start rules."""
        from bot.triage import retrain_if_due

        p = self.pipeline
        with p.lock:  # the pipeline's store connection is shared with the Discord bot's thread
            result = retrain_if_due(p.store, now=p.clock.now(), settings=p.config.triage, in_child=True)
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
            log.info("daemon: %s received; finishing the current job", signal.Signals(signum).name)
            self.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)

    def run(self, *, tick_seconds: float = 1.0) -> None:
        """Run one full cycle at once, then the scheduled jobs, until ``stopping`` is set."""
        log.info("daemon: started with connectors %s", ", ".join(self.pipeline.connectors) or "(none)")
        self._job("first cycle", self.pipeline.run_cycle)
        while not self.stopping.is_set():
            self.scheduler.run_pending()
            self.stopping.wait(tick_seconds)
        self.pipeline.close()
        log.info("daemon: stopped")
