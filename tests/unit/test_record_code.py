"""The kept code of zplan's dataclass methods: the same classes whether compiled or kept, never a
wrong method from a damaged file, nothing kept for other packages' dataclasses."""

from __future__ import annotations

import dataclasses
import marshal
import subprocess
import sys
import textwrap
import types

import pytest

from zplan import _record_code as kept

RECORDS = textwrap.dedent(
    """
    from __future__ import annotations
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Point:
        x: int
        y: int = 2
        tags: tuple = ()

    @dataclass
    class Bag:
        name: str
        items: list = field(default_factory=list)
        _hidden: int = field(default=0, repr=False, compare=False)

    @dataclass(order=True, eq=True)
    class Version:
        major: int
        minor: int = 0
    """
)


@pytest.fixture()
def store(tmp_path, monkeypatch):
    """The module's state as a fresh process sees it, its file in a temporary folder."""
    monkeypatch.setattr(kept, "_FILE", str(tmp_path / "__pycache__" / "dataclass-methods.test.marshal"))
    monkeypatch.setattr(kept, "_codes", {})
    monkeypatch.setattr(kept, "_used", set())
    monkeypatch.setattr(kept, "_missed", True)  # (no exit hook registered from a test)
    kept.install()
    return tmp_path


def _define(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    sys.modules[name] = module
    try:
        exec(compile(RECORDS, f"<{name}>", "exec"), module.__dict__)
    finally:
        del sys.modules[name]
    return module


def _behaviour(m: types.ModuleType) -> list:
    p, b, v = m.Point(1), m.Bag("a"), m.Version(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3
    return [
        repr(p), p == m.Point(1, 2, ()), p != m.Point(2), hash(p) == hash(m.Point(1)),
        repr(b), b == m.Bag("a", [], 5), b.items is not m.Bag("a").items,
        v < m.Version(1, 3), sorted([m.Version(2), v, m.Version(1)]) == [m.Version(1), v, m.Version(2)],
        [f.name for f in dataclasses.fields(m.Bag)], repr(dataclasses.replace(p, y=5)),
    ]


def test_kept_code_gives_the_same_classes(store, monkeypatch):
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    compiled = _define("zplan.fake_records")
    texts = set(kept._codes)
    assert len(texts) >= 8  # __init__, __repr__, __eq__, __setattr__ ... of three classes
    kept._write()
    kept._codes.clear()
    kept._codes.update(kept._read())
    assert set(kept._codes) == texts
    kept._used.clear()
    again = _define("zplan.fake_records")
    assert kept._used == texts  # every method came from the file
    assert _behaviour(again) == _behaviour(compiled)
    for text, code in kept._codes.items():
        fresh = compile(text, "<string>", "exec", dont_inherit=True)
        assert code == fresh  # (code equality: bytecode, constants, names, line table)


def test_other_packages_dataclasses_are_compiled_as_always(store):
    _define("someone_else.records")
    assert kept._codes == {} and kept._used == set()


@pytest.mark.parametrize("content", [b"", b"\x00garbage", marshal.dumps([1, 2]), None])
def test_a_damaged_or_foreign_file_is_ignored(store, content):
    path = store / "__pycache__" / "dataclass-methods.test.marshal"
    path.parent.mkdir()
    if content is None:  # a dict, but holding no code: each text is compiled again
        compiled = _define("zplan.fake_records")
        content = marshal.dumps({text: "not code" for text in kept._codes})
    path.write_bytes(content)
    kept._codes.clear()
    kept._codes.update(kept._read())
    module = _define("zplan.fake_records")
    assert module.Point(1) == module.Point(1, 2)
    assert all(isinstance(code, types.CodeType) for text, code in kept._codes.items() if text in kept._used)


def test_written_only_when_bytecode_may_be_written(store, monkeypatch):
    _define("zplan.fake_records")
    path = store / "__pycache__" / "dataclass-methods.test.marshal"
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    kept._write()
    assert not path.exists()
    kept._write(asked=True)  # prime(), as compileall does
    assert set(marshal.loads(path.read_bytes())) == set(kept._codes)
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_a_read_only_install_only_compiles(store, monkeypatch):
    monkeypatch.setattr(kept, "_FILE", str(store / "missing" / "deeper" / "x.marshal"))
    (store / "missing").write_text("a file where the folder would be")
    _define("zplan.fake_records")
    kept._write(asked=True)  # no error


def test_a_command_writes_and_then_reads_it(tmp_path):
    """Two processes: the first compiles and writes, the second runs the kept code."""
    probe = textwrap.dedent(
        f"""
        import sys
        from zplan import _record_code as kept
        kept._FILE = {str(tmp_path / "kept.marshal")!r}
        kept._codes.clear(); kept._codes.update(kept._read())
        import zplan.plan.model, zplan.config.model
        print(kept._missed, len(kept._used))
        """
    )
    env = {"PATH": "/usr/bin:/bin"}
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True).stdout.split()
    second = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True).stdout.split()
    assert first[0] == "True" and second == ["False", first[1]] and int(first[1]) > 20
