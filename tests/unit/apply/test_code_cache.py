"""The compiled code a step worker keeps for the project's source files (zplan.apply.code_cache): an
unchanged module imported again runs again from the same code, with new globals; a file whose bytes
changed is compiled again; installed libraries are loaded as always."""

from __future__ import annotations

import importlib
import os
import sys

import pytest

from zplan.apply import code_cache


@pytest.fixture
def project(tmp_path, monkeypatch):
    code_cache.install()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # as in a container image: every import compiled the source
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("cc_")]:
        del sys.modules[name]


def fresh_import(name: str):
    sys.modules.pop(name, None)
    importlib.invalidate_caches()
    return importlib.import_module(name)


def test_an_unchanged_module_imported_again_runs_from_the_same_code_with_new_globals(project):
    (project / "cc_steps.py").write_text("seen = []\n\ndef step():\n    seen.append(1)\n    return len(seen)\n")
    first = fresh_import("cc_steps")
    assert first.step() == 1 and first.step() == 2
    again = fresh_import("cc_steps")
    assert again is not first and again.step() == 1  # new globals: nothing the last import's steps left
    assert again.step.__code__ is first.step.__code__  # compiled once


def test_a_module_whose_bytes_changed_is_compiled_again(project):
    path = project / "cc_edit.py"
    path.write_text("def value():\n    return 1\n")
    assert fresh_import("cc_edit").value() == 1
    stat = path.stat()
    path.write_text("def value():\n    return 2\n")  # same size, and maybe the same time stamp
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert fresh_import("cc_edit").value() == 2


def test_a_syntax_error_is_reported_as_a_plain_import_reports_it_and_not_kept(project):
    path = project / "cc_broken.py"
    path.write_text("def value(:\n")
    with pytest.raises(SyntaxError):
        fresh_import("cc_broken")
    path.write_text("def value():\n    return 3\n")
    assert fresh_import("cc_broken").value() == 3


def test_installed_libraries_load_through_the_standard_loader():
    import json.decoder as installed

    assert code_cache._installed(installed.__file__)
    assert not code_cache._installed("/home/me/project/steps.py")


def test_the_loader_is_a_source_loader_for_the_modules_it_loads(project):
    (project / "cc_kind.py").write_text("x = 1\n")
    module = fresh_import("cc_kind")
    assert isinstance(module.__spec__.loader, importlib.machinery.SourceFileLoader)
    assert module.__file__ == str(project / "cc_kind.py")

