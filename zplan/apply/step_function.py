"""The function a step runs, loaded in its worker: from the project's module (a git module's
checkout by its file), a ZenML @step's own entrypoint, or a TFX component."""

from __future__ import annotations

import importlib
import sys
import traceback
from pathlib import Path
from typing import Any

from zplan.apply.step_failures import StepFailed, user_traceback


def import_step_module(project_dir: Path, source_file: str):
    """The module of a step's file, imported as its worker imports it (``zplan validate -imports`` too)."""
    root = str(project_dir)
    if root not in sys.path:
        sys.path.insert(0, root)
    module_name = Path(source_file).with_suffix("").as_posix().replace("/", ".")
    if module_name.startswith("."):  # a git module's checkout under .zplan/modules, a module beside the project
        return _import_outside(project_dir / source_file)
    return importlib.import_module(module_name)


def load_function(project_dir: Path, source_file: str, function: str):
    try:
        module = import_step_module(project_dir, source_file)
    except BaseException as exc:
        raise StepFailed(f"cannot import {source_file}: {type(exc).__name__}: {exc}", user_traceback(exc)) from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise StepFailed(f"{source_file} has no function {function!r}", None)
    if _is_zenml_step(fn):
        return _zenml_entrypoint(fn)
    return fn


OUTSIDE_ROOTS: set[str] = set()  # the packages made by _import_outside: step code, unloaded after each step


def _import_outside(path: Path):
    """A step file the project folder cannot import by name, imported inside a package of its own that stands
    for the folder holding its packages, so that its relative imports (``from .helpers import f``) find its
    own files, as they do in a module inside the project (and as the plan's code fingerprint follows them)."""
    import hashlib
    import importlib.machinery
    import importlib.util

    folder = path.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        folder = folder.parent
    root = "_zplan_module_" + hashlib.sha256(str(folder).encode()).hexdigest()[:12]
    if root not in sys.modules:
        spec = importlib.machinery.ModuleSpec(root, None, is_package=True)
        spec.submodule_search_locations = [str(folder)]
        sys.modules[root] = importlib.util.module_from_spec(spec)
        OUTSIDE_ROOTS.add(root)
    return importlib.import_module(".".join((root, *path.relative_to(folder).with_suffix("").parts)))


def _is_zenml_step(fn: Any) -> bool:
    return any(cls.__module__.startswith("zenml.") and cls.__name__ == "BaseStep" for cls in type(fn).__mro__)


_ZENML_TO_ZPLAN = {"log_metadata": "log_metadata", "get_step_context": "step_context"}


def _zenml_entrypoint(step_object: Any):
    """A ZenML @step's own function, called directly (no ZenML run, stack or server). The ZenML
    functions it calls that need a ZenML run (log_metadata, get_step_context) are pointed at
    zplan's equivalents in its module: in this worker the module only ever runs under zplan."""
    from zplan import runtime

    function = step_object.entrypoint
    names = getattr(function, "__globals__", {})
    for name, value in list(names.items()):
        ours = _ZENML_TO_ZPLAN.get(getattr(value, "__name__", ""))
        if ours and callable(value) and str(getattr(value, "__module__", "")).startswith("zenml."):
            names[name] = getattr(runtime, ours)
    return function


def tfx_component(name: str):
    try:
        from zplan.tfx.runner import component_function

        return component_function(name)
    except BaseException as exc:
        raise StepFailed(f"cannot load the TFX component {name}: {type(exc).__name__}: {exc}", traceback.format_exc()) from None
