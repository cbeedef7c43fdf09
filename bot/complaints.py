"""The complaint model: signals of a broken customer expectation, features, training, scoring, serialisation.

Scoring needs nothing beyond the standard library (a sparse weight table looked up feature by feature);
training uses scikit-learn's logistic regression and keeps only the weights.
"""

from __future__ import annotations

import json
import math
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

# Each signal: (name, weight in the cold-start rules, pattern). Positive weights point to a complaint.
SIGNALS: list[tuple[str, float, str]] = [
    ("still waiting", 1.6, r"\b(?:still|been|keep|kept) (?:waiting|wait)\w*|\bwaiting (?:for|on|since)\b|\bon hold\b"),
    ("late", 1.2, r"\b(?:late|delay(?:ed|s)?|overdue|behind schedule)\b"),
    (
        "missing",
        1.4,
        r"\b(?:missing|lost my|never (?:arrived|came|showed|received|got|delivered)|"
        r"(?:has(?:n'?t| not)|have(?:n'?t| not)|did(?:n'?t| not)|not) (?:yet )?(?:arrived|received|got|come|delivered|shipped)|"
        r"where(?:'s| is) my)\b",
    ),
    ("charged", 1.4, r"\b(?:over-?charged|double[- ]charged|charged|billed|overbilled|taken my money|took my money)\b"),
    ("cancelled", 1.0, r"\b(?:cancell?ed|cancell?ing|cancellation)\b"),
    ("refund", 1.3, r"\b(?:refunds?|money back|reimburse\w*|compensation)\b"),
    (
        "broken",
        1.3,
        r"\b(?:broken|broke|damaged|faulty|defective|crash\w*|freez\w*|glitch\w*|bug(?:s|gy)?|error|outage|down again|"
        r"(?:not|isn'?t|aren'?t|stopped|stop) (?:working|loading|charging|responding)|"
        r"(?:does(?:n'?t| not)|do(?:n'?t| not)|won'?t|can'?t|cannot|could(?:n'?t| not)|will not) "
        r"(?:work|load|open|connect|log ?in|sign in|access|get through|turn on|charge|update|download|find|play))\b",
    ),
    (
        "no response",
        1.5,
        r"\b(?:no (?:one|reply|replies|response|answer|help|signal|service|internet|wifi|power|update|updates|email|call)|"
        r"nobody|(?:has(?:n'?t| not)|have(?:n'?t| not)|did(?:n'?t| not)|never) (?:been )?(?:heard|replied|responded|"
        r"answered|helped|fixed|called|contacted|resolved|sorted|returned)|ignor(?:ed|ing)|unanswered)\b",
    ),
    ("time span", 1.0, r"\b(?:\d+|two|three|four|five|six|several|many|few) (?:hours?|hrs?|days?|weeks?|months?|mins?|minutes?)\b|\bfor (?:days|weeks|months|ages|hours)\b|\bover an hour\b"),
    ("still", 0.7, r"\bstill\b"),
    ("again", 0.7, r"\bagain\b|\bevery (?:time|day)\b|\b(?:second|third|fourth|\d+(?:st|nd|rd|th)) time\b"),
    ("never", 0.6, r"\bnever\b"),
    ("yet", 0.5, r"\byet\b|\bany update\b|\bstill no\b"),
    (
        "my order",
        0.8,
        r"\bmy (?:order|package|parcel|delivery|account|card|bill|refund|flight|bag|luggage|booking|reservation|"
        r"phone|internet|service|connection|subscription|payment|item|items|car|laptop|tv|device|money)\b",
    ),
    (
        "bad service",
        1.3,
        r"\b(?:worst|terrible|awful|horrible|horrendous|appalling|disgusting|disgusted|ridiculous|unacceptable|"
        r"shocking|pathetic|useless|rubbish|joke|disappoint\w*|fed up|sick of|tired of|frustrat\w*|annoy\w*|"
        r"poor|rude|incompetent|scam|ripped off|rip off|fail|failed|fails|sucks?|wtf|smh|ugh)\b",
    ),
    ("why", 0.7, r"\bwhy (?:is|are|do|does|did|can'?t|won'?t|isn'?t|would|has|have|am)\b|\bwhat(?:'s| is) going on\b|\bhow (?:hard|long|many times)\b"),
    ("fix it", 0.9, r"\b(?:fix (?:it|this|your)|sort (?:it|this) out|get (?:it|this) sorted|please (?:help|fix|sort))\b"),
    ("negative emoji", 0.8, "[\U0001f620\U0001f621\U0001f92c\U0001f624\U0001f44e\U0001f61e\U0001f622\U0001f62d\U0001f644\U0001f612\U0001f629\U0001f62b\U0001f494]"),
    # Negative weights: phrases that read negative to VADER but are not complaints, and thanks.
    ("no problem", -1.2, r"\bno (?:problem|problems|worries|issues?)\b|\bnot bad\b|\bno complaints\b"),
    ("can't wait", -1.2, r"\b(?:can'?t|cannot|can not) wait\b"),
    ("thanks", -0.6, r"\b(?:thanks|thank you|thx|ty|cheers)\b"),
]
SARCASM = re.compile(
    r"\b(?:thanks? (?:a lot|a bunch|so much|for nothing|again)|great job|good job|well done|nice one|nice going|"
    r"way to go|love (?:how|that|it when)|just (?:great|brilliant|perfect|what i needed)|so much for|"
    r"oh great|yeah right|fantastic service|great service|brilliant service|thanks for nothing)\b",
    re.I,
)
SARCASM_ALWAYS = re.compile(r"\bthanks for nothing\b|\byeah right\b|\bso much for\b", re.I)
QUESTION = re.compile(
    r"\?|\b(?:how (?:do|can|to|does|much|long)|where (?:is|can|do)|when (?:will|does|is|do)|can (?:i|you|we)|"
    r"could you|is there|are there|does anyone|do you|will you|please (?:advise|let me know|dm)|any (?:idea|way))\b",
    re.I,
)
URGENCY: list[tuple[str, str]] = [
    ("safety", r"\b(?:unsafe|danger\w*|fire|smoke|smoking|burn\w*|injur\w*|hurt|explod\w*|shock(?:ed)? me|allerg\w*|"
     r"poison\w*|hospital|sick after|food poisoning|overheat\w*|melt\w*)\b"),
    ("legal", r"\b(?:lawyer|solicitor|attorney|sue|suing|legal|court|ombudsman|trading standards|chargeback|fraud\w*|"
     r"report(?:ing)? you|small claims|bbb|fcc|ftc)\b"),
    ("cancellation", r"\b(?:cancel (?:my|the|our)|cancell?ing (?:my|the|our)|close my account|switch(?:ing)? to|"
     r"leaving (?:you|for)|never (?:again|buying|using|shopping|flying))\b"),
    ("still waiting", r"\bstill (?:waiting|no|not|haven'?t|hasn'?t)\b"),
    ("repeated contact", r"\b(?:(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time|(?:\d+|several|multiple|many|"
     r"countless|numerous) (?:times|calls|emails|messages|attempts)|called (?:you )?(?:again|twice)|keep "
     r"(?:calling|emailing|messaging|asking)|(?:again and again))\b"),
]

