"""State is rewritten whole: batches are spaced by the cost of the last write, so writing
stays a bounded share of a big apply instead of growing with the square of its size."""

from __future__ import annotations

from zplan.apply.recorder import FLUSH_COST_FACTOR, STATE_FLUSH_SECONDS, flush_due


def test_a_cheap_write_allows_a_batch_every_second() -> None:
    assert not flush_due(now=100.5, last_flush=100.0, last_cost=0.01)
    assert flush_due(now=100.0 + STATE_FLUSH_SECONDS, last_flush=100.0, last_cost=0.01)


def test_a_costly_write_spaces_the_next_batch_by_its_cost() -> None:
    cost = 0.4  # a 20,000-step state on a busy disk
    assert not flush_due(now=100.0 + 2.0, last_flush=100.0, last_cost=cost)
    assert flush_due(now=100.0 + FLUSH_COST_FACTOR * cost, last_flush=100.0, last_cost=cost)
