"""The weekly report over 1,000,000 mentions: seconds and peak memory (targets: ≤ 5 s, ≤ 300 MB).

Builds a year of synthetic history once (mentions with their triage, drafts, posted replies, cases, labels, people
and connector runs in realistic proportions) in a temporary folder, reused by later runs, then writes one weekly
report in a fresh subprocess and reads that process's peak resident memory.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

MENTIONS = int(os.environ.get("BENCH_REPORT_MENTIONS", 1_000_000))
END = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # the history ends on a Monday: W47 is the last full week
DAYS = 364
PLATFORMS = [("reddit", 0.35), ("x", 0.3), ("mastodon", 0.15), ("trustpilot", 0.12), ("youtube", 0.08)]
INTENTS = [("other", 0.55), ("inquiry", 0.2), ("complaint", 0.15), ("praise", 0.1)]
TEXTS = {
    "complaint": [
        "My parcel never arrived and tracking has not moved in {n} days",
        "I was charged twice for my subscription this month",
        "The app keeps crashing every time I open the {thing}",
        "Still waiting for my refund after {n} weeks",
        "Cannot log in to my account since the update",
        "Tried to cancel my plan and it renewed anyway",
        "The {thing} stopped working after {n} days, battery is dead",
        "On hold for {n} minutes and nobody from support answered",
        "The box smelled of burnt plastic and the {thing} rattles",
    ],
    "inquiry": [
        "How do I cancel my subscription?",
        "When will the {thing} be back in stock?",
        "Do you ship the {thing} to Belgium?",
        "How do I reset my password?",
        "Is there a student discount on the yearly plan?",
    ],
    "praise": [
        "Love the new {thing}, you guys are the greatest",
        "Support sorted my issue in {n} minutes, thank you!",
        "Best app update so far, really smooth",
    ],
    "other": [
        "Saw an Acme ad on the bus today",
        "Anyone selling a used Acme {thing}?",
        "Acme was mentioned on the radio this morning",
        "Comparing the Acme {thing} with the competition, {n} points each",
    ],
}
THINGS = ["lamp", "speaker", "watch", "app", "charger", "headphones", "tracker"]


def pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([k for k, _ in weighted], weights=[w for _, w in weighted])[0]


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def build(path: Path, n: int) -> None:
    """Write ``n`` synthetic mentions and everything that follows from them into a new store at ``path``."""
    from sqlite_utils import Database

    from bot.store import Store

    rng = random.Random(47)
    # A throwaway file built once: no journal and a large page cache, as durability is not what is measured.
    store = Store(Database(str(path)))
    for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-262144"):
        store.db.execute(f"PRAGMA {pragma}")
    start = END - timedelta(days=DAYS)
    mentions, drafts, outbox, cases, labels = [], [], [], [], []
    people: dict[tuple[str, str], dict] = {}
    case_id = draft_id = 0

    def flush(final: bool = False) -> None:
        for table, rows in (
            ("mentions", mentions),
            ("drafts", drafts),
            ("outbox", outbox),
            ("cases", cases),
            ("labels", labels),
        ):
            if rows and (final or len(rows) >= 20_000):
                store.db[table].insert_all(rows, batch_size=2_000)
                rows.clear()

    for i in range(n):
        platform, intent = pick(rng, PLATFORMS), pick(rng, INTENTS)
        # Posts arrive, and are stored, roughly in time order.
        created = start + timedelta(seconds=(i + rng.random()) * DAYS * 86400 / n)
        handle = f"user{int(rng.paretovariate(1.2) * 1000) % 200_000}"
        text = rng.choice(TEXTS[intent]).format(n=rng.randint(2, 30), thing=rng.choice(THINGS))
        sentiment = {"complaint": -0.6, "praise": 0.7, "inquiry": 0.0, "other": 0.1}[intent] + rng.gauss(
            0, 0.2
        )
        mid = f"{i:08d}"
        mentions.append(
            {
                "platform": platform,
                "id": mid,
                "url": f"https://{platform}.example/{mid}",
                "author_handle": handle,
                "author_name": handle.title(),
                "author_id": handle,
                "text": text,
                "created_at": iso(created),
                "fetched_at": iso(created + timedelta(minutes=2)),
                "kind": "review" if platform == "trustpilot" else "post",
                "rating": rng.randint(1, 5) if platform == "trustpilot" else None,
                "lang": "en",
                "own": 0,
                "intent": intent,
                "urgency": 2 if intent == "complaint" else 0,
                "sentiment": max(-1.0, min(1.0, sentiment)),
                "raw": json.dumps({"id": mid, "author": handle, "text": text, "created": iso(created)}),
            }
        )
        person = people.setdefault(
            (platform, handle),
            {"platform": platform, "handle": handle, "display_name": handle.title(), "first_seen": iso(created),
             "last_seen": iso(created), "mentions": 0, "complaints": 0, "praise": 0, "stage": "awareness"},
        )  # fmt: skip
        person["mentions"] += 1
        person["complaints"] += intent == "complaint"
        person["praise"] += intent == "praise"
        if intent == "other":
            continue
        draft_id += 1
        replied = created + timedelta(hours=rng.lognormvariate(1.0, 1.0))
        state = "posted" if rng.random() < 0.9 else rng.choice(["awaiting", "rejected"])
        drafts.append(
            {"id": draft_id, "platform": platform, "mention_id": mid, "intent": intent, "text": "Thank you!",
             "state": state, "created_at": iso(created), "updated_at": iso(replied)},
        )  # fmt: skip
        if state == "posted":
            outbox.append(
                {"draft_id": draft_id, "kind": "reply", "platform": platform, "mention_id": mid,
                 "text": "Thank you!", "idempotency_key": f"draft-{draft_id}-reply", "state": "sent",
                 "attempts": 1, "created_at": iso(created), "sent_at": iso(replied)},
            )  # fmt: skip
        if rng.random() < 0.3:
            labels.append(
                {"platform": platform, "mention_id": mid, "text": text, "complaint": int(intent == "complaint"),
                 "intent": intent, "source": "approved", "actor": "kim", "at": iso(replied)},
            )  # fmt: skip
        if intent in ("complaint", "inquiry"):
            case_id += 1
            contacted = (
                replied + timedelta(hours=rng.lognormvariate(1.5, 1.0)) if rng.random() < 0.7 else None
            )
            answered = contacted and rng.random() < 0.5
            resolved = contacted + timedelta(days=rng.random() * 5) if answered else None
            cases.append(
                {"id": case_id, "ref": f"C-{case_id:05d}", "platform": platform, "mention_id": mid,
                 "author_handle": handle, "author_name": handle.title(), "intent": intent,
                 "status": "closed" if resolved else "open", "stage": "contact", "opened_at": iso(created),
                 "due_at": iso(created + timedelta(hours=24)),
                 "acknowledged_at": iso(replied) if state == "posted" else None,
                 "contacted_at": iso(contacted) if contacted else None,
                 "customer_replied_at": iso(contacted + timedelta(hours=3)) if answered else None,
                 "resolved_at": iso(resolved) if resolved else None, "follow_ups": 0},
            )  # fmt: skip
        flush()
    flush(final=True)
    store.db["people"].insert_all(people.values(), batch_size=2_000)
    runs = []
    for name, _ in PLATFORMS:
        at = start
        while at < END:
            ok = rng.random() > 0.02
            runs.append(
                {"connector": name, "started_at": iso(at), "duration_ms": rng.randint(50, 900),
                 "fetched": rng.randint(0, 20) if ok else 0, "new": rng.randint(0, 8) if ok else 0,
                 "errors": 0 if ok else 1, "status": "ok" if ok else "error", "error": None if ok else "HTTP 503"},
            )  # fmt: skip
            at += timedelta(minutes=15)
    store.db["runs"].insert_all(runs, batch_size=2_000)
    store.close()


CHILD = """
import json, resource, sys, time
from datetime import datetime
t0 = time.perf_counter()
from bot.config import parse_config
from bot.report import make_report
from bot.store import Store
store = Store.open(sys.argv[1])
config = parse_config({"brand": {"contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"}},
                      check_env=False)
