"""A zplan pipeline as a KFP v2 pipeline spec, compiled offline.

Every step becomes a container task running ``zplan run-step ADDRESS -stack
STACK`` in the project's image, with the variable values the apply planned with and
its digests of the step (``zplan.plan.task_check``), so the task runs what was planned. The step reads its inputs from, and records
its outputs in, the stack's remote artifact and metadata stores, so zplan
decides what is cached and keeps the lineage; KFP's own caching is turned off
on every task, or it would skip a step zplan wants to run (or rerun one zplan
would have reused). The edges are the zplan graph's, as ``.after()``.
"""

from __future__ import annotations

import graphlib
from collections import Counter
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from zplan.diags import fail
from zplan.hashing import hash_text


@dataclass
class StepTask:
    address: str  # pipeline.NAME.step.STEP
    name: str  # the step's name, also the task's display name
    depends_on: list[str] = field(default_factory=list)  # step names or addresses
    resources: Any = None  # the step's StepResources (cpu, memory, gpu, gpu_type), or None
    arguments: list[str] = field(default_factory=list)  # more run-step arguments: what the apply planned (never a secret)


def step_command(address: str, stack: str, arguments: list[str] = ()) -> list[str]:
    return ["zplan", "run-step", address, "-stack", stack, *arguments]


_NAME_MAX = 63  # a Kubernetes object name's limit (DNS label): what a runner names after the task must fit
# KFP takes pipeline names of 128 characters; Vertex makes a job ID of the name, "-" and a
# 14-digit timestamp, which must fit in 128 too
_PIPELINE_NAME_MAX = 128 - 15
_DIGEST = 8  # hex digits of the digest that tells apart names that read the same


def task_name(step_name: str) -> str:
    """The name KFP gives the task (it lowercases and dashes component names)."""
    return re.sub(r"[^a-z0-9]+", "-", step_name.lower()).strip("-")


def task_names(steps: list[StepTask]) -> dict[str, str]:
    """Each step's task name, by address: its readable name (``task_name``), with a short digest of
    the exact step name after it when another step's reads the same (``train["x-y"]``, ``train["x_y"]``,
    ``train["X-Y"]``) or when it is too long, so every task has a name of its own, the same at every compile."""
    names = distinct_names({s.name: task_name(s.name) for s in steps}, _NAME_MAX)
    return {s.address: names[s.name] for s in steps}


def distinct_names(readable: dict[str, str], limit: int | None = None) -> dict[str, str]:
    """``readable`` maps exact names to the names KFP reads them as: each keeps its readable name, but
    one that another also reads as (or longer than ``limit``, or empty) gets a digest of its exact name after it."""
    seen = Counter(readable.values())
    return {exact: name if seen[name] == 1 and 0 < len(name) <= (limit or len(name)) else _with_digest(name, exact)
            for exact, name in readable.items()}


def spec_name(name: str) -> str:
    """``name`` as a pipeline spec's name: cut, with a short digest of it after, when longer than KFP takes."""
    return name if len(name) <= _PIPELINE_NAME_MAX else _with_digest(name, name, _PIPELINE_NAME_MAX)


def _with_digest(name: str, exact: str, limit: int = _NAME_MAX) -> str:
    """``name``, cut to fit ``limit`` with the digest, then a short digest of ``exact``."""
    return "-".join(p for p in (name[:limit - _DIGEST - 1].rstrip("-"), hash_text(exact)[:_DIGEST]) if p)


