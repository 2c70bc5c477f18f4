"""What the next plan makes of the file a model server's start leaves beside its log
(``.zplan/serving/NAME/server.json``, read to adopt a server a killed apply left running)
when it is damaged: it is ignored, never an internal error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.helpers import copy_project

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "serving"


@pytest.mark.parametrize("text", ['{"pid": PID}', '{"pid": "abc", "url": "x", "name": "api"}', '["x"]', "{"])
def test_a_damaged_server_file_is_ignored(tmp_path, text):
    project = copy_project(EXAMPLE, tmp_path / "serving")
    project.write(".zplan/serving/api/server.json", text.replace("PID", str(os.getpid())))  # a pid that is running
    result = project.run("plan")
    assert result.code == 0, str(result)
    assert "resource.local_model_server.api     will be created" in result.out and "adopted" not in result.err
