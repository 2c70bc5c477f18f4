"""A step's scratch folder is removed however the step ends, before its function runs included."""

from __future__ import annotations

import tempfile

import pytest

from zplan.apply.worker import StepTask, run_step

BROKEN = "import not_a_module_anywhere\n\ndef f():\n    return 1\n"
FAILING = "def f():\n    raise ValueError('no')\n"


@pytest.mark.parametrize("code", [BROKEN, FAILING], ids=["import fails", "function fails"])
def test_no_scratch_folder_is_left_behind(tmp_path, monkeypatch, code):
    project = tmp_path / "project"
    project.mkdir()
    (project / "steps_scratch.py").write_text(code)
    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.chdir(tmp_path)  # the worker changes into the project folder: restore afterwards
    monkeypatch.syspath_prepend(str(project))
    task = StepTask(address="pipeline.p.step.s", project_dir=str(project), source_file="steps_scratch.py", function="f",
                    params={}, inputs={}, declared_outputs=None, artifact_store_url="file://.zplan/artifacts", run_id=1,
                    log_path=str(tmp_path / "s.log"))
    result = run_step(task)
    assert not result.ok and result.error
    assert [p.name for p in temp.iterdir()] == []
