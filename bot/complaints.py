"""The complaint model: signals of a broken customer expectation, features, training, scoring, serialisation.

Scoring needs nothing beyond the standard library (a sparse weight table looked up feature by feature);
training uses scikit-learn's logistic regression and keeps only the weights.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import re
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

POSITIVE_FRAME = (
    # one \b in front of every alternative: the engine tries them only where a word starts
    r"\b(?:"
    r"(?:no |not (?:a |an |any |one )|without (?:any |a )?|(?:never|haven'?t|hasn'?t|have not|has not|didn'?t|"
    r"did not|don'?t|do not) (?:(?:had|have|seen|see|noticed|experienced|encountered|run into|ran into) )?"
    r"(?:any |a single |a )?)(?:real |major |big |serious |significant |more |further |other |such )?"
    r"(?:problems?|issues?|complaints?|errors?|glitch(?:es)?|troubles?|hiccups?|worries|hassle|fuss)\b|"
    # a longer negation: "have not had any distortion problems", "there hasn't been any more problems"
    r"(?:not|never|haven'?t|hasn'?t|hadn'?t|have not|has not|didn'?t|did not|don'?t|do not) (?:yet |even |once )?"
    r"(?:had |have |seen |noticed |experienced |encountered |been )?(?:any|a single|one) (?:of the |more )?"
    r"(?:usual |real |major |big |serious )?(?:[a-z-]+ )?(?:problems?|issues?|glitch(?:es)?|troubles?)\b|"
    r"seen nothing of the (?:[a-z-]+ )?problems\b|(?:minor|small|slight|little) (?:problems?|issues?|glitch(?:es)?)\b|"
    r"(?:problems?|issues?) (?:have been|has been|were|was|got) (?:quickly |promptly |all |finally |immediately |"
    r"satisfactorily |and )*(?:resolved|fixed|solved|sorted)\b|"
    r"(?:don'?t|do not) see what (?:\w+'s |the )?(?:problem|issue|fuss)\b|(?:avoids?|avoiding|prevents?) the "
    r"(?:problems?|issues?)\b|worked out the (?:problems?|issues?)\b|"
    r"how (?:can|could) (?:you|one|i|anyone) go wrong\b|(?:don'?t|do not) think (?:you|one) (?:can|could|will) go wrong\b|"
    r"nothing (?:has |have |ever )*(?:broken|broke|gone wrong|went wrong|failed)\b|worth the wait\b|"
    r"(?:fully|stays|stay|keeps?) charged\b|charged (?:it |them )?up\b|"
    r"non-?issue\b|not bad\b|no questions asked\b|no one can beat\b|nothing (?:to complain about|wrong with)\b|"
    r"(?:not|never|doesn'?t|does not|didn'?t|did not|won'?t|will not|wasn'?t|was not|haven'?t been|have not been|"
    r"never been|not been) (?:\w+ )?(?:disappoint\w*|let (?:you|me|us) down)|"
    r"(?:never|not|doesn'?t|does not) fails? to (?:amaze|amuse|impress|surprise|deliver|delight|please)|"
    r"(?:can'?t|cannot|can not|won'?t|will not|couldn'?t|could not) (?:go wrong|beat (?:it|this|that|the)|complain)\b|"
    r"(?:doesn'?t|does not|don'?t|do not|can'?t|couldn'?t) get (?:any |much )?better\b|"
    r"(?:still )?works? (?:fine|great|perfectly|flawlessly|like a charm)\b|(?:in )?(?:perfect|complete) working order\b|"
    # a problem solved: "replaced my broken charger", "sorted my refund", "fixed my billing issue"
    r"(?:fixed|sorted(?: out)?|sorting|solved|resolved|replaced|replacing|swapped|repaired|exchanged) "
    r"(?:my|the|our|a|that|this) (?:[\w-]+ ){0,2}?[\w-]+\b|"
    # quick, or long in use: "sorted in ten minutes", "three months in"
    r"(?:in|within|under|less than) (?:just |only |about )?(?:\d+|a few|one|two|three|four|five|ten|fifteen|twenty|"
    r"thirty) (?:seconds?|minutes?|mins)\b|"
    r"(?:\d+|a few|two|three|four|five|six|several) (?:weeks?|months?|years?) in\b|"
    # a problem said not to happen, conceded, or only supposed: "wouldn't cause problems", "glitches, if there are
    # any", "besides the one problem", "for some this might be a problem"
    r"(?:won'?t|wouldn'?t|doesn'?t|didn'?t|does not|did not|will not|would not|never|hasn'?t|has not) "
    r"(?:cause|caused|create|created|give|given|gave) (?:me |us |you )?(?:any )?(?:problems?|issues?|trouble)\b|"
    r"(?:glitch(?:es)?|bugs?|problems?|issues?),? if (?:there (?:are|is|were)|you (?:have|find|get)) any\b|"
    r"(?:besides|except for|apart from|aside from|other than) (?:the|this|that|one|a|an) (?:one |only |single )?"
    r"(?:small |minor |little |tiny )?(?:problem|issue|flaw|glitch|complaint|gripe|niggle|drawback|downside)\b|"
    r"for some(?: people| users| folks)?,? (?:this|that|it) (?:might|may|could) be an? (?:problem|issue)\b|"
    # a bother gone or short: "no more wasted time", "a very brief time on hold"
    r"no (?:more|longer) (?:wasted?|wasting|waiting|hassles?|headaches?|queues?)\b|"
    r"(?:brief|short|quick|little|minimal|no) (?:time |wait )?on hold\b|"
    # idioms: "refused to die", "bitten by the photography bug", "don't let the price fool you"
    r"(?:refused|refuses|refuse|won'?t|wouldn'?t) (?:to )?die\b|(?:bitten|bit) (?:by|with) the (?:[\w-]+ )?bug\b|"
    r"(?:don'?t|do not) let (?:[\w'-]+ ){1,4}fool you\b"
    r")"
)

# Each signal: (name, weight in the cold-start rules, trigger substrings, pattern on the lower-cased text).
# Positive weights point to a complaint. The pattern only runs when one of its triggers occurs (``find_cues``
# finds them all in one scan): it keeps triage fast.
SIGNALS: list[tuple[str, float, tuple[str, ...], str]] = [
    (
        "still waiting",
        1.6,
        ("wait", "hold"),
        r"\b(?:still|been|keep|kept) wait\w*|\bwaiting (?:for|on|since)\b|\bon hold\b",
    ),
    (
        "late",
        1.2,
        ("late", "delay", "overdue", "due", "expected"),
        r"\b(?:late|delay(?:ed|s)?|overdue|(?:was|were) (?:due|expected) (?:on |by )?\w+day|"
        r"(?:was|were) (?:due|expected) (?:yesterday|last week|days ago))\b",
    ),
    (
        "missing",
        1.4,
        (
            "miss",
            "lost",
            "never",
            "n't",
            "not",
            "where",
            "gone",
            "delet",
            "wipe",
            "disappear",
            "vanish",
            "logged",
            "logs",
        ),
        r"\b(?:missing(?! (?:something|anything|out|you)\b)|lost (?:my|all|our)|never (?:arrived|came|showed|received|got|delivered)|"
        r"(?:is|are|was|were|all|now) gone(?! (?:to|for|out|up|off|well|smoothly|into|through)\b)|gone (?:after|since|from)|deleted (?:my|all|our|every)|wiped|"
        r"disappeared|vanished|log(?:ged|s) (?:me|us) out|"
        r"(?:hasn'?t|has not|haven'?t|have not|didn'?t|did not|not) (?:yet )?(?:arrived?|received?|come|delivered|shipped)|"
        r"where(?:'s| is) my)\b",
    ),
    (
        "charged",
        1.4,
        ("charg", "bill", "money"),
        r"\b(?:over-?charged|double[- ]charged|charged|billed|overbilled|(?:taken|took|stole) my money)\b",
    ),
    ("cancelled", 1.0, ("cancel",), r"\b(?:cancell?ed|cancell?ing|cancellation)\b"),
    (
        "refund",
        1.3,
        ("refund", "money back", "reimburs", "compensat"),
        r"\b(?:refunds?|money back|reimburse\w*|compensat\w*)\b",
    ),
    (
        "broken",
        1.3,
        (
            "brok",
            "crack",
            "shatter",
            "smash",
            "damage",
            "fault",
            "defect",
            "crash",
            "freez",
            "glitch",
            "bug",
            "error",
            "outage",
            "down",
            "work",
            "load",
            "n't",
            "not",
            "unable",
            "refuse",
            "stuck",
            "issue",
            "problem",
            "keep",
            "out",
        ),
        r"\b(?:broken|broke|damaged|faulty|defective|cracked|shattered|smashed|crash\w*|freez\w*|glitch\w*|bug(?:s|gy)?|errors?|outages?|down again|"
        r"(?:not|isn'?t|aren'?t|stopped|stop) (?:working|loading|charging|responding|letting)|unable to|"
        r"refuses? to (?:work|play|load|open|start|turn on|connect|charge|read|sync)|"
        r"(?:has been|have been|is|are|was|went|been) down\b|stuck (?:on|at|in)|"
        r"keeps? (?:rejecting|declining|failing|dropping|disconnecting)|"
        r"(?<!no )(?:issues?|problems?)|keeps? (?:logging|kicking|signing|throwing|locking) (?:me|us) out|"
        r"(?:doesn'?t|does not|don'?t|do not|won'?t|can'?t|cannot|couldn'?t|could not|will not|didn'?t|did not) "
        r"(?:even )?(?:work|load|open|connect|log ?in|sign in|access|get through|turn on|charge|update|download|"
        r"play|let|proceed|receive|get(?! (?:why|how|what|the point|the hype)\b)))\b",
    ),
    (
        "no response",
        1.5,
        ("no ", "nobody", "n't", "not", "never", "ignor", "unanswer", "responsive", "hang", "hung"),
        r"\b(?:no (?:one|reply|replies|response|answer|help|signal|service|internet|wifi|power|updates?|email|call|respect)|"
        r"nobody|(?:hasn'?t|has not|haven'?t|have not|didn'?t|did not|never) (?:been )?(?:heard|replied|responded|"
        r"answered|helped|fixed|called|contacted|resolved|sorted|returned)|(?<!\bi )(?<!\bi've )(?<!\bi'm )ignor(?:ed|ing)|unanswered|"
        r"(?:un|non-?)responsive|hangs? up on|hung up on)\b",
    ),
    (
        "time span",
        1.0,
        ("hour", "hr", "day", "week", "month", "min", "ages"),
        r"\b(?:\d+|two|three|four|five|six|several|many|few) (?:hours?|hrs?|days?|weeks?|months?|mins?|minutes?)\b|"
        r"\bfor (?:days|weeks|months|ages|hours)\b|\bover an hour\b|"
        r"\b(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) (?:day|week|month)\b|"
        r"\bday (?:two|three|four|five|six|seven|\d+)\b",
    ),
    (
        "still",
        0.7,
        ("still",),
        # not "still have room", "still love it", "but still, nice of you"
        r"\bstill\b(?!,? (?:in (?:focus|one piece|good)|have (?:room|over|plenty|lots|space)|love|enjoy|works? "
        r"(?:fine|great|well|perfectly)|going strong|looks? (?:new|great|good)|the best|my favou?rite|good|great|nice|fine|"
        r"happy)\b)",
    ),
    (
        "again",
        0.7,
        ("again", "every", "time"),
        r"\bagain\b|\bevery (?:time|day)\b|\b(?:second|third|fourth|\d+(?:st|nd|rd|th)) time\b",
    ),
    ("never", 0.6, ("never",), r"\bnever\b"),
    (
        "yet",
        0.5,
        ("yet", "any ", "still no"),
        r"\byet\b|\bany (?:update|answer|reply|response|news)\b|\bstill no\b",
    ),
    (
        "trying",
        0.8,
        ("try", "tried"),
        r"\b(?:been trying|keep trying|still trying|tried (?:to|calling|contacting|everything)|"
        r"trying to (?:get|contact|reach|log|cancel|return|sort|fix|claim|settle|speak|talk))\b",
    ),
    (
        "my order",
        0.8,
        ("my ",),
        r"\bmy (?:order|package|parcel|delivery|account|card|bill|refund|flight|bag|luggage|booking|reservation|"
        r"phone|internet|service|connection|subscription|payment|item|items|car|laptop|tv|device|money|password)\b",
    ),
    (
        "bad service",
        1.3,
        (
            "worst",
            "terribl",
            "awful",
            "horri",
            "appall",
            "disgust",
            "ridicul",
            "unacceptab",
            "shock",
            "pathetic",
            "useless",
            "rubbish",
            "joke",
            "disappoint",
            "fed up",
            "sick of",
            "tired of",
            "frustrat",
            "annoy",
            "poor",
            "rude",
            "incompeten",
            "scam",
            "rip",
            "fail",
            "suck",
            "wtf",
            "smh",
            "ugh",
            "not happy",
            "unhappy",
            "disgrace",
            "waste",
            "infuriat",
            "wrong",
            "lack of",
            "supposed to",
            "should have",
            "promised",
            "nothappy",
            "slow",
            "extortion",
            "robbery",
            "save your",
            "save the",
            "save ur",
            "blows",
            "favo",
            "pay for",
            "stay away",
            "beware",
            "elsewhere",
            "like crap",
            "like garbage",
            "like junk",
            "like rubbish",
            "trash",
            "junk",
            "garbage",
            "crap",
        ),
        r"\b(?:worst|terrible|awful|horrible|horrendous|appalling|disgusting|disgusted|ridiculous|unacceptable|"
        r"shocking|pathetic|useless|rubbish|joke|disappoint\w*|fed up|sick of|tired of|frustrat\w*|annoy\w*|"
        r"poor|rude|incompetent|scam|ripped off|rip off|fail|failed|fails|sucks?|wtf|smh|ugh|not happy|unhappy|"
        r"nothappy|disgrace\w*|wasted?|infuriat\w*|wrong|lack of|supposed to|should have|promised|"
        r"(?:so|too|really|very|is|painfully|super) slow|extortion|daylight robbery|"
        r"save (?:your|the|ur) (?:money|cash)|(?<!what )blows(?! (?:me|my|you|us|them|him|her|away|everything))|"
        r"do yourself a favou?r(?! (?:and|&|&amp;) (?:go|get|buy|try|see|watch|check|read|visit|pick|grab|order|listen))|you get what you pay for|stay away|buyer beware|look elsewhere|"
        r"works like (?:crap|garbage|junk|rubbish)|(?:is|was|are|were) (?:trash|junk|garbage|crap)(?! (?:day|night|truck|bags?|collection|pick-?up)\b))\b",
    ),
    (
        "why",
        0.7,
        ("why", "going on", "how "),
        r"\bwhy\b|\bwhat(?:'s| is) going on\b|\bhow (?:hard|long|many times)\b",
    ),
    (
        "fix it",
        0.9,
        ("fix", "sort", "help"),
        r"\b(?:fix (?:it|this|your)|sort (?:it|this) out|get (?:it|this) sorted|please (?:help|fix|sort)|need help|help!|help please|(?:can|could) (?:someone|anyone|you) help)",
    ),
    (
        "can't find",
        0.6,
        ("find",),
        # "can't find a better app" and "can't find the words" are praise.
        r"\b(?:can'?t|cannot|couldn'?t|could not|unable to|impossible to) find\b"
        r"(?! (?:a |an |any )?(?:better|(?:single )?(?:fault|flaw)s?\b|anything (?:wrong|bad)|(?:the )?words))",
    ),
    (
        "negative emoji",
        0.8,
        tuple(
            "\U0001f620\U0001f621\U0001f92c\U0001f624\U0001f44e\U0001f61e\U0001f622\U0001f62d\U0001f644\U0001f612\U0001f629\U0001f62b\U0001f494"
        ),
        "[\U0001f620\U0001f621\U0001f92c\U0001f624\U0001f44e\U0001f61e\U0001f622\U0001f62d\U0001f644\U0001f612\U0001f629\U0001f62b\U0001f494]",
    ),
    (
        "to support",
        0.5,
        ("support", "help", "care", "service"),
        r"^(?:@\w+ )*@\w*(?:support|help|care|service)\w*\b",
    ),
    # Negative weights: phrases that read negative to VADER but are not complaints, and thanks.
    # A complaint word in a positive frame ("no real problems", "never disappoints", "can't go wrong"): the words it
    # frames are blanked before the complaint signals are looked for (``find_cues``).
    (
        "no problem",
        -1.2,
        # the framed words, rarer than the negations that frame them
        (
            "problem",
            "issue",
            "complain",
            "error",
            "glitch",
            "trouble",
            "hiccup",
            "worries",
            "hassle",
            "fuss",
            "disappoint",
            "down",
            "fail",
            "go wrong",
            "beat",
            "get better",
            "get any",
            "get much",
            "works",
            "working order",
            "questions asked",
            "not bad",
            "wrong with",
            "fixed",
            "sorted",
            "sorting",
            "solved",
            "resolved",
            "replac",
            "swapped",
            "repaired",
            "exchanged",
            "second",
            "minute",
            "mins",
            "weeks in",
            "months in",
            "years in",
            "broke",
            "nothing",
            "charged",
            "worth the",
            "no more",
            "no longer",
            "on hold",
            "to die",
            "n't die",
            "bitten",
            "bit by",
            "bit with",
            "fool you",
            "if there",
            "if you have",
            "if you find",
            "if you get",
            "for some",
        ),
        POSITIVE_FRAME,
    ),
    ("can't wait", -1.2, ("wait",), r"\b(?:can'?t|cannot|can not) wait\b"),
    (
        "thanks",
        -0.6,
        ("thank", "thx", "ty", "cheers", "shout", "kudos", "props", "hats off"),
        r"\b(?:thanks|thank you|thx|ty|cheers|shout ?out|kudos|props to|hats off)\b",
    ),
]
_SIGNAL_PATTERNS = [(name, weight, re.compile(p)) for name, weight, _, p in SIGNALS]
_NO_PROBLEM = next(i for i, (name, *_) in enumerate(SIGNALS) if name == "no problem")
_POSITIVE_FRAME = re.compile(POSITIVE_FRAME)


def _blank(m: re.Match[str]) -> str:
    return " " * len(m.group(0))


# The patterns below read the lowered text (``lowered``), so they need no IGNORECASE.
# Praise words said of a let-down: sarcasm when the post also says what went wrong or reads negative.
SARCASM = re.compile(
    r"\b(?:thanks? (?:a lot|a bunch|so much|for nothing|again)|great job|good job|well done|nice one|nice going|"
    r"way to go|love (?:how|that|it when|when)|just (?:great|brilliant|perfect|what i needed)|so much for|"
    r"oh (?:great|good|joy|wonderful)|yeah right|thanks for nothing|lol|lmao|"
    r"(?:great|brilliant|fantastic|amazing|excellent|stellar|wonderful|awesome|top notch) (?:customer )?(?:service|support)|"
    r"thank(?:s| you)\b[^.!?]{0,30}\bfor (?:charging|cancell?ing|losing|ruining|wasting|ignoring|breaking|keeping|"
    r"making me|nothing|the (?:delay|wait)))\b",
)
# Sarcasm whatever else the post says: mockery that no sincere post is written in.
SARCASM_ALWAYS = re.compile(
    r"\b(?:thanks for nothing\b|yeah right\b|so much for\b|"
    r"thank(?:s| you)\b[^.!?]{0,30}\bfor (?:charging|cancell?ing|losing|ruining|wasting|ignoring|breaking)|"
    r"(?:is|was|are|were) (?:a|an|such a|a complete|a total|an absolute) (?:joke|farce|clown show)\b|"
    r"great,? (?:another|more)\b|gotta love\b|as if (?:i|we|anyone) (?:had|have|could|would|cared?|need(?:ed)?)\b|"
    r"love (?:waiting|being (?:charged|ignored|kept|put on hold|lied to|hung up on))\b)",
)
# Marks of mockery: "Acme? More like Acne", a scare-quoted promise ("'express' delivery"). Looked for only where
# the text has a question mark or a quote (``sarcasm_mark``): most posts have neither.
_MOCKERY = re.compile(
    r"\?\s*more like\b|[\"“'‘](?:\w+ ){0,2}(?:service|help|support|care|helpful|premium|express|fast|free|unlimited|"
    r"fix|fixed|update|upgrade|quality|priority|guaranteed|next day)(?: \w+){0,2}[\"”'’]",
)
_MOCKERY_MARKS = frozenset('?"“‘')


def sarcasm_cue(low: str, *, negative: bool) -> re.Match[str] | None:
    """The sarcasm cue in a lowered text: mockery whatever else it says, or praise words said of a let-down when
    ``negative`` (the post also says what went wrong, or reads negative)."""
    if m := SARCASM_ALWAYS.search(low):
        return m
    if (not _MOCKERY_MARKS.isdisjoint(low) or "'" in low) and (m := _MOCKERY.search(low)):
        return m
    return SARCASM.search(low) if negative else None


# A turn between two parts of a post ("love the app but ..."): praise on one side and a complaint on the other.
CONTRAST = re.compile(
    r"\b(?:but|however|though|although|except|unfortunately|sadly|only (?:problem|issue|downside)|shame|pity)\b"
)
QUESTION = re.compile(
    r"\?|\b(?:how (?:do|can|to|does|much|long)|where (?:is|can|do)|when (?:will|does|is|do)|can (?:i|you|we)|"
    r"could you|is there|are there|does anyone|do you|will you|please (?:advise|let me know|dm)|any (?:idea|way))\b",
)
# Questions put to the crowd (polls, "anyone else?"), not to the brand: not inquiries.
CROWD_QUESTION = re.compile(
    r"\b(?:poll|vote|which (?:\w+ )?(?:is|are|looks?) better|who else|anyone else|am i the only|thoughts\?|"
    r"what do (?:you guys|y'?all|people) think)",
)
# A request or a wish ("please add", "would be nice", "I hope"): what is asked for is not there yet, so the praise
# words in it are no sure thank-you.
WISH = re.compile(
    r"\b(?:please|pls|plz|i hope|hope (?:someone|that|for|they|it|you can|you will)|i wish|wish (?:you|they|it|there)|"
    r"would be (?:nice|great|good|better|awesome|cool)|would love (?:it|to see|if)|if only|"
    r"should (?:add|make|have|be|bring)|would (?:rather|prefer|replace|return|exchange)|"
    r"maybe (?:\w+ ){1,2}(?:will|could|should|can))\b"
)
# A praise word standing alone after what the post says ("Forgot my phone at home. Great."): it comments on the
# rest, often drily, rather than praising. (Anchored on the full stop before it, not on the sentence before: that
# form scanned each sentence from every letter, 98 µs a text against 3.5.)
BARE_PRAISE = re.compile(
    r"(?:^|[.!?]\s*)(?:great|yay|nice|awesome|wonderful|perfect|lovely|brilliant|fantastic|excellent|cool|super)"
    r"\s*\.(?!\w)"  # said flatly: "... Great!" is more often meant
)
# Faint or mixed words that keep a positive-sounding post from being praise.
LUKEWARM = re.compile(r"\b(?:meh|so-so|mediocre|okay-?ish|ok-?ish|average|mixed feelings|lol|lmao|haha)\b")
URGENCY: list[tuple[str, tuple[str, ...], str]] = [
    (
        "safety",
        (
            "safe",
            "danger",
            "fire",
            "smok",
            "burn",
            "injur",
            "hurt",
            "explod",
            "shock",
            "allerg",
            "poison",
            "hospital",
            "sick",
            "overheat",
            "melt",
        ),
        r"\b(?:unsafe|danger\w*|fire|smoke|smoking|burn\w*|injur\w*|hurt|explod\w*|shock(?:ed)? me|allerg\w*|"
        r"poison\w*|hospital|sick after|overheat\w*|melt\w*)\b",
    ),
    (
        "legal",
        (
            "lawyer",
            "solicitor",
            "attorney",
            "sue",
            "suing",
            "legal",
            "court",
            "ombudsman",
            "trading standards",
            "chargeback",
            "fraud",
            "report",
            "claims",
            "bbb",
            "fcc",
            "ftc",
        ),
        r"\b(?:lawyer|solicitor|attorney|sue|suing|legal|court|ombudsman|trading standards|chargeback|fraud\w*|"
        r"report(?:ing)? you|small claims|bbb|fcc|ftc)\b",
    ),
    (
        "cancellation",
        ("cancel", "close my", "switch", "leaving", "never "),
        r"\b(?:cancel (?:my|the|our)|cancell?ing (?:my|the|our)|close my account|switch(?:ing)? to|"
        r"leaving (?:you|for)|never (?:again|buying|using|shopping|flying))\b",
    ),
    ("still waiting", ("still",), r"\bstill (?:waiting|no|not|haven'?t|hasn'?t)\b"),
    (
        "repeated contact",
        ("time", "call", "email", "messag", "attempt", "again", "twice", "keep"),
        r"\b(?:(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time|(?:\d+|several|multiple|many|"
        r"countless|numerous) (?:times|calls|emails|messages|attempts)|called (?:you )?(?:again|twice)|keep "
        r"(?:calling|emailing|messaging|asking)|again and again)\b",
    ),
]

_URGENCY_PATTERNS = [(name, re.compile(p)) for name, _, p in URGENCY]


def _trie(words: Iterable[str]) -> str:
    """A pattern matching any of ``words``, spelled as a trie: the regex engine tries one branch per letter
    instead of every word in turn, and at one position prefers the longest word."""
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def spell(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + spell(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if "" in node else body

    return spell(root)


_TRIGGERS = sorted({t for _, _, ts, _ in SIGNALS for t in ts} | {t for _, ts, _ in URGENCY for t in ts})
# One scan finds the triggers of every signal and urgency category; a lookahead so that overlapping triggers are
# all found. At one position only the longest trigger is reported, so each stands for its shorter prefixes too:
# the signals and categories to look for, by trigger.
_TRIGGER_SCAN = re.compile(f"(?=({_trie(_TRIGGERS)}))")
_CANDIDATES = {
    t: (
        frozenset(i for i, (_, _, ts, _) in enumerate(SIGNALS) if any(t.startswith(u) for u in ts)),
        frozenset(i for i, (_, ts, _) in enumerate(URGENCY) if any(t.startswith(u) for u in ts)),
    )
    for t in _TRIGGERS
}
# One pass over the lower-cased text: a link, a handle, a word (a leading # dropped), or a punctuation mark.
_TOKEN = re.compile(r"(https?://\S+|www\.\S+)|(@\w+)|#?(\w[\w']*)|([^\w\s])")
_DIGITS = str.maketrans("123456789", "000000000")


@dataclass(frozen=True, slots=True)
class Signal:
    """One complaint cue found in a text: its name, its cold-start weight and the words that matched."""

    name: str
    weight: float
    text: str


def lowered(text: str) -> str:
    """The text as the signal patterns read it: lower case, typographic apostrophes made plain."""
    return text.lower().replace("’", "'")


def find_cues(text: str, *, low: str | None = None) -> tuple[list[Signal], list[tuple[str, str]]]:
    """``find_signals`` and ``find_urgency`` in one scan of the text."""
    low = low if low is not None else lowered(text)
    signals: set[int] = set()
    urgency: set[int] = set()
    for trigger in set(_TRIGGER_SCAN.findall(low)):
        s, u = _CANDIDATES[trigger]
        signals |= s
        urgency |= u
    found = []
    framed = low
    if _NO_PROBLEM in signals and (frame := _POSITIVE_FRAME.search(low)):
        found.append(Signal("no problem", SIGNALS[_NO_PROBLEM][1], frame.group(0)))
        framed = _POSITIVE_FRAME.sub(_blank, low)
        signals.discard(_NO_PROBLEM)
    for i in sorted(signals):
        name, weight, pattern = _SIGNAL_PATTERNS[i]
        if m := pattern.search(low if weight < 0 else framed):
            found.append(Signal(name, weight, m.group(0)))
    urgent = []
    for i in sorted(urgency):
        name, pattern = _URGENCY_PATTERNS[i]
        if m := pattern.search(low):
            urgent.append((name, m.group(0)))
    return found, urgent


def find_signals(text: str, *, low: str | None = None) -> list[Signal]:
    """Every complaint or not-a-complaint cue in ``text``, at most one per signal name."""
    return find_cues(text, low=low)[0]


def find_urgency(text: str, *, low: str | None = None) -> list[tuple[str, str]]:
    """The urgency categories in ``text`` with the words that matched, one per category."""
    return find_cues(text, low=low)[1]


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens with handles, links and digits normalised so they generalise across brands."""
    return [
        "url" if link else "@user" if handle else word or mark
        for link, handle, word, mark in _TOKEN.findall(text.lower().translate(_DIGITS))
    ]


