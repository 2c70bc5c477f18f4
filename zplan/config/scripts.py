"""Script steps: a command that reads and writes files, as a DVC stage runs one.

    step "train" {
      command = ["python", "src/train.py", input.features, "model.pkl"]   # or one string
      inputs  = { features = step.featurize.outs["data/features"] }
      deps    = ["src/train.py"]            # project files or folders the command reads
      params  = ["train.n_est"]             # keys of params.yaml ("file.json:key" for another file)
      outs    = ["model.pkl"]               # files or folders it writes: one artifact each
      metrics = ["eval/metrics.json"]       # outputs too, recorded in ML Metadata per run
    }

``input.NAME`` in the command is the relative path where input NAME is placed
(an upstream out keeps its own path). The command runs in a scratch folder
holding the deps and inputs at their relative paths; what it writes at each out
path becomes that output, named by its path (``step.train.outs["model.pkl"]``).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable

from zplan import diags
from zplan.config import calls
from zplan.config.model import Pipeline, StepConfig

if TYPE_CHECKING:
    from zplan.config import hcl
    from zplan.config.expr import Expr

SCRIPT_ATTRIBUTES = {"command", "inputs", "deps", "params", "outs", "metrics", "depends_on", "description", "timeout", "cache", "count", "for_each"}
LISTS = ("deps", "outs", "metrics", "params")


@dataclass
class ScriptConfig:
    command: "Expr"  # a list of arguments or one string (split like a shell would, without running one)
    deps: list[str] = field(default_factory=list)
    outs: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    param_keys: list[str] = field(default_factory=list)  # "train.n_est" or "params.json:train.n_est"
    # a fanned-out step's lists as written (they may read each.* / count.index): evaluated per instance
    pending: dict[str, "Expr"] = field(default_factory=dict)

    @property
    def outputs(self) -> list[str]:
        return [*self.outs, *self.metrics]


def script_step(pipeline: Pipeline, name: str, block: "hcl.Block", found: diags.Collector, duration) -> StepConfig | None:
    """The StepConfig of a ``step`` block that has a ``command``; None when it is wrong (reported)."""
    from zplan.config.loader import _check_attributes, _static

    from zplan.config import calls

    where = f'in step "{name}"'
    _check_attributes(block, SCRIPT_ATTRIBUTES, found, where)
    attrs = block.attributes
    repeat = calls.repeat(block, found)
    if repeat is not None:  # each instance's lists are known once its each.* is: see instance_script
        script = ScriptConfig(attrs["command"].expr, pending={k: attrs[k].expr for k in LISTS if k in attrs})
        return _step_config(pipeline, name, block, found, duration, script, repeat)
    lists = {}
    for key in LISTS:
        lists[key] = _paths(attrs.get(key), _static(attrs.get(key), found, []), key, name, found)
    if lists["params"] is None:
        return None
    outputs = [*(lists["outs"] or []), *(lists["metrics"] or [])]
    if len(set(outputs)) != len(outputs):
        found.error(f'step "{name}": an out is listed twice', "list each path once, in outs or in metrics", block.range)
        return None
    if None in lists.values():
        return None
    if not _outs_apart_from_deps(lists, name, attrs.get("outs", block), found):
        return None
    for other in pipeline.steps.values():  # two steps checking out the same path would overwrite each other
        shared = sorted(set(outputs) & set(other.script.outputs if other.script else ()))
        if shared:
            found.error(f'steps "{other.name}" and "{name}" both write {shared[0]}', "give each out its own path", attrs.get("outs", block).range)
            return None
    script = ScriptConfig(attrs["command"].expr, lists["deps"], lists["outs"], lists["metrics"], lists["params"])
    return _step_config(pipeline, name, block, found, duration, script, None)


def _step_config(pipeline: Pipeline, name: str, block: "hcl.Block", found: diags.Collector, duration, script: ScriptConfig, repeat) -> StepConfig:
    from zplan.config.loader import _cache

    attrs = block.attributes
    return StepConfig(
        pipeline=pipeline.name,
        name=name,
        source="",
        source_range=attrs["command"].range,
        range=block.range,
        inputs=attrs["inputs"].expr if "inputs" in attrs else None,
        outputs=script.outputs,
        depends_on=calls.depends_on(block, found),
        timeout=duration(attrs.get("timeout"), found, f'step "{name}"'),
        cache=_cache(attrs.get("cache"), found, name),  # false: DVC's always_changed
        script=script,
        repeat=repeat,
    )


def instance_script(step: StepConfig, evaluate) -> StepConfig:
    """One instance of a fanned-out script step, its lists evaluated with ``evaluate`` (each.* bound)."""
    import dataclasses

    found = diags.Collector()
    lists = {key: _paths(expr, evaluate(expr), key, step.name, found) if key in step.script.pending else []
             for key, expr in ((k, step.script.pending.get(k)) for k in LISTS)}
    if None not in lists.values():
        _outs_apart_from_deps(lists, step.name, step.script.pending.get("outs") or step, found)
    found.raise_if_errors()
    script = ScriptConfig(step.script.command, lists["deps"], lists["outs"], lists["metrics"], lists["params"])
    return dataclasses.replace(step, script=script, outputs=script.outputs)


def _paths(attr, value, key: str, step: str, found: diags.Collector) -> list[str] | None:
    """A list of relative paths (or param keys); None when it is not one (reported). ``attr``: the
    attribute or expression it was written as (for its range)."""
    if attr is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        found.error(f'step "{step}": {key} must be a list of strings', f'e.g. {key} = ["{_EXAMPLES[key]}"]', attr.range)
        return None
    for v in value:
        if key != "params" and (v.startswith("/") or ".." in v.split("/") or "\0" in v):
            found.error(f'step "{step}": {key} entry "{v}" must be a path inside the project', "write it relative to the project folder", attr.range)
            return None
        if key in ("outs", "metrics") and _replaces_project_or_state(v):
            found.error(f'step "{step}": {key} entry "{v}" cannot be the project folder, a configuration file or inside {STATE_DIR}',
                        "apply copies each out into the project, replacing what is at its path: name the file or "
                        f'folder the command writes, e.g. {key} = ["{_EXAMPLES[key]}"]', attr.range)
            return None
    return [v.rstrip("/") if key != "params" else v for v in value]


STATE_DIR = ".zplan"  # zplan's own folder in the project (zplan.project.STATE_DIR)


def _replaces_project_or_state(path: str) -> bool:
    """Whether checking this out would replace the whole project, one of its configuration files
    (*.zp.hcl, the variables files, the lock file) or write into zplan's state."""
    normal = posixpath.normpath(path)
    return normal == "." or normal.split("/")[0] == STATE_DIR or _CONFIG_FILE.fullmatch(normal) is not None


