"""A draft's card as a ``discord.Embed``: a pure function of the draft and what the store knows around it.

``card_context`` gathers (store reads only); ``card_embed`` and ``card_actions`` render, without Discord, so the
card is tested as data. Every outside string goes through ``markup``: ``quote`` where Discord renders Markdown
(title, description, field values), ``plain`` where it shows text as it is (author, footer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import discord

from bot.errors import StoreError
from bot.escape import visible
from bot.models import AuthorHistory, Case, Draft, Mention, ReplyRules, Triage
from bot.store import Store
from connectors import rules_for
from responders import guard, tone
from responders.discord.markup import cut, is_plain_link, link, plain, quote

# Discord's limits for one embed (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
TITLE_MAX, DESCRIPTION_MAX, FIELD_NAME_MAX, FIELD_MAX, FOOTER_MAX, AUTHOR_MAX = (
    256,
    4096,
    256,
    1024,
    2048,
    256,
)
FIELDS_MAX, EMBED_MAX = 25, 6000
POST_SHOWN = 1500  # of the post's text: a manager decides on the start; the rest is one click away
PARENT_SHOWN = 400
LENGTH_WARN = 0.8  # the length is shown once a draft uses this much of what the platform allows

# Colour by intent, and for complaints by urgency (0 = none … 3 = act now): a red card is read first.
COMPLAINT_COLOURS = (0xE67E22, 0xE74C3C, 0xC0392B, 0x922B21)
INTENT_COLOURS = {"inquiry": 0x3498DB, "praise": 0x2ECC71, "other": 0x95A5A6}
DECIDED_COLOUR = 0x4F545C

LANGUAGES = {
    "de": "German",
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "ja": "Japanese",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese",
    "ru": "Russian",
    "sv": "Swedish",
    "tr": "Turkish",
    "zh": "Chinese",
}

BUTTONS = ("approve", "edit", "reject", "relabel", "take")


@dataclass(frozen=True)
class CardContext:
    """Everything a card shows besides the draft itself."""

    draft: Draft
    mention: Mention
    triage: Triage | None
    case: Case | None
    history: AuthorHistory
    rules: ReplyRules
    now: datetime
    tz: ZoneInfo
    parent: Mention | None = None  # the post this one answers, where we have it
    decided_by: str = ""  # the decider's display name (else the draft's ``decided_by``)
    owner: str = ""  # the case owner's display name (else the case's ``owner``)
    outcome: str = ""  # Discord-ready text: what became of an approval ("posted: <link>", "dry run: …")


def card_context(
    store: Store,
    draft: Draft,
    *,
    now: datetime,
    tz: ZoneInfo,
    outcome: str = "",
    names: dict[str, str] | None = None,
) -> CardContext:
    """Read what the card of ``draft`` shows from the store; ``names`` maps actors to their display names."""
    mention = store.mention(draft.platform, draft.mention_id)
    parent = None
    if mention.parent_id:
        try:
            parent = store.mention(draft.platform, mention.parent_id)
        except StoreError:  # not a post we stored (most parents are not about the brand)
            parent = None
    case = store.case_for(draft.platform, draft.mention_id)
    names = names or {}
    return CardContext(
        draft=draft,
        mention=mention,
        triage=store.triage_for(draft.platform, draft.mention_id),
        case=case,
        history=store.author_history(
            draft.platform, mention.author.handle, before=mention.created_at, besides=mention.id
        ),
        rules=rules_for(draft.platform),
        now=now,
        tz=tz,
        parent=parent,
        decided_by=names.get(draft.decided_by or "", ""),
        owner=names.get(case.owner or "", "") if case else "",
        outcome=outcome,
    )


def card_actions(ctx: CardContext) -> list[str]:
    """The buttons that apply to this draft now: none once decided; "Not a complaint" only on a complaint,
    "Take case" only on an open case nobody owns."""
    if ctx.draft.state != "awaiting":
        return []
    actions = ["approve", "edit", "reject"]
    if ctx.draft.intent == "complaint":
        actions.append("relabel")
    if ctx.case and ctx.case.status == "open" and not ctx.case.owner:
        actions.append("take")
    return actions


def by_hand(ctx: CardContext) -> bool:
    """Whether the reply is the manager's to post (the bot will not)."""
    return ctx.draft.route == "manual" or not ctx.rules.can_reply