def features(
    text: str, *, compound: float, signals: Sequence[Signal], rating: int | None = None
) -> list[str]:
    """The sparse features of one text: words, word pairs, the complaint signals and VADER's compound in bins.

    Character n-grams were measured too: slower by a factor of four and no better in cross-validation.
    """
    toks = tokens(text)
    out = ["w:" + t for t in toks]
    out += [f"b:{a} {b}" for a, b in pairwise(toks)]
    return out + cue_features(compound=compound, signals=signals, rating=rating)


def cue_features(*, compound: float, signals: Sequence[Signal], rating: int | None = None) -> list[str]:
    """The features beside the words: the complaint signals, VADER's compound in bins, the star rating."""
    out = ["s:" + s.name for s in signals]
    out.append(f"v:{round(compound * 4)}")
    if rating is not None:
        out.append(f"r:{rating}")
    return out


@dataclass(frozen=True, slots=True)
class EncoderHead:
    """A logistic regression on a sentence encoder's embedding of the text (see ``bot.encoder``), blended with
    the word model's probability; it names the encoder it was trained with, by folder and weights' digest."""

    encoder: str
    sha256: str
    weights: tuple[float, ...] = field(repr=False)
    bias: float
    blend: float = 0.5
    layers: int = 1  # the embedding joins the encoder's last ``layers`` layers (``SentenceEncoder.encode``)

    def probability(self, embedding: Sequence[float]) -> float:
        z = self.bias + float(sum(w * e for w, e in zip(self.weights, embedding, strict=True)))
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))

    def blended(self, words: float, encoder: float) -> float:
        """The complaint probability triage uses, from the word model's and this head's."""
        return (1 - self.blend) * words + self.blend * encoder


