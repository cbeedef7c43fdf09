"""Drafting the public reply the doctrine prescribes, and the case's first private message.

A complaint gets three moves (doctrine §1): thank you → how to contact us → what would you like? An inquiry gets
an answer or the promise of one with a time; praise gets a thank-you. The person's name, the contact route for
that platform and the case reference are filled in, so the public reply and the private case are one action.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import BrandSettings
from bot.models import Case, Mention, ReplyRules, Triage
from responders import tone

TEMPLATES: dict[str, str] = {
    "complaint": (
        "Thank you for telling us, {name}. We want to put this right: {contact}{ref}. "
        "What would you like us to do for you?"
    ),
    "inquiry": (
        "Thanks for asking, {name}! We'll come back to you with an answer within {hours} hours; "
        "{contact}{ref}."
    ),
    "praise": "Thank you so much, {name}! That made our day, and we'll pass it on to the team.",
}


@dataclass(frozen=True, slots=True)
class Composed:
    """A drafted reply with its template, where it will go, and what stands in its way."""

    text: str
    template: str
    route: str
    findings: tuple[str, ...]
    problems: tuple[str, ...]


def contact_route(brand: BrandSettings, rules: ReplyRules) -> str:
    """How to reach us in private on this platform, in words."""
    if rules.can_message:
        return "we've sent you a private message, and you can also reach us there"
    routes = [r for r in (brand.contact_email, brand.contact_url, brand.contact_phone) if r]
    return "please write to us at " + " or ".join(routes[:2])


def compose(
    mention: Mention,
    triage: Triage,
    *,
    brand: BrandSettings,
    rules: ReplyRules,
    can_reply: bool,
    case: Case | None = None,
    inquiry_hours: float = 24,
) -> Composed | None:
    """The public reply for ``mention``, or ``None`` when its intent gets no reply."""
    template = TEMPLATES.get(triage.intent)
    if template is None:
        return None
    text = template.format(
        name=mention.author.name,
        contact=contact_route(brand, rules),
        ref=f" (your reference is {case.ref})" if case else "",
        hours=int(inquiry_hours),
    )
    route = "reply" if can_reply else "manual"
    return Composed(
        text=text,
        template=f"{triage.intent}-0",
        route=route,
        findings=tuple(str(f) for f in tone.check(text)),
        problems=tuple(rule_problems(text, rules)),
    )


def rule_problems(text: str, rules: ReplyRules) -> list[str]:
    """What in ``text`` the platform would refuse (checked before approval, never after)."""
    problems = []
    length = grapheme_count(text) if rules.length_unit == "graphemes" else len(text)
    if rules.max_length is not None and length > rules.max_length:
        problems.append(f"too long: {length} {rules.length_unit}, the platform allows {rules.max_length}")
    if not text.strip():
        problems.append("empty reply")
    return problems


def grapheme_count(text: str) -> int:
    """Approximate user-perceived characters: combining marks and joiners do not count."""
    import unicodedata

    return sum(1 for ch in text if not unicodedata.combining(ch) and ch not in "\u200d\ufe0f")


def private_opening(case: Case, mention: Mention, brand: BrandSettings) -> str:
    """The case's first private message: contact → thank you → what happened?"""
    return (
        f"Hi {mention.author.name}, this is the {brand.name} care team about your post (case {case.ref}). "
        "Thank you for letting us know. Could you tell us what happened, and your order or account details, "
        "so we can find the right solution with you?"
    )
