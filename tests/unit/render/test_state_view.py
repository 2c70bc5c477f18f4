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


def test_output_json_writes_a_whole_number_as_output_json_name_and_terraform_do(capsys):
    outputs = [SimpleNamespace(name="accuracy", value=1.0, sensitive=False),
               SimpleNamespace(name="scores", value={"a": [2.0, 0.5], "n": 3}, sensitive=False)]
    state_view.print_output_value(outputs[0], raw=False)
    assert capsys.readouterr().out == "1\n"
    state_view.print_outputs_json(outputs)
    out = capsys.readouterr().out
    assert '"value": 1,' in out and "1.0" not in out and "2.0" not in out
    assert json.loads(out) == {"accuracy": {"value": 1, "sensitive": False}, "scores": {"value": {"a": [2, 0.5], "n": 3}, "sensitive": False}}
