"""A backend step compiled to the job that runs it: a Vertex AI CustomJob (its REST/JSON form)
or the arguments of SageMaker's ``CreateTrainingJob``.

Either job runs ``zplan run-step ADDRESS -stack NAME -task URL -result URL`` in the stack's
``container_image`` (the image ``zplan build-image`` describes: the project in ``/project``).
Settings come from the stack's ``backend_options = { vertex = {...}, sagemaker = {...} }``;
the step's ``resources`` choose accelerators. ``check`` validates a job offline: SageMaker's
against botocore's own service model, Vertex's against the CustomJob fields the API requires.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Mapping

from zplan.addrs import short_name
from zplan.backends.exchange import JobFiles

VERTEX_REQUIRED = ("project", "location")
SAGEMAKER_REQUIRED = ("role_arn", "region")
VERTEX_MACHINE = "n1-standard-4"
VERTEX_GPU = "NVIDIA_TESLA_T4"
SAGEMAKER_INSTANCE, SAGEMAKER_GPU_INSTANCE = "ml.m5.xlarge", "ml.g4dn.xlarge"
MAX_RUNTIME_SECONDS = 24 * 3600  # SageMaker needs a stopping condition; a day unless the step's timeout says less


@dataclass(frozen=True)
class Job:
    backend: str
    name: str
    spec: dict[str, Any]  # CustomJob JSON (vertex) or CreateTrainingJob arguments (sagemaker)
    options: dict[str, Any]  # the stack's settings for this backend


def backend_options(stack: Mapping[str, Any], backend: str) -> dict[str, Any]:
    everything = stack.get("backend_options") or {}
    chosen = everything.get(backend) if isinstance(everything, Mapping) else None
    return dict(chosen) if isinstance(chosen, Mapping) else {}


def missing_settings(stack: Mapping[str, Any], backend: str) -> list[str]:
    """What the stack lacks for ``backend`` (checked by plan, before anything runs)."""
    required = VERTEX_REQUIRED if backend == "vertex" else SAGEMAKER_REQUIRED
    options = backend_options(stack, backend)
    missing = [f"backend_options.{backend}.{k}" for k in required if not options.get(k)]
    return (["container_image"] if not stack.get("container_image") else []) + missing


def check_stack(config: Any, stack: Mapping[str, Any], stack_name: str) -> None:
    """Every backend step finds its settings in the stack, or one error at each step: run by plan
    (which would otherwise say "will run" for a step apply refuses) and by apply before anything
    runs. A setting known only after apply (a module's output) counts as set until then."""
    from zplan import diags
    from zplan.config.values import UNKNOWN

    found = diags.Collector()
    store = stack.get("artifact_store")
    for pipeline in config.pipelines.values():
        for step in pipeline.steps.values():
            if not step.backend:
                continue
            options = stack.get("backend_options")
            chosen = options.get(step.backend) if isinstance(options, Mapping) else options
            missing = [m for m in missing_settings(stack, step.backend) if chosen is not UNKNOWN or m == "container_image"]
            if store is not UNKNOWN and not str(store or "").startswith(("s3://", "gs://")):
                missing.append("an s3:// or gs:// artifact_store (the job cannot reach this machine's disk)")
            if missing:
                found.error(f'step {step.addr} has backend = "{step.backend}" but stack "{stack_name}" lacks {", ".join(missing)}',
                            f"e.g. backend_options = {{ {_EXAMPLES[step.backend]} }}", step.range)
    found.raise_if_errors()


_EXAMPLES = {
    "vertex": 'vertex = { project = "acme-ml", location = "europe-west4", machine_type = "n1-standard-8" }',
    "sagemaker": 'sagemaker = { role_arn = "arn:aws:iam::123456789012:role/zplan", region = "eu-west-1" }',
}


def command(address: str, stack_name: str, files: JobFiles) -> list[str]:
    return ["zplan", "run-step", address, "-stack", stack_name, "-task", files.task, "-result", files.result]


def compile_job(backend: str, address: str, stack_name: str, stack: Mapping[str, Any], files: JobFiles,
                resources: Any = None, timeout: float | None = None) -> Job:
    options = backend_options(stack, backend)
    name = job_name(address, files.task)
    argv = command(address, stack_name, files)
    image = str(stack["container_image"])
    if backend == "vertex":
        spec = _vertex(name, image, argv, options, resources, timeout)
    else:
        options.setdefault("output_path", f"{str(stack.get('artifact_store', '')).rstrip('/')}/jobs/sagemaker-output")
        spec = _sagemaker(name, image, argv, options, resources, timeout)
    return Job(backend, name, spec, options)


def job_name(address: str, unique: str) -> str:
    """``zplan-train-1a2b3c4d``: the step's name (with its key) and a digest of the run's task location (63 chars at most)."""
    step = re.sub(r"[^A-Za-z0-9]+", "-", short_name(address)).strip("-")[:40].rstrip("-") or "step"  # a key may hold dots
    return f"zplan-{step}-{hashlib.sha256(unique.encode()).hexdigest()[:10]}"


def _vertex(name: str, image: str, argv: list[str], options: Mapping[str, Any], resources: Any, timeout: float | None) -> dict:
    machine: dict[str, Any] = {"machineType": str(options.get("machine_type") or VERTEX_MACHINE)}
    if resources is not None and resources.gpu:
        machine["acceleratorType"] = resources.gpu_type or str(options.get("accelerator_type") or VERTEX_GPU)
        machine["acceleratorCount"] = int(resources.gpu)
    job_spec: dict[str, Any] = {"workerPoolSpecs": [{
        "machineSpec": machine,
        "replicaCount": "1",
        "containerSpec": {"imageUri": image, "command": argv[:1], "args": argv[1:]},
    }]}
    if options.get("service_account"):
        job_spec["serviceAccount"] = str(options["service_account"])
    if timeout:
        job_spec["scheduling"] = {"timeout": f"{int(timeout)}s"}
    return {"displayName": name, "jobSpec": job_spec, "labels": {"zplan": "step"}}


def _sagemaker(name: str, image: str, argv: list[str], options: Mapping[str, Any], resources: Any,
               timeout: float | None) -> dict:
    gpu = resources is not None and resources.gpu
    instance = str(options.get("instance_type") or (SAGEMAKER_GPU_INSTANCE if gpu else SAGEMAKER_INSTANCE))
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File",
                                   "ContainerEntrypoint": argv[:1], "ContainerArguments": argv[1:]},
        "RoleArn": str(options["role_arn"]),
        # SageMaker requires an output location; zplan's outputs go to the artifact store, not there.
        "OutputDataConfig": {"S3OutputPath": str(options["output_path"])},
        "ResourceConfig": {"InstanceType": instance, "InstanceCount": 1, "VolumeSizeInGB": int(options.get("volume_gb") or 30)},
        "StoppingCondition": {"MaxRuntimeInSeconds": int(min(timeout or MAX_RUNTIME_SECONDS, MAX_RUNTIME_SECONDS))},
        "Tags": [{"Key": "zplan", "Value": "step"}],
    }


