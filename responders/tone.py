"""The tone guard: words and phrases that never go into a reply (doctrine §4), each with the calm alternative.

Only our own words are checked: text in quotation marks and quoted lines (``> …``) are the customer's, so a
"problem" inside a quote is not ours. Where two rules match the same words, the longer match is reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Finding:
    """One phrase the doctrine rules out, why, and what to say instead."""

    phrase: str
    why: str
    instead: str
    rule: str = ""

    def __str__(self) -> str:
        return f"{self.phrase!r}: {self.why}; instead: {self.instead}"


@dataclass(frozen=True, slots=True)
class Rule:
    """A doctrine §4 rule a checker can apply: a pattern, why it is ruled out, and the calm alternative."""

    name: str
    pattern: str
    why: str
    instead: str


_CANT = r"(?:can't|cannot|can not|won't|will not|are not able to|aren't able to|are unable to|am unable to)"

RULES: tuple[Rule, ...] = (
    # Trigger phrase -> calm alternative (doctrine §4 table).
    Rule(
        "policy",
        r"it's (?:a|our|the) policy|(?:it's |that's )?(?:our|company|the) policy",
        "hides behind a rule",
        "here's what we can do",
    ),
    Rule(
        "cant",
        r"(?:i|we) (?:can't|cannot|can not|don't|do not)(?! wait\b)",
        "says what is impossible",
        "say what we can do / what we do",
    ),
    Rule(
        "we_cant_do_that", r"we can't do that|we cannot do that", "refuses outright", "here's what we can do"
    ),
    Rule(
        "seems_problem",
        r"what seems to be the (?:problem|issue)",
        "sounds suspicious of the customer",
        "how can I help?",
    ),
    Rule(
        "dont_know",
        r"i don't know|i do not know|we don't know",
        "leaves the customer alone",
        "I can find out",
    ),
    Rule(
        "should_have",
        r"you should have|you shouldn't have|you should've",
        "blames the customer",
        "let's do this",
    ),
    Rule("why_didnt", r"why didn't you|why did you not", "blames the customer", "I can see why"),
    Rule(
        "only_thing",
        r"the only thing (?:we|i) can do",
        "closes every other option",
        "the best option I think is",
    ),
    Rule(
        "not_my_job",
        r"(?:that's|it's|this is) not my job|i don't handle that|not my department",
        "passes the buck",
        "let's find the right person for this",
    ),
    # Blaming the customer (doctrine §4, "never blame the customer").
    Rule("you_owe", r"you owe(?: us)?", "blames the customer", "my records appear to show …"),
    Rule(
        "your_fault",
        r"(?:it's |it was |that's )?your (?:own )?(?:fault|mistake|error)",
        "points a finger at the customer",
        "here's what happened and what we'll do",
    ),
    # Positive framing: say when it can happen, not when it can't.
    Rule(
        "negative_framing",
        rf"(?:we |i )?{_CANT} [^.!?\n]{{0,60}}?\b(?:before|until|till)\b",
        "negative framing",
        "say when it will happen: we'll be able to … on …",
    ),
    # Words and phrases never to use (doctrine §4 list).
    Rule("dont_forget", r"don't forget", "sounds like an order", "remember to … / we'll remind you"),
    Rule(
        "dont_hesitate",
        r"don't hesitate|do not hesitate",
        "a stock phrase that reads as a brush-off",
        "you're welcome to …",
    ),
    Rule(
        "will_try",
        r"(?:i|we) (?:will|'ll|shall) try|(?:i|we)'ll try|(?:i|we) will do (?:my|our) best to try",
        "promises nothing",
        "we will …, by …",
    ),
    Rule("unfortunately", r"unfortunately", "opens with bad news", "say what we can do"),
    Rule("sadly", r"sadly", "opens with bad news", "say what we can do"),
    Rule(
        "afraid",
        r"i am afraid|i'm afraid|we are afraid|we're afraid",
        "opens with bad news",
        "say what we can do",
    ),
    Rule("feel_free", r"feel free", "a stock phrase that reads as a brush-off", "you're welcome to …"),
    Rule("free", r"free(?: of charge)?|for free", "money talk in public", "take it to the private case"),
    Rule("discount", r"discount(?:s|ed)?", "money talk in public", "take it to the private case"),
    Rule("cost", r"costs?|costing", "money talk in public", "take it to the private case"),
    Rule(
        "just_a_second",
        r"just a (?:second|sec|moment|minute)",
        "a promise we rarely keep",
        "give a real time",
    ),
    Rule("no_problem", r"no problem", "frames the request as a problem", "happy to help"),
    Rule("problem", r"problems?", "negative framing", "what happened / the issue you had"),
    Rule("dont_worry", r"don't worry|do not worry", "dismisses the feeling", "we're on it"),
    Rule(
        "have_to",
        r"you (?:will|'ll) have to|you'll have to|you have to|you will need to|you must",
        "puts the work on the customer",
        "the easiest way is … / we'll …",
    ),
    Rule("but", r"but(?! also\b)", "cancels what came before", "and"),
)

_COMPILED = [(re.compile(rf"\b(?:{r.pattern})(?!\w)", re.I), r) for r in RULES]
# The customer's words: "…", “…”, and quoted lines. Replaced by blanks so positions stay the same.
_QUOTED = re.compile(r'"[^"\n]*"|“[^”\n]*”|^\s*>.*$', re.M)


def _ours(text: str) -> str:
    plain = text.replace("’", "'").replace("‘", "'")
    return _QUOTED.sub(lambda m: " " * len(m.group(0)), plain)


def check(text: str, *, ignore: tuple[str, ...] = ()) -> list[Finding]:
    """Every doctrine §4 phrase in our words in ``text``, in order of appearance, each span reported once.

    ``ignore`` holds words that are not ours either, such as the person's name (a customer called "Free" is not
    money talk).
    """
    ours = _ours(text)
    for word in filter(None, ignore):
        ours = re.sub(rf"\b{re.escape(word)}\b", lambda m: " " * len(m.group(0)), ours)
    matches = [
        (m.start(), m.end(), rule)
        for pattern, rule in _COMPILED
        for m in pattern.finditer(ours)
        if m.group(0)
    ]
    # The longest match at each place wins: "no problem" over "problem", "we can't do that" over "we can't".
    matches.sort(key=lambda m: (m[0], -(m[1] - m[0])))
    found: list[Finding] = []
    end = -1
    for start, stop, rule in matches:
        if start < end:
            continue
        end = stop
        found.append(Finding(text[start:stop], rule.why, rule.instead, rule.name))
    return found
