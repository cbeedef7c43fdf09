"""The optional sentence encoder beside the complaint model: a BERT-family sentence-transformers model run in numpy.

Off by default (``[triage] encoder = ""``). Pointed at a model folder (``make encoder`` unpacks
all-MiniLM-L6-v2 into ``models/``), the learned complaint model adds a logistic regression on the text's
sentence embedding and blends it with the word model: better complaint finding, at tens rather than
thousands of texts per second. Needs the ``encoder`` extra (tokenizers, safetensors); no torch.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

NEEDED = ("config.json", "model.safetensors", "tokenizer.json")
MAX_TOKENS = 128


class EncoderError(ValueError):
    """The encoder folder cannot be used: the message says why."""


@dataclass(frozen=True)
class SentenceEncoder:
    """A loaded encoder: ``encode`` turns texts into unit-length sentence embeddings."""

    path: Path
    sha256: str
    dim: int
    layers: int
    heads: int
    eps: float
    pooling: str
    weights: dict[str, Any] = field(repr=False)
    tokenizer: Any = field(repr=False)

    @property
    def name(self) -> str:
        return self.path.name

    def encode(
        self,
        texts: Sequence[str],
        *,
        last_layers: int = 1,
        batch: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> Any:
        """One unit-length row per text; texts are batched by their number of tokens so that little padding is
        computed. ``progress`` is called with the number of texts read so far after each batch.

        With ``last_layers`` n > 1 the row joins the pooled output of each of the last n layers (each of unit
        length, the whole divided by √n): the final layer is trained for sentence similarity, and the layers
        below it keep more of the tone that tells a complaint.
        """
        import numpy as np

        last_layers = max(1, min(last_layers, self.layers))
        out = np.zeros((len(texts), self.dim * last_layers), np.float32)
        counts = [sum(e.attention_mask) for e in self.tokenizer.encode_batch(list(texts))]
        order = sorted(range(len(texts)), key=counts.__getitem__)
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            out[rows] = self._forward([texts[i] for i in rows], last_layers)
            if progress:
                progress(start + len(rows))
        return out

    def _forward(self, texts: list[str], last_layers: int) -> Any:
        import numpy as np
        from scipy.special import erf

        w = self.weights
        encoded = self.tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded])
        mask = np.array([e.attention_mask for e in encoded], dtype=np.float32)
        b, t = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:t]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, "embeddings.LayerNorm")
        padding = ((1.0 - mask) * -1e9)[:, None, None, :]
        dh = self.dim // self.heads
        pooled = []
        for i in range(self.layers):
            p = f"encoder.layer.{i}."

            def dense(h: Any, name: str, p: str = p) -> Any:
                return h @ w[f"{p}{name}.weight"].T + w[f"{p}{name}.bias"]

            def split(h: Any) -> Any:
                return h.reshape(b, t, self.heads, dh).transpose(0, 2, 1, 3)

            q = split(dense(x, "attention.self.query"))
            k = split(dense(x, "attention.self.key"))
            v = split(dense(x, "attention.self.value"))
            a = q @ k.transpose(0, 1, 3, 2) / math.sqrt(dh) + padding
            a = np.exp(a - a.max(-1, keepdims=True))
            a /= a.sum(-1, keepdims=True)
            context = (a @ v).transpose(0, 2, 1, 3).reshape(b, t, self.dim)
            x = self._norm(x + dense(context, "attention.output.dense"), p + "attention.output.LayerNorm")
            h = dense(x, "intermediate.dense")
            h = 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))  # BERT's exact GELU
            x = self._norm(x + dense(h, "output.dense"), p + "output.LayerNorm")
            if i >= self.layers - last_layers:
                if self.pooling == "cls":
                    layer = x[:, 0]
                else:
                    layer = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1.0)
                pooled.append(layer / np.maximum(np.linalg.norm(layer, axis=1, keepdims=True), 1e-12))
        return np.concatenate(pooled, axis=1) / math.sqrt(len(pooled))

    def _norm(self, x: Any, name: str) -> Any:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / (var + self.eps) ** 0.5 * self.weights[name + ".weight"] + self.weights[
            name + ".bias"
        ]


def missing_files(folder: Path) -> list[str]:
    """The files of a sentence-transformers model folder that ``folder`` lacks."""
    return [n for n in NEEDED if not (folder / n).is_file()]


def load_encoder(path: str | Path) -> SentenceEncoder:
    """The encoder in a sentence-transformers model folder, loaded once per process."""
    return _load(Path(path).expanduser().resolve())


@functools.cache
def _load(folder: Path) -> SentenceEncoder:
    if missing := missing_files(folder):
        raise EncoderError(
            f"{folder}: not a sentence-transformers model folder (missing {', '.join(missing)})"
        )
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise EncoderError(
            f"the sentence encoder needs the optional extra: pip install 'mentionbot[encoder]' ({exc})"
        ) from exc
    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") != "bert":
        raise EncoderError(f"{folder}: a BERT-family model is needed, not {config.get('model_type')!r}")
    pooling = "mean"
    pooling_file = folder / "1_Pooling" / "config.json"
    if pooling_file.is_file() and json.loads(pooling_file.read_text()).get("pooling_mode_cls_token"):
        pooling = "cls"
    weights_file = folder / "model.safetensors"
    digest = hashlib.sha256()
    with weights_file.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    weights = {k.removeprefix("bert."): v for k, v in load_file(str(weights_file)).items()}
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.enable_truncation(min(MAX_TOKENS, int(config.get("max_position_embeddings", MAX_TOKENS))))
    tokenizer.enable_padding(pad_id=int(config.get("pad_token_id", 0)))
    return SentenceEncoder(
        path=folder,
        sha256=digest.hexdigest(),
        dim=int(config["hidden_size"]),
        layers=int(config["num_hidden_layers"]),
        heads=int(config["num_attention_heads"]),
        eps=float(config.get("layer_norm_eps", 1e-12)),
        pooling=pooling,
        weights=weights,
        tokenizer=tokenizer,
    )