_CONFIG_FILE = re.compile(r"[^/]*\.zp\.hcl|zplan\.zpvars|[^/]*\.auto\.zpvars|\.zplan\.lock\.hcl")


def _outs_apart_from_deps(lists: dict, step: str, where, found: diags.Collector) -> bool:
    """An out that is also a dep is refused, as DVC refuses it (a circular dependency): the step
    would read what it writes, so its key would change with every run of its own."""
    both = sorted(set(lists["deps"]) & {*lists["outs"], *lists["metrics"]})
    if both:
        found.error(f'step "{step}": "{both[0]}" is both a dep and an out', "a step cannot read what it writes: "
                    "write the result to another path", where.range)
    return not both


_EXAMPLES = {"deps": "src/train.py", "outs": "model.pkl", "metrics": "eval/metrics.json", "params": "train.n_est"}



def check_outs_apart(steps: Iterable[StepConfig]) -> None:
    """Every out of every step instance (for_each, modules and other pipelines included) has a
    path of its own, as DVC refuses overlapping outs: two steps writing one path, or one inside
    the other's folder, would overwrite each other at every checkout. An error at the later step."""
    owners: dict[str, StepConfig] = {}  # out path -> the step writing it
    holding: dict[str, StepConfig] = {}  # each folder above an out -> the step writing inside it
    found = diags.Collector()
    for step in steps:
        if step.script is None:
            continue
        for path in map(posixpath.normpath, step.script.outputs):
            clash = _clash(path, owners, holding)
            if clash is not None and clash[0] is not step:
                other, where = clash
                found.error(f"{other.address} and {step.address} both write {where}",
                            "apply copies each out into the project folder, where one would overwrite the other: "
                            "give each out a path of its own", step.range)
                continue
            owners.setdefault(path, step)
            for folder in _folders_above(path):
                holding.setdefault(folder, step)
    found.raise_if_errors()


def _clash(path: str, owners: dict[str, StepConfig], holding: dict[str, StepConfig]) -> tuple[StepConfig, str] | None:
    """The step already writing ``path``, a folder holding it or something inside it, and what they share."""
    if path in owners:
        return owners[path], path
    for folder in _folders_above(path):
        if folder in owners:
            return owners[folder], f"inside {folder}"
    return (holding[path], f"inside {path}") if path in holding else None


def _folders_above(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]
