"""``local_dask_cluster``: apply on an empty machine brings up a scheduler and workers (each
in its own folder) and then runs the pipeline on them; destroy stops them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cluster.helpers import zplan

pytestmark = pytest.mark.slow

PROJECT = """
resource "local_dask_cluster" "c" {
  workers = 2
}

stack "dask" {
  orchestrator         = "dask"
  orchestrator_options = { scheduler = resource.local_dask_cluster.c.scheduler_address }
  artifact_store       = "ARTIFACTS"
  metadata_store       = "sqlite:///.zplan/metadata.db"
}

pipeline "p" {
  step "where" {
    source = "steps.py:where"
  }
}

output "ran_in" {
  value = step.where.outputs.output
}
"""

STEPS = """
import os


def where() -> str:
    return os.getcwd()
"""


def test_apply_brings_the_cluster_up_then_runs_on_it(tmp_path: Path, s3_url: str) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "main.zp.hcl").write_text(PROJECT.replace("ARTIFACTS", s3_url))
    (project / "steps.py").write_text(STEPS)
    try:
        proc = zplan(project, "apply", "-stack", "dask", "-auto-approve")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        state = zplan(project, "state", "show", "resource.local_dask_cluster.c").stdout
        assert "scheduler_address" in state and "tcp://127.0.0.1:" in state and "dashboard_url" in state
        ran_in = zplan(project, "output", "ran_in").stdout
        workers = project / ".zplan/dask/c"
        assert str(workers / "worker-") in ran_in, "the step ran in a worker's own folder, not the project"
        assert {p.name for p in workers.iterdir()} >= {"scheduler", "worker-0", "worker-1"}

        again = zplan(project, "plan", "-stack", "dask", "-detailed-exitcode")
        assert again.returncode == 0, again.stdout + again.stderr  # the cluster is alive, the step cached
    finally:
        down = zplan(project, "destroy", "-stack", "dask", "-auto-approve")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "local_dask_cluster" not in zplan(project, "state", "list").stdout


def test_bad_settings_are_refused_before_anything_starts(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "main.zp.hcl").write_text('resource "local_dask_cluster" "c" {\n  workers = 0\n  worker_resources = { GPU = "one" }\n}\n')
    proc = zplan(project, "apply", "-auto-approve")
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert "workers must be a positive number" in out and "worker_resources must map names to numbers" in out
    assert not (project / ".zplan/dask").exists()


SLEEPER = """
import os
import time
from pathlib import Path


def sleeps(pidfile: str) -> int:
    Path(pidfile).write_text(str(os.getpid()))
    time.sleep(120)
    return 1
"""


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_an_interrupted_apply_stops_the_step_on_its_worker(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    pidfile = tmp_path / "step.pid"
    hcl = PROJECT.replace("ARTIFACTS", (tmp_path / "artifacts").as_uri()).replace('"steps.py:where"', '"steps.py:sleeps"')
    (project / "main.zp.hcl").write_text(hcl.replace('source = "steps.py:sleeps"', f'source = "steps.py:sleeps"\n    params = {{ pidfile = "{pidfile}" }}'))
    (project / "steps.py").write_text(SLEEPER)
    apply = subprocess.Popen([sys.executable, "-m", "zplan.cli.app", "apply", "-stack", "dask", "-auto-approve"], cwd=project,
                             env={**os.environ, "ZPLAN_NO_COLOR": "1"}, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not pidfile.exists() and apply.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert pidfile.exists(), apply.communicate(timeout=60)
        apply.send_signal(signal.SIGINT)
        out, err = apply.communicate(timeout=60)
        assert apply.returncode == 130, out + err
        assert "stopped" in out
        assert _gone_within(int(pidfile.read_text()), 15), "the step still runs on its Dask worker after the apply stopped it"
    finally:
        if apply.poll() is None:
            apply.kill()
        zplan(project, "destroy", "-stack", "dask", "-auto-approve")
