"""What may go out in the brand's name: the name a reply greets by, and the final check of every outgoing text.

A display name is written by a stranger, so it goes into a reply only when it plainly is a person's name (letters
of any script, a few joining marks, bounded length); otherwise the reply greets without a name and the draft says
why. Every outgoing text (drafted, edited by a manager, or about to be posted) passes ``check``: no link but the
brand's contact routes, no @-handle but the person answered (and the brand's own accounts), no markup, and no
control or invisible character. A Mastodon direct status reaches everyone it @-mentions, so a private message that
named anyone else would not be private.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import regex

from bot.config import BrandSettings
from bot.escape import codepoints, invisible
from bot.models import Author

MAX_NAME = 30  # characters: longer "first names" are sentences, slogans or padding
# One word: letters (any script) with their combining marks, joined by a hyphen or an apostrophe, or initials
# ("J.R."), with at most a closing period ("Jr."). A period between two words of letters ("evil.example") is a
# domain, not a name.
_NAME = regex.compile(r"\p{L}\p{M}*(?:[\p{L}\p{M}]|[-'’](?=\p{L})|\.(?=\p{L}\.|$))*\.?", regex.V1)


@dataclass(frozen=True, slots=True)
class Greeting:
    """The name a reply may greet the person by (``""``: none), and why the display name was left out."""

    name: str
    dropped: str | None = None


def greeting(author: Author) -> Greeting:
    """The first word of the display name (else the handle) when it plainly is a name; otherwise no name."""
    raw = author.display_name.strip() or author.handle.strip()
    if not raw:
        return Greeting("")
    first = raw.split(" ")[0]
    why = _not_a_name(first)
    if why is None:
        return Greeting(first)
    where = "display name" if author.display_name.strip() else "handle"
    shown = first if len(first) <= 40 else first[:40] + "…"
    return Greeting("", f"name left out: the {where} {shown!r} is not plainly a person's name ({why})")


def _not_a_name(word: str) -> str | None:
    if hidden := invisible(word):
        return f"it has invisible or control characters: {codepoints(hidden)}"
    if _URL.search(word) or _DOMAIN.search(word):
        return "it is a link"
    if "@" in word:
        return "it has an @-handle or an address"
    if regex.search(r"[<>\[\]{}`]", word):
        return "it has markup"
    if regex.search(r"\d", word):
        return "it has digits"
    if len(word) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if not _NAME.fullmatch(word):
        return "it has characters other than letters, - ' and ."
    return None


# -- the final check ------------------------------------------------------------------------------------------

_URL = regex.compile(r"\b[a-z][a-z0-9+.-]{1,20}://[^\s<>\"]*|\b(?:javascript|data|vbscript):[^\s]*", regex.I)
_WWW = regex.compile(r"\bwww\.[^\s<>\"]+", regex.I)
# A bare domain ("evil.example/refund"), which X, Reddit and others turn into a link by themselves.
_DOMAIN = regex.compile(
    r"(?<![\w@.-])(?:[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?\.)+\p{L}{2,63}\b(?:/[^\s<>\"]*)?",
    regex.I,
)
_EMAIL = regex.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# @user, @user@server (Mastodon, Bluesky's @name.bsky.social), u/user (Reddit). A word character here is any
# letter or number, "²" included (regex's \w leaves out numbers that are not decimal digits; Python's does not).
_W = r"[\w\p{N}]"
_HANDLE = regex.compile(
    rf"(?<![\w\p{{N}}@/])(?:@[\w\p{{N}}.-]*{_W}(?:@[\w-]+(?:\.[\w-]+)+)?|/?u/[\w\p{{N}}-]+)"
)
_TAG = regex.compile(r"<\s*/?\s*[a-z!?][^>]*>|&(?:#\d+|#x[0-9a-f]+|[a-z]+);", regex.I)
_MD_LINK = regex.compile(r"!?\[[^\]\n]*\]\s*\(|\]\s*\[[^\]\n]*\]")
_TRAILING = ".,;:!?)'\"’”»"


def check(text: str, *, brand: BrandSettings, handles: Iterable[str] = ()) -> list[str]:
    """Why ``text`` must not go out in the brand's name; empty when it may.

    ``handles``: the @-handles the text may name (the person answered, the brand's own accounts); a handle
    "user@server" may also be named as "user".
    """
    problems = []
    if hidden := invisible(text):
        problems.append(f"control or invisible characters: {codepoints(hidden)}")
    if markup := [m.group(0) for m in _TAG.finditer(text)] + [m.group(0) for m in _MD_LINK.finditer(text)]:
        problems.append(f"markup the platform may render: {_some(markup)}")
    may_name = set()
    for handle in handles:
        handle = handle.strip().lstrip("@").lower()
        if handle:
            may_name |= {handle, handle.split("@")[0]}
    named = [m.group(0) for m in _HANDLE.finditer(text) if _handle(m.group(0)) not in may_name]
    if named:
        problems.append(f"an @-handle other than the person answered: {_some(named)}")
    rest = _HANDLE.sub(" ", text)
    allowed_email = brand.contact_email.strip().lower()
    emails = [
        m.group(0) for m in _EMAIL.finditer(rest) if not allowed_email or m.group(0).lower() != allowed_email
    ]
    rest = _EMAIL.sub(" ", rest)
    routes = {_plain_url(u) for u in (brand.contact_url, brand.name) if u.strip()}
    links = []
    for rx in (_URL, _WWW, _DOMAIN):  # each link once: the schemed form first, then what is left of the text
        found = (m.group(0).rstrip(_TRAILING) for m in rx.finditer(rest))
        links += [link for link in found if _plain_url(link) not in routes]
        rest = rx.sub(" ", rest)
    if links or emails:
        problems.append(
            f"a link or address that is not one of the brand's contact routes: {_some(links + emails)}"
        )
    return problems


def _plain_url(url: str) -> str:
    url = regex.sub(r"^[a-z][a-z0-9+.-]*://", "", url.strip().lower())
    return url.removeprefix("www.").rstrip("/")


def _handle(found: str) -> str:
    return regex.sub(r"^/?u/|^@", "", found).lower()


def _some(found: list[str], limit: int = 3) -> str:
    shown = [repr(f if len(f) <= 60 else f[:60] + "…") for f in dict.fromkeys(found)]
    return ", ".join(shown[:limit]) + (f" and {len(shown) - limit} more" if len(shown) > limit else "")


def without_name(template: str) -> str:
    """A template's text made to read naturally with no name: "Thank you, {name}!" → "Thank you!",
    "{name}, thank you" → "Thank you", "Good question, {name}, and" → "Good question, and"."""
    text = regex.sub(r",\s*\{name\}(?=\s*,)", "", template)
    text = regex.sub(r",\s*\{name\}", "", text)
    text = regex.sub(r"(^|[.!?]\s+)\{name\},?\s*(\w)", lambda m: m.group(1) + m.group(2).upper(), text)
    text = regex.sub(r"\s*\{name\}", "", text)
    return text