t1 = time.perf_counter()
report, paths = make_report(store, config, now=datetime.fromisoformat(sys.argv[3]), folder=__import__("pathlib").Path(sys.argv[2]))
t2 = time.perf_counter()
# VmHWM belongs to this program's own memory map; ru_maxrss would carry over the parent's peak across exec.
try:
    peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:")) / 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": t2 - t1, "startup": t1 - t0, "mentions_in_week": report.total, "maxrss_mb": peak}))
"""


def main() -> None:
    """Build (or reuse) the synthetic history and time one weekly report over it."""
    folder = Path(os.environ.get("BENCH_DIR", Path(tempfile.gettempdir()) / "mentionbot-bench"))
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"report-{MENTIONS}-v2.db"  # the version changes when the synthetic history does
    if not db.exists():
        print(f"bench_report: building {MENTIONS:,} synthetic mentions in {db} (once; reused later) ...")
        started = time.perf_counter()
        partial = db.with_suffix(".partial")
        for leftover in folder.glob(partial.name + "*"):
            leftover.unlink()
        build(partial, MENTIONS)
        partial.rename(db)
        print(
            f"bench_report: built in {time.perf_counter() - started:.0f} s ({db.stat().st_size / 2**20:.0f} MB)"
        )
    figures = report_in_child(str(db))
    print(
        f"bench_report: weekly report over {MENTIONS:,} mentions ({figures['mentions_in_week']:,} in the week): "
        f"{figures['seconds']:.2f} s (target ≤ 5 s), peak memory {figures['maxrss_mb']:.0f} MB "
        f"(target ≤ 300 MB; whole process, Python and matplotlib included)"
    )
    from bot.store import Store
    from tests.postgres_server import Cluster

    cluster = Cluster().start()
    try:
        started = time.perf_counter()
        source, target = Store.open(db), Store.open(cluster.url())
        rows = sum(source.copy_into(target).values())
        copied = time.perf_counter() - started
        source.close()
        target.close()
        print(
            f"bench_report: mentionbot store copy SQLite → PostgreSQL: {rows:,} rows in {copied:.0f} s "
            f"({rows / copied:,.0f} rows/s, counts checked)"
        )
        figures = report_in_child(cluster.url())
    finally:
        cluster.stop()
    print(
        f"bench_report: the same weekly report on PostgreSQL (a local server): {figures['seconds']:.2f} s "
        f"(target ≤ 5 s), peak memory {figures['maxrss_mb']:.0f} MB"
    )


def report_in_child(location: str) -> dict:
    """One weekly report written by a fresh process from the store at ``location``: its figures."""
    out = Path(tempfile.mkdtemp(prefix="mentionbot-report-"))
    result = subprocess.run(
        [sys.executable, "-c", CHILD, location, str(out), iso(END + timedelta(days=2))],
        capture_output=True,
        text=True,
        check=True,
    )
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
