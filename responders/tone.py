"""The tone guard: words and phrases that never go into a reply (doctrine §4), with the calm alternative."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    """One phrase the doctrine rules out, why, and what to say instead."""

    phrase: str
    why: str
    instead: str

    def __str__(self) -> str:
        return f"{self.phrase!r}: {self.why}; instead: {self.instead}"


# (pattern, why, alternative). Patterns are matched case-insensitively on word boundaries.
RULES: tuple[tuple[str, str, str], ...] = (
    (r"it'?s (our|a|the) policy|our policy", "hides behind rules", "here's what we can do"),
    (r"unfortunately|sadly|i am afraid|i'm afraid", "opens with bad news", "say what we can do"),
    (r"don'?t hesitate", "a cliché that sounds like a brush-off", "write to us at …"),
    (r"don'?t forget", "sounds like an order", "remember to … / we'll remind you"),
    (r"don'?t worry", "dismisses the feeling", "we're on it"),
    (r"no problem", "frames the request as a problem", "happy to help"),
    (r"problem", "negative framing", "what happened / the issue you had"),
    (r"i will try|we will try|we'll try", "promises nothing", "we will …, by …"),
    (r"i don'?t know", "leaves the customer alone", "I can find out"),
    (r"we can'?t do that|i can'?t|we can'?t|we don'?t", "says what is impossible", "say what is possible"),
    (r"just a second", "a promise we rarely keep", "give a real time"),
    (r"you will have to|you'll have to|you have to", "puts the work on the customer", "the easiest way is …"),
    (r"you should have|why didn'?t you", "blames the customer", "let's do this / I can see why"),
    (r"you owe", "blames the customer", "my records appear to show …"),
    (r"free|discount|cost", "money talk in public", "take it to the private case"),
    (r"\bbut\b", "cancels what came before", "and"),
    (r"what seems to be the problem", "sounds suspicious", "how can I help?"),
    (r"the only thing we can do", "closes options", "the best option I think is"),
    (r"that'?s not my job|i don'?t handle that", "passes the buck", "let's find the right person for this"),
)
_COMPILED = [(re.compile(rf"\b(?:{p})\b", re.I), why, alt) for p, why, alt in RULES]


def check(text: str) -> list[Finding]:
    """Every doctrine §4 phrase in ``text``, in order of appearance, each reported once."""
    found: list[tuple[int, Finding]] = []
    covered: list[range] = []
    for pattern, why, alt in _COMPILED:
        for match in pattern.finditer(text):
            span = range(match.start(), match.end())
            if any(span.start in c or c.start in span for c in covered):
                continue
            covered.append(span)
            found.append((match.start(), Finding(match.group(0), why, alt)))
    return [f for _, f in sorted(found, key=lambda x: x[0])]