def check(job: Job) -> list[str]:
    """Problems with a compiled job, found offline (an empty list when it is well formed)."""
    return _check_sagemaker(job.spec) if job.backend == "sagemaker" else _check_vertex(job.spec)


def _check_sagemaker(spec: Mapping[str, Any]) -> list[str]:
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(dict(spec), model.operation_model("CreateTrainingJob").input_shape)
    problems = report.generate_report().splitlines()[1:] if report.has_errors() else []
    if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", spec.get("TrainingJobName", "")):
        problems.append(f"TrainingJobName {spec.get('TrainingJobName')!r} is not a valid SageMaker job name")
    if not str(spec.get("OutputDataConfig", {}).get("S3OutputPath", "")).startswith("s3://"):
        problems.append("OutputDataConfig.S3OutputPath must be an s3:// folder (use an s3:// artifact store, or backend_options.sagemaker.output_path)")
    if not str(spec.get("RoleArn", "")).startswith("arn:"):
        problems.append(f"RoleArn {spec.get('RoleArn')!r} is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)")
    return [p.strip() for p in problems]


def _check_vertex(spec: Mapping[str, Any]) -> list[str]:
    problems = []
    pools = spec.get("jobSpec", {}).get("workerPoolSpecs") or []
    if not spec.get("displayName"):
        problems.append("displayName is required")
    if len(pools) != 1:
        problems.append("exactly one worker pool is expected")
    for pool in pools:
        machine, container = pool.get("machineSpec", {}), pool.get("containerSpec", {})
        if not machine.get("machineType"):
            problems.append("machineSpec.machineType is required")
        if machine.get("acceleratorCount") and not re.fullmatch(r"[A-Z0-9_]+", str(machine.get("acceleratorType", ""))):
            problems.append(f"acceleratorType {machine.get('acceleratorType')!r} is not a Vertex accelerator (e.g. NVIDIA_TESLA_T4)")
        if not container.get("imageUri"):
            problems.append("containerSpec.imageUri is required")
    problems += _vertex_proto_problems(spec)
    return problems


def _vertex_proto_problems(spec: Mapping[str, Any]) -> list[str]:
    """With the Vertex SDK installed, the JSON must also parse as its CustomJob message."""
    try:
        from google.cloud import aiplatform_v1
    except ImportError:
        return []
    import json

    try:
        aiplatform_v1.CustomJob.from_json(json.dumps(spec))
    except Exception as exc:  # noqa: BLE001 - a parse error names the field
        return [f"not a CustomJob: {exc}"]
    return []
