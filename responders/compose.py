"""Drafting the public reply the doctrine prescribes, and the case's private messages.

A complaint gets three moves (doctrine §1): thank you → how to contact us → what would you like? An inquiry gets
an answer or the promise of one with a time; praise gets a thank-you; a post whose kind triage could not settle
(``Triage.held``) a neutral reply that fits either, for a manager to check. The person's name, the contact route for
that platform and the case reference are filled in, so the public reply and the private case are one action.
The wording lives in a templates file (``responders/templates.toml`` unless ``[templates] path`` names another),
each template with several variants used least-recently-first, and a short form for tight length limits.
"""

from __future__ import annotations

import re
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import regex

from bot.config import BrandSettings
from bot.errors import ConfigError
from bot.models import Case, Mention, ReplyRules, Triage
from responders import guard, tone

SHIPPED = Path(__file__).with_name("templates.toml")
TEMPLATE_NAMES = ("complaint", "inquiry", "praise", "advocate", "review_low", "review_high", "neutral")
# Templates a templates file may leave out: the shipped wording is used for them.
OPTIONAL = frozenset({"neutral"})
PLACEHOLDERS = frozenset({"name", "brand", "contact", "Contact", "ref", "hours"})
# Star ratings at or below this are answered as a complaint (doctrine §1 moves), above it with a thank-you.
LOW_RATING = 3
ADVOCACY = re.compile(
    r"\b(recommend(ed|ing)?|tell(ing)? (all )?(my|everyone)|told (all )?(my|everyone)|spread(ing)? the word|"
    r"you guys are the (best|greatest)|fan for life|best (company|app|service|support) ever)\b",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Template:
    """One template's variants and short form (for one platform, or the default)."""

    variants: tuple[str, ...]
    short: str


@dataclass(frozen=True, slots=True)
class Templates:
    """Every template, with per-platform replacements."""

    default: dict[str, Template]
    platforms: dict[str, dict[str, Template]] = field(default_factory=dict)
    source: str = str(SHIPPED)

    def get(self, name: str, platform: str) -> tuple[str, Template]:
        """The template ``name`` for ``platform`` and its key for rotation (``name`` or ``name@platform``)."""
        if name in self.platforms.get(platform, {}):
            return f"{name}@{platform}", self.platforms[platform][name]
        return name, self.default[name]

    def texts(self) -> list[tuple[str, str]]:
        """Every written text as (label, text), for the linter."""
        out = []
        tables = [("", self.default), *((f"@{p}", t) for p, t in self.platforms.items())]
        for suffix, table in tables:
            for name, template in table.items():
                out += [(f"{name}{suffix}#{i}", v) for i, v in enumerate(template.variants)]
                out.append((f"{name}{suffix}#short", template.short))
        return out


def load_templates(path: str | Path | None = None) -> Templates:
    """Read a templates file (the shipped one by default); ``ConfigError`` lists every problem in it."""
    path = Path(path) if path else SHIPPED
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError([f"{path}: templates file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    problems: list[str] = []
    default: dict[str, Template] = {}
    platforms: dict[str, dict[str, Template]] = {}
    for name, table in data.items():
        if name not in TEMPLATE_NAMES:
            problems.append(
                f"{path}: [{name}]: unknown template; expected one of {', '.join(TEMPLATE_NAMES)}"
            )
            continue
        if not isinstance(table, dict):
            problems.append(f"{path}: {name}: expected a table")
            continue
        default[name] = _template(table, f"{path}: [{name}]", problems, required=True)
        for platform, sub in (table.get("platforms") or {}).items():
            platforms.setdefault(platform, {})[name] = _template(
                sub,
                f"{path}: [{name}.platforms.{platform}]",
                problems,
                required=False,
                fallback=default[name],
            )
    for name in OPTIONAL - set(data):
        if path != SHIPPED:
            default[name] = shipped_templates().default[name]
    missing = [n for n in TEMPLATE_NAMES if n not in data and n not in default]
    if missing:
        problems.append(f"{path}: missing template(s) {', '.join(missing)}")
    if problems:
        raise ConfigError(problems)
    return Templates(default, platforms, str(path))


def _template(
    table: object, where: str, problems: list[str], *, required: bool, fallback: Template | None = None
) -> Template:
    if not isinstance(table, dict):
        problems.append(f"{where}: expected a table")
        return Template((), "")
    unknown = set(table) - {"variants", "short", "platforms"}
    if unknown:
        problems.append(f"{where}: unknown key {sorted(unknown)[0]!r}; expected variants, short, platforms")
    variants = table.get("variants", [] if required else list(fallback.variants if fallback else []))
    short = table.get("short", "" if required else (fallback.short if fallback else ""))
    if not isinstance(variants, list) or not variants or not all(isinstance(v, str) and v for v in variants):
        problems.append(f"{where}.variants: expected a non-empty list of texts")
        variants = []
    if not isinstance(short, str) or not short:
        problems.append(f"{where}.short: expected the short form (used when no variant fits the platform)")
        short = ""
    for i, text in enumerate([*variants, short]):
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            problems.append(f"{where}: text {i + 1}: {exc}")
            continue
        bad = fields - PLACEHOLDERS
        if bad:
            problems.append(
                f"{where}: text {i + 1}: unknown placeholder {{{sorted(bad)[0]}}}; "
                f"expected some of {', '.join(sorted(PLACEHOLDERS))}"
            )
    return Template(tuple(variants), short)


_SHIPPED_TEMPLATES: Templates | None = None


def shipped_templates() -> Templates:
    """The templates that come with mentionbot (read once)."""
    global _SHIPPED_TEMPLATES
    if _SHIPPED_TEMPLATES is None:
        _SHIPPED_TEMPLATES = load_templates(SHIPPED)
    return _SHIPPED_TEMPLATES


@dataclass(frozen=True, slots=True)
class Composed:
    """A drafted reply with its template, where it will go, and what stands in its way."""

    text: str
    template: str
    route: str
    findings: tuple[str, ...]
    problems: tuple[str, ...]
    advocate: bool = False
    notes: tuple[str, ...] = ()  # for the manager, not blocking: e.g. why the person's name was left out


def contact_route(brand: BrandSettings, rules: ReplyRules, *, private_message: bool = True) -> str:
    """How to reach us in private on this platform, in words (a private message where we send one)."""
    if rules.can_message and private_message:
        return "we're sending you a private message here"
    routes = []
    if brand.contact_email:
        routes.append(f"email us at {brand.contact_email}")
    if brand.contact_url:
        routes.append(f"reach us at {brand.contact_url}")
    if brand.contact_phone:
        routes.append(f"call us on {brand.contact_phone}")
    return "please " + " or ".join(routes[:2])


def template_name(mention: Mention, triage: Triage) -> str | None:
    """Which template answers ``mention``, or ``None`` when its intent gets no reply.

    A triage that holds the reply's kind for a human (mixed or uncertain signals) gets the neutral template, which
    neither thanks for praise nor apologises."""
    if triage.held and (
        triage.intent in ("complaint", "praise", "inquiry") or mention.kind == "story_mention"
    ):
        return "neutral"
    if mention.kind == "review" or mention.rating is not None:
        if triage.intent == "other" and mention.rating is None:
            return None
        low = triage.intent == "complaint" or (mention.rating is not None and mention.rating <= LOW_RATING)
        return "review_low" if low else "review_high"
    if triage.intent == "praise":
        return "advocate" if is_advocate(mention.text) else "praise"
    return triage.intent if triage.intent in ("complaint", "inquiry") else None


def is_advocate(text: str) -> bool:
    """Whether praise says the person recommends us to others (doctrine §5: advocacy, worth knowing)."""
    return bool(ADVOCACY.search(text))


def compose(
    mention: Mention,
    triage: Triage,
    *,
    brand: BrandSettings,
    rules: ReplyRules,
    can_reply: bool,
    case: Case | None = None,
    inquiry_hours: float = 24,
    templates: Templates | None = None,
    used: Callable[[str], int | None] | None = None,
) -> Composed | None:
    """The public reply for ``mention``, or ``None`` when its intent gets no reply.

    ``used(key)`` tells when a variant was last used (any increasing number, e.g. the draft id; None if never); the
    least recently used variant that the platform accepts is chosen, else the short form.
    """
    name = template_name(mention, triage)
    if name is None:
        return None
    key, template = (templates or shipped_templates()).get(name, mention.platform)
    contact = contact_route(brand, rules, private_message=case is not None)
    greeting = guard.greeting(mention.author)
    values = {
        "name": greeting.name,
        "brand": brand.name,
        "contact": contact,
        "Contact": contact[:1].upper() + contact[1:],
        "ref": f" (ref. {case.ref})" if case else "",
        "hours": f"{inquiry_hours:g}",
    }
    last = [(used(f"{key}#{i}") if used else None) for i in range(len(template.variants))]
    order = sorted(range(len(template.variants)), key=lambda i: (-1 if last[i] is None else last[i], i))
    candidates = [(f"{key}#{i}", template.variants[i]) for i in order] + [(f"{key}#short", template.short)]
    if not greeting.name:
        candidates = [(label, guard.without_name(raw)) for label, raw in candidates]
    rendered = [(label, raw.format(**values)) for label, raw in candidates]
    label, text = next(((lb, t) for lb, t in rendered if not rule_problems(t, rules)), rendered[-1])
    return Composed(
        text=text,
        template=label,
        route="reply" if can_reply else "manual",
        findings=tuple(str(f) for f in tone.check(text, ignore=(greeting.name,))),
        problems=(
            *rule_problems(text, rules),
            *guard.check(text, brand=brand, handles=(mention.author.handle,)),
        ),
        advocate=name == "advocate",
        notes=(greeting.dropped,) if greeting.dropped else (),
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
    """User-perceived characters (extended grapheme clusters), as Bluesky counts them."""
    return len(regex.findall(r"\X", text))


def private_opening(case: Case, mention: Mention, brand: BrandSettings) -> str:
    """The case's first private message: contact → thank you → what happened?"""
    return (
        f"{_hi(mention)}this is the {brand.name} care team about your post (case {case.ref}). "
        "Thank you for letting us know. Could you tell us what happened, and your order or account details, "
        "so we can find the right solution with you?"
    )


def private_follow_up(case: Case, mention: Mention, brand: BrandSettings, *, last: bool) -> str:
    """A private follow-up on an inquiry the customer has not answered yet (doctrine §3: up to three)."""
    return (
        f"{_hi(mention)}the {brand.name} care team again about your question (case {case.ref}). "
        "We'd like to make sure you have everything you need: reply here whenever suits you and we'll pick it up."
        + (" This is our last check-in: whenever you need us, message us here." if last else "")
    )


# What is left of a sentence when the name went out clumsily: "us, .", "Hi ,", a sentence begun in lower case.
_NAMELESS_SLIPS = re.compile(r"\s[,.!?;:]|,\s*[,.!?;:]|^\W|^[a-z]")


def _hi(mention: Mention) -> str:
    name = guard.greeting(mention.author).name
    return f"Hi {name}, " if name else "Hi, "


def lint(templates: Templates, brand: BrandSettings, platforms: Mapping[str, ReplyRules]) -> list[str]:
    """Every tone-guard finding in the templates (with each contact route filled in), and every platform whose
    length limit even the short form breaks. Empty when the templates are fit to use."""
    out = []
    sample = {"name": "Alexandra", "brand": brand.name, "ref": " (ref. C-00012)", "hours": "24"}
    routes = {contact_route(brand, ReplyRules(can_message=True)), contact_route(brand, ReplyRules())}
    for label, text in templates.texts():
        for route in sorted(routes):
            filled = text.format(**sample, contact=route, Contact=route[:1].upper() + route[1:])
            for finding in tone.check(filled):
                out.append(f"{label}: {finding}")
        # A reply to someone whose display name is not plainly a name greets without it.
        route = min(routes)
        nameless = guard.without_name(text).format(
            **{**sample, "name": ""}, contact=route, Contact=route[:1].upper() + route[1:]
        )
        if "{name}" in text and (bad := _NAMELESS_SLIPS.search(nameless)):
            out.append(f"{label}: reads badly without a name near {bad.group(0)!r}: {nameless!r}")
    for platform, rules in sorted(platforms.items()):
        private = contact_route(brand, rules)
        for name in TEMPLATE_NAMES:
            key, template = templates.get(name, platform)
            text = template.short.format(**sample, contact=private, Contact=private[:1].upper() + private[1:])
            for problem in rule_problems(text, rules):
                out.append(f"{key}#short on {platform}: {problem}")
    return sorted(set(out), key=out.index)
