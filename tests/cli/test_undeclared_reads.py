"""Through the real CLI: a project file a step's code reads without declaring it (a config its helper
module loads on import, a file a param names, a folder it globs, a file it looks for) reruns the step
when it changes, and the plan names the file; what the step wrote itself, its declared inputs,
its code and the libraries it imports rerun nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.helpers import Project, reasons, steps_by_action, with_local_stack

FILES = {
    "main.zp.hcl": with_local_stack("""
        pipeline "p" {
          step "scaled" {
            source = "scaled.py:scaled"
            params = { x = 2 }
          }
          step "named" {
            source = "steps.py:named"
            params = { table = "conf/table.csv" }
          }
          step "globbed" {
            source = "steps.py:globbed"
          }
          step "optional" {
            source = "steps.py:optional"
          }
          step "declared" {
            source = "other.py:declared"
            inputs = { raw = { path = "data/raw.txt", snapshot = "reference" }, copy = "data/copy.txt" }
          }
          step "scratch" {
            source = "other.py:scratch"
          }
        }
    """),
    "pkg/__init__.py": "",
    "pkg/settings.py": """
        import json
        import pathlib

        SETTINGS = json.loads((pathlib.Path(__file__).parent / "settings.json").read_text())
    """,
    "pkg/settings.json": '{"scale": 3}\n',
    "conf/table.csv": "a,1\nb,2\n",
    "images/a.txt": "1\n",
    "images/b.txt": "2\n",
    "data/raw.txt": "raw\n",
    "data/copy.txt": "copy\n",
    # every step of a module importing pkg.settings reads its file: that import runs with each
    "scaled.py": """
        from pkg.settings import SETTINGS


        def scaled(x: int) -> int:
            return x * SETTINGS["scale"]
    """,
    "steps.py": """
        from pathlib import Path


        def named(table: str) -> int:
            return len(Path(table).read_text().splitlines())


        def globbed() -> int:
            return sum(int(p.read_text()) for p in sorted(Path("images").glob("*.txt")))


        def optional() -> int:
            try:
                return int(Path("override.txt").read_text())
            except FileNotFoundError:
                return 0
    """,
    # reads only what it declares (one read in place), and a file it writes itself
    "other.py": """
        import json
        from pathlib import Path


        def declared(raw: Path, copy: Path) -> str:
            return raw.read_text() + copy.read_text()


        def scratch() -> int:
            Path("reports").mkdir(exist_ok=True)
            Path("reports/out.json").write_text(json.dumps([1, 2]))
            return len(json.loads(Path("reports/out.json").read_text()))
    """,
}


@pytest.fixture(scope="module")
def applied(tmp_path_factory) -> Project:
    project = Project(tmp_path_factory.mktemp("reads") / "project").write_all(FILES)
    project.apply()
    return project


@pytest.fixture
def project(applied, tmp_path) -> Project:
    return applied.clone(tmp_path / "project")


def test_the_reads_are_recorded_and_nothing_else(project):
    records = project.step_records()
    reads = {name: set(record.get("reads", {})) for name, record in records.items()}
    assert reads == {
        "scaled": {"pkg/settings.json"},
        "named": {"conf/table.csv"},
        "globbed": {"images/", "images/a.txt", "images/b.txt"},
        "optional": {"override.txt"},
        "declared": set(),  # its inputs are in its key
        "scratch": set(),  # what it wrote and read back is its own
    }
    assert records["optional"]["reads"] == {"override.txt": None}
    assert project.run("plan", "-detailed-exitcode").code == 0


def test_a_config_a_helper_loads_on_import_reruns_the_step_and_is_named(project):
    project.write("pkg/settings.json", '{"scale": 4}\n')
    doc = project.plan_json()
    assert steps_by_action(doc)["run"] == {"scaled"}
    assert reasons(doc)["scaled"] == [
        "pkg/settings.json changed since the step read it (a file its code reads without declaring it: declare it in inputs to snapshot it)"]
    project.apply()
    assert project.run("plan", "-detailed-exitcode").code == 0


def test_a_file_a_param_names_reruns_when_edited_or_removed(project):
    project.write("conf/table.csv", "a,1\nb,2\nc,3\n")
    assert steps_by_action(project.plan_json())["run"] == {"named"}
    project.path("conf/table.csv").unlink()
    assert reasons(project.plan_json())["named"][0].startswith("conf/table.csv, which the step read, is gone")


def test_a_file_added_to_a_globbed_folder_reruns_the_step(project):
    project.write("images/c.txt", "3\n")
    doc = project.plan_json()
    assert steps_by_action(doc)["run"] == {"globbed"}
    assert reasons(doc)["globbed"][0].startswith("the files in images/ changed since the step listed them")


def test_a_file_the_step_looked_for_reruns_it_once_it_exists(project):
    project.write("override.txt", "7\n")
    doc = project.plan_json()
    assert steps_by_action(doc)["run"] == {"optional"}
    assert reasons(doc)["optional"][0].startswith("override.txt exists now")
    project.apply()
    assert project.run("plan", "-detailed-exitcode").code == 0


def test_a_new_file_elsewhere_and_a_touch_rerun_nothing(project):
    project.write("notes.md", "unrelated\n")
    project.write("images/a.txt", "1\n")  # the same bytes, written again
    assert project.run("plan", "-detailed-exitcode").code == 0


def test_an_edit_to_a_read_file_and_to_the_code_names_both(project):
    project.write("pkg/settings.json", '{"scale": 5}\n')
    project.replace("scaled.py", 'x * SETTINGS["scale"]', 'x * SETTINGS["scale"] + 1')
    why = reasons(project.plan_json())["scaled"]
    assert why[0].startswith("code changed") and why[-1].startswith("pkg/settings.json changed since the step read it")


def test_lineage_shows_a_file_read_undeclared_and_verify_does_not_look_for_it_in_the_store(project):
    lineage = project.ok("lineage", "pipeline.p.step.scaled").out
    assert "read:pkg/settings.json: file read undeclared pkg/settings.json (not snapshotted" in lineage
    verified = project.ok("verify").out
    assert "0 missing" in verified and "settings.json" not in verified


def test_a_file_whose_name_is_not_utf8_is_noted_recorded_and_named_escaped(tmp_path):
    project = Project(tmp_path / "project").write_all({
        "main.zp.hcl": with_local_stack("""
            pipeline "p" {
              step "sized" {
                source = "sized.py:sized"
              }
            }
        """),
        "sized.py": """
            import os


            def sized() -> int:
                return sum(len(open(os.path.join("raw", n), "rb").read()) for n in os.listdir("raw"))
        """,
    })
    project.path("raw").mkdir()
    name = os.path.join(os.fsencode(project.path("raw")), b"caf\xe9.txt")  # (from a zip made on another system)
    Path(os.fsdecode(name)).write_bytes(b"x")
    assert "Apply complete: 1 ok." in project.apply().out  # listed and read: state and ML Metadata hold its name
    assert project.run("plan", "-detailed-exitcode").code == 0
    assert "read:raw/caf\\xe9.txt" in project.ok("lineage", "pipeline.p.step.sized").out
    Path(os.fsdecode(name)).write_bytes(b"xy")
    assert reasons(project.plan_json())["sized"][0].startswith("raw/caf\\xe9.txt changed since the step read it")


def test_a_file_named_after_a_secret_is_followed_but_its_name_is_kept_sealed(tmp_path):
    project = Project(tmp_path / "project").write_all({
        "main.zp.hcl": with_local_stack("""
            variable "tenant" {
              sensitive = true
            }

            pipeline "p" {
              step "tenant_cache" {
                source = "tenant.py:cached"
                params = { tenant = var.tenant }
              }
            }
        """),
        "tenant.py": """
            def cached(tenant: str) -> int:
                try:
                    with open(f"cache/{tenant}.json") as f:
                        return len(f.read())
                except FileNotFoundError:
                    return 0
        """,
        "cache/hunter2tenant.json": "{}\n",
    })
    project.apply("-var", "tenant=hunter2tenant")
    for rel in (".zplan/state.json", ".zplan/metadata.db"):
        assert b"hunter2tenant" not in project.path(rel).read_bytes(), rel
    assert project.run("plan", "-detailed-exitcode", "-var", "tenant=hunter2tenant").code == 0
    project.write("cache/hunter2tenant.json", '{"a": 1}\n')
    assert reasons(project.plan_json("-var", "tenant=hunter2tenant"))["tenant_cache"][0].startswith(
        "(sensitive) changed since the step read it")
    assert "hunter2tenant" not in project.ok("plan", "-var", "tenant=another").out  # (not hidden as a secret now)


def test_two_steps_logging_into_one_folder_do_not_rerun_each_other(tmp_path):
    project = Project(tmp_path / "project").write_all({
        "main.zp.hcl": with_local_stack("""
            pipeline "p" {
              step "first" {
                source = "train.py:train"
                params = { seed = 1 }
              }
              step "second" {
                source = "train.py:train"
                params = { seed = 2 }
              }
            }
        """),
        # as a logger picks its next version_N folder (Lightning's lightning_logs/)
        "train.py": """
            import os


            def train(seed: int) -> int:
                os.makedirs("lightning_logs", exist_ok=True)
                os.mkdir(f"lightning_logs/version_{len(os.listdir('lightning_logs'))}")
                return seed
        """,
    })
    project.apply("-parallelism", "1")
    assert project.run("plan", "-detailed-exitcode").code == 0
