"""The ``mentionbot triage`` and ``mentionbot model`` commands: triage a text, evaluate, train and backtest models."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from bot.terminal import console


def _current_triager(obj: Any, *, need_store: bool = False, create: bool = False):
    """The live triager: the configured store's active model, or the cold-start rules without a config file."""
    from bot.triage import Triager

    if obj is None or not os.path.exists(obj.config_path):
        if need_store:
            raise click.ClickException(f"no configuration at {obj.config_path if obj else 'config.toml'}")
        return Triager(), None
    config = obj.config()
    location = config.store_location()
    if not need_store and isinstance(location, Path) and not location.exists():
        return Triager(languages=tuple(config.brand.languages)), None
    store = obj.store(create=create)
    return Triager.from_store(store, languages=tuple(config.brand.languages)), store


def _encoder_path(obj: Any) -> str:
    """``[triage] encoder`` of the configuration, or "" (words only) without a config file."""
    if obj is None or not os.path.exists(obj.config_path):
        return ""
    return obj.config().triage.encoder


def _load(path: str):
    from bot.triage import read_labels_csv

    try:
        return read_labels_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("triage")
@click.argument("text")
@click.option("--rating", type=click.IntRange(1, 5), help="The star rating, when the text is a review.")
@click.option("--json", "as_json", is_flag=True, help="Print the decision as one JSON object.")
@click.pass_obj
def triage_command(obj: Any, text: str, rating: int | None, as_json: bool) -> None:
    """The intent, urgency, scores and reasons for one TEXT."""
    if not text.strip():
        raise click.UsageError("TEXT is empty: give the text of a post to triage")
    triager, _ = _current_triager(obj)
    t = triager.triage_text(text, rating=rating)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "intent": t.intent,
                    "urgency": t.urgency,
                    "sentiment": t.sentiment,
                    "complaint_score": t.complaint_score,
                    "scores": t.scores,
                    "reasons": list(t.reasons),
                    "lang": t.lang,
                    "needs_human": t.needs_human,
                    "model_version": t.model_version,
                }
            )
        )
        return
    flag = "  needs a human" if t.needs_human else ""
    console.print(
        f"intent: {t.intent}  urgency: {t.urgency}  complaint score: {t.complaint_score:.2f}{flag}",
        markup=False,
    )
    console.print(
        f"sentiment (VADER compound): {t.sentiment:+.2f}  language: {t.lang}  model: {t.model_version}",
        markup=False,
    )
    for reason in t.reasons:
        console.print(f"  - {reason}", markup=False)


@click.group("model")
def model() -> None:
    """Evaluate, train and backtest the complaint model."""


def _print_scores(title: str, s: dict[str, Any]) -> None:
    console.print(
        f"{title}: macro-F1 {s['macro_f1']:.3f}  accuracy {s['accuracy']:.3f}  n {s['n']}", markup=False
    )
    for name, c in s["per_class"].items():
        console.print(
            f"  {name:<14} precision {c['precision']:.3f}  recall {c['recall']:.3f}  F1 {c['f1']:.3f}",
            markup=False,
        )
    m = s["confusion"]["rows_truth_cols_predicted"]
    console.print("  confusion (rows truth, columns predicted: not complaint, complaint)", markup=False)
    console.print(f"    not complaint {m[0][0]:>6} {m[0][1]:>6}", markup=False)
    console.print(f"    complaint     {m[1][0]:>6} {m[1][1]:>6}", markup=False)
    if r := s.get("replies"):
        console.print(f"  replies: {reply_summary(r)}", markup=False)
    if s.get("texts_per_second"):
        console.print(f"  {s['texts_per_second']:,.0f} texts/second", markup=False)


def reply_summary(r: dict[str, int]) -> str:
    """The reply-type mistakes of ``reply_errors`` in one line."""
    return (
        f"complaint drafted as praise {r['complaint_as_praise']}/{r['complaints']} "
        f"({r['complaint_as_praise'] / max(1, r['complaints']):.2%}); not a complaint drafted as an apology "
        f"{r['not_complaint_as_apology']}/{r['posts'] - r['complaints']}; held for a human {r['held']}/{r['posts']} "
        f"({r['held'] / max(1, r['posts']):.1%})"
    )


