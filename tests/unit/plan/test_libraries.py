"""Installed library versions, read from dist-info folders and cached by the state of the folders."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from zplan.plan.libraries import LibraryIndex, scan


def install(site: Path, name: str, version: str, top_level: list[str] | None = None, record: list[str] | None = None,
            requires: list[str] = ()) -> Path:
    """A distribution as pip and uv leave it: a `<name>-<version>.dist-info` folder next to the code."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    needs = "".join(f"Requires-Dist: {r}\n" for r in requires)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{needs}\nA long description: ignored.\n")
    if top_level is not None:
        (info / "top_level.txt").write_text("".join(f"{t}\n" for t in top_level))
    if record is not None:
        (info / "RECORD").write_text("".join(f"{r},sha256=x,1\n" for r in record))
    return info


def upgrade(site: Path, name: str, old: str, new: str, top_level: list[str]) -> None:
    shutil.rmtree(site / f"{name.replace('-', '_')}-{old}.dist-info")
    install(site, name, new, top_level)


def test_import_names_map_to_distributions_and_versions(tmp_path):
    site = tmp_path / "site-packages"
    install(site, "scikit-learn", "1.5.2", ["sklearn"])
    install(site, "numpy", "2.0.1", record=["numpy/__init__.py", "numpy-2.0.1.dist-info/METADATA", "../../bin/f2py"])
    install(site, "six", "1.16.0", record=["six.py", "__pycache__/six.cpython-311.pyc"])
    index = LibraryIndex(paths=[str(site)])
    assert index.versions(["sklearn", "numpy", "six", "os"]) == {"numpy": "2.0.1", "scikit-learn": "1.5.2", "six": "1.16.0"}


def test_the_first_folder_on_the_path_wins_as_for_imports(tmp_path):
    install(tmp_path / "first", "pandas", "2.2.0", ["pandas"])
    install(tmp_path / "second", "pandas", "1.5.3", ["pandas"])
    assert scan([str(tmp_path / "first"), str(tmp_path / "second")])["pandas"] == {"pandas": "2.2.0"}


def test_zplan_itself_is_not_part_of_a_step_key(tmp_path):
    install(tmp_path, "zplan", "0.1.0", ["zplan"])
    assert LibraryIndex(paths=[str(tmp_path)]).versions(["zplan"]) == {}


def test_versions_are_read_once_per_environment_and_again_after_an_upgrade(tmp_path):
    site, cache = tmp_path / "site-packages", tmp_path / "cache" / "libraries.json"
    cache.parent.mkdir()
    install(site, "scikit-learn", "1.5.2", ["sklearn"])
    first = LibraryIndex(cache, paths=[str(site)])
    assert first.versions(["sklearn"]) == {"scikit-learn": "1.5.2"}
    first.save()

    # Same folder state: the cached mapping answers; the metadata is not read again.
    meta = next(site.glob("*.dist-info")) / "METADATA"
    stat = site.stat()
    meta.write_text(meta.read_text().replace("1.5.2", "9.9.9"))
    os.utime(site, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert LibraryIndex(cache, paths=[str(site)]).versions(["sklearn"]) == {"scikit-learn": "1.5.2"}

    upgrade(site, "scikit-learn", "1.5.2", "1.6.1", ["sklearn"])  # the folder's mtime moves
    assert LibraryIndex(cache, paths=[str(site)]).versions(["sklearn"]) == {"scikit-learn": "1.6.1"}


def test_no_imports_read_nothing(tmp_path):
    index = LibraryIndex(tmp_path / "absent" / "libraries.json", paths=[str(tmp_path / "nowhere")])
    assert index.versions([]) == {}
    index.save()  # nothing learned: nothing written
    assert not (tmp_path / "absent").exists()


def test_the_distributions_a_library_requires_are_keyed_all_the_way_down(tmp_path):
    """scipy under scikit-learn, numpy under scipy: upgrading one can change what the step computes."""
    site = tmp_path / "site-packages"
    install(site, "scikit-learn", "1.5.2", ["sklearn"], requires=["numpy>=1.19.5", "scipy>=1.6.0", "threadpoolctl (>=3.1.0)",
                                                                   "pytest>=7; extra == 'tests'", "zplan"])
    install(site, "scipy", "1.14.1", ["scipy"], requires=["numpy<2.3,>=1.23.5", 'tomli; python_version < "3.11"'])
    install(site, "numpy", "2.0.1", ["numpy"])
    install(site, "threadpoolctl", "3.5.0", ["threadpoolctl"])
    install(site, "pytest", "8.0.0", ["pytest"])
    install(site, "zplan", "0.1.0", ["zplan"])
    index = LibraryIndex(paths=[str(site)])
    # an extra's requirement is left out; one not installed (tomli) is nothing to key; zplan never is
    assert index.versions(["sklearn"]) == {"numpy": "2.0.1", "scikit-learn": "1.5.2", "scipy": "1.14.1", "threadpoolctl": "3.5.0"}
