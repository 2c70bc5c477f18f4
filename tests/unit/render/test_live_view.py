"""The terminal's live view of an apply: the table of running steps below the event lines."""

from __future__ import annotations

import io
import re

from rich.console import Console

from zplan.render import apply_view

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_a_line_printed_above_the_table_redraws_it_styled_and_current(monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(apply_view, "console", lambda: Console(file=out, force_terminal=True, width=120, color_system="standard"))
    view = apply_view.LiveView()
    view.step_started('pipeline.p.step.train["a"]')
    view.step_started("pipeline.p.step.load")
    view._live.refresh()  # as the view's timer does
    mark = len(out.getvalue())
    view.step_finished("pipeline.p.step.load", True, 0.5, None, None, None)
    view.close()
    after = out.getvalue()[mark:]
    assert "\x1b[33mrunning" in after  # styled ...
    text = ANSI.sub("", after)
    assert "[yellow]" not in text and "[/]" not in text  # ... not printed as markup
    assert "pipeline.p.step.load: done in 0.50s" in text
    assert "running  pipeline.p.step.load" not in text  # what finished leaves the table at once
    assert 'running  pipeline.p.step.train["a"]' in text  # brackets of an instance key kept
