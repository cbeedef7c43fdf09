"""The complaint model: features, training on written labels, serialisation, the store round trip, backtest, CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from bot.complaints import (
    SIGNALS,
    URGENCY,
    ComplaintModel,
    Signal,
    features,
    find_cues,
    find_signals,
    find_urgency,
    lowered,
)
from bot.models import Author, Mention
from bot.store import Store
from bot.triage import Triager, backtest, cross_validate, read_labels_csv, retrain, scores_for, train_model

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
COMPLAINTS = [
    "my parcel never arrived and nobody replies",
    "charged twice for my subscription, I want a refund",
    "the app keeps crashing since the update",
    "still waiting for my refund after two weeks",
    "order {n} is missing and support ignores me",
    "the charger stopped working after {n} days",
    "cancelled my flight and no refund yet",
    "worst service ever, on hold for {n} minutes",
]
FINE = [
    "love the new gadget, works great",
    "thanks for the quick delivery",
    "what a lovely day at the beach",
    "the new colours look fantastic",
    "watching the game with friends tonight",
    "great support team, sorted in {n} minutes",
    "just bought my second one, brilliant",
    "happy birthday to my sister",
]


def written_labels() -> list[tuple[str, int]]:
    out = []
    for n in range(4):
        out += [(t.format(n=n + 2), 1) for t in COMPLAINTS]
        out += [(t.format(n=n + 2), 0) for t in FINE]
    return out


def labelled_store(folder, config_extra: str = ""):
    """A config.toml in ``folder`` (plus ``config_extra``) and its store, holding the written labels."""
    config = folder / "config.toml"
    config.write_text('[store]\npath = "bot.db"\n' + config_extra)
    store = Store.open(folder / "bot.db")
    for text, y in written_labels():
        store.add_label(
            None, complaint=bool(y), intent="other", source="test", actor="sam", now=NOW, text=text
        )
    return config, store


def test_signals_and_urgency_name_their_words():
    names = {
        s.name: s.text for s in find_signals("Still waiting, my order is 3 days late. No problem though")
    }
    assert names["still waiting"] == "still waiting"
    assert names["my order"] == "my order"
    assert names["time span"] == "3 days"
    assert names["no problem"] == "no problem"
    assert "broken" not in names  # "no problem" is not a problem
    assert find_urgency("I will sue, this is unsafe") == [("safety", "unsafe"), ("legal", "sue")]


def test_one_scan_for_triggers_finds_what_checking_each_signal_in_turn_finds():
    """find_cues looks for every trigger in one scan (overlapping ones too) and runs only the patterns whose
    triggers occur: the same cues as trying each signal's triggers and pattern in turn."""
    texts = [
        "I have never received my refund, nobody answered and it's still not working",
        "Not bad at all, no problems, can't wait for the next one",
        "never again: cancel my account, switching to their rival. lawyer next",
        "The charger was smoking and burnt my hand!! third time I call 😡",
        "nothing to see here",
        "keep calling, keeps logging me out, been waiting 3 hours on hold",
    ]
    for text in texts:
        low = lowered(text)
        signals = [
            Signal(name, weight, m.group(0))
            for name, weight, triggers, pattern in SIGNALS
            if any(t in low for t in triggers) and (m := re.search(pattern, low))
        ]
        urgent = [
            (name, m.group(0))
            for name, triggers, pattern in URGENCY
            if any(t in low for t in triggers) and (m := re.search(pattern, low))
        ]
        assert find_cues(text) == (signals, urgent), text


def test_features_normalise_handles_links_and_digits():
    feats = features("@AcmeHelp order 12345 https://x.test/a", compound=-0.5, signals=[])
    assert "w:@user" in feats and "w:url" in feats and "w:00000" in feats
    assert "b:order 00000" in feats and "v:-2" in feats


def test_model_round_trips_through_bytes():
    model = ComplaintModel(version="lr-test", bias=-0.5, weights={"w:late": 2.0}, scores={"macro_f1": 0.9})
    again = ComplaintModel.from_bytes(model.to_bytes())
    assert again == model
    p, top = again.score(["w:late", "w:other"])
    assert p > 0.8 and top == [("w:late", 2.0)]
    with pytest.raises(ValueError):
        ComplaintModel.from_bytes(__import__("zlib").compress(b'{"kind": "other"}'))


