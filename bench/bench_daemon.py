"""The idle daemon's resident memory with every connector enabled (target ≤ 150 MB).

Starts every registered fake platform on loopback, points a config at all of them (and the file importer at an
empty folder), runs the real ``mentionbot run`` in a subprocess until each connector has polled and the first
scheduled jobs (outbox, SLA sweep, the weekly report over a seeded week, charts included) have run, then reads the
process's resident set size.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

IDLE_SECONDS = float(os.environ.get("BENCH_DAEMON_IDLE", 70))  # past the first minute's scheduled jobs


def toml_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(rest.split()[0]) / 1024
    return fields


def seed_last_week(path: Path) -> None:
    """A week of history before now, so that the daemon's first weekly report has charts to draw."""
    from bot.models import Author, Mention, Triage
    from bot.store import Store

    store = Store.open(path)
    now = datetime.now(UTC)
    intents = ("complaint", "inquiry", "praise", "other")
    for i in range(300):
        at = now - timedelta(days=7) - timedelta(hours=i * 0.5)
        m = Mention("reddit", f"seed{i}", "", Author(f"user{i % 40}"), f"seed post {i} about the lamp", at)
        store.save_fetch("seed", [m], None, now=at)
        store.save_triage(m, Triage(intent=intents[i % 4], sentiment=0.1), now=at)
    store.close()


def main() -> None:
    """Run the daemon against every fake, idle, and print its resident memory."""
    from bot.store import Store
    from connectors import REGISTRY
    from connectors.fakes import FAKES, load_fake

    work = Path(tempfile.mkdtemp(prefix="mentionbot-daemon-"))
    fakes = {name: load_fake(name)() for name in FAKES}
    env = dict(os.environ)
    tables = {}
    for name, fake in fakes.items():
        fake.start()
        env.update(fake.environment())
        tables[name] = fake.connector_settings()
    if "file" in REGISTRY and "file" not in tables:
        (work / "exports").mkdir()
        tables["file"] = {"enabled": True, "paths": [str(work / "exports" / "*.jsonl")]}
    lines = [
        "dry_run = true",
        "[brand]",
        'contact_email = "care@acme.example"',
        'timezone = "Europe/Amsterdam"',
        "[store]",
        'path = "bench.db"',
    ]
    for name, table in tables.items():
        lines.append(f"[connectors.{name}]")
        lines += [f"{key} = {toml_value(value)}" for key, value in table.items()]
    config = work / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    seed_last_week(work / "bench.db")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "bot", "-c", str(config), "run"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        polled: set[str] = set()
        while time.monotonic() < deadline and not polled >= set(tables):
            time.sleep(0.5)
            if daemon.poll() is not None:
                raise SystemExit(f"bench_daemon: the daemon exited early:\n{daemon.stderr.read()}")
            if (work / "bench.db").exists():
                store = Store.open(work / "bench.db")
                polled = {r.connector for r in store.last_runs()} - {"seed"}
                store.close()
        time.sleep(IDLE_SECONDS)
        mem = memory_mb(daemon.pid)
        store = Store.open(work / "bench.db")
        reported = store.report_last_week()  # the daemon's weekly report ran, and finished
        store.close()
        charts = sorted(p.name for p in (work / "reports").glob("*.png"))
    finally:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
        for fake in fakes.values():
            fake.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"bench_daemon: idle daemon with {len(tables)} connectors enabled ({', '.join(sorted(tables))}), "
        f"{len(polled)} polled, after {IDLE_SECONDS:.0f} s idle: resident {mem['VmRSS']:.0f} MB, "
        f"peak {mem['VmHWM']:.0f} MB (target ≤ 150 MB); weekly report {reported or 'NOT written'} "
        f"with {len(charts)} charts"
    )


if __name__ == "__main__":
    main()
