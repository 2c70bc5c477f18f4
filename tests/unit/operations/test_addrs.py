"""One address parser and matcher for -target, -exclude, -replace, state and lineage."""

from __future__ import annotations

import pytest

from zplan import addrs


@pytest.mark.parametrize("selector, address, expected", [
    ("local_directory.data", "resource.local_directory.data", True),
    ("resource.local_directory.data", "resource.local_directory.data", True),
    ("resource.local_directory.data", "resource.local_directory.data2", False),
    ("local_directory.data", "resource.local_directory.data2", False),
    ("pipeline.training", "pipeline.training.step.train", True),
    ("pipeline.training", "pipeline.training2.step.train", False),
    ("pipeline.training.step.train", "pipeline.training.step.train", True),
    ("pipeline.training.step.train", "pipeline.training.step.train_more", False),
    ("pipeline.training.step", "pipeline.training.step.train", False),
])
def test_matches_whole_segments_only(selector, address, expected):
    assert addrs.matches(address, selector) is expected


def test_parse_forms_and_errors():
    assert str(addrs.parse("local_file.cfg")) == "resource.local_file.cfg"
    assert addrs.parse("pipeline.p.step.s") == addrs.StepAddr("p", "s")
    for bad in ("nothing", "pipeline.p", "resource..x", "a.b.c.d.e"):
        with pytest.raises(ValueError):
            addrs.parse(bad)
    out = addrs.parse_output("pipeline.p.step.s.outputs.model")
    assert (str(out.step), out.output) == ("pipeline.p.step.s", "model")
    assert addrs.parse_output("pipeline.p.step.s").output == "output"
