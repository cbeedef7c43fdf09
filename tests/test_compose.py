"""The public reply: templates per intent and platform, rotation, contact routes, platform rules, the linter."""

from __future__ import annotations

import dataclasses
import itertools
import json
from datetime import UTC, datetime

import pytest

from bot import decisions
from bot.clock import FakeClock
from bot.config import BrandSettings, parse_config
from bot.errors import ConfigError
from bot.models import Author, Case, Mention, ReplyRules, Triage
from bot.pipeline import Pipeline
from bot.store import Store
from connectors import REGISTRY, load
from responders import compose, tone
from tests.conftest import mentionbot, open_store

BRAND = BrandSettings(name="Acme", contact_email="care@acme.example", contact_url="https://acme.example/help")
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
X = ReplyRules(max_length=280, can_reply=True, can_message=True)
BLUESKY = ReplyRules(max_length=300, length_unit="graphemes", can_reply=True)
PLAY = ReplyRules(max_length=350, can_reply=True, one_reply_per_item=True)
REDDIT = ReplyRules(max_length=10_000, can_reply=True, can_message=True)


def mention(text="my order is late", *, name="Marta Jansen", kind="comment", rating=None, platform="reddit"):
    return Mention(
        platform, "t1_1", "https://x/1", Author("marta", name), text, NOW, kind=kind, rating=rating
    )


def case(ref="C-00012"):
    return Case(1, ref, "reddit", "t1_1", "marta", "Marta", "complaint", "open", "contact", NOW, NOW)


def draft(intent, *, rules=REDDIT, with_case=True, used=None, templates=None, **kw):
    return compose.compose(
        mention(**kw),
        Triage(intent),
        brand=BRAND,
        rules=rules,
        can_reply=rules.can_reply,
        case=case() if with_case else None,
        used=used,
        templates=templates,
    )


def test_a_complaint_gets_thank_you_contact_and_what_would_you_like():
    composed = draft("complaint")
    text = composed.text
    assert text.index("Marta") < text.index("private message") < text.index("?")
    assert "thank" in text.lower() and "C-00012" in text
    assert "What would you like" in text
    assert composed.route == "reply" and not composed.findings and not composed.problems


def test_without_private_messages_the_reply_gives_the_configured_routes():
    text = draft("complaint", rules=PLAY, kind="review", rating=1).text
    assert "care@acme.example" in text and "https://acme.example/help" in text
    assert "private message" not in text


def test_an_inquiry_promises_an_answer_with_a_time():
    text = draft("inquiry").text
    assert "within 24 hours" in text and "Marta" in text


def test_praise_gets_a_thank_you_and_advocates_are_noted():
    plain = draft("praise", text="love the new app")
    assert "Thank" in plain.text and not plain.advocate and plain.template.startswith("praise#")
    advocate = draft("praise", text="Acme is great, I recommend it to all my friends")
    assert advocate.advocate and advocate.template.startswith("advocate#")


def test_reviews_low_and_high():
    assert draft("complaint", kind="review", rating=2, rules=PLAY).template.startswith("review_low#")
    assert draft("other", kind="review", rating=2, rules=PLAY).template.startswith("review_low#")
    assert draft("praise", kind="review", rating=5, rules=PLAY).template.startswith("review_high#")
    assert draft("other", text="ok") is None


def test_variants_rotate_least_recently_used_first():
    seen, used = [], {}
    for n in range(8):
        composed = draft("complaint", used=used.get)
        seen.append(composed.template)
        used[composed.template] = n
    first_round = seen[:4]
    assert len(set(first_round)) == 4, "every variant is used once before any is repeated"
    assert seen[4:] == first_round
    assert all(a != b for a, b in itertools.pairwise(seen)), "never the same text twice in a row"