def card_embed(ctx: CardContext) -> discord.Embed:
    """The card of one draft as an embed within Discord's limits."""
    d, m = ctx.draft, ctx.mention
    embed = discord.Embed(
        title=cut(f"{d.intent.capitalize()} on {quote(m.platform)} · draft #{d.id}", TITLE_MAX),
        url=m.url if is_plain_link(m.url) else None,
        colour=colour(ctx),
        timestamp=m.created_at,
        description=_post(ctx, POST_SHOWN),
    )
    name = m.author.display_name or m.author.handle
    embed.set_author(name=cut(plain(f"{name} (@{m.author.handle})"), AUTHOR_MAX))
    for field_name, value, inline in _fields(ctx):
        if len(embed.fields) < FIELDS_MAX:
            embed.add_field(name=field_name, value=cut(value, FIELD_MAX) or "–", inline=inline)
    embed.set_footer(text=cut(plain(f"mentionbot · {m.platform} {m.kind} {m.id}"), FOOTER_MAX))
    # A long post (or a long parent and draft) can pass the 6000 in all: the post gives way, with its link.
    shown = POST_SHOWN
    while len(embed) > EMBED_MAX and shown > 100:
        shown //= 2
        embed.description = _post(ctx, shown)
    return embed


def colour(ctx: CardContext) -> int:
    """The card's colour: by intent and urgency while it awaits a decision, grey once decided."""
    if ctx.draft.state not in ("awaiting", "drafted"):
        return DECIDED_COLOUR
    if ctx.draft.intent == "complaint":
        urgency = ctx.triage.urgency if ctx.triage else 0
        return COMPLAINT_COLOURS[max(0, min(urgency, len(COMPLAINT_COLOURS) - 1))]
    return INTENT_COLOURS.get(ctx.draft.intent, INTENT_COLOURS["other"])


def _post(ctx: CardContext, limit: int) -> str:
    text = ctx.mention.text
    whole = ""
    if len(text) > limit:
        text = text[:limit]
        whole = f"\n… cut at {limit} of {len(ctx.mention.text)} characters; the whole post: {link(ctx.mention.url)}"
    body = quote(text, lines=True).strip() or "(no text)"
    return cut(body + whole, DESCRIPTION_MAX)


def stars(rating: int, of: int = 5) -> str:
    """A rating as stars: ★★☆☆☆ 2/5."""
    rating = max(0, min(int(rating), of))
    return "★" * rating + "☆" * (of - rating) + f" {rating}/{of}"


def relative(delta: timedelta) -> str:
    """A time difference as people say it: "17 h", "25 min", "3 days"."""
    seconds = abs(delta.total_seconds())
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{round(seconds / 3600)} h"
    return f"{round(seconds / 86400)} days"


def local(when: datetime, tz: ZoneInfo) -> str:
    """A UTC time in the brand's zone: "Wed 2 Dec 22:56 CET"."""
    at = when.astimezone(tz)
    return f"{at:%a} {at.day} {at:%b %H:%M} {at.tzname()}"


def due(case: Case, *, now: datetime) -> str:
    """The SLA as relative time: "due in 17 h" or "overdue by 2 h"."""
    left = case.due_at - now
    return f"due in {relative(left)}" if left >= timedelta(0) else f"overdue by {relative(left)}"


def history_line(history: AuthorHistory, tz: ZoneInfo) -> str:
    """The author's history here in one line."""
    if not history.earlier_mentions and not history.open_cases:
        return "first mention here"
    parts = [f"{history.earlier_mentions} earlier mention{'s' * (history.earlier_mentions != 1)}"]
    parts.append(f"{history.complaints} complaint{'s' * (history.complaints != 1)}")
    parts.append(f"{history.open_cases} open case{'s' * (history.open_cases != 1)}")
    parts.append(
        f"last reply from us {local(history.last_contact, tz)}" if history.last_contact else "no reply yet"
    )
    return " · ".join(parts)


def language(code: str | None) -> str:
    """A language's English name for its code ("es" → "Spanish"), the code where it is not one we know."""
    code = (code or "").split("-")[0].lower()
    return LANGUAGES.get(code, f"language {code!r}" if code else "an unknown language")


