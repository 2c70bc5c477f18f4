"""What an apply planned for a step it hands to another machine (a Kubeflow / Vertex task),
so the task, re-planning the step from its own image and environment, runs exactly that.

The apply passes the non-sensitive variable values it planned with (``planned_variables``)
and, per step, a digest of each part of the step's fingerprint known before anything runs
(``planned_parts``): code, libraries, params, data inputs, python. Upstream outputs are
left out: a step downstream of a rerun has no cache key until its upstreams ran. The task
compares its own plan's parts and refuses to run on any difference (``check``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from zplan import diags
from zplan.config.values import contains_unknown
from zplan.hashing import hash_value
from zplan.plan import model as m
from zplan.plan.code_hash import CodeError, CodeIndex
from zplan.plan.libraries import LibraryIndex
from zplan.secrets import digest_record

# part -> what to do when the task's differs from the apply's
_FIXES = {
    "code": "the container image is out of date: rebuild it with `zplan build-image` (and push it), then apply again",
    "libraries": "the image's library versions differ from this machine's: rebuild the image from the same lock file",
    "params": "a variable has another value in the task: set each sensitive variable in the task's environment "
              "({env}, e.g. from a Kubernetes secret) to the value the apply used; a params file the image holds "
              "may differ too (rebuild it with `zplan build-image`)",
    "inputs": "the image holds other data files than the apply planned with: rebuild it with `zplan build-image`",
    "python": "the image's Python differs from the applying machine's: build the image on the same Python minor version",
}


def planned_parts(step: m.StepPlan, secrets: list[str], env: Mapping[str, str]) -> dict[str, str]:
    """Part -> short digest of what the plan holds for ``step``, sensitive params only as their
    slow digests (as cache keys hold them); params known only after apply are left out."""
    data = {name: [item.path, item.digest, item.file_name]
            for name, spec in step.inputs.items()
            for item in (spec.items if isinstance(spec, m.ListInput) else (spec,)) if isinstance(item, m.DataInput)}
    parts = {
        "code": step.code_hash,
        "libraries": step.libraries,
        "inputs": data,
        "python": env.get("python", ""),
    }
    if not contains_unknown(step.params):
        parts["params"] = digest_record(step.params, secrets)
    return {name: value if name == "python" else hash_value(value)[:16] for name, value in parts.items()}


# What a training backend's job must match: it is given the params and input digests themselves
# (in its task), but runs the code and libraries of its image on the image's Python.
JOB_PARTS = ("code", "libraries", "python")


def job_parts(project_dir: Path, source_file: str, function: str, env: Mapping[str, str]) -> dict[str, str]:
    """``planned_parts``' code, libraries and python for the step function as this machine has it."""
    try:
        info = CodeIndex(project_dir).info(source_file, function)
    except CodeError as exc:
        raise diags.fail(exc.summary, exc.detail) from None
    libraries = LibraryIndex(exclude=[str(project_dir)]).versions(info.modules)
    return {"code": hash_value(info.hash)[:16], "libraries": hash_value(libraries)[:16], "python": env.get("python", "")}


def planned_variables(variables: Mapping[str, Any], sensitive: set[str], secrets: list[str] = ()) -> str:
    """The variable values a task plans with, as JSON: every one but the sensitive ones and those
    holding a secret (``sensitive(var.token)``: secrets are known by value), which the task reads
    from its own environment (a pipeline spec is stored and shown by KFP)."""
    from zplan.secrets import holds_secret

    shown = {k: v for k, v in variables.items() if k not in sensitive and not holds_secret(v, secrets)}
    return json.dumps(shown, sort_keys=True, separators=(",", ":"))


def read_json_object(text: str, option: str) -> dict[str, Any]:
    """The JSON object an apply passed as ``option``, or a clear error."""
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if not isinstance(value, dict):
        raise diags.fail(f"{option} must be a JSON object", "the task's arguments are written by zplan apply: compile the pipeline again")
    return value


def check(address: str, planned: Mapping[str, Any], now: dict[str, str], sensitive: list[str] = ()) -> None:
    """Refuse to run ``address`` when the task's plan differs from the apply's in any part
    (``sensitive``: the sensitive variables' names, for the hint)."""
    differing = [name for name in _FIXES if name in planned and planned[name] != now.get(name)]
    if not differing:
        return
    env = " ".join(f"ZPLAN_VAR_{n}" for n in sensitive) or "ZPLAN_VAR_NAME"
    fixes = {**_FIXES, "params": _FIXES["params"].format(env=env),
             "python": f"{planned.get('python')} planned, {now.get('python')} here: {_FIXES['python']}"}
    detail = "; ".join(f"{name}: {fixes[name]}" for name in differing)
    raise diags.fail(f"{address} differs from what the apply planned ({', '.join(differing)}): not run", detail)
