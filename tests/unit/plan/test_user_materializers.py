"""The version a materializer registered in project code declares, read from its source as
``zplan.materializer`` would register it (a plan never imports step code)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zplan.plan.user_materializers import declared_version

SOURCE = '''
import zplan

VERSION = "7"


@zplan.materializer(Frame, name="by-keyword", version="3")
class ByKeyword: ...


@zplan.materializer(Frame)
class ByAttributes:
    name = "by-attributes"
    version = 4


@zplan.materializer("by-string")
class ByString:
    def can_save(self, value): ...


@zplan.materializer(Frame)
class Unnamed: ...


@zplan.materializer(Frame, name="computed", version=VERSION)
class Computed: ...


class Base:
    name = "by-base"
    version = "5"


@zplan.materializer(Frame)
class Inherited(Base): ...


@zplan.materializer(Frame, name="grandchild")
class Grandchild(Inherited, object): ...


@zplan.materializer(Frame, name="from-a-library")
class FromLibrary(library.Base): ...
'''


@pytest.mark.parametrize("name, version", [
    ("by-keyword", "3"), ("by-attributes", "4"), ("by-string", "1"), ("steps.mats.Unnamed", "1"),
    ("computed", None),  # not a literal: unknown, never guessed
    ("by-base", "5"), ("grandchild", "5"),  # inherited from a class of the module, as Python looks it up
    ("from-a-library", None),  # a base from elsewhere may set it: unknown
    ("elsewhere", None),
])
def test_the_declared_version_is_read_as_registration_would_make_it(tmp_path: Path, name: str, version: str | None) -> None:
    (tmp_path / "steps").mkdir()
    (tmp_path / "steps" / "mats.py").write_text(SOURCE)
    assert declared_version(tmp_path, "steps.mats", name) == version


def test_a_module_not_in_the_project_or_not_parsing_gives_no_version(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("def (:\n")
    assert declared_version(tmp_path, "broken", "x") is None
    assert declared_version(tmp_path, "missing.module", "x") is None


def test_the_version_is_read_through_another_name_of_the_decorator(tmp_path: Path) -> None:
    (tmp_path / "mats.py").write_text('from zplan import materializer as register\n\n\n@register(list, name="lines", version="2")\n'
                                      'class Lines: ...\n')
    assert declared_version(tmp_path, "mats", "lines") == "2"
