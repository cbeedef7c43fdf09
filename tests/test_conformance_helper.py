"""The conformance check itself: it must catch a field or a type the platform does not send."""

from __future__ import annotations

import pytest

from tests.conformance import assert_conforms, mismatches, shape_of


def test_an_extra_field_and_a_wrong_type_are_caught_and_optional_nulls_pass():
    recorded = [
        {"id": "a", "score": 3, "author": {"name": "x"}, "replies": [{"id": "b", "edited": False}]},
        {"id": "c", "score": 1.5, "author": None, "replies": [], "edited": 123.0},
    ]
    assert_conforms({"id": "z", "score": 2, "author": None, "replies": [{"id": "q"}]}, *recorded)
    problems = mismatches(
        {"id": 5, "author": {"name": "x", "karma": 1}, "replies": [{"edited": "no"}], "permalink": "/r"},
        shape_of(*recorded),
    )
    assert problems == [
        "$.id: the fake sends number, the platform sent str",
        "$.author.karma: a field the platform does not send",
        "$.replies[0].edited: the fake sends str, the platform sent bool",
        "$.permalink: a field the platform does not send",
    ]
    with pytest.raises(AssertionError, match="permalink"):
        assert_conforms({"permalink": "/r"}, *recorded)
