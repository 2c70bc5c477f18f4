"""`runs`, `runs show` and `lineage`: reads of the stack's metadata store."""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from zplan import addrs, diags
from zplan.operations.opening import ProjectArgs, open_for_reading
from zplan.project import Project


@contextmanager
def _metadata(args: ProjectArgs) -> Iterator[tuple[Project, object]]:
    from zplan.metadata import MetadataStore
    from zplan.metadata.urls import metadata_password

    from zplan.config.values import UNKNOWN

    project = open_for_reading(args)
    settings = project.recorded_stack_settings()
    if settings.get("metadata_store") is UNKNOWN:
        raise diags.fail(f"stack {project.stack_name}: its metadata store is known only after apply", "run `zplan apply` first")
    meta = MetadataStore.from_url(str(settings["metadata_store"]), project.root, metadata_password(settings))
    try:
        meta.close_stale_runs(time.time())  # an apply killed before it could finish its run
        yield project, meta
    finally:
        meta.close()


def runs(args: ProjectArgs, limit: int) -> list:
    """The latest ``limit`` runs (RunSummary), newest first."""
    if limit < 1:  # (0 would list every run, a negative number is the store's own error)
        raise diags.fail(f"-limit must be a positive number of runs, not {limit}", "e.g. zplan runs -limit 50")
    with _metadata(args) as (_, meta):
        return meta.runs(limit)


def run_detail(args: ProjectArgs, run: int):
    """One run's steps, artifacts and timings (RunDetail)."""
    with _metadata(args) as (_, meta):
        return meta.run_detail(run)


@dataclass(frozen=True)
class ResourceLineage:
    """A deployed resource and the lineage of each step output it was given (a served model)."""

    address: str
    type: str
    attributes: dict  # as recorded (url, pid, ...)
    artifacts: dict  # attribute name -> LineageNode


@dataclass(frozen=True)
class OutputLineage:
    """An output whose value holds several step outputs (a map over a sweep or module instances)."""

    name: str
    artifacts: dict  # step output address -> LineageNode


def lineage(args: ProjectArgs, what: str):
    """The LineageNode of the artifact ``what`` names (an artifact id, a step output address
    or an output name), the ResourceLineage of ``resource.T.N``, or the OutputLineage of an
    output holding several step outputs."""
    with _metadata(args) as (project, meta):
        if resource := _resource_address(what):
            return _resource_lineage(project, meta, resource)
        several = _several_outputs(project, meta, what)
        if several:
            return OutputLineage(what.removeprefix("output."), {ref: meta.lineage(*found) for ref, found in several.items()})
        return meta.lineage(*_artifact_of(project, meta, what))


def _resource_address(what: str) -> str | None:
    """``resource.T.N``, or Terraform's short ``T.N`` as every command takes it, spelled in full;
    None for what names no resource (an artifact id, an output, a step output)."""
    if what.isdigit():
        return None
    try:
        found = addrs.parse_selector(what)
    except ValueError:
        return None
    return str(found) if isinstance(found, addrs.ResourceAddr) else None


def _several_outputs(project: Project, meta, what: str) -> dict[str, tuple[int, str]]:
    """Step output address -> (artifact id, step address), for an output holding more than one:
    tracing only the first would pass the others' history off as the whole value's."""
    name = what.removeprefix("output.")
    if what.isdigit() or what.startswith(("pipeline.", "module.")) or name not in project.config.outputs:
        return {}
    found = {f"{ref.address}.outputs.{ref.output}": (meta.find_artifact(ref.address, ref.output), ref.address)
             for ref in _step_outputs_of(project, name)}
    found = {ref: artifact for ref, artifact in found.items() if artifact[0] is not None}
    return found if len(found) > 1 else {}


