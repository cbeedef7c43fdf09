"""Several daemons on one PostgreSQL database, killed at random moments: nothing is done twice, nothing lost.

Three real ``mentionbot run`` processes share one database and one fake Reddit on loopback (driven by praw).
Complaints and praise arrive while a random daemon is SIGKILLed at a random moment and restarted, again and
again; every reply is auto-approved, every complaint opens a case and gets a private message. Afterwards:
duplicate replies, duplicate private messages, cases opened twice and mentions never stored, each counted (all
must be 0). The suite runs a few kills (tests/test_several_daemons.py); ``make bench`` runs at least 50.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOT = "acme_support"


def write_config(folder: Path, fake, url: str, *, lease_seconds: float) -> Path:
    config = folder / "config.toml"
    config.write_text(
        textwrap.dedent(
            f"""
            dry_run = false
            [brand]
            name = "Acme"
            contact_email = "care@acme.example"
            timezone = "Europe/Amsterdam"
            [store]
            url = "{url}"
            lease_seconds = {lease_seconds}
            [replies]
            auto_approve = ["complaint", "inquiry", "praise"]
            """
        )
        + fake.config_toml(username=BOT)
    )
    return config


def start(config: Path, log: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "-c", str(config), "run"],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def run(
    url: str,
    folder: Path,
    *,
    kills: int,
    daemons: int = 3,
    mentions: int = 60,
    seed: int = 19,
    timeout: float = 300,
) -> dict[str, float]:
    """Run the kill test against the (empty) database at ``url``; returns what it counted."""
    from bot.store import Store
    from connectors.fakes.reddit import FakeReddit

    rng = random.Random(seed)
    fake = FakeReddit()
    fake.start()
    config = write_config(folder, fake, url, lease_seconds=2)
    env = fake.environment()
    logs = [folder / f"daemon{i}.log" for i in range(daemons)]
    procs = [start(config, logs[i], env) for i in range(daemons)]
    comments: list[str] = []
    started = time.monotonic()

    def add(n: int) -> None:
        for _ in range(n):
            if len(comments) < mentions:
                k = len(comments)
                body = (
                    f"u/{BOT} order {k} arrived broken and nobody answers, I want a refund"
                    if k % 2 == 0
                    else f"u/{BOT} thanks, the lamp {k} works great, love it"
                )
                comments.append(fake.add_comment(author=f"customer{k}", body=body))

    try:
        for _ in range(kills):
            add(rng.randint(0, max(1, 2 * mentions // kills)))
            time.sleep(rng.uniform(0.3, 2.5))
            victim = rng.randrange(daemons)
            procs[victim].send_signal(signal.SIGKILL)
            procs[victim].wait()
            procs[victim] = start(config, logs[victim], env)
        add(mentions)
        store = Store.open(url)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stored = {m.id for m in store.mentions()}
            busy = store.outbox("pending", "sending")
            counts = store.counts()
            if set(comments) <= stored and not busy and counts.awaiting == 0 and counts.mentions >= mentions:
                cases = store.cases(status=None)
                if all(c.contacted_at for c in cases) and len(cases) == mentions // 2 + mentions % 2:
                    break
            time.sleep(0.5)
        settled_after = time.monotonic() - started
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
        fake.stop()

    stored = {m.id for m in store.mentions()}
    replies = Counter(r["in_reply_to"] for r in fake.posted() if r["kind"] == "reply")
    messages = Counter(m["to"] for m in fake.messages)
    cases = store.cases(status=None)
    opened = sum(1 for c in cases for e in store.case_events(c.id) if e.kind == "opened")
    uncertain = len(store.outbox("uncertain"))
    result = {
        "kills": kills,
        "daemons": daemons,
        "mentions": len(comments),
        "stored": len(stored & set(comments)),
        "lost_mentions": len(set(comments) - stored),
        "replies": sum(replies.values()),
        "unanswered": sum(1 for c in comments if not replies[c]),
        "duplicate_replies": sum(n - 1 for n in replies.values() if n > 1),
        "messages": sum(messages.values()),
        "duplicate_messages": sum(n - 1 for n in messages.values() if n > 1),
        "cases": len(cases),
        "cases_opened_twice": opened - len(cases),
        "left_for_a_person": uncertain,
        "seconds": round(settled_after, 1),
    }
    store.close()
    return result


def main() -> None:
    import tempfile

    from tests.postgres_server import Cluster

    kills = int(os.environ.get("BENCH_KILLS", 50))
    cluster = Cluster().start()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-daemons-") as folder:
            result = run(cluster.url(), Path(folder), kills=kills, mentions=120)
    finally:
        cluster.stop()
    print(
        f"3 daemons on one PostgreSQL database, {result['kills']} SIGKILLs: {result['mentions']} mentions, "
        f"{result['stored']} stored ({result['lost_mentions']} lost), {result['replies']} replies "
        f"({result['duplicate_replies']} duplicate, {result['unanswered']} unanswered), {result['messages']} "
        f"private messages ({result['duplicate_messages']} duplicate), {result['cases']} cases "
        f"({result['cases_opened_twice']} opened twice), {result['left_for_a_person']} left for a person to "
        f"check; settled after {result['seconds']} s"
    )


if __name__ == "__main__":
    main()
