"""`artifact list`, `artifact export` and `runs diff`: recorded results read through the read API (``zplan.api``).

Every ``ZplanAPIError`` becomes one diagnostic (summary + what to do), so the CLI prints it and exits 1.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from zplan import addrs, diags
from zplan.operations.opening import ProjectArgs
from zplan.secrets import SENSITIVE, hide_digests

if TYPE_CHECKING:
    from zplan.api import Project
    from zplan.metadata.records import ExecutionView

METRIC_MATERIALIZER = "json"  # outputs small enough to load and compare by value
KINDS = ("param", "code", "data", "output")  # the order a diff lists its changes in
RUNS_SEARCHED = 20  # how far back `artifact list` looks for steps the newest run did not record


@contextmanager
def _reading(args: ProjectArgs) -> Iterator["Project"]:
    """The read API on the command's project, its errors as diagnostics."""
    from zplan.api import ZplanAPIError, open

    try:
        yield open(args.root, args.stack)
    except ZplanAPIError as exc:
        raise diags.fail(exc.summary, exc.hint) from None


# -- artifact list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArtifactRow:
    """One step output of one execution."""

    address: str  # pipeline.P.step.S
    output: str
    digest: str
    size: int
    materializer: str
    uri: str
    run: int | None


def list_artifacts(args: ProjectArgs, address: str | None = None, run: int | None = None) -> list[ArtifactRow]:
    """The outputs of the newest execution of each step (of run ``run`` only when given), of one step when ``address``."""
    step = _step_of(address) if address else None
    with _reading(args) as project:
        executions = _executions(project, run, step)
        rows = [ArtifactRow(e.address, name, a.record.digest, a.record.size, a.record.materializer, a.uri, e.run)
                for e in executions.values() if step is None or addrs.matches(e.address, step) for name, a in sorted(e.outputs.items())]
        if step and not rows:
            project.artifact(step, run=run)  # raises UnknownAddress (undeclared step) or RunNotFound
            raise diags.fail(f"no recorded artifact of {step}" + (f" in run {run}" if run else ""), "run `zplan apply` first")
    return sorted(rows, key=lambda r: (r.address, r.output))


def _executions(project: "Project", run: int | None, step: str | None = None) -> dict[str, "ExecutionView"]:
    """Step address -> its newest execution that recorded outputs, in run ``run`` or across recent runs; a
    step (``step``, or each declared) those runs did not execute, by its own newest execution, however old."""
    numbers = [run] if run is not None else [r.number for r in project.runs(RUNS_SEARCHED)]
    found: dict[str, ExecutionView] = {}
    for number in numbers:
        for execution in reversed(project.run(number).executions):
            if execution.outputs and execution.address not in found:
                found[execution.address] = execution
    if run is None:  # (the runs read are the newest only: a pipeline not applied since is in none of them)
        wanted = [step] if step else _declared_steps(project)
        found.update({a: e for a in wanted if a not in found and (e := project._newest_execution(a)) is not None})
    return found


def _declared_steps(project: "Project") -> list[str]:
    """Every step of the configuration; none when its graph cannot be made (what was recorded is still listed)."""
    from zplan.api import ZplanAPIError

    try:
        return [n.address for n in project.graph().nodes if n.kind == "step"]
    except ZplanAPIError:
        return []


def _step_of(address: str) -> str:
    try:
        return str(addrs.parse_output(address).step)
    except ValueError as exc:
        raise diags.fail(str(exc), "give pipeline.P.step.S") from None


# -- artifact export -------------------------------------------------------------------------------


def export_artifact(args: ProjectArgs, address: str, dest: Path, run: int | None = None, force: bool = False) -> list[Path]:
    """Copy the files of ``address`` (``pipeline.P.step.S[.outputs.NAME]``) into ``dest``, verified against
    the artifact's digest first. Existing files are refused (nothing copied) unless ``force``."""
    try:
        wanted = addrs.parse_output(address)
    except ValueError as exc:
        raise diags.fail(str(exc), "give pipeline.P.step.S or pipeline.P.step.S.outputs.NAME") from None
    with _reading(args) as project:
        folder = Path(project.artifact(str(wanted.step), wanted.output, run).path())
    files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    if dest.exists() and not dest.is_dir():
        raise diags.fail(f"{dest} is not a folder", "give a folder to export into")
    _check_places(dest, files)
    clashes = [dest / f for f in files if (dest / f).exists()]
    if clashes and not force:
        raise diags.fail(f"{clashes[0]} already exists" + (f" (and {len(clashes) - 1} more)" if len(clashes) > 1 else ""),
                         "choose an empty folder, or pass -force to overwrite")
    return _copy_all([(folder / f, dest / f) for f in files])


def _check_places(dest: Path, files: list[Path]) -> None:
    """Each file goes where no folder is, and under folders only (not under a file of the user's)."""
    for f in files:
        above = next(p for p in (dest / f).parents if p.exists() or p == p.parent)  # the nearest that is there
        if not above.is_dir():
            raise diags.fail(f"{above} is not a folder, and {dest / f} would go under it", "give a folder to export into")
        if (dest / f).is_dir():
            raise diags.fail(f"{dest / f} is a folder, where the artifact has a file",
                             "-force overwrites files only: choose another folder, or move that one away")


