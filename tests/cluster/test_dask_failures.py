"""Bad input on the dask orchestrator: a scheduler nobody answers on, a worker dying under
a step, a step raising on a worker, an artifact store workers cannot reach."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.helpers import zplan
from tests.fixtures.servers import free_port

STEPS = '''
import os
import signal
from pathlib import Path


def once_kills_its_worker(marker: str) -> int:
    """Kills the Dask worker it runs under, the first time only (the marker remembers)."""
    if not Path(marker).exists():
        Path(marker).write_text("killed once")
        os.kill(os.getppid(), signal.SIGKILL)
    return 42


def always_kills_its_worker() -> int:
    os.kill(os.getppid(), signal.SIGKILL)
    return 0


def raises(n: int) -> int:
    return helper(n)


def helper(n: int) -> int:
    raise ValueError(f"bad n: {n}")
'''


def project(folder: Path, scheduler: str, artifacts: str, step: str, params: str = "{}", extra: str = "") -> Path:
    folder.mkdir(parents=True)
    (folder / "steps.py").write_text(STEPS)
    (folder / "main.zp.hcl").write_text(f'''
stack "dask" {{
  orchestrator         = "dask"
  orchestrator_options = {{ scheduler = "{scheduler}"{extra} }}
  artifact_store       = "{artifacts}"
  metadata_store       = "sqlite:///.zplan/metadata.db"
}}

pipeline "p" {{
  step "s" {{
    source = "steps.py:{step}"
    params = {params}
  }}
}}
''')
    return folder


def test_a_scheduler_nobody_answers_on_is_an_error_and_no_run(tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"
    folder = project(tmp_path / "p", address, f"file://{tmp_path}/artifacts", "raises", "{ n = 1 }", ', connect_timeout = "2s"')
    proc = zplan(folder, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"cannot reach the Dask scheduler at {address} (no answer within 2s)" in proc.stderr
    assert "not started" in proc.stdout
    runs = zplan(folder, "runs", "-stack", "dask")
    assert "run 1" not in runs.stdout and "pipeline.p.step.s" not in zplan(folder, "state", "list").stdout


def test_a_relative_artifact_path_is_a_plan_error(tmp_path: Path) -> None:
    folder = project(tmp_path / "p", "tcp://127.0.0.1:1", "file://.zplan/artifacts", "raises", "{ n = 1 }")
    proc = zplan(folder, "plan", "-stack", "dask")
    assert proc.returncode == 1
    assert 'resolve artifact_store "file://.zplan/artifacts" in their own folders' in proc.stderr and "main.zp.hcl:" in proc.stderr


@pytest.mark.slow
def test_a_step_raising_on_a_worker_shows_its_traceback(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    folder = project(tmp_path / "p", dask_cluster.address, s3_url, "raises", "{ n = 7 }")
    proc = zplan(folder, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 1
    assert "FAILED" in proc.stdout and "ValueError: bad n: 7" in proc.stdout
    assert 'steps.py", line' in proc.stdout and "in helper" in proc.stdout  # the step's own frames


@pytest.mark.slow
def test_a_worker_dying_under_a_step_is_retried_once_elsewhere(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    marker = tmp_path / "killed"
    folder = project(tmp_path / "p", dask_cluster.address, s3_url, "once_kills_its_worker", f'{{ marker = "{marker}" }}')
    proc = zplan(folder, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert marker.exists(), "the first attempt did kill its worker"
    log = next((folder / ".zplan/logs/dask").rglob("pipeline.p.step.s.log")).read_text()
    assert "the Dask worker running it died" in log and "retried on another worker" in log
    assert "done" in proc.stdout and "pipeline.p.step.s" in zplan(folder, "state", "list").stdout


@pytest.mark.slow
def test_a_step_whose_workers_keep_dying_fails_cleanly(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    folder = project(tmp_path / "p", dask_cluster.address, s3_url, "always_kills_its_worker")
    proc = zplan(folder, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 1
    assert "attempt 1: the Dask worker running it died" in proc.stdout and "attempt 2" in proc.stdout
    assert "not retried again" in proc.stdout


def test_a_dask_stack_without_a_scheduler_is_a_plan_error(tmp_path: Path) -> None:
    folder = project(tmp_path / "p", "", f"file://{tmp_path}/artifacts", "raises", "{ n = 1 }")
    (folder / "main.zp.hcl").write_text((folder / "main.zp.hcl").read_text().replace('scheduler = ""', 'connect_timeout = "soon"'))
    proc = zplan(folder, "plan", "-stack", "dask")
    assert proc.returncode == 1
    assert 'orchestrator "dask" needs orchestrator_options = { scheduler = "tcp://HOST:8786" }' in proc.stderr
    assert "connect_timeout: 'soon' is not a duration" in proc.stderr and "main.zp.hcl:" in proc.stderr


@pytest.mark.slow
def test_an_artifact_store_workers_cannot_write_fails_the_step_with_the_stores_message(tmp_path: Path, dask_cluster, s3_url: str) -> None:
    missing = "s3://no-such-bucket-for-zplan/artifacts"
    folder = project(tmp_path / "p", dask_cluster.address, missing, "raises", "{ n = 1 }")
    (folder / "steps.py").write_text(STEPS + "\n\ndef fine() -> int:\n    return 1\n")
    (folder / "main.zp.hcl").write_text((folder / "main.zp.hcl").read_text().replace("steps.py:raises", "steps.py:fine").replace("params = { n = 1 }", ""))
    proc = zplan(folder, "apply", "-stack", "dask", "-auto-approve")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "artifact store s3://no-such-bucket-for-zplan/artifacts failed: The specified bucket does not exist" in proc.stdout
    assert "[on Dask worker tcp://127.0.0.1:" in proc.stdout and "Traceback" not in proc.stdout


@pytest.mark.slow
def test_workers_without_zplan_are_named_before_anything_runs(tmp_path: Path) -> None:
    """A task sent to a worker that cannot import zplan ends that worker, and Dask gives it to the next
    or, with none left, waits for ever: the apply must say so instead of hanging."""
    from tests.fixtures.dask_cluster import DASK, start_cluster

    if not DASK.exists():
        pytest.skip("Dask is not installed (the dask extra)")
    shadow = tmp_path / "no-zplan" / "zplan"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text('raise ModuleNotFoundError("No module named \'zplan\'", name="zplan")\n')
    cluster = start_cluster(tmp_path / "dask", {}, workers=1, worker_env={"PYTHONPATH": str(shadow.parent)})
    try:
        folder = project(tmp_path / "p", cluster.address, f"file://{tmp_path}/artifacts", "raises", "{ n = 1 }")
        proc = subprocess.run([sys.executable, "-m", "zplan.cli.app", "apply", "-stack", "dask", "-auto-approve"], cwd=folder,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)  # (it hung, before)
    finally:
        cluster.stop()
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot import zplan" in proc.stderr and "No module named 'zplan'" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "pipeline.p.step.s" not in zplan(folder, "state", "list").stdout


@pytest.mark.slow
def test_a_step_whose_only_fitting_worker_died_is_retried_on_it_once_it_is_back(tmp_path: Path) -> None:
    """A step asking for resources is placed on the workers that have them; its nanny restarts a worker
    that died under a step at another address, under the same name: the retry must go to it there, not
    wait for ever for the address that is gone."""
    from tests.fixtures.dask_cluster import DASK, start_cluster

    if not DASK.exists():
        pytest.skip("Dask is not installed (the dask extra)")
    cluster = start_cluster(tmp_path / "dask", {}, workers=1)
    try:
        folder = project(tmp_path / "p", cluster.address, f"file://{tmp_path}/artifacts", "once_kills_its_worker",
                         f'{{ marker = "{tmp_path / "killed"}" }}\n    resources = {{ cpu = 1 }}')
        proc = subprocess.run([sys.executable, "-m", "zplan.cli.app", "apply", "-stack", "dask", "-auto-approve"], cwd=folder,
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)  # (it hung, before)
    finally:
        cluster.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "killed").exists(), "the first attempt did kill its worker"
    assert "pipeline.p.step.s: done" in proc.stdout, proc.stdout