def test_scores_for_counts_both_classes():
    s = scores_for([1, 1, 0, 0], [1, 0, 0, 0])
    assert s["accuracy"] == 0.75
    assert s["confusion"]["rows_truth_cols_predicted"] == [[2, 0], [1, 1]]
    assert s["per_class"]["complaint"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667}


def test_cross_validation_learns_the_written_set():
    assert cross_validate(written_labels(), k=4)["macro_f1"] >= 0.9


def test_train_save_load_and_every_triage_records_the_version():
    store = Store.memory()
    for text, y in written_labels():
        store.add_label(
            None,
            complaint=bool(y),
            intent="complaint" if y else "other",
            source="test",
            actor="sam",
            now=NOW,
            text=text,
        )
    assert Triager.from_store(store).version == "rules-v1"
    result = retrain(store, now=NOW, min_labels=10)
    version = result["version"]
    assert version == "lr-20261123-010000"
    stored = {m.version: m for m in store.models()}[version]
    assert "heldback_macro_f1" in stored.scores
    if not result["activated"]:
        # The rules were as good on the held-back labels: the model is kept but not used.
        assert result["candidate"]["macro_f1"] <= result["rules"]["macro_f1"]
        store.save_model(
            version, kind=stored.kind, blob=store.model_blob(version), scores={}, now=NOW, active=True
        )
    triager = Triager.from_store(store)
    assert triager.version == version
    mention = Mention(
        platform="x", id="1", url="", author=Author("sam"), text="my parcel never arrived", created_at=NOW
    )
    store.save_fetch("x", [mention], None, now=NOW)
    triage = triager.triage(mention)
    assert triage.intent == "complaint"
    assert any(r.startswith("model:") for r in triage.reasons)
    store.save_triage(mention, triage, now=NOW)
    assert store.triage_for("x", "1").model_version == version


def test_too_few_labels_skip_training():
    store = Store.memory()
    assert "skipped" in retrain(store, now=NOW)


def test_backtest_lists_what_would_change():
    store = Store.memory()
    mention = Mention(
        platform="x",
        id="1",
        url="",
        author=Author("sam"),
        text="It arrived.",
        created_at=NOW,
        kind="review",
        rating=1,
    )
    store.save_fetch("x", [mention], None, now=NOW)
    store.save_triage(mention, Triager().triage_text("It arrived.", rating=5), now=NOW)
    result = backtest(store, Triager())
    assert result["mentions"] == 1 and result["changed"] == 1
    assert result["changes"][0]["to"]["intent"] == "complaint"