def test_a_variant_too_long_for_the_platform_gives_way_to_one_that_fits():
    long_name = "Maximiliana-Alexandrina " + "x" * 150
    tight = ReplyRules(max_length=200, can_reply=True)
    composed = draft("complaint", rules=tight, name=long_name)
    assert len(composed.text) <= 200 and composed.template == "complaint#short"
    assert not composed.problems
    # Too long even for the short form: the draft says so before approval rather than breaking the rule later.
    tiny = ReplyRules(max_length=40, can_reply=True)
    assert draft("complaint", rules=tiny).problems[0].startswith("too long")


def test_bluesky_counts_graphemes_not_code_points():
    family = "👨‍👩‍👧‍👦"  # one grapheme, seven code points
    assert compose.grapheme_count(family * 10) == 10 and len(family * 10) == 70
    assert compose.rule_problems(family * 300, BLUESKY) == []
    assert compose.rule_problems(family * 301, BLUESKY) == [
        "too long: 301 graphemes, the platform allows 300"
    ]


def test_every_shipped_template_fits_x_bluesky_and_google_play():
    for rules in (X, BLUESKY, PLAY):
        for intent, extra in [
            ("complaint", {}),
            ("inquiry", {}),
            ("praise", {}),
            ("complaint", {"kind": "review", "rating": 1}),
            ("praise", {"kind": "review", "rating": 5}),
        ]:
            composed = draft(intent, rules=rules, **extra)
            assert not composed.problems and not composed.findings, (rules, intent, composed)


def test_a_platform_that_takes_no_replies_gets_a_reply_by_hand_task():
    composed = draft("complaint", rules=ReplyRules(can_reply=False))
    assert composed.route == "manual" and composed.text


def test_platform_variants_replace_the_default(tmp_path):
    path = tmp_path / "templates.toml"
    shipped = compose.SHIPPED.read_text()
    path.write_text(
        shipped + '\n[praise.platforms.bluesky]\nvariants = ["Thank you, {name}, from all of {brand}!"]\n'
    )
    templates = compose.load_templates(path)
    on_bluesky = compose.compose(
        mention(text="nice", platform="bluesky"),
        Triage("praise"),
        brand=BRAND,
        rules=BLUESKY,
        can_reply=True,
        templates=templates,
    )
    assert on_bluesky.text == "Thank you, Marta, from all of Acme!"
    assert on_bluesky.template == "praise@bluesky#0"
    assert draft("praise", templates=templates).template.startswith("praise#")


def test_a_bad_templates_file_lists_every_problem(tmp_path):
    path = tmp_path / "templates.toml"
    path.write_text('[complaint]\nvariants = ["Hi {nmae}"]\n[weather]\nvariants = ["x"]\n')
    with pytest.raises(ConfigError) as exc:
        compose.load_templates(path)
    text = "\n".join(exc.value.problems)
    assert "unknown placeholder {nmae}" in text
    assert "[weather]: unknown template" in text
    assert "complaint].short" in text
    assert "missing template(s) inquiry, praise" in text


def test_the_shipped_templates_pass_the_linter():
    platforms = {name: load(name).rules for name in REGISTRY} | {"x": X, "bluesky": BLUESKY, "play": PLAY}
    assert compose.lint(compose.shipped_templates(), BRAND, platforms) == []
    for _, text in compose.shipped_templates().texts():
        assert not tone.check(text)


def test_lint_templates_command(tmp_path, fake_reddit, reddit_env):
    from tests.conftest import write_config

    config = write_config(tmp_path, fake_reddit)
    ok = mentionbot(config, "lint-templates")
    assert "pass the tone guard" in ok.stdout

    bad = tmp_path / "mine.toml"
    bad.write_text(
        compose.SHIPPED.read_text().replace("That made our day", "No problem, but don't hesitate to write")
    )
    config.write_text(config.read_text() + '\n[templates]\npath = "mine.toml"\n')
    result = mentionbot(config, "lint-templates", check=False)
    assert result.returncode == 1
    assert "praise#0" in result.stdout and "'No problem'" in result.stdout
    assert "'but'" in result.stdout and "don't hesitate" in result.stdout
    assert "happy to help" in result.stdout  # the alternative is named


