"""`runs diff -format markdown`: one table row per change, whatever the values hold; `artifact list`'s columns."""

from __future__ import annotations

from zplan.operations.results import ArtifactRow, Change, RunsDiff
from zplan.render.results_view import artifact_lines, diff_markdown


def test_a_value_with_a_newline_a_backtick_or_a_pipe_stays_in_its_cell():
    changes = [Change("param", "pipeline.p.step.s", "note", "line one\nline two", "a`b|c"),
               Change("output", "pipeline.p.step.s", "output", "`quoted`", None)]
    rows = diff_markdown(RunsDiff(1, 2, changes)).splitlines()[4:]
    assert len(rows) == 2 and all(r.startswith("| ") and r.endswith(" |") for r in rows)
    assert "`line one\\nline two`" in rows[0] and "``a`b\\|c``" in rows[0]
    assert "`` `quoted` ``" in rows[1]


def test_artifact_list_columns_stay_aligned_past_a_long_address():
    rows = [ArtifactRow("pipeline.p.step.make", "output", "a" * 32, 7, "json", "file:///a", 1),
            ArtifactRow('module.region["eu-west"].pipeline.training.step.train["c=0.5"]', "model_with_long_name", "b" * 32,
                        1345, "sklearn.pickle.v2x", "file:///b", 2)]
    header, *lines = [text for _, text in artifact_lines(rows)]
    starts = [[line.index(value) for value in (" " + str(r.run) + " ", r.digest[:12], "file:///")] for line, r in zip(lines, rows)]
    assert starts[0] == starts[1] and header.index("digest") == starts[0][1] and header.index("uri") == starts[0][2]
