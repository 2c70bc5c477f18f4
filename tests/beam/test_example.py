"""The beam-preprocess example: its steps in-process, then the whole project through the CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from zplan.runtime import StepContext, running

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "beam-preprocess"


@pytest.fixture
def steps(monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))  # steps.py imports its neighbour eventgen.py
    spec = importlib.util.spec_from_file_location("beam_preprocess_steps", EXAMPLE / "steps.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_beam_preprocess_matches_the_pandas_version(steps, tmp_path):
    stack = {"processing": "beam:DirectRunner", "beam_options": {"direct_running_mode": "in_memory"}}
    ctx = StepContext("pipeline.events.step.preprocess", 1, EXAMPLE, "", tmp_path, stack)
    with running(ctx):
        events = steps.generate(rows=3000, seed=7)
        clean = steps.preprocess(events=events, min_amount=1.0)
    assert events.num_rows() == 3000 and len(clean.shards()) == 8
    beam_rows = clean.to_pandas().sort_values("event_id").reset_index(drop=True)
    pandas_rows = steps.preprocess_frame(events.to_pandas(), min_amount=1.0)
    pandas_rows = pandas_rows.sort_values("event_id").reset_index(drop=True)[list(beam_rows.columns)]
    pd.testing.assert_frame_equal(beam_rows, pandas_rows, check_dtype=False)
    assert 0.85 * 3000 < len(beam_rows) < 3000  # bad rows were dropped, most kept
    summary = steps.summarise(clean=clean)
    assert summary["purchases"] == len(beam_rows)
    assert json.loads(json.dumps(summary)) == summary  # stored as plain JSON


def test_generation_is_deterministic(steps, tmp_path):
    from zplan.hashing import hash_tree

    from eventgen import generate_events

    a = generate_events(1001, 7, tmp_path / "a", shards=3)
    b = generate_events(1001, 7, tmp_path / "b", shards=3)
    c = generate_events(1001, 8, tmp_path / "c", shards=3)
    assert hash_tree(a.path) == hash_tree(b.path) != hash_tree(c.path)
    assert a.to_pandas()["event_id"].tolist() == list(range(1001))


def zplan(project: Path, entry_points: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(entry_points), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "zplan.cli", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def declare_materializer(folder: Path) -> Path:
    """An installed-package record declaring the materializer entry point, as packaging would."""
    info = folder / "zplan_beam_example-0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zplan-beam-example\nVersion: 0\n")
    (info / "entry_points.txt").write_text(
        "[zplan.materializers]\nbeam.parquet_shards = zplan.beam.materializer:ShardedDatasetMaterializer\n")
    return folder


def test_example_applies_and_a_runner_change_reruns_nothing(tmp_path):
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".zplan", "__pycache__"))
    eps = declare_materializer(tmp_path / "site")
    small = ["-var", "rows=2000", "-var", "beam_mode=in_memory"]

    applied = zplan(project, eps, "apply", "-auto-approve", *small)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete: 3 ok" in applied.stdout
    summary = json.loads(zplan(project, eps, "output", "-json", "summary").stdout)
    assert 1700 < summary["purchases"] < 2000

    same = zplan(project, eps, "plan", "-detailed-exitcode", *small)
    assert same.returncode == 0, same.stdout + same.stderr
    other_runner_mode = zplan(project, eps, "plan", "-detailed-exitcode", "-var", "rows=2000", "-var", "beam_mode=multi_processing")
    assert other_runner_mode.returncode == 0, other_runner_mode.stdout  # runner options are not in the cache key
    more_rows = zplan(project, eps, "plan", "-detailed-exitcode", "-var", "rows=2500", "-var", "beam_mode=in_memory")
    assert more_rows.returncode == 2 and "params.rows: 2000 -> 2500" in more_rows.stdout


def test_the_commented_dataflow_stack_plans_once_uncommented(tmp_path):
    """The main.zp.hcl comment says to switch to its commented Vertex + Dataflow stack; uncommented as it
    was, the plan refused it (no container_image, no project, location or pipeline_root for Vertex)."""
    from zplan.operations.opening import ProjectArgs, open_project
    from zplan.plan.planner import Planner, PlanRequest
    from zplan.state.model import State

    project = tmp_path / "beam-preprocess"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns(".zplan"))
    text = (project / "main.zp.hcl").read_text()
    start = text.index('# stack "gcp"')
    end = text.index("# }", start) + len("# }")
    block = "\n".join(line[2:] if line.startswith("# ") else line[1:] for line in text[start:end].splitlines())
    (project / "main.zp.hcl").write_text(text[:start] + block + text[end:])
    plan = Planner(open_project(ProjectArgs(project, stack="gcp")), State()).plan(PlanRequest())
    assert [s.step for s in plan.steps] == ["generate", "preprocess", "summarise"]
