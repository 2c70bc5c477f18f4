"""``backend = "vertex" | "sagemaker"``: compiled jobs checked offline, and apply running a step as a
job through stand-in clients that run the job's container command here (tests.backends.fake_cloud_cli)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cluster.helpers import ROOT, zplan
from zplan.backends import jobs
from zplan.backends.exchange import job_files
from zplan.config.step_resources import StepResources

STACK = {
    "artifact_store": "s3://acme-ml/zplan", "container_image": "europe-docker.pkg.dev/acme-ml/zplan/app:1",
    "backend_options": {
        "vertex": {"project": "acme-ml", "location": "europe-west4", "service_account": "runner@acme-ml.iam.gserviceaccount.com"},
        "sagemaker": {"role_arn": "arn:aws:iam::123456789012:role/zplan", "region": "eu-west-1"},
    },
}
FILES = job_files("s3://acme-ml/zplan", 7, "train")
ADDRESS = "pipeline.training.step.train"


def test_a_vertex_custom_job_runs_run_step_in_the_stack_image():
    job = jobs.compile_job("vertex", ADDRESS, "cloud", STACK, FILES, StepResources(gpu=2, gpu_type="NVIDIA_L4"), 3600)
    assert jobs.check(job) == []
    pool = job.spec["jobSpec"]["workerPoolSpecs"][0]
    container = pool["containerSpec"]
    assert container["imageUri"] == STACK["container_image"]
    assert container["command"] + container["args"] == [
        "zplan", "run-step", ADDRESS, "-stack", "cloud", "-task", FILES.task, "-result", FILES.result]
    assert pool["machineSpec"] == {"machineType": "n1-standard-4", "acceleratorType": "NVIDIA_L4", "acceleratorCount": 2}
    assert job.spec["jobSpec"]["serviceAccount"] == "runner@acme-ml.iam.gserviceaccount.com"
    assert job.spec["jobSpec"]["scheduling"] == {"timeout": "3600s"}
    assert job.spec["displayName"].startswith("zplan-train-")


def test_a_sagemaker_training_job_is_valid_for_botocores_model():
    job = jobs.compile_job("sagemaker", ADDRESS, "cloud", STACK, FILES, StepResources(gpu=1))
    assert jobs.check(job) == []
    algorithm = job.spec["AlgorithmSpecification"]
    assert algorithm["TrainingImage"] == STACK["container_image"]
    assert algorithm["ContainerEntrypoint"] + algorithm["ContainerArguments"] == [
        "zplan", "run-step", ADDRESS, "-stack", "cloud", "-task", FILES.task, "-result", FILES.result]
    assert job.spec["ResourceConfig"]["InstanceType"] == "ml.g4dn.xlarge"  # a GPU was asked for
    assert job.spec["OutputDataConfig"]["S3OutputPath"] == "s3://acme-ml/zplan/jobs/sagemaker-output"


def test_offline_checks_catch_bad_jobs():
    bad = {**STACK, "backend_options": {"sagemaker": {"role_arn": "zplan-role", "region": "eu-west-1", "volume_gb": 30}}}
    job = jobs.compile_job("sagemaker", ADDRESS, "cloud", bad, FILES)
    job.spec["ResourceConfig"]["InstanceCount"] = "one"
    problems = " ".join(jobs.check(job))
    assert "RoleArn 'zplan-role' is not an IAM role ARN" in problems and "InstanceCount" in problems
    vertex = jobs.compile_job("vertex", ADDRESS, "cloud", {**STACK, "container_image": ""}, FILES, StepResources(gpu=1, gpu_type="t4 please"))
    assert {"containerSpec.imageUri is required", "acceleratorType 't4 please' is not a Vertex accelerator (e.g. NVIDIA_TESLA_T4)"} <= set(jobs.check(vertex))
    assert jobs.missing_settings({"backend_options": {"vertex": {"project": "p"}}}, "vertex") == [
        "container_image", "backend_options.vertex.location"]


def _cloud_project(folder: Path, s3_url: str, backend: str, options: str) -> Path:
    shutil.copytree(ROOT / "examples/quickstart", folder, ignore=shutil.ignore_patterns(".zplan", "reports"))
    main = folder / "main.zp.hcl"
    text = main.read_text().replace('    source = "steps/train.py:train"\n',
                                    f'    source  = "steps/train.py:train"\n    backend = "{backend}"\n', 1)
    main.write_text(text + f'''
stack "cloud" {{
  artifact_store  = "{s3_url}"
  metadata_store  = "sqlite:///.zplan/cloud-metadata.db"
  container_image = "europe-docker.pkg.dev/acme-ml/zplan/app:1"
  backend_options = {{ {options} }}
}}
''')
    return folder


def _fake_apply(project: Path, jobs_log: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZPLAN_TEST_JOBS": str(jobs_log), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "tests.backends.fake_cloud_cli", *args], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize("backend, options", [
    ("sagemaker", 'sagemaker = { role_arn = "arn:aws:iam::123456789012:role/zplan", region = "eu-west-1" }'),
    ("vertex", 'vertex = { project = "acme-ml", location = "europe-west4" }'),
])
def test_apply_runs_the_step_as_a_job_and_records_it(tmp_path: Path, s3_url: str, backend: str, options: str) -> None:
    project = _cloud_project(tmp_path / "p", s3_url, backend, options)
    jobs_log = tmp_path / "jobs.jsonl"
    proc = _fake_apply(project, jobs_log, "apply", "-auto-approve", "-stack", "cloud")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "accuracy" in proc.stdout
    [argv] = [json.loads(line) for line in jobs_log.read_text().splitlines()]
    assert argv[:5] == ["zplan", "run-step", ADDRESS, "-stack", "cloud"]
    assert argv[6].startswith(s3_url) and argv[8].startswith(s3_url)
    log = next((project / ".zplan/logs/cloud").glob("run-*/pipeline.training.step.train.log")).read_text()
    assert f"ran as {backend} job" in log
    # Recorded by the apply like any step: the next plan has nothing to do.
    plan = zplan(project, "plan", "-stack", "cloud")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert f"{ADDRESS}" in plan.stdout and "cached" in plan.stdout.split(ADDRESS, 1)[1].splitlines()[0], plan.stdout


@pytest.mark.slow
def test_a_step_failing_in_the_job_shows_its_traceback(tmp_path: Path, s3_url: str) -> None:
    project = _cloud_project(tmp_path / "p", s3_url, "sagemaker",
                             'sagemaker = { role_arn = "arn:aws:iam::123456789012:role/zplan", region = "eu-west-1" }')
    train = project / "steps/train.py"
    train.write_text(train.read_text().replace("def train(", "def train(*a, **k):\n    raise ValueError('bad data in job')\n\n\ndef _unused(", 1))
    proc = _fake_apply(project, tmp_path / "jobs.jsonl", "apply", "-auto-approve", "-stack", "cloud")
    assert proc.returncode != 0
    assert "ValueError: bad data in job" in proc.stdout + proc.stderr


def test_a_stack_without_the_backends_settings_is_an_error_before_anything_runs(tmp_path: Path) -> None:
    project = _cloud_project(tmp_path / "p", str(tmp_path / "artifacts"), "vertex", 'vertex = { project = "acme-ml" }')
    proc = _fake_apply(project, tmp_path / "jobs.jsonl", "apply", "-auto-approve", "-stack", "cloud")
    assert proc.returncode == 1
    out = proc.stdout + proc.stderr
    assert 'has backend = "vertex" but stack "cloud" lacks backend_options.vertex.location' in out
    assert "s3:// or gs:// artifact_store" in out and "Traceback" not in out
    assert not (tmp_path / "jobs.jsonl").exists()


def test_plan_names_what_the_stack_lacks_for_a_backend_step(tmp_path: Path) -> None:
    """A plan saying "will run" for a step its stack cannot run as a job would be one apply refuses."""
    project = _cloud_project(tmp_path / "p", str(tmp_path / "artifacts"), "vertex", 'vertex = { project = "acme-ml" }')
    line = next(n for n, text in enumerate((project / "main.zp.hcl").read_text().splitlines(), 1) if 'step "train"' in text)
    for stack in ("cloud", "local"):
        proc = zplan(project, "plan", "-stack", stack)
        assert proc.returncode == 1, proc.stdout + proc.stderr
        assert f'main.zp.hcl:{line}:' in proc.stderr and f'has backend = "vertex" but stack "{stack}" lacks' in proc.stderr
        assert "s3:// or gs:// artifact_store" in proc.stderr and "Traceback" not in proc.stderr
        assert "will run" not in proc.stdout


def test_a_job_whose_image_holds_other_code_runs_nothing_and_says_why(tmp_path: Path) -> None:
    from zplan.apply.backend_task import run_task
    from zplan.apply.worker import StepTask
    from zplan.backends import exchange
    from zplan.plan.steps import environment
    from zplan.plan.task_check import job_parts

    project = tmp_path / "image"
    project.mkdir()
    (project / "steps.py").write_text("def fit(c):\n    return c * 2\n")
    planned = job_parts(project, "steps.py", "fit", environment())  # what the apply planned
    (project / "steps.py").write_text("def fit(c):\n    return c * 3\n")  # the image was built from other code
    files = job_files(f"file://{tmp_path}/store", 1, "fit")
    task = StepTask(address="pipeline.p.step.fit", project_dir="/elsewhere", source_file="steps.py", function="fit",
                    params={"c": 1}, inputs={}, declared_outputs=None, artifact_store_url=f"file://{tmp_path}/store",
                    run_id=1, log_path="", planned=planned)
    exchange.write(files.task, task)
    assert not run_task(files.task, files.result, project, task.address)
    result = exchange.read(files.result).result
    assert not result.ok and result.outputs == {}
    assert "pipeline.p.step.fit differs from what the apply planned (code)" in result.error and "zplan build-image" in result.error
    (project / "steps.py").write_text("def fit(c):\n    return c * 2\n")  # rebuilt
    assert run_task(files.task, files.result, project, task.address)


def test_a_job_is_named_after_its_step_and_key():
    assert jobs.job_name('pipeline.p.step.train["c=0.5"]', FILES.task).startswith("zplan-train-c-0-5-")
    assert jobs.job_name("module.m.pipeline.p.step.fit", FILES.task).startswith("zplan-fit-")