@dataclass(frozen=True, slots=True)
class ComplaintModel:
    """A learned linear complaint model: a bias and a weight per feature; ``score`` gives P(complaint).
    With a ``head``, triage blends in the sentence encoder's opinion too."""

    version: str
    bias: float
    weights: dict[str, float] = field(repr=False)
    threshold: float = 0.5
    scores: dict[str, float] = field(default_factory=dict)
    head: EncoderHead | None = None

    # The word and word-pair weights again, keyed without their prefixes (see ``score_tokens``).
    _words: dict[str, float] = field(init=False, repr=False, compare=False)
    _pairs: dict[str, float] = field(init=False, repr=False, compare=False)

    @property
    def kind(self) -> str:
        return KIND + ("+encoder" if self.head else "")

    def __post_init__(self) -> None:
        words, pairs = {}, {}
        for feature, weight in self.weights.items():
            if feature.startswith("w:"):
                words[feature[2:]] = weight
            elif feature.startswith("b:"):
                pairs[feature[2:]] = weight
        object.__setattr__(self, "_words", words)
        object.__setattr__(self, "_pairs", pairs)

    def score(self, feats: Iterable[str]) -> tuple[float, list[tuple[str, float]]]:
        """P(complaint) for the features, and the features that pushed hardest either way."""
        get = self.weights.get
        return self._decided([(w, "", f) for f in dict.fromkeys(feats) if (w := get(f))])

    def score_tokens(self, toks: list[str], cues: list[str]) -> tuple[float, list[tuple[str, float]]]:
        """``score(features(...))`` from the tokens and the ``cue_features``, without prefixing every word and
        word pair: the prefixes are added to the few features that explain the decision."""
        words, pairs, get = self._words.get, self._pairs.get, self.weights.get
        # dict.fromkeys rather than set: each feature once, in the text's order, so that features of equal weight
        # are named in the same order on every run (a set's order changes with the process's string hashing).
        found = [(w, "w:", t) for t in dict.fromkeys(toks) if (w := words(t))]
        found += [(w, "b:", p) for p in dict.fromkeys(map(" ".join, pairwise(toks))) if (w := pairs(p))]
        found += [(w, "", f) for f in dict.fromkeys(cues) if (w := get(f))]
        return self._decided(found)

    def _decided(self, found: list[tuple[float, str, str]]) -> tuple[float, list[tuple[str, float]]]:
        z = self.bias + sum([f[0] for f in found])
        p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
        # The strongest four are among the four most negative and four most positive weights: one sort keyed
        # in C, then a Python key on eight at most.
        found.sort(key=_WEIGHT)
        ends = found if len(found) <= 8 else found[:4] + found[-4:]
        ends.sort(key=_strength, reverse=True)
        return p, [(prefix + name, w) for w, prefix, name in ends[:4]]

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
        if self.head:
            data["head"] = dataclasses.asdict(self.head)
        return zlib.compress(json.dumps(data, separators=(",", ":")).encode(), 6)

    @classmethod
    def from_bytes(cls, blob: bytes) -> ComplaintModel:
        """Load a model saved by ``to_bytes``."""
        data = json.loads(zlib.decompress(blob))
        if data.get("kind") not in (KIND, KIND + "+encoder"):
            raise ValueError(f"not a {KIND} model: {data.get('kind')!r}")
        head = data.get("head")
        return cls(
            version=data["version"],
            bias=data["bias"],
            weights=data["weights"],
            threshold=data.get("threshold", 0.5),
            scores=data.get("scores", {}),
            head=EncoderHead(**head | {"weights": tuple(head["weights"])}) if head else None,
        )


