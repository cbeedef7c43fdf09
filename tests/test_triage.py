"""Triage signals on written examples: negation, "no problem", sarcasm, ratings, urgency, language."""

from __future__ import annotations

import pytest

from bot.complaints import SIGNALS, find_signals
from bot.models import Author, Mention
from bot.triage import Triager


@pytest.fixture(scope="module")
def triager():
    return Triager()


def test_broken_expectation_is_a_complaint_with_reasons(triager):
    t = triager.triage_text("@AcmeHelp still waiting for my order, 3 days late now")
    assert t.intent == "complaint"
    assert t.model_version == "rules-v1"
    assert "signal: 'still waiting'" in t.reasons
    assert "signal: '3 days'" in t.reasons
    assert any(r.startswith("vader compound") for r in t.reasons)
    assert t.urgency >= 1


def test_negated_service_verb_is_a_complaint(triager):
    t = triager.triage_text("I emailed Acme on Monday and nobody has replied. My package hasn't arrived")
    assert t.intent == "complaint"
    assert any("nobody" in r for r in t.reasons)


def test_negation_of_praise_reads_negative(triager):
    assert (
        triager.triage_text("The new Acme app is not good, it doesn't work on my phone").intent == "complaint"
    )


def test_no_problem_is_not_a_complaint(triager):
    t = triager.triage_text("No problem at all, the Acme team sorted it. No worries!")
    assert t.intent != "complaint"
    assert "not a complaint: 'no problem'" in t.reasons
    assert t.scores["tone"] > 0


def test_cant_wait_is_not_a_complaint(triager):
    assert triager.triage_text("Can't wait for the new Acme watch to arrive!").intent != "complaint"


def test_sarcasm_with_broken_expectation_is_a_complaint(triager):
    t = triager.triage_text("Thanks a lot Acme, charged twice and still no refund. Great job")
    assert t.intent == "complaint"
    assert any(r.startswith("sarcasm:") for r in t.reasons)


def test_sincere_thanks_stay_praise(triager):
    t = triager.triage_text("Thanks a lot Acme, the new update is brilliant and really fast")
    assert t.intent == "praise"
    assert not any(r.startswith("sarcasm:") for r in t.reasons)


def test_hashtags_are_read_as_words(triager):
    t = triager.triage_text("Acme support again #fail #worst")
    assert t.intent == "complaint"
    assert t.sentiment < 0


def test_long_posts_do_not_saturate(triager):
    text = (
        "I love the design of the Acme gadget and the colour is great and the box was lovely and the manual is "
        "clear and friendly and the price was fair, but the battery died after two days and it will not charge."
    )
    t = triager.triage_text(text)
    assert any(r.startswith("long post") for r in t.reasons)
    assert abs(t.scores["tone"]) < abs(t.sentiment)


def test_ratings_decide_reviews(triager):
    low = triager.triage_text("It arrived.", rating=1)
    high = triager.triage_text("It arrived.", rating=5)
    assert low.intent == "complaint" and "rating 1★" in low.reasons
    assert high.intent == "praise" and high.complaint_score < 0.2


def test_two_stars_with_glowing_text_is_not_a_complaint(triager):
    assert (
        triager.triage_text("Absolutely wonderful, I love it, best purchase ever!", rating=2).intent
        != "complaint"
    )


def test_questions_are_inquiries(triager):
    t = triager.triage_text("Do you ship the Acme Pro to Belgium?")
    assert t.intent == "inquiry"
    assert "a question" in t.reasons


def test_urgency_names_safety_and_legal(triager):
    t = triager.triage_text("My Acme charger caught fire. Still no reply, my lawyer will hear about this")
    assert t.intent == "complaint"
    assert t.urgency == 3
    assert any(r.startswith("urgent (safety)") for r in t.reasons)
    assert any(r.startswith("urgent (legal)") for r in t.reasons)


def test_repeated_contact_is_urgent(triager):
    t = triager.triage_text("This is the third time I am asking: my order is missing")
    assert any(r.startswith("urgent (repeated contact)") for r in t.reasons)


def test_unhandled_language_needs_a_human(triager):
    t = triager.triage_text("Mi pedido no ha llegado todavía y nadie responde a mis correos")
    assert t.lang == "es"
    assert t.needs_human
    assert (
        Triager(languages=("en", "es"))
        .triage_text("Mi pedido no ha llegado todavía y nadie responde")
        .needs_human
        is False
    )


def test_english_and_wordless_posts_do_not_need_a_human(triager):
    assert not triager.triage_text("where is my parcel").needs_human
    assert not triager.triage_text("@Acme 👍 https://acme.test/x").needs_human


def test_triage_uses_the_mention_rating():
    mention = Mention(
        platform="trustpilot",
        id="1",
        url="",
        author=Author("sam"),
        text="Delivered on Tuesday.",
        created_at=__import__("datetime").datetime(2026, 1, 1),
        kind="review",
        rating=1,
    )
    assert Triager().triage(mention).intent == "complaint"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("Mi pedido no ha llegado", "es"),
        ("Ma commande est en retard depuis une semaine", "fr"),
        ("Meine Bestellung ist nicht angekommen", "de"),
        ("Mijn bestelling is niet aangekomen", "nl"),
        ("我的订单还没到", "zh"),
        ("Nike Air Max restock when", "en"),
    ],
)
def test_short_posts_get_their_language(triager, text, lang):
    t = triager.triage_text(text)
    assert t.lang == lang
    assert t.needs_human is (lang != "en")


