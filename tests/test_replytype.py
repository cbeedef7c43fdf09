"""The reply matches what the person meant: sarcasm, mixed posts and complaint words in a positive frame are read
as such; a thank-you only for confident praise, an apology only where something went wrong, and a neutral draft
held for a human in between (never auto-approved). End to end on the fake Mastodon, and through the CLI."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from bot.complaints import find_signals
from bot.models import Author, Mention
from bot.store import Store
from bot.triage import Triager, backtest, reply_kind, train_model
from connectors.fakes.mastodon import FakeMastodon
from responders import compose
from tests.test_reply_safety import drain, pipeline_for


@pytest.fixture(scope="module")
def triager():
    return Triager()


@pytest.fixture
def fake(clock):
    with FakeMastodon(clock=clock) as fake:
        yield fake


# Each sarcasm cue on a written example (with the words that give it away) and on a near miss: sincere words.
SARCASM_EXAMPLES = {
    "is a joke": ("Acme's new pricing is a joke", "is a joke", "Acme told a joke at the launch, loved it"),
    "thanks for nothing": ("Thanks for nothing, Acme", "thanks for nothing", "Thanks for everything, Acme"),
    "great, another": (
        "Great, another Acme update that moves every button",
        "great, another",
        "Great update",
    ),
    "more like": ("Acme? More like Acne, it's everywhere lol", "? more like", "I'd like more Acme stickers"),
    "scare quotes": (
        'Your "express" delivery took nine days',
        '"express"',
        "Your express delivery was quick",
    ),
    "gotta love": ("Gotta love Acme's hold music at 2am", "gotta love", "Love Acme's hold music, honestly"),
    "love waiting": ("I love waiting 40 minutes for Acme support", "love waiting", "I love the new Acme app"),
    "lol after a complaint": ("Acme charged me twice lol", "lol", "Acme's new ad lol, so good"),
    "as if": (
        "Support works 9 to 6 on weekdays, as if I had time then",
        "as if i had",
        "It looks as if the parcel is here, thanks",
    ),
    "praise of a let-down": (
        "Brilliant customer service @Acme, nobody replied in a week",
        "brilliant customer service",
        "Brilliant customer service @Acme, sorted in a minute",
    ),
}


@pytest.mark.parametrize("name", sorted(SARCASM_EXAMPLES))
def test_each_sarcasm_cue_fires_on_its_example_and_not_on_a_near_miss(triager, name):
    text, words, miss = SARCASM_EXAMPLES[name]
    assert f"sarcasm: {words!r}" in triager.read(text).notes
    assert not triager.read(miss).sarcastic


def test_sarcasm_is_never_thanked(triager):
    for text, _, _ in SARCASM_EXAMPLES.values():
        assert reply_kind(triager.triage_text(text)) != "praise", text


def test_sarcasm_without_a_stated_problem_gets_no_apology_but_a_human(triager):
    t = triager.triage_text("Acme? More like Acne, it's everywhere lol")
    assert reply_kind(t) == "held" and "sarcasm without a stated problem" in t.held
    # near miss: sarcasm about something that went wrong is a complaint, and the apology fits
    t = triager.triage_text("Thanks for nothing Acme, my parcel never arrived")
    assert reply_kind(t) == "apology" and not t.held


# Complaint words in a positive frame: each frame on an example (the words it names) and a near miss.
FRAME_EXAMPLES = [
    ("I've had no real problems with it", "no real problems", "I've had real problems with it"),
    ("Acme never disappoints", "never disappoints", "Acme disappoints again"),
    ("For the price you can't go wrong", "can't go wrong", "Everything went wrong with the price"),
    ("It doesn't get any better than this", "doesn't get any better", "It doesn't get updates any more"),
    ("Song transfers were not an issue", "not an issue", "Song transfers were an issue"),
    ("I dropped it and it still works fine", "still works fine", "I dropped it and it no longer works"),
    (
        "Took the earbuds back, no questions asked",
        "no questions asked",
        "They asked me questions for an hour",
    ),
]


def assert_framed(text: str, frame: str, miss: str) -> None:
    """``frame`` is found as the positive frame of ``text`` and blanks the complaint words in it; not in ``miss``."""
    found = {s.name: s.text for s in find_signals(text)}
    assert found.get("no problem") == frame
    assert not {"broken", "bad service", "missing", "charged", "still waiting"} & set(found)
    assert "no problem" not in {s.name for s in find_signals(miss)}


@pytest.mark.parametrize(("text", "frame", "miss"), FRAME_EXAMPLES)
def test_a_complaint_word_in_a_positive_frame_is_not_a_complaint(triager, text, frame, miss):
    assert_framed(text, frame, miss)
    assert triager.triage_text(text).intent != "complaint"


@pytest.mark.parametrize(
    ("text", "miss"),
    [
        (  # praise, then a turn and a complaint
            "I love the Acme app but the last update deleted my lists",
            "I love the Acme app and the last update made my lists faster",
        ),
        (  # a complaint, then a turn and praise
            "The order was late and the box was broken, but the support team were wonderful and kind",
            "The order was late and the box was broken, but that's all I know",
        ),
    ],
)
def test_a_post_with_praise_and_a_complaint_is_held_for_a_human(triager, text, miss):
    t = triager.triage_text(text)
    assert reply_kind(t) == "held" and "praise and a complaint in one post" in t.held
    assert "praise and a complaint" not in triager.triage_text(miss).held


@pytest.mark.parametrize(
    ("text", "evidence"),
    [
        ("Love the new Acme app, great design, shame it crashes", "complaint signal 'crashes'"),
        ("Lovely shop, lovely staff, horrible queue", "negative words"),
        (
            "Great new Acme site, lovely design. Impossible to find the RIGHT manual though",
            "impossible to find",
        ),
    ],
)
def test_praise_with_complaint_evidence_gets_no_thank_you(triager, text, evidence):
    t = triager.triage_text(text)
    assert reply_kind(t) != "praise"
    assert t.intent == "complaint" or evidence in t.held


def test_confident_praise_is_thanked_and_a_rating_of_three_is_not(triager):
    assert reply_kind(triager.triage_text("Love the new Acme app, great design and so fast!")) == "praise"
    t = triager.triage_text("Love the new Acme app, great design and so fast!", rating=3)
    assert reply_kind(t) != "praise"


def test_a_held_post_gets_the_neutral_draft_that_is_never_auto_approved(tmp_path, fake, clock, monkeypatch):
    pipeline = pipeline_for(tmp_path, fake, clock, monkeypatch)  # auto_approve: complaint, inquiry, praise
    assert pipeline.config.replies.auto_approve
    when = clock.now() - timedelta(minutes=1)
    fake.post(
        "ana@x.social", "@acme love the app but the last update deleted my lists", name="Ana", when=when
    )
    fake.post("ben@x.social", "@acme love the new app, great design and so fast!", name="Ben", when=when)
    pipeline.poll("mastodon")
    drain(pipeline)
    store = pipeline.store
    drafts = {store.mention(d.platform, d.mention_id).author.handle: d for d in store.drafts()}
    held, praised = drafts["ana@x.social"], drafts["ben@x.social"]
    assert held.state == "awaiting" and held.template.startswith("neutral#")
    assert any(p.startswith("held for a human: ") and "praise and a complaint" in p for p in held.problems)
    assert not any(w in held.text.lower() for w in ("sorry", "apolog", "kind words", "wonderful"))
    assert praised.state == "posted" and praised.template.startswith("praise#")  # the near miss
    assert [p["in_reply_to"] for p in fake.posted() if p["kind"] == "reply"] == [praised.mention_id]
    pipeline.close()


def test_a_templates_file_without_the_neutral_template_uses_the_shipped_one(tmp_path):
    shipped = compose.SHIPPED.read_text()
    mine = tmp_path / "templates.toml"
    mine.write_text(shipped[: shipped.index("[neutral]")])
    templates = compose.load_templates(mine)
    assert templates.default["neutral"] == compose.shipped_templates().default["neutral"]


def test_model_eval_reports_the_reply_type_mistakes(tmp_path):
    from bot.cli import cli

    labels = tmp_path / "labels.csv"
    labels.write_text(
        "text,complaint\n"
        '"Acme\'s new pricing is a joke, up 40% overnight",1\n'
        '"I love the Acme app but the last update deleted my lists",1\n'
        '"Love the new Acme app, great design and so fast!",0\n'
        '"Thanks a lot Acme, charged twice and still no refund. Great job",1\n'
    )
    out = CliRunner().invoke(
        cli, ["-c", str(tmp_path / "none.toml"), "model", "eval", "--labels", str(labels)]
    )
    assert out.exit_code == 0, out.output
    assert "complaint drafted as praise 0/3 (0.00%)" in out.output
    assert "not a complaint drafted as an apology 0/1" in out.output
    assert "held for a human 1/4 (25.0%)" in out.output


def test_backtest_sets_excluded_topics_aside_like_live_triage():
    from bot.config import BrandSettings

    store = Store.memory()
    when = datetime(2026, 11, 2, tzinfo=UTC)
    mention = Mention(
        platform="x",
        id="1",
        url="",
        author=Author("sam"),
        text="Looney Tunes: the ACME anvil is broken again, worst cartoon ever",
        created_at=when,
    )
    store.save_fetch("x", [mention], None, now=when)
    store.save_triage(mention, Triager().triage_text("nothing to see"), now=when)
    brand = BrandSettings(exclude=["Looney Tunes"])
    assert backtest(store, Triager())["changes"][0]["to"]["intent"] == "complaint"  # without the brand
    result = backtest(store, Triager(), brand=brand)
    assert result["changed"] == 0


def test_the_reports_advocates_follow_a_managers_relabel():
    store = Store.memory()
    when = datetime(2026, 11, 2, 9, tzinfo=UTC)
    posts = [
        Mention(platform="x", id=str(i), url="", author=Author(handle), text=text, created_at=when)
        for i, (handle, text) in enumerate(
            [("sam", "Love the new Acme app, great design!"), ("kim", "Great job Acme, down all day again")]
        )
    ]
    store.save_fetch("x", posts, None, now=when)
    for mention in posts:
        store.save_triage(mention, Triager().triage_text("Love the new Acme app, great design!"), now=when)
    start, end = "2026-11-02T00:00:00+00:00", "2026-11-03T00:00:00+00:00"
    assert store.report_advocates(start, end, mixed_from=0.4) == []  # nobody confirmed them yet
    for mention in posts:  # a manager approved both thank-yous
        store.add_label(mention, complaint=False, intent="praise", source="approved", actor="ana", now=when)
    assert {p.handle for p in store.report_advocates(start, end, mixed_from=0.4)} == {"sam", "kim"}
    store.add_label(posts[1], complaint=True, intent="complaint", source="relabelled", actor="ana", now=when)
    assert {p.handle for p in store.report_advocates(start, end, mixed_from=0.4)} == {"sam"}


# More complaint words in a positive frame, each with a near miss that keeps the complaint.
MORE_FRAMES = [
    (
        "I have not had any distortion problems with this phone",
        "have not had any distortion problems",
        "I have had distortion problems with this phone",
    ),
    (
        "There hasn't been any more problems since",
        "hasn't been any more problems",
        "There have been more problems since",
    ),
    (
        "My questions and problems have been quickly resolved",
        "problems have been quickly resolved",
        "My problems have not been resolved",
    ),
    ("Excellent phone with a few minor problems", "minor problems", "Awful phone with a few major problems"),
    ("Great price, how can you go wrong", "how can you go wrong", "Great price, but the order went wrong"),
    ("Nothing has broken on it in a year", "nothing has broken", "Something has broken on it in a year"),
    ("The battery stays charged all week", "stays charged", "They charged me all week"),
    (
        "The new Acme phone was worth the wait",
        "worth the wait",
        "The new Acme phone kept me waiting for weeks",
    ),
    # a problem said not to happen, conceded, or only supposed
    (
        "The manual said the warning wouldn't cause problems, and it hasn't",
        "wouldn't cause problems",
        "The warning caused problems",
    ),
    (
        "The update removes the glitches, if there are any",
        "glitches, if there are any",
        "The update has glitches",
    ),
    (
        "Besides the one problem, this Acme blender is amazing",
        "besides the one problem",
        "The one problem is that this Acme blender leaks",
    ),
    (
        "For some this might be a problem, but the Acme price wins",
        "for some this might be a problem",
        "This is a problem for me with the Acme price",
    ),
    # a bother gone or short
    (
        "No more wasted time queueing at the Acme store",
        "no more wasted",
        "Wasted time queueing at the Acme store",
    ),
    (
        "Only a very brief time on hold before a friendly Acme agent answered",
        "brief time on hold",
        "I was on hold with Acme for an hour",
    ),
    # idioms
    ("My old Acme phone refused to die", "refused to die", "My Acme phone refused to charge"),
    (
        "Once you're bitten by the photography bug, this Acme camera is the one",
        "bitten by the photography bug",
        "This Acme camera has a bug in the menu",
    ),
    (
        "Don't let the low price fool you, the Acme kettle is solid",
        "don't let the low price fool you",
        "Don't let the Acme kettle boil dry",
    ),
]


@pytest.mark.parametrize(("text", "frame", "miss"), MORE_FRAMES)
def test_more_positive_frames_blank_the_complaint_words_they_frame(triager, text, frame, miss):
    assert_framed(text, frame, miss)
    assert reply_kind(triager.triage_text(text)) != "apology"


@pytest.mark.parametrize(
    ("text", "evidence", "miss"),
    [
        (  # a wish: what is praised is not there yet
            "It would be awesome if the Acme app had a dark mode",
            "a request or a wish 'would be awesome'",
            "The Acme app's dark mode is awesome",
        ),
        (  # a request with praise words
            "Please add a dark mode to the Acme app, I love it!",
            "a request or a wish 'please'",
            "I love the dark mode in the Acme app!",
        ),
        (  # a praise word said flatly after what happened
            "Forgot my Acme card at home. Great.",
            "a bare praise word 'great.'",
            "Acme fixed my card in minutes. Great!",
        ),
    ],
)
def test_weak_praise_is_held_for_a_human_rather_than_thanked(triager, text, evidence, miss):
    t = triager.triage_text(text)
    assert reply_kind(t) == "held" and evidence in t.held
    assert reply_kind(triager.triage_text(miss)) == "praise"


def test_a_positive_post_with_no_stated_problem_gets_no_apology(triager):
    t = triager.triage_text("I have had the Acme phone for 2 weeks and I use it every day, nice")
    assert t.intent == "complaint" and reply_kind(t) == "held"
    assert "a positive post" in t.held and "without a stated problem" in t.held
    # near miss: the same time span with something gone wrong is apologised for
    t = triager.triage_text("The Acme phone was everything I expected for two weeks and then it broke")
    assert reply_kind(t) == "apology" and not t.held


@pytest.fixture(scope="module")
def word_judge():
    """A learned triager whose word weights call any post about a parcel on the step a complaint."""
    model = train_model(
        [
            ("@acme my order is on the way but not here, in the box on my step since monday", 1),
            ("@acme when is my parcel due on the 4th or the 5th", 1),
            ("@acme I love the new app", 0),
            ("@acme the new colours are lovely", 0),
        ],
        version="t",
    )
    return Triager(model=model)


def test_a_post_of_twenty_words_with_no_complaint_cue_gets_no_apology(word_judge):
    post = (
        "when you put this phone in your pocket on the bus you forget it is there, and on my desk it sits on "
        "its stand"
    )
    t = word_judge.triage_text(post)
    assert t.intent == "complaint" and reply_kind(t) == "held"
    assert "no word in the post says what went wrong" in t.held
    # near misses: the same post reading negative, and a short post with the same words
    t = word_judge.triage_text(post + ", sad and lonely and hateful")
    assert reply_kind(t) == "apology" and not t.held
    t = word_judge.triage_text("@acme my parcel is on the step in the box")
    assert reply_kind(t) == "apology" and not t.held


@pytest.mark.parametrize(
    "text",
    [
        "@acme been trying to get my parcel on the step since monday, thanks",
        "@acme please fix my parcel on the step, thanks",
    ],
)
def test_trying_to_reach_us_or_asking_for_a_fix_is_something_gone_wrong(word_judge, text):
    t = word_judge.triage_text(text)
    assert reply_kind(t) == "apology" and not t.held
    # near miss: the same positive post without it states no problem
    t = word_judge.triage_text("@acme my parcel on the step since monday, thanks")
    assert reply_kind(t) == "held" and "without a stated problem" in t.held


def test_a_long_post_that_names_no_problem_gets_no_apology(word_judge):
    long_review = (
        "when you put this phone in your pocket on the bus you forget it is there, and in my hand it feels "
        "right; on my desk it sits on its stand in the corner and on the move it is in my bag all day"
    )
    t = word_judge.triage_text(long_review)
    assert (
        t.intent == "complaint" and reply_kind(t) == "held" and "a long post that names no problem" in t.held
    )
    # near misses: the same long post with a stated problem, and a short post with the same words
    t = word_judge.triage_text(long_review + ", until the screen cracked")
    assert reply_kind(t) == "apology" and not t.held
    t = word_judge.triage_text("@acme my parcel is on the step in the box")
    assert t.intent == "complaint" and "long post" not in t.held


def test_a_time_span_alone_is_not_something_gone_wrong(triager):
    t = triager.triage_text(
        "I have had the Acme camera for about two weeks and shot hundreds of pictures so far"
    )
    assert reply_kind(t) == "held" and "a time span is all" in t.held
    # near misses: the same span with a stated problem is apologised for
    for text in (
        "I have had my Acme order for two weeks and it does not work",
        "The Acme camera arrived after two weeks of waiting and the lens is cracked",
    ):
        t = triager.triage_text(text)
        assert reply_kind(t) == "apology" and not t.held, text


@pytest.mark.parametrize(
    ("text", "words", "miss"),
    [
        ("Be smart, save the cash", "save the cash", "Saved the cash for a new Acme phone"),
        ("The bundled Acme software blows", "blows", "This Acme camera blows me away"),
    ],
)
def test_more_complaint_words_are_signals(text, words, miss):
    assert ("bad service", words) in {(s.name, s.text) for s in find_signals(text)}
    assert "bad service" not in {s.name for s in find_signals(miss)}


@pytest.mark.parametrize(
    ("signal", "text", "miss"),
    [
        # gone somewhere, not lost
        ("missing", "The kittens have all gone to new homes", "My saved lists are all gone"),
        (
            "missing",
            "It's possible I'm missing something, but it works",
            "The charger is missing from the box",
        ),
        # not understanding is not a failure
        ("broken", "I don't get why people dislike this phone", "I don't get any signal in my flat"),
        # what the customer ignored is not the brand ignoring them
        ("no response", "I ignored the manual and set it up in minutes", "Acme ignored my emails for a week"),
        # advice to go and enjoy something
        ("bad service", "Do yourself a favour and go see it", "Do yourself a favor: avoid Acme"),
        # still, of what still pleases
        ("still", "Two years on and I still love it", "I still haven't had a reply"),
        # the day the bins go out
        ("bad service", "Forgot it was garbage day", "The new update was garbage"),
        # praise that no better can be found
        ("can't find", "I can't find a better app anywhere", "I can't find the manual anywhere"),
        ("can't find", "Can't find the words, it's perfect", "Can't find the word count setting"),
    ],
)
def test_a_complaint_word_in_an_everyday_phrase_is_no_signal(signal, text, miss):
    assert signal not in {s.name for s in find_signals(text)}
    assert signal in {s.name for s in find_signals(miss)}


@pytest.mark.parametrize(
    ("text", "miss"),
    [
        ("Maybe Acme will come out with a better design", "Maybe the best phone I have owned"),
        (
            "I would replace them with some better sounding Acme phones",
            "I would recommend these Acme phones, great sound and so comfortable",
        ),
        ("Yay. A wasp sting at the Acme store.", "Yay! The new Acme store is lovely"),
    ],
)
def test_a_hoped_for_improvement_or_a_flat_yay_is_not_thanked(triager, text, miss):
    assert reply_kind(triager.triage_text(text)) != "praise"
    assert reply_kind(triager.triage_text(miss)) == "praise"
