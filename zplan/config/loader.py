"""HCL files -> the typed ``Config`` model, checking block and attribute names.

Each block kind has a small schema here (which attributes, which nested
blocks); anything else is a user mistake reported with its file and line.
Resource attributes are checked later against the provider's schema.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from zplan import diags, pickled
from zplan.durations import parse_seconds
from zplan.config import calls, hcl, types, variable_checks
from zplan.config.lifecycle import read_lifecycle
from zplan.config.step_backend import step_backend
from zplan.config.model import (
    Config,
    Local,
    Output,
    Pipeline,
    ProviderConfig,
    ResourceConfig,
    Stack,
    StepConfig,
    Variable,
)
from zplan.steps import repeated

CONFIG_GLOB = "*.zp.hcl"
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
REPEAT = calls.REPEAT
STEP_ATTRIBUTES = frozenset({"source", "tfx", "inputs", "params", "outputs", "depends_on", "description", "timeout", "resources", "cache", "backend", *REPEAT})

# Stack components and settings a stack block may name (flavors validate their own values).
STACK_ATTRIBUTES = {
    "orchestrator",
    "artifact_store",
    "metadata_store",
    "processing",
    "step_operator",
    "model_deployer",
    "container_image",
    "description",
    "orchestrator_options",
    "artifact_store_options",
    "metadata_store_options",
    "beam_options",
    "metadata_password",
    "step_timeout",
    "backend_options",
}


def config_files(project_dir: Path) -> list[Path]:
    return sorted(project_dir.glob(CONFIG_GLOB))


PARSE_CACHE_VERSION = 7  # bump when parsed trees change shape or meaning (5: CRLF heredocs read as LF, 6: strip markers by line, 7: nodes pickled as tuples)


def _parse(path: Path, cache_dir: Path | None) -> hcl.Block:
    """Parse a file, reusing the parsed tree saved for identical bytes.

    Parsing a thousand-step file costs a few hundred milliseconds; loading its
    saved tree a fraction of that, which keeps a no-change plan instant. The
    cache lives in the project's own .zplan folder, next to the code it runs.
    """
    if cache_dir is None:
        return hcl.parse_file(path)
    import pickle

    from zplan.fsutil import atomic_write_bytes
    from zplan.hashing import hash_bytes

    try:
        data = path.read_bytes()
    except OSError:
        return hcl.parse_file(path)  # reports the error
    cached = cache_dir / f"{hash_bytes(data + str(path).encode())}.v{PARSE_CACHE_VERSION}.pickle"
    import gc

    collecting = gc.isenabled()
    gc.disable()  # unpickling thousands of small objects: the collector would only slow it down
    try:
        body = pickle.loads(cached.read_bytes())
        if _declares_a_secret(body):  # (saved by an older zplan)
            cached.unlink()
            return body
        if pickled.FREEZE_LOADED_TREES:
            # The tree lives as long as the command: move it (with everything alive now) out of
            # the cycle collector's reach, whose next collections would rescan its objects
            # (28,000 tracked ones for 1,000 steps); they are still freed by reference counting.
            gc.freeze()
        return body
    except Exception:  # missing or unreadable: parse again
        pass
    finally:
        if collecting:
            gc.enable()
    body = hcl.parse_file(path)
    if _declares_a_secret(body):
        return body
    try:
        atomic_write_bytes(cached, pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL), durable=False)
    except (OSError, pickle.PicklingError, RecursionError, AttributeError):  # (AttributeError: a node with a field unset)
        pass
    return body


def _declares_a_secret(body: hcl.Block) -> bool:
    """Whether a file gives a sensitive variable a default: its parsed tree is then not saved, which
    would hold the secret in clear in ``.zplan`` (state, plans and logs never do). Any ``sensitive``
    attribute counts, whatever its value: a file not saved is only parsed again."""
    return any(b.type == "variable" and "sensitive" in b.attributes and "default" in b.attributes for b in body.blocks)


def load(project_dir: Path, files: list[Path] | None = None, cache_root: Path | None = None) -> Config:
    """Parse every ``*.zp.hcl`` file of a project (or of a module folder, whose parsed trees
    are cached in the calling project's ``cache_root``) into one ``Config``."""
    project_dir = project_dir.resolve()
    files = config_files(project_dir) if files is None else files
    if not files:
        raise diags.fail(
            f"no {CONFIG_GLOB} files in {project_dir.name or project_dir}",
            "run `zplan init` to create an example, or change to the folder that holds your configuration",
        )
    config = Config(project_dir=project_dir, files=files)
    found = diags.Collector()
    state_dir = cache_root or project_dir / ".zplan"
    cache_dir = state_dir / "cache" / "hcl" if state_dir.is_dir() else None
    for path in files:
        body = _parse(path, cache_dir)
        _check_attributes(body, set(), found, where="at the top level", blocks=None)
        for block in body.blocks:
            handler = _TOP_LEVEL.get(block.type)
            if handler is None:
                label = block.labels[0] if block.labels else "NAME"  # (the README shows steps on their own)
                found.error(
                    f'unknown block type "{block.type}"',
                    f'a step is declared inside a pipeline block: pipeline "NAME" {{ step "{label}" {{ ... }} }}' if block.type == "step"
                    else f"expected one of: {', '.join(sorted(_TOP_LEVEL))}",
                    block.range,
                )
                continue
            handler(config, block, found)
    found.raise_if_errors()
    return config


# -- block handlers --------------------------------------------------------------------


def _labels(block: hcl.Block, count: int, what: str, found: diags.Collector) -> list[str] | None:
    if len(block.labels) != count:
        names = " ".join(f'"{w}"' for w in what.split())
        found.error(f'{block.type} block needs {count} label(s)', f"write it as: {block.type} {names} {{ ... }}", block.range)
        return None
    for label in block.labels:
        if not NAME_RE.match(label):
            found.error(f'invalid name "{label}"', "names start with a letter or _ and hold letters, digits, _ and -", block.range)
            return None
    return block.labels


def _check_attributes(block: hcl.Block, allowed: set[str] | None, found: diags.Collector, where: str = "", blocks: set[str] | None = frozenset()) -> None:
    """Report attributes not in ``allowed`` (None: any) and nested blocks not in ``blocks`` (None: any)."""
    if allowed is not None:
        for name, attr in block.attributes.items():
            if name not in allowed:
                hint = f"expected one of: {', '.join(sorted(allowed))}" if allowed else "this block takes no attributes"
                hint += f" (and blocks: {', '.join(sorted(blocks))})" if blocks else ""
                found.error(f'unsupported attribute "{name}" {where}'.rstrip(), hint, attr.range)
    for nested in block.blocks if blocks is not None else ():
        if nested.type not in blocks:
            hint = f"expected one of: {', '.join(sorted(blocks))}" if blocks else "this block takes no nested blocks"
            found.error(f'unsupported block type "{nested.type}" {where}'.rstrip(), hint, nested.range)


def _duplicate(kind: str, name: str, first, block: hcl.Block, found: diags.Collector) -> bool:
    if first is None:
        return False
    at = first.range.relative_to(Path(block.range.file).parent)  # (both in one folder: the project's or a module's)
    found.error(f'duplicate {kind} "{name}"', f"it was already declared at {at}", block.range)
    return True


def _new_name(block: hcl.Block, found: diags.Collector, kind: str, table: dict, allowed: set[str] | None, nested: set[str] = frozenset()) -> str | None:
    """The name of a one-label block, after checking its attributes and that it is not a duplicate."""
    labels = _labels(block, 1, "NAME", found)
    if labels is None:
        return None
    (name,) = labels
    _check_attributes(block, allowed, found, f'in {kind} "{name}"', nested)
    if _duplicate(kind, name, table.get(name), block, found):
        return None
    return name


_static = variable_checks.constant  # an attribute's constant value, its error collected


def _variable(config: Config, block: hcl.Block, found: diags.Collector) -> None:
    name = _new_name(block, found, "variable", config.variables, {"default", "type", "description", "sensitive"}, {"validation"})
    if name is None:
        return
    variable_checks.check_name(name, block, found)
    var = Variable(name=name, range=block.range)
    attrs = block.attributes
    if "default" in attrs:
        var.default = _static(attrs["default"], found)
    if "type" in attrs:
        try:
            var.type = types.parse_type(attrs["type"].expr)
        except diags.DiagnosticError as exc:
            found.extend(exc.diagnostics)
    var.description = variable_checks.read_description(attrs.get("description"), found)
    var.sensitive = variable_checks.read_sensitive(attrs.get("sensitive"), found)
    var.validations = variable_checks.read_validations(name, block, found)
    variable_checks.check_default(var, found)
    config.variables[name] = var


def _locals(config: Config, block: hcl.Block, found: diags.Collector) -> None:
    _labels(block, 0, "", found)
    _check_attributes(block, None, found, "in locals")
    for name, attr in block.attributes.items():
        if _duplicate("local value", name, config.locals.get(name), block, found):
            continue
        config.locals[name] = Local(name=name, expr=attr.expr, range=attr.range)


def _pipeline(config: Config, block: hcl.Block, found: diags.Collector) -> None:
    name = _new_name(block, found, "pipeline", config.pipelines, {"description"}, {"step"})
    if name is None:
        return
    pipeline = Pipeline(name=name, range=block.range)
    steps = [nested for nested in block.blocks if nested.type == "step"]
    for nested in steps:
        _step(pipeline, nested, found)
    if not steps:  # a step with a mistake is reported on its own, and still counts
        found.error(f'pipeline "{name}" has no steps', 'add at least one step "NAME" { source = "file.py:function" }', block.range)
    config.pipelines[name] = pipeline


def _step(pipeline: Pipeline, block: hcl.Block, found: diags.Collector) -> None:
    labels = _labels(block, 1, "NAME", found)
    if labels is None:
        return
    (name,) = labels
    if "command" in block.attributes:  # a script step: zplan.config.scripts
        from zplan.config.scripts import script_step

        if not _duplicate("step", name, pipeline.steps.get(name), block, found):
            script = script_step(pipeline, name, block, found, _duration)
            if script is not None:
                pipeline.steps[name] = script
        return
    where = f'in step "{name}"'
    _check_attributes(block, STEP_ATTRIBUTES, found, where)
    if _duplicate("step", name, pipeline.steps.get(name), block, found):
        return
    attrs = block.attributes
    tfx = _tfx_component(name, attrs, found)
    if tfx is False:
        return
    if "source" not in attrs and tfx is None:
        found.error(f'step "{name}" has no source', 'add source = "path/to/file.py:function" (or command = [...] for a script, tfx = "COMPONENT" for a TFX component)', block.range)
        return
    errors = len(found.items)
    source = _static(attrs["source"], found) if tfx is None else ""
    if len(found.items) > errors:
        return  # not a constant: that error says enough
    if tfx is None and (not isinstance(source, str) or ":" not in source or not source.rsplit(":", 1)[1].isidentifier() or "\0" in source):
        found.error(
            f'step "{name}": source must look like "path/to/file.py:function"',
            f"got {attrs['source'].expr.source()}",
            attrs["source"].range,
        )
        return
    outputs = _static(attrs.get("outputs"), found)
    if outputs is not None and not (isinstance(outputs, list) and all(isinstance(o, str) and o.isidentifier() for o in outputs)):
        found.error(f'step "{name}": outputs must be a list of names', 'e.g. outputs = ["train", "test"]', attrs["outputs"].range)
        outputs = None
    elif outputs is not None and (twice := repeated(outputs)):
        found.error(f'step "{name}": the output "{twice}" is listed twice', "list each output once", attrs["outputs"].range)
        outputs = None
    timeout = _duration(attrs.get("timeout"), found, f'step "{name}"')
    pipeline.steps[name] = StepConfig(
        pipeline=pipeline.name,
        name=name,
        source=source,
        source_range=attrs["tfx" if tfx else "source"].range,
        range=block.range,
        inputs=attrs["inputs"].expr if "inputs" in attrs else None,
        params=attrs["params"].expr if "params" in attrs else None,
        outputs=outputs,
        depends_on=calls.depends_on(block, found),
        timeout=timeout,
        repeat=calls.repeat(block, found),
        tfx=tfx,
        resources=_resources(attrs.get("resources"), found, name),
        cache=_cache(attrs.get("cache"), found, name),
        backend=step_backend(_static(attrs.get("backend"), found), attrs.get("backend"), found, name),
    )


def _resources(attr: hcl.Attribute | None, found: diags.Collector, step: str):
    """``resources = { cpu = 2, memory = "4GiB", gpu = 1 }``; None when absent or wrong (reported)."""
    value = _static(attr, found)
    if value is None:
        return None
    from zplan.config.step_resources import parse_resources  # here: most steps declare no resources

    try:
        return parse_resources(value)
    except ValueError as exc:
        found.error(f'step "{step}": {exc}', 'e.g. resources = { cpu = 2, memory = "4GiB", gpu = 1 }', attr.range)
        return None


def _cache(attr: hcl.Attribute | None, found: diags.Collector, step: str) -> bool:
    value = _static(attr, found, True)
    if not isinstance(value, bool):
        found.error(f'step "{step}": cache must be true or false', f"got {attr.expr.source()}", attr.range)
        return True
    return value


def _tfx_component(name: str, attrs: dict, found: diags.Collector) -> str | None | bool:
    """The TFX component a step runs (``tfx = "StatisticsGen"``), None for a Python step,
    False when the attribute is wrong (reported). Whether the name exists is checked by plan."""
    if "tfx" not in attrs:
        return None
    if "source" in attrs:
        found.error(f'step "{name}" has both source and tfx', "a step runs either a Python function or a TFX component: keep one", attrs["tfx"].range)
        return False
    value = _static(attrs["tfx"], found)
    if not isinstance(value, str) or not value.isidentifier():
        found.error(f'step "{name}": tfx must name a TFX component', f'e.g. tfx = "StatisticsGen"; got {attrs["tfx"].expr.source()}', attrs["tfx"].range)
        return False
    return value


def _duration(attr: hcl.Attribute | None, found: diags.Collector, where: str) -> float | None:
    """A static duration such as "10m"; None when absent or wrong (reported)."""
    value = _static(attr, found)
    if value is None:
        return None
    try:
        seconds = parse_seconds(str(value)) if isinstance(value, (str, int, float)) and not isinstance(value, bool) else -1.0
    except ValueError:
        seconds = -1.0
    if seconds <= 0:
        assert attr is not None
        found.error(f"{where}: {attr.name} must be a positive duration", f'use a form like "30s", "10m" or "1h"; got {attr.expr.source()}', attr.range)
        return None
    return seconds


def _output(config: Config, block: hcl.Block, found: diags.Collector) -> None:
    name = _new_name(block, found, "output", config.outputs, {"value", "description", "sensitive"})
    if name is None:
        return
    if "value" not in block.attributes:
        found.error(f'output "{name}" has no value', "add value = <expression>", block.range)
        return
    config.outputs[name] = Output(
        name=name,
        expr=block.attributes["value"].expr,
        range=block.range,
        description=str(_static(block.attributes.get("description"), found, "")),
        sensitive=variable_checks.read_sensitive(block.attributes.get("sensitive"), found, "an output"),
    )


def _stack(config: Config, block: hcl.Block, found: diags.Collector) -> None:
    name = _new_name(block, found, "stack", config.stacks, STACK_ATTRIBUTES)
    if name is None:
        return
    config.stacks[name] = Stack(name=name, range=block.range, settings={k: a.expr for k, a in block.attributes.items()})


def _resource(config: Config, block: hcl.Block, found: diags.Collector) -> None:
    labels = _labels(block, 2, "TYPE NAME", found)
    if labels is None:
        return
    type_, name = labels
    _check_attributes(block, None, found, f'in resource "{type_}" "{name}"', {"lifecycle"})
    resource = ResourceConfig(type=type_, name=name, range=block.range)
    if _duplicate("resource", f"{type_}.{name}", config.resources.get(str(resource.addr)), block, found):
        return
    resource.repeat = calls.repeat(block, found)
    resource.depends_on = calls.depends_on(block, found)
    for attr_name, attr in block.attributes.items():
        if attr_name not in (*REPEAT, "depends_on"):
            resource.attributes[attr_name] = attr.expr
            resource.attribute_ranges[attr_name] = attr.range
    resource.lifecycle = read_lifecycle(block.blocks, found)
    config.resources[str(resource.addr)] = resource


def _provider(config: Config, block: hcl.Block, found: diags.Collector) -> None:
    name = _new_name(block, found, "provider", config.providers, None)
    if name is None:
        return
    config.providers[name] = ProviderConfig(name=name, range=block.range, settings={k: a.expr for k, a in block.attributes.items()},
                                            setting_ranges={k: a.range for k, a in block.attributes.items()})


_TOP_LEVEL: dict[str, Callable[[Config, hcl.Block, diags.Collector], None]] = {
    "variable": _variable,
    "locals": _locals,
    "pipeline": _pipeline,
    "output": _output,
    "stack": _stack,
    "resource": _resource,
    "provider": _provider,
    "module": calls.module,
    "moved": calls.moved,
}