def test_labels_csv_errors_are_clear(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("text,complaint\nhello,maybe\n")
    with pytest.raises(ValueError, match=r"bad\.csv:2: complaint must be 0 or 1"):
        read_labels_csv(bad)
    (tmp_path / "nocol.csv").write_text("body\nhi\n")
    with pytest.raises(ValueError, match="missing column"):
        read_labels_csv(tmp_path / "nocol.csv")


def test_cli_triage_and_model_eval(tmp_path):
    from bot.cli import cli

    runner = CliRunner()
    cfg = str(tmp_path / "absent.toml")
    out = runner.invoke(cli, ["-c", cfg, "triage", "Still waiting for my refund", "--json"])
    assert out.exit_code == 0, out.output
    assert '"intent": "complaint"' in out.output and '"model_version": "rules-v1"' in out.output
    out = runner.invoke(cli, ["-c", cfg, "triage", "It arrived.", "--rating", "1"])
    assert "intent: complaint" in out.output and "rating 1★" in out.output
    labels = tmp_path / "labels.csv"
    labels.write_text("text,complaint,domain\n" + "".join(f'"{t}",{y},x\n' for t, y in written_labels()))
    out = runner.invoke(cli, ["-c", cfg, "model", "eval", "--labels", str(labels), "--json"])
    assert out.exit_code == 0, out.output
    data = __import__("json").loads(out.output)
    assert data["n"] == 64 and {"macro_f1", "accuracy", "texts_per_second"} <= set(data)
    out = runner.invoke(cli, ["-c", cfg, "model", "eval", "--labels", str(labels), "--train", str(labels)])
    assert out.exit_code == 0 and "macro-F1" in out.output and "texts/second" in out.output


def test_mentions_saved_with_their_triage_match_save_triage():
    triager = Triager()
    mentions = [
        Mention(platform="x", id=str(i), url="", author=Author("sam"), text=text, created_at=NOW)
        for i, text in enumerate(["my parcel never arrived", "love it, brilliant"])
    ]
    together, apart = Store.memory(), Store.memory()
    together.save_fetch("x", mentions, None, now=NOW, triages={m.key: triager.triage(m) for m in mentions})
    apart.save_fetch("x", mentions, None, now=NOW)
    for m in mentions:
        apart.save_triage(m, triager.triage(m), now=NOW)
    for store in (together, apart):
        assert store.triage_for("x", "0") == triager.triage(mentions[0])
        person = store.person("x", "sam")
        assert (person.mentions, person.complaints, person.praise) == (2, 1, 1)
    assert together.mention("x", "0") == apart.mention("x", "0")
    assert together.intent_counts() == apart.intent_counts() == {"complaint": 1, "praise": 1}


def test_scheduled_retrain_and_the_next_cycle_picks_up_the_model():
    from datetime import timedelta

    from bot.config import TriageSettings
    from bot.triage import retrain_if_due

    store = Store.memory()
    settings = TriageSettings(retrain_every_hours=24, min_labels=10)
    triager = Triager.from_store(store)
    assert retrain_if_due(store, now=NOW, settings=settings) is None  # no labels yet
    for text, y in written_labels():
        store.add_label(
            None, complaint=bool(y), intent="other", source="test", actor="sam", now=NOW, text=text
        )
    assert retrain_if_due(store, now=NOW, settings=settings)["version"] == "lr-20261123-010000"
    store.add_label(
        None, complaint=True, intent="complaint", source="test", actor="sam", now=NOW, text="late again"
    )
    assert retrain_if_due(store, now=NOW + timedelta(hours=1), settings=settings) is None  # not due yet
    result = retrain_if_due(store, now=NOW + timedelta(hours=25), settings=settings)
    assert result["version"] == "lr-20261124-020000"
    assert retrain_if_due(store, now=NOW + timedelta(hours=50), settings=settings) is None  # no new labels
    refreshed = triager.refreshed(store)
    assert refreshed.version == (result["version"] if result["activated"] else "rules-v1")
    assert refreshed.refreshed(store) is refreshed


def test_cli_model_train_list_and_backtest(tmp_path):
    from bot.cli import cli

    config, store = labelled_store(tmp_path)
    mention = Mention(
        platform="x",
        id="1",
        url="",
        author=Author("sam"),
        text="It arrived.",
        created_at=NOW,
        kind="review",
        rating=1,
    )
    store.save_fetch("x", [mention], None, now=NOW)
    store.save_triage(mention, Triager().triage_text("It arrived."), now=NOW)
    store.close()
    runner = CliRunner()
    out = runner.invoke(cli, ["-c", str(config), "model", "train"])
    assert out.exit_code == 0, out.output
    assert "held-back labels" in out.output and "trained on 64 labels" in out.output
    out = runner.invoke(cli, ["-c", str(config), "model", "list"])
    assert out.exit_code == 0 and "lr-" in out.output
    out = runner.invoke(cli, ["-c", str(config), "model", "backtest", "--candidate", "rules"])
    assert out.exit_code == 0, out.output
    assert "rules-v1: 1 of 1 decisions would change" in out.output
    out = runner.invoke(cli, ["-c", str(config), "model", "eval", "--labels", str(tmp_path / "missing.csv")])
    assert out.exit_code != 0 and "missing.csv" in out.output


def test_scoring_from_tokens_matches_scoring_the_feature_strings():
    """Triage scores from the tokens directly; it must agree with the features the model was trained on."""
    from bot.complaints import cue_features, tokens

    examples = written_labels()
    model = train_model(examples, version="t")
    triager = Triager(model=model)
    for text, _ in examples:
        reading = triager.read(text)
        p, top = model.score(triager.features(text, reading))
        cues = cue_features(compound=reading.compound, signals=reading.signals)
        fast_p, fast_top = model.score_tokens(tokens(text), cues)
        assert fast_p == pytest.approx(p, abs=1e-12)
        assert sorted(w for _, w in fast_top) == sorted(w for _, w in top)
        assert triager.triage_text(text).complaint_score == round(p, 4)


def test_the_daemon_retrains_in_a_child_and_the_next_poll_triages_with_the_new_model(tmp_path, monkeypatch):
    """The learning loop as the daemon runs it: labels → the scheduled retrain (scikit-learn in a child process,
    never in the daemon) → the model activated because it beat the rules → the next poll records its version."""
    import json
    import subprocess
    import sys
    import threading
    from datetime import timedelta

    import bot.child
    from bot.clock import FakeClock
    from bot.config import parse_config
    from bot.daemon import Daemon
    from bot.pipeline import Pipeline
    from connectors.file import FileConnector, FileSettings
    from tests.conftest import ROOT

    store = Store.open(tmp_path / "bot.db")
    # A made-up product word the rules cannot know about decides these labels: only a learned model gets them.
    for i in range(30):
        for word, y in (("zorbix", 1), ("quillet", 0)):
            store.add_label(
                None,
                complaint=bool(y),
                intent="other",
                source="discord",
                actor="sam",
                now=NOW,
                text=f"the {word} thing from order {i}",
            )
    config = parse_config(
        {"brand": {"contact_email": "care@acme.example"}, "triage": {"min_labels": 20}}, check_env=False
    )
    export = tmp_path / "export.jsonl"
    export.write_text(
        json.dumps({"id": "m1", "text": "the zorbix thing again", "created_at": NOW.isoformat()})
    )
    clock = FakeClock(NOW + timedelta(hours=1))
    pipeline = Pipeline(
        config, store, clock=clock, connectors={"file": FileConnector(FileSettings(paths=[str(export)]))}
    )
    daemon = Daemon(pipeline)
    assert any(job.name == "model retrain" for job in daemon.scheduler.jobs)
    # While the child trains (minutes with an encoder), the Discord bot's thread can still use the store.
    free_while_training, in_child = [], bot.child.in_child_process

    def training(*args):
        def try_lock():
            if pipeline.lock.acquire(blocking=False):
                pipeline.lock.release()
                free_while_training.append(True)

        other = threading.Thread(target=try_lock)
        other.start()
        other.join()
        return in_child(*args)

    monkeypatch.setattr(bot.child, "in_child_process", training)

    daemon.retrain()
    assert free_while_training == [True]
    (model,) = store.models()
    assert model.active == 1 and model.version == "lr-20261123-020000"
    daemon.retrain()  # nothing new to learn from: no second model
    assert len(store.models()) == 1

    pipeline.poll("file")
    assert store.triage_for("import", "m1").model_version == "lr-20261123-020000"
    assert store.triage_for("import", "m1").intent == "complaint"
    # The training runs in a child: the same call in a fresh interpreter leaves scikit-learn unloaded there.
    code = (
        "import sys; from bot.triage import retrain_if_due; from bot.store import Store; "
        "from bot.config import TriageSettings; from datetime import datetime, UTC; "
        f"s = Store.open({str(tmp_path / 'bot.db')!r}); s.set_retrained(s.retrained()[0], labels=0); "
        "retrain_if_due(s, now=datetime(2026, 11, 30, tzinfo=UTC), settings=TriageSettings(min_labels=20), "
        "in_child=True); print('sklearn' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr
    assert len(store.models()) == 2  # it did train, out of this process


def test_cli_model_train_follows_the_configured_minimum(tmp_path):
    from bot.cli import cli

    config, store = labelled_store(tmp_path, "[triage]\nmin_labels = 100\n")
    store.close()
    out = CliRunner().invoke(cli, ["-c", str(config), "model", "train"])
    assert out.exit_code == 1 and "64 labels (32 complaints): need 100" in out.output, out.output


def test_features_of_equal_weight_are_named_in_the_same_order_in_every_process(tmp_path):
    """Words seen only together in training get equal weights; the reasons name them in one order, whatever the
    process's string hashing (a set's order would change with it)."""
    blob = tmp_path / "model.bin"
    blob.write_bytes(train_model(written_labels(), version="lr-ties").to_bytes())
    script = (
        "import json, sys\n"
        "from bot.complaints import ComplaintModel\n"
        "from bot.triage import Triager\n"
        "triager = Triager(model=ComplaintModel.from_bytes(open(sys.argv[1], 'rb').read()))\n"
        "print(json.dumps([triager.triage_text(text).reasons for text in sys.argv[2:]]))\n"
    )
    texts = [text for text, _ in written_labels()]
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(blob), *texts],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    ]
    assert runs[0] == runs[1] == runs[2]
