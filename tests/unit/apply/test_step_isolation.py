"""Which modules a step leaves behind are dropped: those imported by name from the project's files."""

from __future__ import annotations

import types

from zplan.apply.step_isolation import _project_module


def _module(file: str) -> types.ModuleType:
    module = types.ModuleType("m")
    module.__file__ = file
    return module


def test_project_modules_imported_by_their_name_are_dropped():
    assert _project_module("steps.train", _module("/p/steps/train.py"), "/p")
    assert _project_module("steps", _module("/p/steps/__init__.py"), "/p")
    assert _project_module("zplan.modules.m.steps", _module("/p/.zplan/modules/m/steps.py"), "/p")  # a git module's checkout
    assert _project_module("mylib.core", _module("/p/src/mylib/core.py"), "/p")  # a src layout, on the path or installed editable
    assert _project_module("mylib", _module("/p/src/mylib/__init__.py"), "/p")


def test_libraries_and_modules_a_library_loaded_under_its_own_name_stay():
    assert not _project_module("pandas", _module("/p/.venv/lib/python3.11/site-packages/pandas/__init__.py"), "/p")
    assert not _project_module("user_module_0", _module("/p/tfx/trainer.py"), "/p")  # TFX keeps its own account of it
    assert not _project_module("fast", _module("/p/fast.cpython-311-x86_64-linux-gnu.so"), "/p")
    assert not _project_module("elsewhere", _module("/q/elsewhere.py"), "/p")
