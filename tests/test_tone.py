"""The tone guard: one test per doctrine §4 rule, showing the finding, why, and the calm alternative."""

from __future__ import annotations

import pytest

from responders import tone

# (rule, a reply that breaks it, the phrase found, the same reply written the calm way)
CASES = [
    (
        "policy",
        "It's our policy to refund within 30 days.",
        "It's our policy",
        "Here's what we can do: a refund within 30 days.",
    ),
    (
        "cant",
        "We don't ship to Norway.",
        "We don't",
        "We ship to Sweden and Denmark, and we can suggest a partner for Norway.",
    ),
    ("we_cant_do_that", "We can't do that for you.", "We can't do that", "Here's what we can do for you."),
    ("seems_problem", "What seems to be the problem?", "What seems to be the problem", "How can I help?"),
    ("dont_know", "I don't know when it ships.", "I don't know", "I can find out when it ships."),
    (
        "should_have",
        "You should have read the manual.",
        "You should have",
        "Let's do this together: step one is the reset.",
    ),
    (
        "why_didnt",
        "Why didn't you contact us earlier?",
        "Why didn't you",
        "I can see why this was frustrating.",
    ),
    (
        "only_thing",
        "The only thing we can do is a replacement.",
        "The only thing we can do",
        "The best option I think is a replacement.",
    ),
    ("not_my_job", "That's not my job, sorry.", "That's not my job", "Let's find the right person for this."),
    (
        "you_owe",
        "You owe us 20 euros.",
        "You owe us",
        "My records appear to show an open balance of 20 euros.",
    ),
    ("your_fault", "That was your fault.", "your fault", "Here's what happened, and what we'll do next."),
    (
        "negative_framing",
        "We won't be able to see you before Friday.",
        "We won't be able to see you before",
        "We'll be able to see you on Friday.",
    ),
    (
        "dont_forget",
        "Don't forget to update the app.",
        "Don't forget",
        "Remember to update the app, and we'll remind you.",
    ),
    ("dont_hesitate", "Don't hesitate to write to us.", "Don't hesitate", "You're welcome to write to us."),
    ("feel_free", "Feel free to write to us.", "Feel free", "You're welcome to write to us."),
    ("will_try", "We will try to fix it.", "We will try", "We will fix it by Tuesday."),
    ("unfortunately", "Unfortunately the parcel is late.", "Unfortunately", "The parcel arrives on Tuesday."),
    ("sadly", "Sadly that model is gone.", "Sadly", "The new model does the same and more."),
    ("afraid", "I'm afraid that's out of stock.", "I'm afraid", "It's back in stock on the 3rd."),
    ("free", "You get a free month.", "free", "We've sent you a private message about this."),
    ("discount", "Here is a discount code.", "discount", "We've sent you a private message about this."),
    ("cost", "The repair will cost 40 euros.", "cost", "We've sent you a private message about the repair."),
    (
        "just_a_second",
        "Just a second, checking.",
        "Just a second",
        "We're checking and will answer within the hour.",
    ),
    ("no_problem", "No problem at all!", "No problem", "Happy to help!"),
    ("problem", "Sorry for the problem.", "problem", "Thank you for telling us what happened."),
    ("dont_worry", "Don't worry about it.", "Don't worry", "We're on it."),
    (
        "have_to",
        "You will have to send it back.",
        "You will have to",
        "The easiest way is the prepaid label we'll email you.",
    ),
    (
        "but",
        "Thanks, but we need the order number.",
        "but",
        "Thanks, and could you send us the order number?",
    ),
]


@pytest.mark.parametrize(("rule", "bad", "phrase", "calm"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_finds_the_phrase_and_offers_the_alternative(rule, bad, phrase, calm):
    (finding,) = tone.check(bad)
    assert finding.rule == rule
    assert finding.phrase == phrase
    assert finding.why and finding.instead
    assert finding.instead in str(finding) and phrase in str(finding)
    assert tone.check(calm) == [], f"the calm version still has findings: {tone.check(calm)}"


def test_every_rule_has_a_test():
    assert {r.name for r in tone.RULES} == {c[0] for c in CASES}


def test_the_suggested_alternatives_follow_the_doctrine_table():
    by_rule = {r.name: r.instead for r in tone.RULES}
    assert by_rule["policy"] == "here's what we can do"
    assert by_rule["seems_problem"] == "how can I help?"
    assert by_rule["dont_know"] == "I can find out"
    assert by_rule["should_have"] == "let's do this"
    assert by_rule["why_didnt"] == "I can see why"
    assert by_rule["only_thing"] == "the best option I think is"
    assert by_rule["not_my_job"] == "let's find the right person for this"
    assert by_rule["you_owe"] == "my records appear to show …"


@pytest.mark.parametrize(
    "text",
    [
        'You wrote "this is a real problem" and you are right to say so.',  # the customer's words, quoted
        "You said “the app is free of bugs, but slow”. Thank you for telling us.",
        "> my problem is the login\nThank you, we're on it.",
        "Not only quick but also friendly: thank you!",
        "Thank you, we can't wait to hear how you like it!",
    ],
)
def test_the_customers_words_and_innocent_uses_are_not_findings(text):
    assert tone.check(text) == []


def test_words_inside_other_words_are_not_findings():
    assert tone.check("The button, the costume and the butter arrived; Freeman thanks you.") == []


def test_curly_apostrophes_and_case_do_not_hide_a_phrase():
    assert [f.rule for f in tone.check("DON’T WORRY, we’ll try.")] == ["dont_worry", "will_try"]


def test_the_longer_phrase_wins_and_each_place_is_reported_once():
    findings = tone.check("No problem! What seems to be the problem? We can't do that.")
    assert [f.rule for f in findings] == ["no_problem", "seems_problem", "we_cant_do_that"]


def test_the_persons_name_can_be_set_aside():
    text = "Thank you, Free! We're on it."
    assert [f.rule for f in tone.check(text)] == ["free"]
    assert tone.check(text, ignore=("Free",)) == []