def _copy_all(pairs: list[tuple[Path, Path]]) -> list[Path]:
    """Every file written beside its target first, then renamed into place: an export cut short
    (a full disk, a kill while it copies) leaves no half-written file; one that fails removes its copies."""
    partials = [target.with_name(f".{target.name}.partial") for _, target in pairs]
    try:
        for (source, target), partial in zip(pairs, partials):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, partial)
        for (_, target), partial in zip(pairs, partials):
            os.replace(partial, target)
    except OSError as exc:
        for partial in partials:
            partial.unlink(missing_ok=True)
        raise diags.fail(f"cannot export into {exc.filename or pairs[0][1].parent}: {exc.strerror or exc}",
                         "free space or give a folder you can write to, then export again") from None
    return [target for _, target in pairs]


# -- runs diff -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One thing that differs between two runs. ``before``/``after`` are None where a run lacks it."""

    kind: str  # "param" | "code" | "data" | "output"
    address: str  # the step
    name: str  # param name, data path, output name ("" for code)
    before: Any
    after: Any
    delta: float | None = None  # after - before, for numbers
    digests: bool = False  # before/after are content digests or fingerprints, not values


@dataclass(frozen=True)
class RunsDiff:
    run_a: int
    run_b: int
    changes: list[Change]


def diff_runs(args: ProjectArgs, run_a: int | None = None, run_b: int | None = None) -> RunsDiff:
    """What differs from run ``run_a`` to run ``run_b``; the last two runs when neither is given."""
    if (run_a is None) != (run_b is None):
        raise diags.fail("`runs diff` takes two run numbers, or none", "e.g. `zplan runs diff 1 2`, or `zplan runs diff` for the last two")
    with _reading(args) as project:
        if run_a is None:
            newest = project.runs(2)
            if len(newest) < 2:
                raise diags.fail("there are fewer than two runs to compare", "run `zplan apply` again, then `zplan runs diff`")
            run_a, run_b = newest[1].number, newest[0].number
        before, after = _facts(project, run_a), _facts(project, run_b)
        keys = sorted(before.keys() | after.keys(), key=lambda k: (KINDS.index(k[0]), k[1], k[2]))
        changes = [c for key in keys for c in _compare(project, key, before.get(key), after.get(key), run_a, run_b)]
    return RunsDiff(run_a, run_b, changes)


def _facts(project: "Project", run: int) -> dict[tuple[str, str, str], Any]:
    """(kind, step, name) -> what run ``run`` recorded: params, code fingerprints, data snapshots, output digests."""
    facts: dict[tuple[str, str, str], Any] = {}
    for address, e in _last_executions(project, run).items():
        facts[("code", address, "")] = e.code_hash
        facts.update({("param", address, k): v for k, v in e.recorded_params.items()})
        facts.update({("data", address, a.record.source_path or name): a.record.digest
                      for name, a in _inputs(project, e, run).items() if a.record.kind == "snapshot"})
        facts.update({("output", address, name): a.record for name, a in e.outputs.items()})
    return facts


def _last_executions(project: "Project", run: int) -> dict[str, "ExecutionView"]:
    """Step address -> its last execution in run ``run``, a failed one too: what a step that failed
    was given (params, code, data) is what a diff to a failed run is read for."""
    return {e.address: e for e in project.run(run).executions}


def _inputs(project: "Project", execution: "ExecutionView", run: int) -> dict:
    """The execution's inputs; for a cached one (which records none), those of the execution it reused."""
    if execution.state != "cached" or execution.inputs or not execution.outputs:
        return execution.inputs
    node = project.artifact(execution.address, next(iter(execution.outputs)), run).lineage()
    return {name: child.artifact for name, child in node.inputs.items()}


def _compare(project: "Project", key: tuple[str, str, str], before: Any, after: Any, run_a: int, run_b: int) -> list[Change]:
    kind, address, name = key
    if kind == "param":  # compared as recorded (a new secret changes its digest), shown without digests
        return [] if before == after else [Change(kind, address, name, hide_digests(before), hide_digests(after), _delta(before, after))]
    if kind != "output":
        return [] if before == after else [Change(kind, address, name, before, after, _delta(before, after), True)]
    if before is not None and after is not None and before.digest == after.digest:
        return []
    old = _value(project, address, name, before, run_a)
    new = _value(project, address, name, after, run_b)
    metric = METRIC_MATERIALIZER in {r.materializer for r in (before, after) if r is not None}
    return [Change(kind, address, name, old, new, _delta(old, new), not metric)]


def _value(project: "Project", address: str, output: str, record, run: int) -> Any:
    """A metric's value (loaded, verified; "(sensitive)" from a step given a secret), else the
    artifact's digest; None when the run has no such output."""
    if record is None:
        return None
    if record.materializer == METRIC_MATERIALIZER:
        artifact = project.artifact(address, output, run)
        if artifact.sensitive:
            return SENSITIVE
        value = artifact.load()
        return SENSITIVE if project.holds_secret(value) else value  # a step not given the secret wrote it all the same
    return record.digest


def _delta(before: Any, after: Any) -> float | None:
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (before, after))
    return after - before if numbers else None
