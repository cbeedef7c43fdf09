"""Triage figures: cold-start and learned macro-F1 on complaints-dev.csv, texts/second on one core, bulk-import rate;
the reply-type mistakes (complaint drafted as praise, praise drafted as an apology, held for a human) on
complaints-dev.csv and on the VADER ground truth (rated ≤ −1 / ≥ +1).

Targets: cold start macro-F1 ≥ 0.75; learned ≥ 0.84 (5-fold CV; the encoder blend ≥ 0.85); ≥ 5,000 texts/s;
the pipeline (parse → dedup → triage → store) ≥ 80% of the bare model rate on a bulk import of 100,000 mentions.

With MENTIONBOT_ENCODER naming a sentence-transformers folder (``make bench`` unpacks all-MiniLM-L6-v2 there), also
the optional encoder blend's 5-fold CV and its texts/second, and the word model the encoder teaches
(``encoder_mode = "teach"``): its 5-fold CV and its texts/second beside the learned model's.
"""

from __future__ import annotations

import gc
import json
import os
import random
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.complaints import ComplaintModel
from bot.store import Store
from bot.triage import (
    TEACH_VARIANTS,
    Triager,
    cross_validate,
    evaluate,
    read_labels_csv,
    reply_kind,
    train_model,
)
from bot.triage_cli import reply_summary

DATA = next(
    (
        p / "shared" / "data" / "complaints-dev.csv"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "data" / "complaints-dev.csv").exists()
    ),
    Path("../shared/data/complaints-dev.csv"),
)
VADER = DATA.parent / "vader-groundtruth"
ENCODER = os.environ.get("MENTIONBOT_ENCODER", "")
BULK = int(os.environ.get("BENCH_TRIAGE_MENTIONS", 100_000))
PASSES = 7  # the best pass is reported: a shared machine only ever makes a pass slower
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
    return _rates(triager, texts)[0]


def _rates(triager: Triager, texts: list[str]) -> tuple[float, float]:
    """Texts per second on the wall clock, and per second of this process's CPU time (which another process on
    the same core does not inflate)."""
    start, cpu = time.perf_counter(), time.process_time()
    for text in texts:
        triager.triage_text(text)
    return len(texts) / (time.perf_counter() - start), len(texts) / (time.process_time() - cpu)


def _synthetic(n: int, rng: random.Random) -> list[dict]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        {
            "id": str(i),
            "author": f"user{rng.randrange(20_000)}",
            "name": "Sam Example",
            "text": rng.choice(TEXTS).format(n=rng.randrange(2, 90)) + f" #{i % 97}",
            "created_at": (start + timedelta(seconds=i)).isoformat(),
            "url": f"https://example.test/p/{i}",
        }
        for i in range(n)
    ]