def by_hand_reason(ctx: CardContext) -> str:
    """Why the manager replies by hand: the language, the platform's refusal, or that the bot cannot post there."""
    m = ctx.mention
    if ctx.triage and ctx.triage.needs_human:
        return f"written in {language(ctx.triage.lang or m.lang)}, not a language the team answers in"
    if m.unanswerable:
        return f"{quote(m.platform)} will not take a reply here: {quote(m.unanswerable)}"
    if not ctx.rules.can_reply:
        return f"the bot cannot post on {quote(m.platform)}"
    return f"{quote(m.platform)} does not let the bot answer this post"


def decision_line(ctx: CardContext) -> str:
    """Who decided what, when (in the brand's zone), and what became of it."""
    d = ctx.draft
    if d.state in ("awaiting", "drafted"):
        return ""
    who = quote(ctx.decided_by or (d.decided_by or "someone").removeprefix("discord:"))
    when = local(d.updated_at, ctx.tz)
    line = {
        "rejected": f"Rejected by {who} · {when}: {quote(d.reason or '')}",
        "dry_run": f"Approved by {who} · {when}; dry run: not posted (dry_run is on)",
        "manual": f"Approved by {who} · {when}: to be posted by hand",
    }.get(d.state, f"{d.state.capitalize()} by {who} · {when}")
    if ctx.outcome:
        line += f"; {ctx.outcome}"
    elif d.error:
        line += f"; error: {quote(d.error)}"
    return line


def _fields(ctx: CardContext) -> list[tuple[str, str, bool]]:
    d, m, t = ctx.draft, ctx.mention, ctx.triage
    out: list[tuple[str, str, bool]] = []
    if ctx.parent:
        p = ctx.parent
        out.append(
            (
                cut(quote(f"In reply to @{p.author.handle}"), FIELD_NAME_MAX),
                "> " + quote(cut(p.text, PARENT_SHOWN), lines=True).replace("\n", "\n> "),
                False,
            )
        )
    out.append(("Author here", history_line(ctx.history, ctx.tz), False))
    if m.rating is not None:
        out.append(("Rating", stars(m.rating), True))
    if t:
        confidence = t.complaint_score if t.intent == "complaint" else t.scores.get(t.intent)
        said = t.intent + (f" {confidence:.0%}" if confidence is not None else "") + f" · urgency {t.urgency}"
        out.append(("Intent", said, True))
        if t.reasons:
            out.append(("Why", "\n".join(f"• {quote(r)}" for r in t.reasons[:3]), False))
    out.append(
        ("Draft reply", "```\n" + cut(visible(d.text).replace("```", "'''"), FIELD_MAX - 12) + "\n```", False)
    )
    findings = tone.check(d.text, ignore=(guard.greeting(m.author).name,))
    if findings:
        out.append(("Tone guard", "\n".join(f"• {quote(str(f))}" for f in findings), False))
    problems = [p for p in d.problems if not (t and t.needs_human and p.startswith("language "))]
    if problems:
        out.append(("Platform rules and final check", "\n".join(f"• {quote(p)}" for p in problems), False))
    if d.notes:
        out.append(("Notes", "\n".join(f"• {quote(n)}" for n in d.notes), False))
    if by_hand(ctx):
        out.append(("Reply by hand", by_hand_reason(ctx), False))
    elif ctx.rules.max_length and len(d.text) > ctx.rules.max_length * LENGTH_WARN:
        out.append(("Length", f"{len(d.text)} of {ctx.rules.max_length} {ctx.rules.length_unit}", True))
    if ctx.case:
        c = ctx.case
        sla = f"case {c.ref} " + (
            f"{due(c, now=ctx.now)} · {local(c.due_at, ctx.tz)}"
            if c.status == "open" and c.due_at
            else c.status
        )
        if c.owner:
            sla += f" · owner {quote(ctx.owner or c.owner.removeprefix('discord:'))}"
        out.append(("SLA", sla, False))
    line = decision_line(ctx)
    if line:
        out.append(("Decision", line, False))
    return out


def embed_text(embed: discord.Embed) -> str:
    """Every string an embed shows, one per line (for tests and logs)."""
    parts = [embed.title or "", embed.url or "", embed.author.name or "", embed.description or ""]
    for f in embed.fields:
        parts += [f.name or "", f.value or ""]
    parts.append(embed.footer.text or "")
    return "\n".join(p for p in parts if p)
