"""Property tests of the input side: whatever a stranger sends (every unicode category, lone surrogates, controls,
bidi and zero-width marks, markup, format strings, huge sizes), building a ``Mention``, triage, the store and the
import parser never raise, and what is stored is UTF-8-encodable, NUL-free and bounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.models import MAX_EXCERPT, MAX_FIELD, MAX_RAW, MAX_TEXT, Author, Mention, Quarantined
from bot.store import Store
from bot.triage import Triager
from connectors.file import FileConnector, FileSettings

# Modest counts: the whole file runs in a few seconds; the fragments below make the rare cases common.
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)

FRAGMENTS = [
    "\ud800",
    "\udfff",
    "\udc80",
    "\x00",
    "\x1b[31m",
    "\x07",
    "\r\n",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\u2028",
    "\ufffd",
    "<script>alert(1)</script>",
    "[acme support](https://evil.example)",
    "@everyone",
    "<@&123>",
    "%s%n%x{0}{name}",
    "${jndi:ldap://x}",
    "'; drop table mentions; --",
    "Z̴̧͎a̷l̶g̵o",
    "👩🏽‍🚀",
    "\U0010ffff",
]
characters = st.one_of(
    st.characters(exclude_categories=()),  # every category, unassigned and private use included
    st.integers(0xD800, 0xDFFF).map(chr),
    st.integers(0, 0x1F).map(chr),
)
hostile = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(characters, max_size=20)), max_size=12).map(
    "".join
)
huge = st.tuples(hostile, st.integers(MAX_TEXT - 5, MAX_TEXT + 2_000), st.sampled_from("x\ud800\x00 ")).map(
    lambda t: t[0] + t[2] * t[1]
)
text = st.one_of(hostile, hostile, hostile, huge)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(hostile, inner, max_size=4)),
    max_leaves=12,
)
NOW = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)
TRIAGER = Triager()


def storable(value: str, limit: int) -> None:
    assert isinstance(value, str) and len(value) <= limit and "\x00" not in value
    value.encode("utf-8")  # no lone surrogate


def mentions(draw_text=text):
    return st.builds(
        Mention,
        platform=hostile,
        id=hostile,
        url=hostile,
        author=st.builds(Author, handle=hostile, display_name=hostile, id=hostile),
        text=draw_text,
        created_at=st.datetimes(
            min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        ),
        kind=st.sampled_from(["post", "comment", "reply", "review", "dm"]),
        rating=st.one_of(st.none(), st.integers(1, 5)),
        parent_id=st.one_of(st.none(), hostile),
        thread_id=st.one_of(st.none(), hostile),
        lang=st.one_of(st.none(), hostile),
        raw=st.dictionaries(hostile, json_value, max_size=4),
        unanswerable=st.one_of(st.none(), hostile),
    )


def assert_safe(m: Mention) -> None:
    storable(m.text, MAX_TEXT)
    for value in (m.platform, m.id, m.url, m.author.handle, m.author.display_name, m.author.id):
        storable(value, MAX_FIELD)
    for value in (m.parent_id, m.thread_id, m.lang, m.unanswerable):
        if value is not None:
            storable(value, MAX_FIELD)


@PROPERTY
@given(mentions())
def test_a_mention_of_anything_is_safe_to_store(m):
    assert_safe(m)


@PROPERTY
@given(st.lists(mentions(), min_size=1, max_size=3), hostile, json_value, text, hostile)
def test_triage_and_the_store_take_anything_and_give_back_safe_text(batch, item_id, raw, error, cursor):
    triages = {}
    for m in batch:
        triages.setdefault(m.key, TRIAGER.triage(m))
    for t in triages.values():
        for reason in t.reasons:
            reason.encode("utf-8")
    store = Store.memory()
    quarantined = [Quarantined.of(batch[0].platform, raw, error, item_id=item_id)]
    new = store.save_fetch("x", batch, cursor, now=NOW, triages=triages, quarantined=quarantined)
    store.get_cursor("x").encode("utf-8")  # a cursor made of a platform's ids is kept, made storable
    assert {m.key for m in new} == {m.key for m in batch}
    for m in new:
        stored = store.mention(m.platform, m.id)
        assert_safe(stored)
        assert (stored.text, stored.author, stored.url) == (m.text, m.author, m.url)
        assert json.dumps(stored.raw).encode("utf-8")  # the raw original comes back as JSON
        assert store.triage_for(m.platform, m.id).intent == triages[m.key].intent
    (item,) = store.quarantined()
    storable(item.item.reason, MAX_EXCERPT)
    assert "\n" not in item.item.reason
    storable(item.item.raw, MAX_RAW)
    storable(item.item.item_id, MAX_FIELD)


rows = st.one_of(
    json_value,
    st.fixed_dictionaries(
        {"text": text, "created_at": st.sampled_from(["2025-01-02", "1763280000", 1e20, "", None])},
        optional={
            "id": json_scalar,
            "author": json_value,
            "name": text,
            "url": hostile,
            "platform": hostile,
            "kind": hostile,
            "rating": json_scalar,
            "parent_id": json_scalar,
        },
    ),
)
lines = st.one_of(
    rows.map(lambda r: json.dumps(r).encode()),  # JSON's escapes: "\ud800" arrives as a lone surrogate
    rows.map(lambda r: json.dumps(r, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.binary(max_size=60),
)


@PROPERTY
@given(st.lists(lines, max_size=6), st.booleans())
def test_the_import_parser_reads_any_file_into_mentions_and_reasons(tmp_path_factory, content, as_csv):
    folder: Path = tmp_path_factory.mktemp("import")
    path = folder / ("export.csv" if as_csv else "export.jsonl")
    path.write_bytes(b"id,author,text,created_at\n" * as_csv + b"\n".join(content))
    parsed = FileConnector(FileSettings()).rows(path)
    store = Store.memory()
    for row in parsed:
        assert (row.mention is None) != (row.problem is None)
        if row.mention is not None:
            assert_safe(row.mention)
            store.save_fetch("import", [row.mention], None, now=NOW + timedelta(seconds=row.line))
        else:
            item = row.quarantined("import")
            storable(item.reason, MAX_EXCERPT)
            store.save_fetch("import", [], None, now=NOW, quarantined=[item])
