"""What a step's watch notes of the files its code opens and the folders it lists, with real files."""

from __future__ import annotations

import codecs
import importlib
import importlib.metadata
import json
import os
import sys
from pathlib import Path

from zplan.apply.file_reads import Watch, left_out, watching
from zplan.hashing import hash_file
from zplan.plan.file_reads import changed_reads
from zplan.hashing import StatCache


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    for rel, text in {"conf.json": "{}", "data/a.txt": "a", "data/b.txt": "b", ".zplan/state.json": "{}",
                      "store/x": "x", "declared.csv": "1", "mod_for_watch.py": "VALUE = 1\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_reads_are_noted_and_writes_state_store_declared_and_code_are_not(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    outside = tmp_path / "outside.txt"
    outside.write_text("o")
    with watching(watch := Watch(str(root))):
        json.loads(Path("conf.json").read_text())
        sorted(Path("data").glob("*.txt"))
        Path("data/a.txt").read_bytes()
        outside.read_text()  # not the project's
        Path(".zplan/state.json").read_text()
        Path("store/x").read_text()
        Path("declared.csv").read_text()
        Path("made.txt").write_text("m")
        Path("made.txt").read_text()  # written by the step: its own
        with open(os.open("data/b.txt", os.O_RDONLY), closefd=True) as f:  # by a descriptor: noted when opened
            f.read()
        try:
            open("missing.txt").close()
        except FileNotFoundError:
            pass
    recorded = watch.recorded(left_out(str(root), str(root / "store"), ["declared.csv"]))
    assert recorded == {
        "conf.json": hash_file(root / "conf.json"),
        "data/": recorded["data/"],
        "data/a.txt": hash_file(root / "data/a.txt"),
        "data/b.txt": hash_file(root / "data/b.txt"),
        "missing.txt": None,
    }


def test_imports_read_nothing_the_plan_follows(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    with watching(watch := Watch(str(root))):
        importlib.import_module("mod_for_watch")  # its source and the listing the import system makes
    sys.modules.pop("mod_for_watch", None)
    assert watch.recorded(left_out(str(root), None, [])) == {}


def test_nothing_is_noted_outside_a_watch(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    with watching(watch := Watch(str(root))):
        pass
    Path("conf.json").read_text()
    assert watch.recorded([]) == {}


def test_a_prefix_holding_the_project_leaves_nothing_out(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    with watching(watch := Watch(str(root))):
        Path("conf.json").read_text()
    assert list(watch.recorded([str(tmp_path)])) == ["conf.json"]  # (an interpreter installed above the project)


def test_the_plan_names_each_kind_of_change(tmp_path):
    root = _project(tmp_path)
    cache = StatCache(None)
    reads = {"conf.json": hash_file(root / "conf.json"), "missing.txt": None}
    assert changed_reads(reads, str(root), str(root / ".zplan"), cache) is None
    (root / "missing.txt").write_text("now")
    assert changed_reads(reads, str(root), str(root / ".zplan"), cache).message.startswith("missing.txt exists now")
    (root / "missing.txt").unlink()
    (root / "conf.json").write_text('{"a": 1}')
    assert changed_reads(reads, str(root), str(root / ".zplan"), cache).message.startswith("conf.json changed since the step read it")
    (root / "conf.json").unlink()
    (root / "conf.json").mkdir()
    assert changed_reads(reads, str(root), str(root / ".zplan"), cache).message.startswith("conf.json changed since the step read it")


def test_a_library_scanning_the_python_path_lists_nothing_the_step_listing_the_root_does(tmp_path, monkeypatch):
    root = _project(tmp_path)
    library = tmp_path / "venv" / "site-packages"
    library.mkdir(parents=True)
    (library / "plugin_scan_for_watch.py").write_text("import os, sys\n\ndef scan():\n    return [os.listdir(p) for p in sys.path if os.path.isdir(p)]\n")
    (root / "own_glob_for_watch.py").write_text("from pathlib import Path\n\ndef here():\n    return sorted(Path('.').glob('*.json'))\n")
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(library))
    monkeypatch.syspath_prepend(str(root))
    scanner = importlib.import_module("plugin_scan_for_watch")
    own = importlib.import_module("own_glob_for_watch")
    with watching(watch := Watch(str(root))):
        scanner.scan()  # as entry-point discovery does, the project's folder among the path's
    assert watch.recorded([]) == {}
    with watching(watch := Watch(str(root))):
        own.here()
    assert list(watch.recorded([])) == ["./"]
    for name in ("plugin_scan_for_watch", "own_glob_for_watch"):
        sys.modules.pop(name, None)


def test_an_entry_of_the_python_path_opened_is_not_a_read(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend("__editable__.finder.__path_hook__")  # as an editable install's hook stands on it
    with watching(watch := Watch(str(root))):
        try:
            open("__editable__.finder.__path_hook__", "rb").close()  # as a library trying each entry as an archive
        except FileNotFoundError:
            pass
        Path("conf.json").read_text()
    assert list(watch.recorded([])) == ["conf.json"]


def test_a_folder_os_walk_lists_and_a_file_codecs_open_reads_are_noted(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    with watching(watch := Watch(str(root))):
        files = [name for _, _, names in os.walk("data") for name in names]  # (os is a frozen module, as the import system's are)
        with codecs.open("conf.json", encoding="utf-8") as f:
            f.read()
    assert sorted(files) == ["a.txt", "b.txt"]
    assert sorted(watch.recorded([])) == ["conf.json", "data/"]


def test_an_installed_packages_metadata_in_the_project_is_not_a_read(tmp_path, monkeypatch):
    root = _project(tmp_path)
    info = root / "myproj.egg-info"  # as an editable install leaves it (SOURCES.txt: rewritten by each install)
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: myproj\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[myproj.plugins]\nx = mod_for_watch:VALUE\n")
    (info / "SOURCES.txt").write_text("mod_for_watch.py\n")
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    with watching(watch := Watch(str(root))):
        assert importlib.metadata.version("myproj") == "0.1"
        assert [ep.name for ep in importlib.metadata.entry_points(group="myproj.plugins")] == ["x"]
        assert importlib.metadata.files("myproj")  # (SOURCES.txt)
        Path("conf.json").read_text()
    assert list(watch.recorded([])) == ["conf.json"]


def test_the_working_folder_listed_without_a_path_is_noted(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(root / "data")
    for list_it in (os.listdir, lambda: list(os.scandir())):
        with watching(watch := Watch(str(root))):
            assert "a.txt" in {getattr(entry, "name", entry) for entry in list_it()}
        assert list(watch.recorded([])) == ["data/"]


def test_a_folder_the_step_wrote_into_is_its_own_and_its_names_are_not_followed(tmp_path, monkeypatch):
    root = _project(tmp_path)
    monkeypatch.chdir(root)
    (root / "logs" / "version_0").mkdir(parents=True)
    (root / "runs").mkdir()
    with watching(watch := Watch(str(root))):
        os.mkdir(f"logs/version_{len(os.listdir('logs'))}")  # as a logger picks its next version
        Path(f"runs/run_{len(os.listdir('runs'))}.json").write_text("{}")
        sorted(Path("data").glob("*.txt"))
        os.makedirs("data", exist_ok=True)  # there already: still the step's input, not its own
        Path("data/b.txt").write_text("b")  # rewritten, not added
    assert sorted(watch.recorded([])) == ["data/"]


def test_a_file_or_folder_the_worker_may_not_read_is_recorded_as_the_plan_finds_it(tmp_path, monkeypatch):
    # (a permission refusal cannot be made for root, who runs these tests: the operating system's answer is stood in for)
    import zplan.apply.file_reads as worker_side
    import zplan.hashing as hashing

    root = _project(tmp_path)
    monkeypatch.chdir(root)
    with watching(watch := Watch(str(root))):
        Path("conf.json").read_text()
        os.listdir("data")

    def refused(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(worker_side, "hash_file", refused)
    monkeypatch.setattr(hashing.os, "listdir", refused)
    recorded = watch.recorded([])
    assert recorded == {"conf.json": "unreadable: Permission denied", "data/": "unlistable: Permission denied"}
    cache = StatCache(None)
    monkeypatch.setattr(cache, "file_hash", refused)
    assert changed_reads(recorded, str(root), str(root / ".zplan"), cache) is None  # still refused: nothing to rerun for
