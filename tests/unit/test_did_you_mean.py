"""The hint an error gives for a misspelt name: the closest known one, by spelling or by case alone."""

from __future__ import annotations

from zplan.diags import did_you_mean


def test_the_closest_name_is_suggested():
    assert did_you_mean("min_qyt", {"min_qty": 1, "max_qty": 2}) == 'did you mean "min_qty"? '


def test_a_name_differing_only_in_case_is_suggested():
    assert did_you_mean("C", ["a", "c"]) == 'did you mean "c"? '


def test_nothing_close_gives_no_hint_and_no_joining_word():
    assert did_you_mean("zzz", ["min_qty"], then="or ") == ""
    assert did_you_mean("min_qyt", ["min_qty"], then="or ") == 'did you mean "min_qty"? or '
