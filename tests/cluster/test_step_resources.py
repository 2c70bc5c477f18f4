"""Per-step ``resources`` and ``cache = false`` through the CLI: the local orchestrator says
when this machine falls short, the Dask one places (or refuses) the step, and a step that
opts out of caching runs on every apply."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cluster.helpers import zplan

STEPS = """
import time


def stamp() -> float:
    return time.time()
"""

PROJECT = """
stack "STACK" {
  ORCHESTRATOR
  artifact_store = "ARTIFACTS"
  metadata_store = "sqlite:///.zplan/metadata.db"
}

pipeline "p" {
  step "s" {
    source    = "steps.py:stamp"
    resources = RESOURCES
    cache     = false
  }
}
"""


def project(folder: Path, resources: str, artifacts: str, stack: str = "local", orchestrator: str = 'orchestrator = "local"') -> Path:
    folder.mkdir(parents=True)
    (folder / "steps.py").write_text(STEPS)
    (folder / "main.zp.hcl").write_text(PROJECT.replace("STACK", stack).replace("ORCHESTRATOR", orchestrator)
                                        .replace("ARTIFACTS", artifacts).replace("RESOURCES", resources))
    return folder


def test_cache_false_runs_every_time_and_local_shortfalls_are_reported(tmp_path: Path) -> None:
    gpus = 99
    folder = project(tmp_path / "p", f"{{ cpu = {(os.cpu_count() or 1) + 1}, gpu = {gpus} }}", "file://.zplan/artifacts")
    first = zplan(folder, "apply", "-auto-approve")
    assert first.returncode == 0, first.stdout + first.stderr
    assert f"asks for cpu = {(os.cpu_count() or 1) + 1} (this machine has {os.cpu_count()})" in first.stdout
    assert f"gpu = {gpus} (this machine has" in first.stdout and "running it on this machine anyway" in first.stdout
    plan = zplan(folder, "plan")
    assert "cache = false: runs on every apply" in plan.stdout
    again = zplan(folder, "apply", "-auto-approve")
    assert "pipeline.p.step.s: done" in again.stdout, again.stdout


@pytest.mark.slow
def test_the_dask_orchestrator_refuses_what_no_worker_has(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    dask = f'orchestrator = "dask"\n  orchestrator_options = {{ scheduler = "{dask_cluster.address}" }}'
    folder = project(tmp_path / "p", '{ gpu = 1 }', s3_url, "dask", dask)
    proc = zplan(folder, "apply", "-auto-approve")
    assert proc.returncode == 1
    assert "asks for gpu = 1, which no worker of the Dask cluster has" in proc.stdout
    assert "1 threads" in proc.stdout  # what the workers have

    fits = project(tmp_path / "q", '{ cpu = 1, memory = "64MiB" }', s3_url, "dask", dask)
    proc = zplan(fits, "apply", "-auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "asks for" not in proc.stdout