_SIGNAL_RE = re.compile("|".join(f"(?P<s{i}>{p})" for i, (_, _, p) in enumerate(SIGNALS)), re.I)
_URGENCY_RE = re.compile("|".join(f"(?P<u{i}>{p})" for i, (_, p) in enumerate(URGENCY)), re.I)
_TOKEN = re.compile(r"[#@]?\w[\w']*|[^\w\s]", re.UNICODE)
_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_HANDLE = re.compile(r"@\w+")
_DIGITS = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Signal:
    """One complaint cue found in a text: its name, its cold-start weight and the words that matched."""

    name: str
    weight: float
    text: str


def find_signals(text: str) -> list[Signal]:
    """Every complaint or not-a-complaint cue in ``text``, at most one per signal name."""
    found: dict[str, Signal] = {}
    for m in _SIGNAL_RE.finditer(text):
        index = int(m.lastgroup[1:])
        name, weight, _ = SIGNALS[index]
        if name not in found:
            found[name] = Signal(name, weight, m.group(0).lower())
    return list(found.values())


def find_urgency(text: str) -> list[tuple[str, str]]:
    """The urgency categories in ``text`` with the words that matched, one per category."""
    found: dict[str, str] = {}
    for m in _URGENCY_RE.finditer(text):
        name = URGENCY[int(m.lastgroup[1:])][0]
        found.setdefault(name, m.group(0).lower())
    return list(found.items())


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens with handles, links and digits normalised so they generalise across brands."""
    text = _HANDLE.sub("@user", _URL.sub(" url ", text.lower()))
    return [_DIGITS.sub("0", t.lstrip("#")) for t in _TOKEN.findall(text)]


def features(text: str, *, compound: float, signals: Sequence[Signal], rating: int | None = None) -> list[str]:
    """The sparse features of one text: words, word pairs, in-word character 3–5-grams, signals, VADER bins."""
    toks = tokens(text)
    out = [f"w:{t}" for t in toks]
    out += [f"b:{a} {b}" for a, b in zip(toks, toks[1:], strict=False)]
    for t in toks:
        if len(t) < 2 or t == "@user":
            continue
        w = f"<{t}>"
        n = len(w)
        for size in (3, 4, 5):
            out += [w[i : i + size] for i in range(n - size + 1)]
    out += [f"s:{s.name}" for s in signals]
    out.append(f"v:{round(compound * 4)}")
    if rating is not None:
        out.append(f"r:{rating}")
    return out


@dataclass(frozen=True, slots=True)
class ComplaintModel:
    """A learned linear complaint model: a bias and a weight per feature; ``score`` gives P(complaint)."""

    version: str
    bias: float
    weights: dict[str, float] = field(repr=False)
    threshold: float = 0.5
    scores: dict[str, float] = field(default_factory=dict)

    kind = "linear-ngrams-v1"

    def score(self, feats: Iterable[str]) -> tuple[float, list[tuple[str, float]]]:
        """P(complaint) for the features, and the features that pushed hardest either way."""
        get = self.weights.get
        z = self.bias
        contrib: dict[str, float] = {}
        for f in set(feats):
            w = get(f)
            if w is not None:
                z += w
                contrib[f] = w
        p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
        return p, sorted(contrib.items(), key=lambda kv: -abs(kv[1]))[:4]

    def to_bytes(self) -> bytes:
        """The model as compressed JSON."""
        data = {
            "kind": self.kind,
            "version": self.version,
            "bias": self.bias,
            "threshold": self.threshold,
            "scores": self.scores,
            "weights": self.weights,
        }
        return zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)

    @classmethod
    def from_bytes(cls, blob: bytes) -> ComplaintModel:
        """Load a model saved by ``to_bytes``."""
        data = json.loads(zlib.decompress(blob))
        if data.get("kind") != cls.kind:
            raise ValueError(f"not a {cls.kind} model: {data.get('kind')!r}")
        return cls(
            version=data["version"],
            bias=data["bias"],
            weights=data["weights"],
            threshold=data.get("threshold", 0.5),
            scores=data.get("scores", {}),
        )


def train(
    rows: Sequence[tuple[list[str], int]], *, version: str, c: float = 0.6, min_weight: float = 1e-4
) -> ComplaintModel:
    """Fit an L2 logistic regression on (features, label) rows; keep only the weights that matter."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = [y for _, y in rows]
    if len(set(labels)) < 2:
        raise ValueError("training needs both complaints and non-complaints")
    vec = CountVectorizer(analyzer=lambda feats: feats, binary=True)
    x = vec.fit_transform([f for f, _ in rows])
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", solver="liblinear")
    clf.fit(x, labels)
    names = vec.get_feature_names_out()
    weights = {str(n): round(float(w), 5) for n, w in zip(names, clf.coef_[0], strict=True) if abs(w) >= min_weight}
    return ComplaintModel(version=version, bias=float(clf.intercept_[0]), weights=weights)