@model.command("eval")
@click.option(
    "--labels", "labels_path", required=True, type=click.Path(dir_okay=False), help="CSV: text, complaint."
)
@click.option(
    "--train", "train_path", type=click.Path(dir_okay=False), help="Score a fresh model trained on this CSV."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def eval_command(obj: Any, labels_path: str, train_path: str | None, as_json: bool) -> None:
    """Score the current model (or a fresh one trained on --train) on a labelled CSV."""
    from bot.encoder import EncoderError, load_encoder
    from bot.triage import Triager, evaluate, train_model

    examples = _load(labels_path)
    if train_path:
        try:
            encoder = load_encoder(path) if (path := _encoder_path(obj)) else None
        except EncoderError as exc:
            raise click.ClickException(str(exc)) from exc
        triager = Triager(model=train_model(_load(train_path), version="eval-candidate", encoder=encoder))
    else:
        triager, _ = _current_triager(obj)
    triager.triage_text("¿Dónde está mi pedido? Llevo una semana esperando.")  # loads the language model
    scores = evaluate(triager, examples) | {"model_version": triager.version}
    if as_json:
        click.echo(json.dumps(scores))
    else:
        _print_scores(f"model {triager.version} on {labels_path}", scores)


@model.command("train")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False), help="Also learn from this CSV.")
@click.pass_obj
def train_command(obj: Any, labels_path: str | None) -> None:
    """Train from the database's labels (plus --labels), report held-back scores, activate only if better."""
    from rich.progress import Progress

    from bot.encoder import EncoderError
    from bot.terminal import err
    from bot.triage import retrain

    extra = _load(labels_path) if labels_path else []
    _, store = _current_triager(obj, need_store=True, create=True)
    try:
        settings = obj.config().triage
        # The encoder reads tens of texts a second: a bar while it reads (minutes, with thousands of labels).
        with Progress(console=err, transient=True, disable=not (err.is_terminal and settings.encoder)) as bar:
            task = bar.add_task("encoder", total=None)

            def reading(read: int, of: int) -> None:
                bar.update(task, completed=read, total=of, description=f"encoder: {of:,} texts")

            result = retrain(
                store,
                now=obj.clock.now(),
                extra=extra,
                holdout=settings.holdout,
                min_labels=settings.min_labels,
                encoder=settings.encoder,
                encoder_mode=settings.encoder_mode,
                progress=reading,
            )
    except EncoderError as exc:
        raise click.ClickException(str(exc)) from exc
    if "skipped" in result:
        console.print(f"not trained: {result['skipped']}", markup=False)
        sys.exit(1)
    _print_scores(f"candidate {result['version']} on held-back labels", result["candidate"])
    _print_scores("cold-start rules on the same labels", result["rules"])
    verdict = "activated" if result["activated"] else "saved but not activated (not better than the rules)"
    console.print(f"model {result['version']} trained on {result['n']} labels: {verdict}", markup=False)


@model.command("list")
@click.pass_obj
def list_command(obj: Any) -> None:
    """The stored models, their scores and which one is active."""
    from bot.store import iso

    _, store = _current_triager(obj, need_store=True)
    rows = store.models()
    if not rows:
        console.print("no learned models: triage uses the cold-start rules", markup=False)
    for row in rows:
        mark = "*" if row.active else " "
        console.print(f"{mark} {row.version}  {row.kind}  {iso(row.created_at)}  {row.scores}", markup=False)


@model.command("backtest")
@click.option(
    "--candidate",
    type=click.Choice(["rules", "latest"]),
    default="latest",
    show_default=True,
    help="The cold-start rules, or the most recently trained model.",
)
@click.option("--limit", type=int, help="Only the first N stored mentions.")
@click.pass_obj
def backtest_command(obj: Any, candidate: str, limit: int | None) -> None:
    """Re-run triage over stored mentions with a candidate and show what would change."""
    from bot.complaints import ComplaintModel
    from bot.triage import Triager, backtest

    _, store = _current_triager(obj, need_store=True)
    languages = tuple(obj.config().brand.languages)
    if candidate == "rules":
        triager = Triager(languages=languages)
    else:
        rows = store.models()
        if not rows:
            raise click.ClickException("no trained model yet: run `mentionbot model train` first")
        blob = store.model_blob(rows[-1].version)
        triager = Triager(languages=languages, model=ComplaintModel.from_bytes(blob))
    result = backtest(store, triager, limit=limit, brand=obj.config().brand)
    console.print(
        f"{result['candidate']}: {result['changed']} of {result['mentions']} decisions would change",
        markup=False,
    )
    for c in result["changes"]:
        console.print(
            f"  {c['mention']}: {c['from']['intent']}/{c['from']['urgency']} → {c['to']['intent']}/"
            f"{c['to']['urgency']}  {c['text'][:80]!r}",
            markup=False,
        )
