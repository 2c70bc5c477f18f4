"""Planning a script step (``command = [...]``, see ``zplan.config.scripts``).

What its cache key holds: the command line as evaluated, each dep's content
(stat-cached like data inputs), each params-file key it lists (one param each,
so editing ``train.n_est`` reruns only the steps listing it), its inputs, and —
for ``python FILE`` — the code of FILE and the project modules it imports, read
like a step function's (a comment edit reruns nothing). FILE is then keyed by
its code rather than its bytes, even when it is listed in ``deps`` too.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from zplan import diags
from zplan.config.model import Config, StepConfig
from zplan.config.scope import Scope
from zplan.config.values import UNKNOWN, Template, find_symbolic
from zplan.hashing import hash_value
from zplan.plan import model as m
from zplan.plan.code_hash import SCRIPT, CodeError, CodeInfo

COMMAND_PARAM = ":command"  # the command line's key among the params (reads "command: ... -> ...")
PYTHONS = ("python", "python3")
_SHELL_SYNTAX = re.compile(r"[|&;<>()$`*?~\n]")  # a string command using any of these runs in `sh -c`
INPUTS_FOLDER = "inputs"  # where inputs that are not a script's out are placed: inputs/NAME


def script_parts(planner, step: StepConfig, scope: Scope) -> tuple[CodeInfo, dict[str, Any], dict[str, m.StepInput]]:
    """The code, params and inputs of a script step, as ``StepPlanner.plan`` needs them."""
    inputs = planner._inputs(step, scope)
    argv = command_line(step, scope, placements(scope.config, inputs))
    script = python_file(argv, planner.project_dir)
    try:
        info = planner.code.info(script, SCRIPT) if script else CodeInfo(hash_value([]), None)
    except CodeError as exc:
        if not (planner.project_dir / script).is_file():  # (else the message would point at a `source` it has not)
            raise diags.fail(f'step "{step.name}": its command runs {script}, which does not exist',
                             "check the path in command (relative to the project folder)", step.source_range) from None
        raise diags.fail(exc.summary, exc.detail, step.source_range) from None
    for dep in step.script.deps:
        if dep != script and dep not in inputs:
            inputs[dep] = _dep(planner, step, dep)
    params = {COMMAND_PARAM: argv, **param_values(planner.project_dir, step)}
    return info, params, inputs


def placements(config: Config, inputs: dict[str, m.StepInput]) -> dict[str, str]:
    """Input name -> the relative path it is placed at in the step's scratch folder: an upstream
    script's out keeps its own path, a data input its project path, anything else inputs/NAME."""
    placed = {}
    for name, spec in inputs.items():
        if isinstance(spec, m.DataInput):
            placed[name] = spec.path
        elif isinstance(spec, m.StepOutputInput) and _is_script_out(config, spec):
            placed[name] = spec.output
        else:
            placed[name] = f"{INPUTS_FOLDER}/{name}"
    return placed


def _is_script_out(config: Config, spec: m.StepOutputInput) -> bool:
    upstream = config.step(spec.step)
    return upstream is not None and upstream.script is not None and spec.output in upstream.script.outputs


def command_line(step: StepConfig, scope: Scope, placed: dict[str, str]) -> list[str] | Any:
    """The evaluated command as a list of arguments (UNKNOWN while a value is known only after apply)."""
    expr = step.script.command
    value, sensitive = scope.eval_command_marked(expr, step.pipeline, placed, step.where)
    if sensitive:  # an argument computed from a secret (upper(var.token)) is one too
        scope.keep_secret(expr, value, lambda part: scope.eval_command_marked(part, step.pipeline, placed, step.where))
    symbolic = find_symbolic(value)
    if symbolic is not None:
        ref = find_symbolic(symbolic.parts) if isinstance(symbolic, Template) else symbolic  # "... ${step.a.outs[...]} ..."
        named = str(ref) if ref.output.isidentifier() else f'step.{ref.step}.outs["{ref.output}"]'
        raise diags.fail(
            f'step "{step.name}": the command cannot name a step output directly',
            f"pass it as an input (inputs = {{ x = {named} }}) and write input.x in the command",
            expr.range,
        )
    if value is UNKNOWN:
        return UNKNOWN
    if isinstance(value, str):  # as DVC runs a cmd: through the shell when it uses the shell's syntax
        if _SHELL_SYNTAX.search(value):
            return ["sh", "-c", value]
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise diags.fail(f'step "{step.name}": cannot split the command into arguments: {exc}', "close the quote, or write the command as a list", expr.range) from None
    if isinstance(value, list) and value and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) or v is UNKNOWN for v in value):
        return [v if isinstance(v, str) or v is UNKNOWN else str(v) for v in value]
    raise diags.fail(f'step "{step.name}": command must be a string or a non-empty list of strings', f"got {value!r}", expr.range)


_PYTHON_FLAGS = {"-u", "-O", "-OO", "-B", "-E", "-s", "-S", "-I", "-b", "-bb", "-d", "-q", "-v", "-P", "-R"}
_PYTHON_FLAGS_WITH_VALUE = {"-X", "-W"}


def python_file(argv: Any, project_dir: Path | None = None) -> str | None:
    """FILE of ``python FILE ...`` or ``python -m MODULE ...`` (a project module's file), keyed by its
    code, else None; interpreter flags (``-u``, ``-X dev``) are passed over; a shell command counts
    when it starts so."""
    if isinstance(argv, list) and argv[:2] == ["sh", "-c"] and len(argv) == 3:
        try:
            argv = shlex.split(_SHELL_SYNTAX.split(argv[2], 1)[0])
        except ValueError:
            return None
    if not isinstance(argv, list) or not argv or argv[0] not in PYTHONS or not all(isinstance(a, str) for a in argv):
        return None
    words = argv[1:]
    while words and (words[0] in _PYTHON_FLAGS or words[0] in _PYTHON_FLAGS_WITH_VALUE):
        words = words[2:] if words[0] in _PYTHON_FLAGS_WITH_VALUE else words[1:]
    if len(words) >= 2 and words[0] == "-m" and project_dir is not None:
        return _module_file(project_dir, words[1])
    return words[0] if words and words[0].endswith(".py") else None


def _module_file(project_dir: Path, module: str) -> str | None:
    """The project file ``python -m MODULE`` runs: MODULE.py, or a package's __main__.py."""
    rel = module.replace(".", "/")
    for candidate in (f"{rel}.py", f"{rel}/__main__.py"):
        if (Path(project_dir) / candidate).is_file():
            return candidate
    return None


def param_values(project_dir, step: StepConfig) -> dict[str, Any]:
    """``{"params.yaml:train.n_est": 50}`` for each key the step lists."""
    from zplan.config import params_files

    values = {}
    for spec in step.script.param_keys:
        file, key = params_files.split_key(spec)
        try:
            document = params_files.read(os.path.join(project_dir, file))
            values[f"{file}:{key}"] = params_files.lookup(document, key, file)
        except params_files.ParamsFileError as exc:
            raise diags.fail(f'step "{step.name}": {exc.summary}', exc.detail, step.range) from None
    return values


def _dep(planner, step: StepConfig, rel: str) -> m.DataInput:
    path = os.path.normpath(os.path.join(planner.project_dir, rel))
    try:
        st = os.stat(path)
    except OSError:  # as os.path.exists: missing, or not reachable
        raise diags.fail(f'step "{step.name}": dep {rel} does not exist', "deps are files or folders of the project (relative to its folder)", step.range) from None
    return m.DataInput(rel, planner.data_digest(step, "dep", rel, path, st, lambda: step.range))