def compile_pipeline(pipeline: str, steps: list[StepTask], image: str, stack: str, out: Path, orchestrator: str = "kubeflow") -> Path:
    """Write the KFP pipeline spec (YAML) for ``steps`` to ``out``, atomically; returns ``out``.
    ``orchestrator``: "kubeflow" or "vertex", which name accelerators differently."""
    if not image:
        raise fail(f'pipeline "{pipeline}": no container image to run the steps in', "set the stack's image setting")
    order = _ordered(pipeline, steps)
    pipeline_func = _pipeline_func(pipeline, order, task_names(steps), image, stack, DEFAULT_GPU.get(orchestrator, DEFAULT_GPU["kubeflow"]))

    from kfp import compiler

    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".yaml", dir=out.parent)
    os.close(fd)
    try:
        compiler.Compiler().compile(pipeline_func, package_path=tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out


def _ordered(pipeline: str, steps: list[StepTask]) -> list[tuple[StepTask, list[StepTask]]]:
    """Steps in dependency order, each with the steps it waits for."""
    by_ref = {s.name: s for s in steps} | {s.address: s for s in steps}
    upstream: dict[str, list[StepTask]] = {}
    for s in steps:
        missing = [d for d in s.depends_on if d not in by_ref]
        if missing:
            raise fail(f'step "{s.address}" depends on unknown step(s) {", ".join(missing)}')
        upstream[s.address] = [by_ref[d] for d in s.depends_on]
    sorter = graphlib.TopologicalSorter({a: [u.address for u in ups] for a, ups in upstream.items()})
    try:
        order = list(sorter.static_order())
    except graphlib.CycleError as exc:
        raise fail(f'pipeline "{pipeline}" has a dependency cycle: {" -> ".join(exc.args[1])}') from None
    by_address = {s.address: s for s in steps}
    return [(by_address[a], upstream[a]) for a in order]


def _pipeline_func(pipeline: str, order: list[tuple[StepTask, list[StepTask]]], names: dict[str, str], image: str, stack: str,
                   gpu: str) -> Callable:
    from kfp import dsl

    components = {s.address: _component(s, names[s.address], image, stack) for s, _ in order}

    @dsl.pipeline(name=pipeline, description=f"zplan pipeline {pipeline} (stack {stack})")
    def run_pipeline():
        tasks = {}
        for s, ups in order:
            task = components[s.address]()
            task.set_display_name(s.name)
            task.set_caching_options(False)  # zplan's cache key decides, not KFP's
            _request(task, s.resources, gpu)
            for u in ups:
                task.after(tasks[u.address])
            tasks[s.address] = task

    return run_pipeline


# The accelerator a step's `gpu` gets without a gpu_type: Kubeflow's is a Kubernetes resource name, Vertex
# takes only its own accelerator types (the Vertex training backend's default, too).
DEFAULT_GPU = {"kubeflow": "nvidia.com/gpu", "vertex": "NVIDIA_TESLA_T4"}


def _request(task: Any, resources: Any, gpu: str) -> None:
    """The step's resources as the task's requests and limits (Kubeflow and Vertex read both)."""
    if resources is None or resources.empty:
        return
    if resources.cpu:
        cpu = _cpu_quantity(resources.cpu)
        task.set_cpu_request(cpu).set_cpu_limit(cpu)
    if resources.memory:
        quantity = _memory_quantity(resources)
        task.set_memory_request(quantity).set_memory_limit(quantity)
    if resources.gpu:
        task.set_accelerator_type(resources.gpu_type or gpu).set_accelerator_limit(resources.gpu)


def _cpu_quantity(cpu: float) -> str:
    """Whole CPUs as a number, a fraction in millicores (Kubernetes' finest unit, so at least "1m"):
    KFP takes neither "1e-05" nor "1.23457e+06", which "%g" writes."""
    if float(cpu).is_integer():
        return str(int(cpu))
    return f"{max(1, round(cpu * 1000))}m"


def _memory_quantity(resources: Any) -> str:
    """The memory as written when KFP takes it so ("4GiB" is 4Gi, "2G" 2G), else in bytes: KFP takes
    only a whole number with a unit in Kubernetes' spelling, not "1.5GiB", "4gib" or "2 GiB"."""
    written = resources.memory_text.removesuffix("B")
    return written if re.fullmatch(r"[0-9]+(Ki|Mi|Gi|Ti|K|M|G|T)?", written) else str(resources.memory)


def _component(s: StepTask, name: str, image: str, stack: str) -> Callable:
    from kfp import dsl

    # the run's id, filled in by KFP: a task reads the upstream results its own pipeline run recorded
    command = step_command(s.address, stack, [*s.arguments, "-pipeline-run", dsl.PIPELINE_JOB_ID_PLACEHOLDER])

    def container():  # no annotations: KFP reads them, and this module's are strings
        return dsl.ContainerSpec(image=image, command=command)

    container.__name__ = container.__qualname__ = name  # KFP names the task after it
    return dsl.container_component(container)
