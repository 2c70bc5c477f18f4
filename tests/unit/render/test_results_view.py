"""`runs diff -format markdown`: one table row per change, whatever the values hold."""

from __future__ import annotations

from zplan.operations.results import Change, RunsDiff
from zplan.render.results_view import diff_markdown


def test_a_value_with_a_newline_a_backtick_or_a_pipe_stays_in_its_cell():
    changes = [Change("param", "pipeline.p.step.s", "note", "line one\nline two", "a`b|c"),
               Change("output", "pipeline.p.step.s", "output", "`quoted`", None)]
    rows = diff_markdown(RunsDiff(1, 2, changes)).splitlines()[4:]
    assert len(rows) == 2 and all(r.startswith("| ") and r.endswith(" |") for r in rows)
    assert "`line one\\nline two`" in rows[0] and "``a`b\\|c``" in rows[0]
    assert "`` `quoted` ``" in rows[1]
