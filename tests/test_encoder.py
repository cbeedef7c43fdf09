"""The optional sentence encoder, on a tiny BERT made here: loading, encoding, and the learning loop with its head."""

from __future__ import annotations

import dataclasses
import json
import logging
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bot.cli import cli
from bot.complaints import ComplaintModel, EncoderHead, train_head
from bot.config import ConfigError, load_config
from bot.encoder import EncoderError, _load, load_encoder
from bot.models import Author, Mention
from bot.store import Store
from bot.triage import (
    Triager,
    cross_validate,
    taught,
    text_features,
    train_model,
    unlabelled_texts,
    variants,
)
from tests.test_complaints import labelled_store, written_labels

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
DIM, LAYERS, HEADS, INNER, POSITIONS = 16, 2, 4, 32, 64


def make_tiny_bert(folder: Path, *, seed: int = 0) -> Path:
    """A sentence-transformers folder with random weights and a word-level vocabulary of the written labels."""
    from safetensors.numpy import save_file
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    folder.mkdir(parents=True, exist_ok=True)
    words = sorted({w for text, _ in written_labels() for w in text.lower().replace(",", " ").split()})
    vocab = {w: i for i, w in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", *words])}
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)]
    )
    tokenizer.save(str(folder / "tokenizer.json"))
    rng = np.random.default_rng(seed)

    def r(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.3, shape).astype(np.float32)

    w = {
        "embeddings.word_embeddings.weight": r(len(vocab), DIM),
        "embeddings.position_embeddings.weight": r(POSITIONS, DIM),
        "embeddings.token_type_embeddings.weight": r(2, DIM),
        "embeddings.LayerNorm.weight": np.ones(DIM, np.float32),
        "embeddings.LayerNorm.bias": np.zeros(DIM, np.float32),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for name in (
            "attention.self.query",
            "attention.self.key",
            "attention.self.value",
            "attention.output.dense",
        ):
            w[p + name + ".weight"], w[p + name + ".bias"] = r(DIM, DIM), r(DIM)
        w[p + "intermediate.dense.weight"], w[p + "intermediate.dense.bias"] = r(INNER, DIM), r(INNER)
        w[p + "output.dense.weight"], w[p + "output.dense.bias"] = r(DIM, INNER), r(DIM)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            w[p + norm + ".weight"], w[p + norm + ".bias"] = (
                np.ones(DIM, np.float32),
                np.zeros(DIM, np.float32),
            )
    save_file(w, str(folder / "model.safetensors"))
    config = {
        "model_type": "bert",
        "hidden_size": DIM,
        "num_hidden_layers": LAYERS,
        "num_attention_heads": HEADS,
        "intermediate_size": INNER,
        "max_position_embeddings": POSITIONS,
        "layer_norm_eps": 1e-12,
        "pad_token_id": 0,
    }
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    return folder


@pytest.fixture
def tiny(tmp_path) -> Path:
    return make_tiny_bert(tmp_path / "tiny-bert")


def test_embeddings_are_unit_length_and_do_not_depend_on_the_batch(tiny):
    encoder = load_encoder(tiny)
    assert load_encoder(f"{tiny}/../{tiny.name}/") is encoder  # one copy of the weights per folder
    short, long = "my parcel never arrived", "charged twice for my subscription, I want a refund " * 3
    alone = encoder.encode([short])
    together = encoder.encode([long, short, "thanks for the quick delivery"])
    assert together.shape == (3, DIM)
    assert np.allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    # The padding a longer batch-mate brings is masked out: the same text, the same embedding.
    assert np.allclose(alone[0], together[1], atol=1e-5)
    assert not np.allclose(together[0], together[1], atol=1e-3)


def test_the_last_layers_joined_are_each_layer_pooled_and_unit_length_together(tiny):
    encoder = load_encoder(tiny)
    texts = ["my parcel never arrived", "thanks for the quick delivery"]
    final = encoder.encode(texts)
    joined = encoder.encode(texts, last_layers=LAYERS)
    assert joined.shape == (2, DIM * LAYERS)
    assert np.allclose(np.linalg.norm(joined, axis=1), 1.0, atol=1e-5)
    # The final layer's part is that layer's embedding, scaled so the whole stays of unit length.
    assert np.allclose(joined[:, -DIM:] * np.sqrt(LAYERS), final, atol=1e-5)
    assert not np.allclose(joined[:, :DIM], joined[:, -DIM:], atol=1e-3)
    assert encoder.encode(texts, last_layers=9).shape == (2, DIM * LAYERS)  # no more layers than there are


def test_a_folder_that_is_not_a_model_is_refused_by_name(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(EncoderError, match=r"missing config\.json, model\.safetensors, tokenizer\.json"):
        load_encoder(tmp_path / "empty")
    bad = tmp_path / "bad.toml"
    bad.write_text(f'[triage]\nencoder = "{tmp_path / "empty"}"\n')
    with pytest.raises(ConfigError, match=r"triage\.encoder: expected a sentence-transformers model folder"):
        load_config(bad)


def test_the_head_is_trained_saved_and_blended_into_triage(tiny):
    encoder = load_encoder(tiny)
    model = train_model(written_labels(), version="lr-enc", encoder=encoder)
    assert model.kind == "linear-ngrams-v1+encoder" and model.head.sha256 == encoder.sha256
    assert model.head.layers == LAYERS and len(model.head.weights) == DIM * LAYERS
    loaded = type(model).from_bytes(model.to_bytes())
    assert loaded == model
    t = Triager(model=loaded).triage_text("still waiting for my refund after two weeks")
    assert t.model_version == "lr-enc" and t.intent == "complaint"
    assert any(r.startswith("encoder tiny-bert: P(complaint)") for r in t.reasons)
    assert cross_validate(written_labels(), k=4, encoder=encoder)["macro_f1"] >= 0.9


def test_a_head_saved_before_it_read_several_layers_still_reads_the_final_one(tiny):
    encoder = load_encoder(tiny)
    words = train_model(written_labels(), version="lr-old")
    embedded = encoder.encode([t for t, _ in written_labels()])
    head = train_head(embedded, [y for _, y in written_labels()], encoder=str(tiny), sha256=encoder.sha256)
    data = json.loads(zlib.decompress(dataclasses.replace(words, head=head).to_bytes()))
    del data["head"]["layers"]  # as stored by the version before
    data["kind"] = "linear-ngrams-v1+encoder"
    old = ComplaintModel.from_bytes(zlib.compress(json.dumps(data).encode()))
    assert old.head.layers == 1 and len(old.head.weights) == DIM
    t = Triager(model=old).triage_text("still waiting for my refund after two weeks")
    assert any(r.startswith("encoder tiny-bert: P(complaint)") for r in t.reasons)


def test_a_changed_encoder_leaves_the_word_model_alone_and_says_so(tmp_path, caplog):
    folder = make_tiny_bert(tmp_path / "enc", seed=1)
    model = train_model(written_labels(), version="lr-enc", encoder=load_encoder(folder))
    make_tiny_bert(tmp_path / "enc", seed=2)  # other weights in the same folder
    _load.cache_clear()
    with caplog.at_level(logging.WARNING):
        t = Triager(model=model).triage_text("still waiting for my refund after two weeks")
    assert "has changed since the model was trained" in caplog.text
    assert t.model_version == "lr-enc/words-only"
    assert not any(r.startswith("encoder") for r in t.reasons)


def test_cli_trains_with_the_configured_encoder_and_triage_uses_it(tmp_path, tiny):
    config, store = labelled_store(tmp_path, f'[triage]\nencoder = "{tiny}"\n')
    store.close()
    labels = tmp_path / "labels.csv"
    labels.write_text("text,complaint\n" + "".join(f'"{t}",{y}\n' for t, y in written_labels()))
    runner = CliRunner()
    out = runner.invoke(
        cli, ["-c", str(config), "model", "eval", "--labels", str(labels), "--train", str(labels)]
    )
    assert out.exit_code == 0, out.output
    out = runner.invoke(cli, ["-c", str(config), "model", "train"])
    assert out.exit_code == 0, out.output
    store = Store.open(tmp_path / "bot.db")
    (stored,) = store.models()
    assert stored.kind == "linear-ngrams-v1+encoder"
    if not stored.active:  # the rules were as good on these easy held-back labels: switch it on by hand
        blob = store.model_blob(stored.version)
        store.save_model(stored.version, kind=stored.kind, blob=blob, scores={}, now=NOW, active=True)
    store.close()
    out = runner.invoke(
        cli, ["-c", str(config), "triage", "my parcel never arrived and nobody replies", "--json"]
    )
    assert out.exit_code == 0, out.output
    decision = json.loads(out.output)
    assert decision["model_version"].startswith("lr-") and decision["intent"] == "complaint"
    assert any(r.startswith("encoder tiny-bert") for r in decision["reasons"])


def test_a_words_only_triager_is_kept_from_one_cycle_to_the_next(tmp_path, caplog):
    folder = make_tiny_bert(tmp_path / "enc", seed=1)
    model = train_model(written_labels(), version="lr-enc", encoder=load_encoder(folder))
    store = Store.open(tmp_path / "bot.db")
    store.save_model(model.version, kind=model.kind, blob=model.to_bytes(), scores={}, now=NOW, active=True)
    make_tiny_bert(tmp_path / "enc", seed=2)
    _load.cache_clear()
    with caplog.at_level(logging.WARNING):
        triager = Triager.from_store(store)
        # The active model has not changed: no reload (and no warning) each poll.
        assert triager.refreshed(store) is triager
    assert caplog.text.count("has changed since the model was trained") == 1
    store.close()


def test_the_encoder_teaches_the_word_model_only_what_its_head_is_sure_of():
    featurer = Triager()
    rows = [(text_features(featurer, t), y) for t, y in written_labels()]
    pool = [text_features(featurer, f"the zorblax {n} again") for n in range(6)]
    head = EncoderHead(encoder="e", sha256="s", weights=(5.0,) + (0.0,) * (DIM - 1), bias=0.0)
    sure = np.zeros((6, DIM), np.float32)
    sure[:, 0] = 1.0  # P(complaint) 0.99: taught as complaints
    model = taught(rows, head, pool, sure, [0.3] * 6, version="lr-taught")
    assert model.head is None and model.scores == {"taught_on": 6}
    assert model.weights["w:zorblax"] > 0
    heavier = taught(rows, head, pool, sure, [1.0] * 6, version="lr-taught")
    assert heavier.weights["w:zorblax"] > model.weights["w:zorblax"]  # each counts its weight of a label
    unsure = np.zeros((6, DIM), np.float32)  # P 0.5: not taught
    model = taught(rows, head, pool, unsure, [0.3] * 6, version="lr-taught")
    assert model.scores == {"taught_on": 0} and "w:zorblax" not in model.weights


def test_the_copies_the_head_reads_are_shortened_and_the_same_on_every_run():
    text = "ordered the blue jacket on monday and it still has not shipped, nobody answers my emails"
    copies = variants(text)
    assert len(copies) == 8 and copies == variants(text) and len(set(copies)) > 4
    words = text.split()
    for copy in copies:
        kept = copy.split()
        assert 0 < len(kept) < len(words)
        it = iter(words)
        assert all(w in it for w in kept)  # the words that are kept keep their order
    assert variants("") == [] and variants("broken") == ["broken"] * 8


def test_in_teach_mode_training_learns_from_the_unlabelled_mentions_and_triage_runs_without_the_encoder(
    tmp_path, tiny
):
    config, store = labelled_store(tmp_path, f'[triage]\nencoder = "{tiny}"\nencoder_mode = "teach"\n')
    texts = ["my parcel never arrived", "great service thanks", "nobody replies"]
    mentions = [
        Mention("x", f"m{n}", "", Author("a"), t, NOW + timedelta(minutes=n)) for n, t in enumerate(texts)
    ]
    store.save_fetch("x", mentions, None, now=NOW)
    labelled = {text for text, _ in written_labels()}
    assert unlabelled_texts(store, labelled) == texts
    assert unlabelled_texts(store, {"nobody replies"}) == texts[:2]
    store.close()
    out = CliRunner().invoke(cli, ["-c", str(config), "model", "train"])
    assert out.exit_code == 0, out.output
    store = Store.open(tmp_path / "bot.db")
    (stored,) = store.models()
    assert stored.kind == "linear-ngrams-v1" and "taught_on" in stored.scores
    model = ComplaintModel.from_bytes(store.model_blob(stored.version))
    store.close()
    t = Triager(model=model).triage_text("my parcel never arrived and nobody replies")
    assert t.model_version == stored.version
    assert not any(r.startswith("encoder") for r in t.reasons)


def test_an_unknown_encoder_mode_is_named_with_the_modes_it_can_be(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[triage]\nencoder_mode = "distil"\n')
    with pytest.raises(
        ConfigError, match=r"triage\.encoder_mode: expected one of blend, teach, got 'distil'"
    ):
        load_config(path)


def test_training_in_teach_mode_reads_the_unlabelled_mentions_once(tmp_path, tiny, monkeypatch):
    from bot.encoder import SentenceEncoder
    from bot.triage import retrain

    _, store = labelled_store(tmp_path)
    store.save_fetch("x", [Mention("x", "m1", "", Author("a"), "nobody replies", NOW)], None, now=NOW)
    read, encode = [], SentenceEncoder.encode
    monkeypatch.setattr(
        SentenceEncoder,
        "encode",
        lambda self, texts, **kw: read.append(list(texts)) or encode(self, texts, **kw),
    )
    told = []
    result = retrain(
        store,
        now=NOW,
        min_labels=10,
        encoder=str(tiny),
        encoder_mode="teach",
        progress=lambda done, of: told.append((done, of)),
    )
    assert "version" in result
    texts = [t for batch in read for t in batch]
    assert "nobody replies" in texts and len(texts) == len(set(texts))  # each text once, for both models
    assert all(v in texts for t, _ in written_labels() for v in variants(t))  # the copies are read too
    # `model train` shows a bar from what it is told: each reading runs up to its total, and all add up.
    ends = [(done, of) for done, of in told if done == of]
    assert len(ends) == len(read) and sum(of for _, of in ends) == len(texts)
    assert all(0 < done <= of for done, of in told)
    store.close()
    (tmp_path / "empty").mkdir()
    _, empty = labelled_store(tmp_path / "empty")  # no unlabelled mentions: the labels' copies alone teach
    assert "version" in retrain(empty, now=NOW, min_labels=10, encoder=str(tiny), encoder_mode="teach")
    (model,) = empty.models()
    assert model.scores["taught_on"] > 0
    empty.close()


def test_the_teaching_pool_is_the_newest_unlabelled_mentions_not_the_brands_own(
    engine, tmp_path, monkeypatch
):
    monkeypatch.setattr("bot.triage.TEACH_POOL", 2)
    store = engine.open(tmp_path)
    texts = ["oldest post", "our own post", "labelled post", "newer post", "", "newest post"]
    mentions = [
        Mention("x", f"m{n}", "", Author("a"), t, NOW + timedelta(minutes=n)) for n, t in enumerate(texts)
    ]
    store.save_fetch("x", mentions, None, now=NOW, own={mentions[1].key})
    assert unlabelled_texts(store, {"labelled post"}) == ["newer post", "newest post"]
    monkeypatch.setattr("bot.triage.TEACH_POOL", 10)
    assert unlabelled_texts(store, set()) == ["oldest post", "labelled post", "newer post", "newest post"]
    store.close()