def bulk_import(lines: list[str], work: Path, *, url: str | None = None) -> tuple[float, int]:
    """``mentionbot import`` of a JSONL export (parse → dedup → triage → store), timed on the wall clock, into
    a SQLite file or the PostgreSQL database at ``url``.

    Returns the rows read per second and the mentions stored.
    """
    from bot.cli import cli

    export = work / "export.jsonl"
    export.write_text("\n".join(lines) + "\n")
    config = work / "config.toml"
    where = f'url = "{url}"' if url else 'path = "bench.db"'
    config.write_text(f'dry_run = true\n[brand]\ncontact_email = "care@acme.example"\n[store]\n{where}\n')
    start, own, workers = time.perf_counter(), _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    cli.main(["-c", str(config), "import", str(export)], standalone_mode=False)
    seconds = time.perf_counter() - start
    own, workers = _cpu(resource.RUSAGE_SELF) - own, _cpu(resource.RUSAGE_CHILDREN) - workers
    print(
        f"  import: {seconds:.1f} s on the wall clock; CPU per row {own / len(lines) * 1e6:.0f} µs in the command, "
        f"{workers / len(lines) * 1e6:.0f} µs in its triage worker"
    )
    store = Store.open(url or work / "bench.db")
    stored = store.counts().mentions
    store.close()
    return len(lines) / seconds, stored


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


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
        cv = cross_validate(examples, k=5, replies=True)
        print(
            f"learned model, 5-fold CV: macro-F1 {cv['macro_f1']:.3f}  accuracy {cv['accuracy']:.3f}  "
            f"complaint recall {cv['per_class']['complaint']['recall']:.3f}  (target ≥ 0.84)"
        )
        print(f"  replies (cold start): {reply_summary(cold['replies'])}")
        print(f"  replies (5-fold CV):  {reply_summary(cv['replies'])}")
        print("  (targets: complaint → praise ≤ 0.5% of complaints, goal 0; held for a human ≤ 10% of posts)")
        # Loaded from its bytes, as the daemon loads the active model from the store.
        learned = Triager(model=ComplaintModel.from_bytes(train_model(examples, version="bench").to_bytes()))
        texts = [t for t, _ in examples]
        if VADER.exists():
            _vader_figures({"cold start": rules, "learned model": learned})
    else:
        print(f"{DATA} not found: skipping the accuracy figures")
        learned = None
        texts = [t.format(n=7) for t in TEXTS] * 500
    gc.collect()  # the cross-validation's garbage is not the triage's cost
    triagers = {"rules": rules} | ({"learned model": learned} if learned else {})
    for triager in triagers.values():
        triager.triage_text("¿Dónde está mi pedido?")
    best = {name: (0.0, 0.0) for name in triagers}
    for _ in range(
        PASSES
    ):  # passes taken in turn, so that a slower spell of a shared machine hits both alike
        for name, triager in triagers.items():
            wall, cpu = _rates(triager, texts)
            best[name] = (max(best[name][0], wall), max(best[name][1], cpu))
    for name, (wall, cpu) in best.items():
        print(
            f"{name}: {wall:,.0f} texts/s on one core, best of {PASSES} passes (target ≥ 5,000); "
            f"{cpu:,.0f} per CPU-second"
        )

    if ENCODER and DATA.exists():
        _encoder_figures(examples, learned)

    rng = random.Random(5)
    items = _synthetic(BULK, rng)
    items += rng.sample(items, BULK // 20)  # re-fetched duplicates the store must drop
    lines = [json.dumps(item) for item in items]
    bare = max(_rate(rules, [item["text"] for item in items[:20_000]]) for _ in range(3))
    with tempfile.TemporaryDirectory() as tmp:
        rate, stored = bulk_import(lines, Path(tmp))
    print(
        f"mentionbot import of {len(lines):,} rows ({stored:,} new): {rate:,.0f} rows/s = "
        f"{rate / bare:.0%} of the bare rules rate {bare:,.0f}/s on the same texts, best of 3 passes (target ≥ 80%)"
    )
    from tests.postgres_server import Cluster

    cluster = Cluster().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rate, stored = bulk_import(lines, Path(tmp), url=cluster.url())
    finally:
        cluster.stop()
    print(
        f"mentionbot import of {len(lines):,} rows ({stored:,} new) into PostgreSQL (a local server): "
        f"{rate:,.0f} rows/s = {rate / bare:.0%} of the bare rules rate"
    )


def vader_ground_truth() -> list[tuple[str, float]]:
    """(text, mean human rating from -4 to +4) of the VADER authors' tweets and review snippets."""
    rows = []
    for name in ("tweets_GroundTruth.txt", "amazonReviewSnippets_GroundTruth.txt"):
        for line in (VADER / name).read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3:
                rows.append((parts[2], float(parts[1])))
    return rows


def _vader_figures(triagers: dict[str, Triager]) -> None:
    rows = vader_ground_truth()
    for name, triager in triagers.items():
        kinds = [(reply_kind(triager.triage_text(text)), rating) for text, rating in rows]
        negative = [k for k, r in kinds if r <= -1]
        positive = [k for k, r in kinds if r >= 1]
        held = sum(k == "held" for k, _ in kinds)
        print(
            f"VADER ground truth, {name}: rated ≤ −1 drafted as praise {negative.count('praise')}/{len(negative)} "
            f"({negative.count('praise') / len(negative):.2%}, target ≤ 0.5%); rated ≥ +1 drafted as an apology "
            f"{positive.count('apology')}/{len(positive)} ({positive.count('apology') / len(positive):.2%}, "
            f"target ≤ 1%); held {held}/{len(kinds)} ({held / len(kinds):.1%}, target ≤ 10%)"
        )


def _encoder_figures(examples: list[tuple[str, int]], learned: Triager) -> None:
    from bot.encoder import load_encoder

    encoder = load_encoder(ENCODER)
    for seed in (0, 1):
        cv = cross_validate(examples, k=5, seed=seed, encoder=encoder)
        print(
            f"learned model + encoder {encoder.name}, 5-fold CV seed {seed}: macro-F1 {cv['macro_f1']:.3f}  "
            f"accuracy {cv['accuracy']:.3f}  (target ≥ 0.85)"
        )
    model = train_model(examples, version="bench-encoder", encoder=encoder)
    triager = Triager(model=ComplaintModel.from_bytes(model.to_bytes()))
    rate = _rate(triager, [t for t, _ in examples[:300]])
    print(f"learned model + encoder: {rate:,.0f} texts/s (an optional extra: not the default model)")
    # encoder_mode = "teach": the VADER texts stand in for the stored mentions nobody labelled (their ratings are
    # not used).
    pool = [t for t, _ in vader_ground_truth()]
    f1s, known = [], {}
    for seed in (0, 1, 2):
        cv = cross_validate(examples, k=5, seed=seed, encoder=encoder, teach=pool, replies=True, known=known)
        f1s.append(cv["macro_f1"])
        print(
            f"learned model taught by {encoder.name} on {len(pool):,} unlabelled texts and {TEACH_VARIANTS} copies "
            f"of each training text, 5-fold CV seed {seed}: "
            f"macro-F1 {cv['macro_f1']:.3f}  complaint recall {cv['per_class']['complaint']['recall']:.3f}  "
            f"replies: {reply_summary(cv['replies'])}"
        )
    print(f"learned model taught by the encoder: mean macro-F1 {sum(f1s) / len(f1s):.3f} (target ≥ 0.84)")
    model = train_model(examples, version="bench-taught", encoder=encoder, teach=pool, embedded=known)
    taught = Triager(model=ComplaintModel.from_bytes(model.to_bytes()))  # no head: no encoder at triage
    texts = [t for t, _ in examples]
    best = {"learned": 0.0, "taught": 0.0}
    for _ in range(PASSES):
        for name, triager in (("learned", learned), ("taught", taught)):
            best[name] = max(best[name], _rate(triager, texts))
    print(
        f"learned model taught by the encoder: {best['taught']:,.0f} texts/s on one core against the learned "
        f"model's {best['learned']:,.0f} in the same passes (target ≥ 5,000)"
    )


if __name__ == "__main__":
    main()
