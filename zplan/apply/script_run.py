"""Running a script step's command inside a worker (see ``zplan.config.scripts``).

The command runs in a scratch folder holding each dep and input at its relative
path (copies: a command writing into what it reads cannot damage a stored
artifact), with the worker's own Python for ``python``. Its output goes to the
step's log (the worker's stdout/stderr already point there). Each out it wrote
becomes a ``Path`` output, stored by the path materializer; a metrics file's
parsed values are also kept with its record, for ``zplan output`` and lineage.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PYTHONS = ("python", "python3")
METRICS_VALUE_BYTES = 4096  # metrics files up to this size keep their parsed values in state


@dataclass(frozen=True)
class ScriptTask:
    argv: list[str]
    placed: dict[str, str]  # input name -> relative path in the scratch folder
    outs: list[str]
    metrics: list[str] = field(default_factory=list)
    copies: list[str] = field(default_factory=list)  # keyed otherwise (code, params files): copied from the project as they are
    params: dict[str, Any] = field(default_factory=dict)  # "params.yaml:train.n_est" -> the value the plan keyed


class CommandFailed(Exception):
    """The command exited non-zero, was killed, or did not write a declared out."""


def run_script(task: ScriptTask, inputs: dict[str, Any], scratch: Path) -> dict[str, Path]:
    work = scratch / "work"
    work.mkdir()
    for rel in task.copies:  # the worker runs in the project folder
        _place(Path(rel), work / rel)
    _check_params(task.params, work)
    for name, value in inputs.items():
        _place(value, work / task.placed[name])
    for out in task.outs + task.metrics:  # a command may expect the folder of its out to exist
        (work / out).parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable if i == 0 and arg in PYTHONS else arg for i, arg in enumerate(task.argv)]
    sys.stdout.flush()
    sys.stderr.flush()
    env = {**os.environ, "PATH": os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])}  # `python` in a shell: this one
    try:
        code = subprocess.run(argv, cwd=work, stdin=subprocess.DEVNULL, env=env).returncode
    except OSError as exc:
        raise CommandFailed(f"cannot run {task.argv[0]!r}: {exc.strerror or exc}") from None
    if code < 0:
        raise CommandFailed(f"the command was killed by {signal.Signals(-code).name}")
    if code != 0:
        raise CommandFailed(f"the command exited with code {code}")
    missing = [out for out in task.outs + task.metrics if not (work / out).exists()]
    if missing:
        raise CommandFailed(f"the command did not write {', '.join(missing)} (declared in outs/metrics)")
    return {out: work / out for out in task.outs + task.metrics}


def _check_params(planned: dict[str, Any], work: Path) -> None:
    """The params files the command reads still hold the values its cache key was made with."""
    from zplan.config import params_files

    for spec, value in planned.items():
        file, _, key = spec.partition(":")
        try:
            now = params_files.lookup(params_files.read(work / file), key, file)
        except params_files.ParamsFileError as exc:
            raise CommandFailed(f"{exc.summary} (since the plan was made)") from None
        if now != value:
            raise CommandFailed(f"{file} changed since the plan was made: {key} was {value!r}, is {now!r}; plan again")


def _place(value: Any, dest: Path) -> None:
    """An input at its path: a file or folder copied, any other value written as JSON (bytes as is)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(value, Path) and value.is_dir():
        shutil.copytree(value, dest, dirs_exist_ok=True)
    elif isinstance(value, Path):
        shutil.copyfile(value, dest)
    elif isinstance(value, bytes):
        dest.write_bytes(value)
    else:
        dest.write_text(json.dumps(value, default=str))


def metrics_value(path: Path) -> Any:
    """A small JSON, YAML or TOML metrics file's values, read as `dvc metrics show` reads them (YAML 1.2, as
    params files are: ``1e-5`` a number, ``yes`` text), else None."""
    from zplan.config import params_files

    try:
        if path.stat().st_size > METRICS_VALUE_BYTES or not path.is_file() or not params_files.is_params_file(path):
            return None
        return params_files.read(path)
    except (OSError, params_files.ParamsFileError):  # unreadable metrics are still stored as a file; only the value is missing
        return None


def script_function(script, ctx):
    """A script step as a function of its inputs (by name): runs the command in the step's
    scratch folder, returns its outs by path."""
    from zplan.apply.step_failures import StepExited

    def call(**inputs):
        try:
            return run_script(script, inputs, ctx.scratch_dir)
        except CommandFailed as exc:
            raise StepExited(str(exc), None) from None

    return call


def keep_metrics(script, outputs: dict[str, Any], records: dict[str, dict]) -> None:
    """A metrics file's values kept with its record (for `zplan output` and ML Metadata)."""
    for name in script.metrics:
        value = metrics_value(outputs[name])
        if value is not None:
            records[name]["value"] = value
