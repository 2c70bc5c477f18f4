"""`zplan output`: values as Terraform shows them, non-ASCII text included."""

from __future__ import annotations

import json
from types import SimpleNamespace

from zplan.render import state_view


def test_outputs_keep_non_ascii_text_in_every_form(capsys):
    outputs = [SimpleNamespace(name="a", value="café ☕", sensitive=False)]
    state_view.print_outputs(outputs)
    state_view.print_output_value(outputs[0], raw=False)
    state_view.print_outputs_json(outputs)
    out = capsys.readouterr().out
    assert '  a = "café ☕"\n"café ☕"\n' in out and "\\u" not in out
    assert json.loads(out[out.index("{"):]) == {"a": {"value": "café ☕", "sensitive": False}}