KIND = "linear-ngrams-v1"


_WEIGHT = operator.itemgetter(0)


def _strength(found: tuple[float, str, str]) -> float:
    return abs(found[0])


# Tried in 5-fold CV on complaints-dev.csv (seeds 0-2, python -m bench.cv_complaints) and not kept: 5% naive
# Bayes log-count ratios blended into the weights (macro-F1 +0.005, but more positive posts drafted as apologies:
# 49 -> 56-61 of 3,344 rated >= +1 in the VADER ground truth); bagging, averaging C 0.1-1, fixed class weights,
# an inner-CV threshold, word prefixes, trigrams, skip-pairs, rescaled cue features, finer VADER bins.
def train(
    rows: Sequence[tuple[list[str], int]],
    *,
    version: str,
    c: float = 0.2,
    min_weight: float = 1e-4,
    row_weights: Sequence[float] | None = None,
) -> ComplaintModel:
    """Fit an L2 logistic regression on (features, label) rows, each counted ``row_weights`` times (1 by default);
    keep only the weights that matter."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    labels = [y for _, y in rows]
    if len(set(labels)) < 2:
        raise ValueError("training needs both complaints and non-complaints")
    vec = CountVectorizer(analyzer=lambda feats: feats, binary=True)
    x = vec.fit_transform([f for f, _ in rows])
    clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", solver="liblinear")
    clf.fit(x, labels, sample_weight=None if row_weights is None else list(row_weights))
    names = vec.get_feature_names_out()
    weights = {
        str(n): round(float(w), 5) for n, w in zip(names, clf.coef_[0], strict=True) if abs(w) >= min_weight
    }
    return ComplaintModel(version=version, bias=float(clf.intercept_[0]), weights=weights)


def train_head(
    embeddings: Any, labels: Sequence[int], *, encoder: str, sha256: str, layers: int = 1, c: float = 10.0
) -> EncoderHead:
    """Fit the logistic regression on sentence embeddings (one row per label) taken from the encoder's last
    ``layers`` layers.

    C = 10 suits the joined, unit-length embedding of the last three layers: in 5-fold CV on complaints-dev.csv it
    lay on a plateau from 3 to 30 (the final layer alone did best near 1)."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=3000, class_weight="balanced")
    clf.fit(embeddings, list(labels))
    return EncoderHead(
        encoder=encoder,
        sha256=sha256,
        weights=tuple(round(float(w), 6) for w in clf.coef_[0]),
        bias=float(clf.intercept_[0]),
        layers=layers,
    )
