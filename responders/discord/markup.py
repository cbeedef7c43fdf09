"""Outside text made inert for Discord's Markdown (the Discord surface of ``bot.escape``)."""

from __future__ import annotations

import re

from bot.escape import visible

# Every character Discord's Markdown acts on: emphasis, code, spoilers, quotes, headings and subtext, lists,
# masked links ("[" and "]"), and "<" which opens user, role, channel, emoji, timestamp and command mentions.
_MARKDOWN = re.compile(r"[\\*_~|`>#\-\[\]<]")
_PINGS = re.compile(r"@(?=everyone|here|[!&]?\d)", re.I)
# A link Discord shows as what it is, inside "<…>" (which also keeps it from unfurling): http(s), no markup.
_PLAIN_LINK = re.compile(r"https?://[^\s<>()\[\]`|\\\"']+")


def quote(text: str, *, lines: bool = False) -> str:
    """Outside text made inert for Discord: no Markdown, no mention or ping, no link in disguise, nothing invisible;
    one line unless ``lines`` (a post's text)."""
    text = _MARKDOWN.sub(lambda m: "\\" + m.group(0), visible(str(text), lines=lines))
    return _PINGS.sub("@\u200b", text)


def plain(text: str) -> str:
    """Outside text for where Discord shows text as it is (an embed's author and footer): one line, visible."""
    return visible(str(text), lines=False)


def is_plain_link(url: str) -> bool:
    """Whether ``url`` is a web link with nothing in it that Markdown would act on."""
    return bool(_PLAIN_LINK.fullmatch(url or ""))


def link(url: str) -> str:
    """A URL from outside as a card shows it: a plain web link in ``<…>``, anything else as inert text."""
    return f"<{url}>" if is_plain_link(url) else quote(url)


def cut(text: str, limit: int, *, more: str = "…") -> str:
    """``text`` within ``limit`` characters, ending in ``more`` when cut (never in half an escape)."""
    if len(text) <= limit:
        return text
    head = text[: max(0, limit - len(more))]
    # A backslash left at the end would escape ``more``'s first character instead of what it escaped.
    trailing = len(head) - len(head.rstrip("\\"))
    if trailing % 2:
        head = head[:-1]
    return head + more
