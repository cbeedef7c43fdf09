"""Three daemons on one PostgreSQL database, SIGKILLed at random and restarted: nothing twice, nothing lost
(the small version of ``bench/bench_daemons.py``)."""

from __future__ import annotations

from bench.bench_daemons import run


def test_three_daemons_killed_at_random_post_each_reply_and_message_once(postgres_url, tmp_path):
    result = run(postgres_url, tmp_path, kills=6, mentions=12, timeout=120)
    assert result["lost_mentions"] == 0 and result["stored"] == 12, result
    assert result["duplicate_replies"] == 0 and result["duplicate_messages"] == 0, result
    assert result["cases_opened_twice"] == 0 and result["cases"] == 6, result
    # Every item was settled: posted, or (killed between the platform's answer and our commit) reconciled.
    assert result["unanswered"] + result["left_for_a_person"] == 0, result
