"""A data input's snapshot must hold the bytes its step's cache key was computed from."""

from __future__ import annotations

import pytest

from zplan.apply.runner import StepRefused, _same_data
from zplan.hashing import combine
from zplan.plan import model as m


def test_a_folder_snapshot_matches_the_planned_digest_and_a_file_its_name_and_digest():
    _same_data(m.DataInput("data/d", "ab" * 16), "ab" * 16, None)
    _same_data(m.DataInput("data/x.csv", "cd" * 16), combine([("x.csv", "cd" * 16)]), "x.csv")


def test_other_bytes_than_planned_refuse_the_step_naming_the_input():
    with pytest.raises(StepRefused, match="input data data/x.csv changed as the step started"):
        _same_data(m.DataInput("data/x.csv", "cd" * 16), combine([("x.csv", "ef" * 16)]), "x.csv")
