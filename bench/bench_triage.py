"""Triage figures: cold-start and learned macro-F1 on complaints-dev.csv, texts/second on one core, bulk-import rate.

Targets: cold start macro-F1 ≥ 0.75; learned ≥ 0.85 (5-fold CV); ≥ 5,000 texts/s; the pipeline (parse → dedup →
triage → store) ≥ 80% of the bare model rate on a bulk import of 100,000 mentions.
"""

from __future__ import annotations

import gc
import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.models import Author, Mention
from bot.store import Store
from bot.triage import Triager, cross_validate, evaluate, read_labels_csv, train_model

DATA = next(
    (
        p / "shared" / "data" / "complaints-dev.csv"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "data" / "complaints-dev.csv").exists()
    ),
    Path("../shared/data/complaints-dev.csv"),
)
BULK = int(os.environ.get("BENCH_TRIAGE_MENTIONS", 100_000))
TEXTS = [
    "@AcmeHelp my order #{n} still hasn't arrived, {n} days late. Where is it?",
    "Charged twice for my Acme subscription again. I want a refund",
    "Thanks a lot @Acme, the app crashed and lost my notes. Great job",
    "How do I change the email on my Acme account?",
    "Loving the new Acme gadget, setup took {n} minutes!",
    "No problem at all, the support team sorted it quickly. Thanks!",
    "Anyone watching the game tonight? {n} minutes in and no goals",
    "@Acme why does the app log me out every time? Fix it please",
    "The Acme charger started smoking and burnt my desk. This is unsafe",
    "Is the Acme Pro coming back in stock before Christmas?",
]


def _rate(triager: Triager, texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        triager.triage_text(text)
    return len(texts) / (time.perf_counter() - start)


def _synthetic(n: int, rng: random.Random) -> list[dict]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        {
            "id": str(i),
            "author": {"handle": f"user{rng.randrange(20_000)}", "name": "Sam Example"},
            "text": rng.choice(TEXTS).format(n=rng.randrange(2, 90)) + f" #{i % 97}",
            "created_at": (start + timedelta(seconds=i)).isoformat(),
            "url": f"https://example.test/p/{i}",
        }
        for i in range(n)
    ]


def bulk_import(payloads: list[str], store: Store, triager: Triager) -> tuple[float, dict[str, float]]:
    """Parse → dedup (store) → triage → store; returns mentions per second and the seconds in each stage."""
    now = datetime(2026, 11, 23, tzinfo=UTC)
    stages = dict.fromkeys(("parse", "save_fetch", "triage", "save_triages"), 0.0)
    start = time.perf_counter()
    for i in range(0, len(payloads), 500):
        t0 = time.perf_counter()
        mentions = []
        for raw in payloads[i : i + 500]:
            item = json.loads(raw)
            mentions.append(
                Mention(
                    platform="bulk",
                    id=item["id"],
                    url=item["url"],
                    author=Author(item["author"]["handle"], item["author"]["name"]),
                    text=item["text"],
                    created_at=datetime.fromisoformat(item["created_at"]),
                    raw=item,
                )
            )
        t1 = time.perf_counter()
        new = store.save_fetch("bulk", mentions, str(i), now=now)
        t2 = time.perf_counter()
        decisions = [(mention, triager.triage(mention)) for mention in new]
        t3 = time.perf_counter()
        store.save_triages(decisions, now=now)
        t4 = time.perf_counter()
        for key, seconds in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            stages[key] += seconds
    return len(payloads) / (time.perf_counter() - start), stages


def main() -> None:
    """Print the triage figures."""
    rules = Triager()
    rules.triage_text("¿Dónde está mi pedido?")  # loads the language model before timing
    if DATA.exists():
        examples = read_labels_csv(DATA)
        cold = evaluate(rules, examples)
        print(
            f"cold start (rules-v1) on complaints-dev.csv: macro-F1 {cold['macro_f1']:.3f}  "
            f"accuracy {cold['accuracy']:.3f}  n {cold['n']}  (target ≥ 0.75)"
        )
        cv = cross_validate(examples, k=5)
        print(
            f"learned model, 5-fold CV: macro-F1 {cv['macro_f1']:.3f}  accuracy {cv['accuracy']:.3f}  (target ≥ 0.85)"
        )
        learned = Triager(model=train_model(examples, version="bench"))
        texts = [t for t, _ in examples] * 4
    else:
        print(f"{DATA} not found: skipping the accuracy figures")
        learned = None
        texts = [t.format(n=7) for t in TEXTS] * 500
    gc.collect()  # the cross-validation's garbage is not the triage's cost
    rules_rate = _rate(rules, texts)
    print(f"rules: {rules_rate:,.0f} texts/s on one core (target ≥ 5,000)")
    if learned is not None:
        learned.triage_text("¿Dónde está mi pedido?")
        print(f"learned model: {_rate(learned, texts):,.0f} texts/s on one core")

    rng = random.Random(5)
    items = _synthetic(BULK, rng)
    items += rng.sample(items, BULK // 20)  # re-fetched duplicates the store must drop
    payloads = [json.dumps(item) for item in items]
    bare = _rate(rules, [json.loads(p)["text"] for p in payloads[:20_000]])
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "bench.db")
        rate, stages = bulk_import(payloads, store, rules)
        stored = store.counts()["mentions"]
        store.close()
    print(
        f"bulk import of {len(payloads):,} mentions ({stored:,} new): {rate:,.0f} mentions/s = "
        f"{rate / bare:.0%} of the bare rules rate {bare:,.0f}/s on the same texts (target ≥ 80%)"
    )
    print("  seconds per stage: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()))


if __name__ == "__main__":
    main()
