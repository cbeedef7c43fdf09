"""Outside text made safe to show: one helper per surface (Markdown, HTML, the terminal), on one shared cleaning.

Display names, post texts, URLs, platform names and API error bodies are written by strangers. Before any of it is
shown, ``visible`` takes out what would act instead of being read: terminal escape sequences, control characters,
bidi overrides and isolates (which reorder the text around them), zero-width and other invisible characters, and
lone surrogates (which no file or terminal can encode). Emoji sequences keep their joiners and tags. Then each
surface escapes its own syntax. Discord's helper lives with the Discord bot (``responders.discord.quote``).
"""

from __future__ import annotations

import html as _html

import regex
from rich.markup import escape as _rich_escape

# Terminal escape sequences as a whole (CSI "ESC[31m", OSC "ESC]8;;url BEL" hyperlinks, two-character escapes),
# so that no "[31m" is left behind once the ESC is gone.
_ANSI = r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x9b[0-?]*[ -/]*[@-~]"
# An emoji with what legitimately joins it: variation selectors, skin tones, tag characters (subdivision flags)
# and zero-width joiners between emoji (families, professions).
_EMOJI = (
    r"\p{Extended_Pictographic}[\uFE0E\uFE0F\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F]*"
    r"(?:\u200D\p{Extended_Pictographic}[\uFE0E\uFE0F\U0001F3FB-\U0001F3FF]*)*"
)
# Controls and format characters (bidi, zero-width, BOM, tags...), line/paragraph separators, surrogates, and the
# letters that show as nothing (Hangul fillers, the Braille blank), used to fake an empty or spoofed name.
_INVISIBLE = r"[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0\u2800\u034F\u17B4\u17B5]"
_TEXT_KEEP = regex.compile(
    rf"(?P<ansi>{_ANSI})|(?P<emoji>{_EMOJI})|(?P<bad>(?![\n\t]){_INVISIBLE})", regex.V1
)
_LINE_KEEP = regex.compile(rf"(?P<ansi>{_ANSI})|(?P<emoji>{_EMOJI})|(?P<bad>{_INVISIBLE})", regex.V1)


def _cleaned(match: regex.Match[str], *, space: bool) -> str:
    if match.group("emoji") is not None:
        return match.group("emoji")
    if match.group("ansi") is not None:
        return ""
    return " " if space and match.group("bad") in "\n\r\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029" else ""


def visible(text: str, *, lines: bool = True) -> str:
    """``text`` without terminal escapes, controls, bidi, invisible characters and lone surrogates.

    ``lines``: keep line breaks and tabs (a post's text); otherwise every line break becomes a space (a name, a
    URL, a platform: one line of a card or a table).
    """
    keep = _TEXT_KEEP if lines else _LINE_KEEP
    return keep.sub(lambda m: _cleaned(m, space=not lines), str(text))


def invisible(text: str) -> list[str]:
    """The characters of ``text`` that a reader would not see or that would act on the display (outside emoji),
    each once, in order; line breaks and tabs are not among them."""
    found = [m.group("bad") or m.group("ansi")[:1] for m in _TEXT_KEEP.finditer(text) if not m.group("emoji")]
    return list(dict.fromkeys(found))


def codepoints(chars: list[str], *, limit: int = 5) -> str:
    """Characters named by code point ("U+202E, U+0000"), as a message can show them."""
    names = [f"U+{ord(c):04X}" for c in chars[:limit]]
    return ", ".join(names) + (f" and {len(chars) - limit} more" if len(chars) > limit else "")


# What CommonMark and GitHub's Markdown give a meaning to inside a table cell (emphasis, code, links, images, HTML,
# entities, strikethrough, the cell's own "|"), and what starts an autolink: the ":" of "https://", the "." of
# "www.", the "@" of an e-mail address.
_MARKDOWN = regex.compile(r"[\\`*_\[\]<|~&]|:(?=//)|(?<=\bwww)\.|(?<=[\w\p{N}.+-])@", regex.I)


def markdown(text: str) -> str:
    """Outside text as literal Markdown on one line: every syntax character backslash-escaped (no link, image,
    HTML tag, emphasis or autolink can form), no line break, nothing invisible."""
    return _MARKDOWN.sub(lambda m: "\\" + m.group(0), visible(text, lines=False))


def html(text: str) -> str:
    """Outside text as HTML text or a quoted attribute value: ``& < > " '`` escaped, nothing invisible."""
    return _html.escape(visible(text), quote=True)


def terminal(text: str) -> str:
    """Outside text for a rich console (with markup on): rich markup escaped, no terminal escapes or controls."""
    return _rich_escape(visible(text))