def _resource_lineage(project: Project, meta, address: str) -> ResourceLineage:
    from zplan.state.model import State

    record = State(project.state_backend().read()).resource(address)
    if record is None:
        raise diags.fail(f"{address} is not in the state", "run `zplan apply` first, or see `zplan state list`")
    refs = {k: v for k, v in record.inputs.items() if isinstance(v, dict) and {"digest", "uri"} <= set(v)}
    if not refs:
        raise diags.fail(f"{address} was given no step output", "lineage follows attributes such as model = step.train.outputs.output")
    artifacts = {name: meta.lineage(ref["uri"]) for name, ref in sorted(refs.items())}
    return ResourceLineage(address, record.type, dict(record.attributes), artifacts)


def _artifact_of(project: Project, meta, what: str) -> tuple[int, str | None]:
    """The artifact id ``what`` names, and the step whose output it was asked as (None for an id)."""
    if what.isdigit():
        return int(what), None
    if what.startswith(("pipeline.", "module.")):
        try:
            wanted = addrs.parse_output(what)
        except ValueError as exc:
            raise diags.fail(str(exc)) from None
        found = meta.find_artifact(str(wanted.step), wanted.output)
        if found is None:
            from zplan.metadata.reader import NOTHING_RECORDED

            hint = meta.missing_output_hint(str(wanted.step))
            declared = project.config.step(str(wanted.step)) is not None
            instances = [] if declared else addrs.instances_of(str(wanted.step), (s.address for s in project.config.steps()))
            if instances:  # a step made with count / for_each given without its key
                raise diags.fail(*addrs.give_one(str(wanted.step), instances, "step instances"))
            if not declared and hint == NOTHING_RECORDED:  # a typo: applying would not help
                raise diags.fail(f"no step {wanted.step} is declared in the configuration or recorded",
                                 "check the address: `zplan state list` lists the recorded steps")
            raise diags.fail(f"no recorded artifact for {wanted.step} output {wanted.output}", hint)
        return found, str(wanted.step)
    name = what.removeprefix("output.")  # (outputs are addressed so in the dashboard and in plans)
    if name in project.config.outputs:
        return _output_artifact(project, meta, name)
    raise diags.fail(f"cannot find what {what!r} names", "give pipeline.P.step.S.outputs.O, an output name, or an artifact id")


def _output_artifact(project: Project, meta, name: str) -> tuple[int, str]:
    """The artifact behind an ``output`` block: the step output its value reads, directly or
    through locals and module outputs (``value = module.training.model``)."""
    for ref in _step_outputs_of(project, name):
        found = meta.find_artifact(ref.address, ref.output)
        if found is not None:
            return found, ref.address
    refs = project.config.outputs[name].expr.references()
    for ref in refs:
        if ref.parts[0] != "step":
            continue
        for pname, pipeline in project.config.pipelines.items():
            if ref.parts[1] in pipeline.steps:
                address = str(addrs.StepAddr(pname, ref.parts[1]))
                found = meta.find_artifact(address, str(ref.parts[3]))
                if found is not None:
                    return found, address
    if not any(ref.parts[0] in ("step", "module") for ref in refs):  # a variable, a local, a resource attribute
        raise diags.fail(f"output {name!r} is not computed from a step output, so it has no lineage",
                         f"lineage traces what steps made; `zplan output {name}` shows its value")
    raise diags.fail(f"no recorded artifact for output {name!r}",
                     "run `zplan apply` first, or give the step output itself: pipeline.P.step.S.outputs.O")


def _step_outputs_of(project: Project, name: str) -> list:
    """The step outputs (StepOutputRef) the value of output ``name`` holds, as the scope
    evaluates it: none where it is computed from them (those are traced by their references)."""
    from zplan.config.scope import map_step_refs
    from zplan.graph.build import pipeline_of

    expr = project.config.outputs[name].expr
    try:
        value = project.scope().eval(expr, pipeline=pipeline_of(expr, project.config))
    except diags.DiagnosticError:
        return []
    found: list = []
    map_step_refs(value, found.append)
    return found
