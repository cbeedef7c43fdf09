"""Triage: is this mention a complaint, an inquiry, praise, or none of these — and why.

Cold-start rules: VADER sentiment plus the signals of a broken customer expectation, and the star rating for
reviews. Every decision carries the reasons that decided it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from bot.models import Mention, Triage

if TYPE_CHECKING:
    from bot.store import Store

COMPLAINT_SIGNALS = re.compile(
    r"\b(still waiting|waiting|late|missing|never (arrived|came|received)|charged|refund|cancel+ed|broken|"
    r"crash(es|ed|ing)?|doesn'?t work|not working|no (reply|response|answer)|again|worst|terrible|"
    r"disappointed|useless)\b",
    re.I,
)
QUESTION = re.compile(
    r"\?|\b(how (do|can|to)|where (is|can)|when (will|does|is)|can i|is there|does anyone)\b", re.I
)
URGENT = re.compile(
    r"\b(lawyer|legal|sue|unsafe|danger|fire|injur|cancel|still waiting|third time|again)\w*", re.I
)


class Triager:
    """Decides the intent of a mention (rules ``rules-v0``)."""

    version = "rules-v0"

    def __init__(self, *, languages: tuple[str, ...] = ("en",), model: object | None = None):
        self.languages = languages
        self.vader = SentimentIntensityAnalyzer()

    @classmethod
    def from_store(cls, store: Store, *, languages: tuple[str, ...] = ("en",)) -> Triager:
        return cls(languages=languages)

    def triage(self, mention: Mention) -> Triage:
        return self.triage_text(mention.text, rating=mention.rating)

    def triage_text(self, text: str, *, rating: int | None = None) -> Triage:
        compound = self.vader.polarity_scores(text)["compound"]
        reasons = [f"vader compound {compound:+.2f}"]
        signals = sorted({m.group(0).lower() for m in COMPLAINT_SIGNALS.finditer(text)})
        reasons += [f"signal: {s!r}" for s in signals]
        score = min(1.0, max(0.0, 0.5 - compound / 2 + 0.2 * len(signals)))
        if rating is not None:
            reasons.append(f"rating {rating}★")
            score = {1: 0.95, 2: 0.85, 3: 0.5, 4: 0.2, 5: 0.05}.get(rating, score)
        if score >= 0.6:
            intent = "complaint"
        elif QUESTION.search(text):
            intent, reasons = "inquiry", [*reasons, "a question"]
        elif compound >= 0.5 or (rating or 0) >= 4:
            intent = "praise"
        else:
            intent = "other"
        urgency = min(3, len({m.group(0).lower() for m in URGENT.finditer(text)}))
        return Triage(
            intent=intent,
            urgency=urgency if intent == "complaint" else 0,
            sentiment=compound,
            complaint_score=round(score, 3),
            scores={"compound": compound, "complaint": round(score, 3)},
            reasons=tuple(reasons),
            lang="en",
            model_version=self.version,
        )
