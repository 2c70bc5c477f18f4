"""The zplan command line with stand-ins for the Vertex AI and SageMaker clients.

``python -m tests.backends.fake_cloud_cli apply ...`` runs the real command; only the
clients are replaced. Each stand-in runs the job's container command on this machine,
in a copy of the project (as the image's ``/project`` would be), with the job's own
arguments, and reports the job's state from its exit code: so the job spec's command is
really what runs the step, against the same artifact store, while the apply holds the
state lock. ``ZPLAN_TEST_JOBS`` names a file where each job's spec is appended (JSON lines).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

ZPLAN = str(Path(sys.executable).with_name("zplan"))


def _run_container(argv: list[str]) -> int:
    with open(os.environ["ZPLAN_TEST_JOBS"], "a") as f:
        f.write(json.dumps(argv) + "\n")
    with tempfile.TemporaryDirectory(prefix="container-") as root:
        project = Path(root) / "project"
        shutil.copytree(Path.cwd(), project, ignore=shutil.ignore_patterns(".zplan"))
        return subprocess.run([ZPLAN if argv[0] == "zplan" else argv[0], *argv[1:]], cwd=project).returncode


class FakeSageMaker:
    def __init__(self) -> None:
        self.jobs: dict[str, dict] = {}

    def create_training_job(self, **spec) -> dict:
        algorithm = spec["AlgorithmSpecification"]
        code = _run_container(algorithm["ContainerEntrypoint"] + algorithm["ContainerArguments"])
        self.jobs[spec["TrainingJobName"]] = {"TrainingJobStatus": "Completed" if code == 0 else "Failed",
                                              "FailureReason": f"AlgorithmError: exit code {code}"}
        return {"TrainingJobArn": f"arn:aws:sagemaker:eu-west-1:123456789012:training-job/{spec['TrainingJobName']}"}

    def describe_training_job(self, TrainingJobName: str) -> dict:  # noqa: N803 - boto3's argument name
        return self.jobs[TrainingJobName]


class FakeVertex:
    def __init__(self) -> None:
        self.jobs: dict[str, SimpleNamespace] = {}

    def create_custom_job(self, parent: str, custom_job: dict) -> SimpleNamespace:
        container = custom_job["jobSpec"]["workerPoolSpecs"][0]["containerSpec"]
        code = _run_container(container["command"] + container["args"])
        name = f"{parent}/customJobs/{len(self.jobs) + 1}"
        state = "JOB_STATE_SUCCEEDED" if code == 0 else "JOB_STATE_FAILED"
        self.jobs[name] = SimpleNamespace(name=name, state=SimpleNamespace(name=state),
                                          error=SimpleNamespace(message=f"exit code {code}"))
        return SimpleNamespace(name=name)

    def get_custom_job(self, name: str) -> SimpleNamespace:
        return self.jobs[name]


def main() -> None:
    from zplan.apply import backend_steps
    from zplan.cli.app import main as cli

    backend_steps.CLIENTS.update(vertex=FakeVertex(), sagemaker=FakeSageMaker())
    backend_steps.POLL_SECONDS = 0.01
    cli(sys.argv[1:])


if __name__ == "__main__":
    main()