def test_drafts_rotate_through_the_variants_and_advocates_are_noted(config_path, fake_reddit):
    for author, body in [
        ("ann", "my parcel arrived broken"),
        ("ben", "my order is 5 days late"),
        ("cas", "I was charged twice for my subscription"),
        ("dee", "Acme support is great, I recommend them to all my friends"),
    ]:
        fake_reddit.add_comment(author=author, body=f"u/acme_support {body}")
    mentionbot(config_path, "run", "--once")
    store = open_store(config_path)
    drafts = {store.mention(d.platform, d.mention_id).author.handle: d for d in store.drafts()}
    complaints = [drafts[a] for a in ("ann", "ben", "cas")]
    assert len({d.template for d in complaints}) == 3 and len({d.text.split(".")[0] for d in complaints}) >= 2
    assert all(d.template.startswith("complaint#") and not d.findings for d in complaints)
    assert drafts["dee"].template.startswith("advocate#")
    assert store.person("reddit", "dee").stage == "advocacy"


def test_a_broken_templates_file_is_reported_before_anything_runs(config_path):
    (config_path.parent / "mine.toml").write_text('[praise]\nvariants = ["Thanks {nmae}"]\nshort = "x"\n')
    config_path.write_text(config_path.read_text() + '\n[templates]\npath = "mine.toml"\n')
    result = mentionbot(config_path, "check", "--offline", check=False)
    assert result.returncode == 2
    assert "unknown placeholder {nmae}" in result.stderr and "missing template(s) complaint" in result.stderr


def test_an_imported_review_from_a_platform_we_cannot_post_to_is_a_reply_by_hand(tmp_path):
    export = tmp_path / "play.jsonl"
    row = {
        "id": "gp1",
        "platform": "google_play",
        "kind": "review",
        "rating": 1,
        "author": "Kai Berg",
        "text": "App crashes on start since the update",
        "created_at": NOW.isoformat(),
    }
    export.write_text(json.dumps(row) + "\n")
    config = parse_config(
        {
            "brand": {"contact_email": "care@acme.example"},
            "connectors": {"file": {"enabled": True, "paths": [str(export)]}},
        }
    )
    pipeline = Pipeline(config, Store.memory(), clock=FakeClock(NOW))
    pipeline.poll("file")
    (draft,) = pipeline.store.drafts()
    assert draft.route == "manual" and draft.template.startswith("review_low#")
    assert "care@acme.example" in draft.text and not draft.findings
    approved = decisions.approve(
        pipeline.store, draft.id, actor="alice", now=NOW, brand=pipeline.config.brand
    )
    assert approved.state == "manual" and pipeline.store.outbox() == []  # a "reply by hand" task


def test_the_private_messages_pass_the_tone_guard():
    texts = [
        compose.private_opening(case(), mention(), BRAND),
        compose.private_follow_up(case(), mention(), BRAND, last=False),
        compose.private_follow_up(case(), mention(), BRAND, last=True),
    ]
    for text in texts:
        assert "Marta" in text and "C-00012" in text and tone.check(text) == []
    assert "what happened" in texts[0] and "last check-in" in texts[2] and "last" not in texts[1]


def test_the_persons_name_is_not_checked_as_our_words():
    composed = draft("praise", text="love it", name="Free Spirit")
    assert composed.text.count("Free") == 1 and composed.findings == ()


def test_approving_a_reply_to_someone_called_free_needs_no_override():
    store = Store.memory()
    first = mention(name="Free Spirit")
    second = dataclasses.replace(first, id="t1_2")
    store.save_fetch("reddit", [first, second], None, now=NOW)
    thanks = store.add_draft(first, intent="praise", text="Thank you, Free! We're on it.", now=NOW)
    assert decisions.approve(store, thanks.id, actor="alice", now=NOW).state == "approved"
    money = store.add_draft(second, intent="praise", text="Thank you, Free! Here is a free month.", now=NOW)
    with pytest.raises(decisions.DecisionError, match="'free': money talk"):
        decisions.approve(store, money.id, actor="alice", now=NOW)