def test_fast_vader_scores_exactly_like_vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from bot.triage import Vader

    texts = [
        "The app is NOT good!!",
        "kind of ok, but the delivery was awful :(",
        "I love it 😍",
        "  meh  ",
        "",
        # each rule the fast path re-implements: negation at one, two and three words, "never so", "without
        # doubt", "no" before a lexicon word, "least", idioms, booster n-grams, ALL CAPS, "but", "kind of"
        "This is not good at all",
        "I don't really like it",
        "it isn't very very good",
        "never so happy with a phone",
        "never this bad before",
        "without a doubt the best",
        "no good deed, no love, no or nor hate",
        "at least it works, least favourite, very least helpful",
        "the shit, the bomb, bad ass, yeah right, cut the mustard, kiss of death",
        "it was sort of good and kind of nice",
        "I HATE waiting but the staff were GREAT",
        "EXTREMELY good service, HORRIBLE app",
        "Wow, so bad... :) :( <3 lol",
        "@Acme thanks!!!! best ever??? really???? no problem",
        "why is it so bad??",
        "😡😡 still waiting 👎",
        "great service 👍👍!",
        "café was fine ❤️ but the wait 😤... ¿qué?",
    ]
    plain, fast = SentimentIntensityAnalyzer(), Vader()
    assert [fast.polarity_scores(t) for t in texts] == [plain.polarity_scores(t) for t in texts]


def test_a_question_with_a_missed_due_date_is_a_complaint(triager):
    t = triager.triage_text(
        "@Acme my order was due Monday and tracking still says 'label created'. Where is it?"
    )
    assert t.intent == "complaint"
    assert "signal: 'was due monday'" in t.reasons


def test_a_repeated_logout_asked_to_the_crowd_is_a_complaint(triager):
    t = triager.triage_text(
        "The Acme app keeps logging me out every time I switch networks. Third week now. Anyone else?"
    )
    assert t.intent == "complaint"
    assert "signal: 'keeps logging me out'" in t.reasons
    assert "signal: 'third week'" in t.reasons


def test_a_poll_is_not_an_inquiry(triager):
    t = triager.triage_text("Acme vs the other guys — Which logo is better, honestly? Poll in comments.")
    assert t.intent == "other"


@pytest.mark.parametrize(
    "text", ["lol u/acme_support is tagged in every thread now", "Support was fine, app is meh."]
)
def test_mild_or_mixed_chatter_is_not_praise(triager, text):
    assert triager.triage_text(text).intent == "other"


def test_not_finding_information_is_an_inquiry(triager):
    t = triager.triage_text("Does Acme ship to Canada? I can't find shipping info anywhere on the site")
    assert t.intent == "inquiry"


# Each complaint signal on a written example (with the words it names) and on a near miss that must not fire it.
SIGNAL_EXAMPLES = {
    "still waiting": ("Still waiting for a reply from you", "still waiting", "The waiting room was cosy"),
    "late": ("The delivery is late, again", "late", "The latest update looks nice"),
    "missing": ("My parcel never arrived", "never arrived", "It arrived a day early"),
    "charged": ("I was charged twice for one pair", "charged", "The phone is charging fine"),
    "cancelled": ("My flight was cancelled this morning", "cancelled", "Can I cancel?"),
    "refund": ("I want a refund", "refund", "What a fun day out"),
    "broken": ("The app keeps crashing", "crashing", "No problems with the app"),
    "no response": ("No reply from support", "no reply", "They replied within minutes"),
    "time span": ("Three days now and nothing", "three days", "A day at the beach"),
    "still": ("It still crashes", "still", "Such stillness at the lake"),
    "again": ("Down again", "again", "Against all odds it worked"),
    "never": ("Never buying here", "never", "Nevertheless, it worked"),
    "yet": ("No answer yet", "yet", "The yeti mug is lovely"),
    "trying": ("Been trying to reach you all day", "been trying", "Trying the new menu tonight"),
    "my order": ("Where is my order", "my order", "Your order is ready"),
    "bad service": ("Worst service ever", "worst", "The best service ever"),
    "why": ("Why is it so slow", "why", "Whyte bikes are lovely"),
    "fix it": ("Please fix it", "please fix", "I fixed it myself"),
    "can't find": ("I can't find my booking", "can't find", "Found my booking, all good"),
    "negative emoji": ("The update 😡", "😡", "The update 😀"),
    "to support": ("@AcmeSupport hello there", "@acmesupport", "hello @Acme"),
    "no problem": ("No problem at all", "no problem", "A problem with the app"),
    "can't wait": ("Can't wait to try it", "can't wait", "I can't stand waiting"),
    "thanks": ("Thanks so much", "thanks", "Thanksgiving plans are set"),
}


def test_every_signal_has_a_written_example():
    assert set(SIGNAL_EXAMPLES) == {name for name, *_ in SIGNALS}


@pytest.mark.parametrize("name", sorted(SIGNAL_EXAMPLES))
def test_each_signal_fires_on_its_example_and_not_on_a_near_miss(name):
    text, words, miss = SIGNAL_EXAMPLES[name]
    assert {s.name: s.text for s in find_signals(text)}.get(name) == words
    assert name not in {s.name for s in find_signals(miss)}
