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


MODULE = "zplan.fake_records"


@pytest.fixture()
def store(tmp_path, monkeypatch):
    """The module's state as a fresh process sees it, its file in a temporary folder."""
    monkeypatch.setattr(kept, "_FILE", str(tmp_path / "__pycache__" / "dataclass-methods.test.marshal"))
    for name, empty in (("_blobs", {}), ("_codes", {}), ("_used", set()), ("_changed", set())):
        monkeypatch.setattr(kept, name, empty)
    monkeypatch.setattr(kept, "_note_change", kept._changed.add)  # (no exit hook registered from a test)
    kept.install()
    return tmp_path


def _restart() -> None:
    """What the next process starts from: the file as written."""
    for table in (kept._blobs, kept._codes, kept._used, kept._changed):
        table.clear()
    kept._blobs.update(kept._read())


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
    compiled = _define(MODULE)
    texts = set(kept._codes[MODULE])
    assert len(texts) >= 8 and kept._changed == {MODULE}  # __init__, __repr__, __eq__, __setattr__ ... of three classes
    kept._write()
    _restart()
    assert set(kept._blobs) == {MODULE} and kept._codes == {}  # decoded when the module defines its first class
    again = _define(MODULE)
    assert kept._used == texts and not kept._changed  # every method came from the file
    assert _behaviour(again) == _behaviour(compiled)
    for text, code in kept._codes[MODULE].items():
        fresh = compile(text, "<string>", "exec", dont_inherit=True)
        assert code == fresh  # (code equality: bytecode, constants, names, line table)


def test_other_packages_dataclasses_are_compiled_as_always(store):
    _define("someone_else.records")
    assert kept._codes == {} and kept._used == set()


def test_only_the_code_a_module_still_has_is_written_back(store, monkeypatch):
    _define(MODULE)
    kept._write(asked=True)
    _restart()
    monkeypatch.setattr(sys.modules[__name__], "RECORDS", RECORDS.replace("    tags: tuple = ()\n", "    tags: tuple = ()\n    extra: int = 3\n"))
    module = _define(MODULE)
    assert module.Point(1).extra == 3 and kept._changed == {MODULE}  # the edited methods compiled afresh
    kept._write(asked=True)
    _restart()
    _define(MODULE)
    assert not kept._changed
    assert set(kept._codes[MODULE]) == kept._used  # the old methods were dropped


def _blob_of_texts(value) -> bytes:
    _define(MODULE)
    return marshal.dumps({MODULE: marshal.dumps({text: value for text in kept._codes[MODULE]})})


@pytest.mark.parametrize("content", [b"", b"\x00garbage", marshal.dumps([1, 2]), marshal.dumps({MODULE: b"\x00garbage"}),
                                     marshal.dumps({MODULE: "not bytes"}), "texts without code"],
                         ids=["empty", "garbage", "a list", "a damaged module", "not bytes", "texts without code"])
def test_a_damaged_or_foreign_file_is_ignored(store, content):
    path = store / "__pycache__" / "dataclass-methods.test.marshal"
    path.parent.mkdir()
    if content == "texts without code":  # each text is compiled again
        content = _blob_of_texts("not code")
    path.write_bytes(content)
    _restart()
    module = _define(MODULE)
    assert module.Point(1) == module.Point(1, 2)
    assert all(isinstance(code, types.CodeType) for code in kept._codes[MODULE].values())


def test_written_only_when_bytecode_may_be_written(store, monkeypatch):
    _define(MODULE)
    path = store / "__pycache__" / "dataclass-methods.test.marshal"
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    kept._write()
    assert not path.exists()
    kept._write(asked=True)  # prime(), as compileall does
    assert set(marshal.loads(marshal.loads(path.read_bytes())[MODULE])) == set(kept._codes[MODULE])
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_a_read_only_install_only_compiles(store, monkeypatch):
    monkeypatch.setattr(kept, "_FILE", str(store / "missing" / "deeper" / "x.marshal"))
    (store / "missing").write_text("a file where the folder would be")
    _define(MODULE)
    kept._write(asked=True)  # no error


def test_a_command_writes_and_then_reads_it(tmp_path):
    """Two processes: the first compiles and writes, the second runs the kept code."""
    probe = textwrap.dedent(
        f"""
        import sys
        from zplan import _record_code as kept
        kept._FILE = {str(tmp_path / "kept.marshal")!r}
        kept._blobs.clear(); kept._blobs.update(kept._read())
        import zplan.plan.model, zplan.config.model
        print(bool(kept._changed), len(kept._used))
        """
    )
    env = {"PATH": "/usr/bin:/bin"}
    first = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True).stdout.split()
    second = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True).stdout.split()
    assert first[0] == "True" and second == ["False", first[1]] and int(first[1]) > 20
