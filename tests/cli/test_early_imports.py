"""Through the real CLI: while a step runs, an idle worker imports the libraries of the step after it,
and that step runs in that worker, finding them loaded; their import's side effects are put back."""

from __future__ import annotations

import json

from tests.cli.helpers import Project, cli_env, with_local_stack

FILES = {
    "main.zp.hcl": with_local_stack("""
        pipeline "p" {
          step "first" {
            source = "steps.py:first"
          }
          step "second" {
            source = "steps.py:second"
            inputs = { x = step.first.outputs.output }
            params = { report = "report.json" }
          }
        }
    """),
    "steps.py": """
        import json
        import os
        import time


        def first() -> int:
            time.sleep(3)  # (the other worker imports slowlib meanwhile)
            return 1


        def second(x: int, report: str) -> int:
            started = time.time()
            import slowlib

            with open(report, "w") as f:
                json.dump({"pid": os.getpid(), "imported_in": slowlib.IMPORTED_IN, "imported_before": slowlib.IMPORTED_AT < started,
                           "side_effect": os.environ.get("SLOWLIB_SIDE_EFFECT")}, f)
            return x + 1
    """,
}
LIBRARY = {  # installed outside the project (a library inside it is step code, imported again by every step)
    "slowlib/__init__.py": """
        import os
        import time

        IMPORTED_IN, IMPORTED_AT = os.getpid(), time.time()
        os.environ["SLOWLIB_SIDE_EFFECT"] = "set"
    """,
    "slowlib-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: slowlib\nVersion: 1.0\n",
}


def test_the_next_steps_libraries_are_imported_while_its_upstream_runs(tmp_path):
    project = Project(tmp_path / "project").write_all(FILES)
    Project(tmp_path / "vendor").write_all(LIBRARY)
    result = project.run("apply", "-auto-approve", env=cli_env(PYTHONPATH=str(tmp_path / "vendor")))
    assert result.code == 0, result
    report = json.loads(project.read("report.json"))
    assert report["imported_in"] == report["pid"] and report["imported_before"], report
    assert report["side_effect"] is None, "put back after the import, as after a step"
    assert project.step_records()["second"]["outputs"]["output"]["value"] == 2


def test_the_libraries_first_imported_early_are_kept_for_the_next_apply(tmp_path):
    """Kept in the project's cache; the next apply imports them as it plans (``tests/unit/apply/test_early_pool.py``)
    and its steps find them as before."""
    project = Project(tmp_path / "project").write_all(FILES)
    Project(tmp_path / "vendor").write_all(LIBRARY)
    env = cli_env(PYTHONPATH=str(tmp_path / "vendor"))
    assert project.run("apply", "-auto-approve", env=env).code == 0
    assert json.loads(project.read(".zplan/cache/early-imports.json")) == ["slowlib"]
    project.replace("steps.py", "return 1", "return 2")  # both steps run again
    assert project.run("apply", "-auto-approve", env=env).code == 0
    report = json.loads(project.read("report.json"))
    assert report["imported_in"] == report["pid"] and report["imported_before"] and report["side_effect"] is None, report
    assert project.step_records()["second"]["outputs"]["output"]["value"] == 3


def test_a_guessed_import_never_keeps_a_step_from_a_worker(tmp_path):
    """Two steps that must run side by side need both workers, and the guess took one: it is stopped, not waited for."""
    project = Project(tmp_path / "project").write_all({
        "main.zp.hcl": with_local_stack("""
            pipeline "p" {
              step "a" {
                source = "steps.py:a"
              }
              step "b" {
                source = "steps.py:b"
              }
            }
        """),
        "steps.py": """
            import pathlib
            import time


            def together(me: str, other: str) -> None:
                pathlib.Path(f"{me}-running").touch()
                deadline = time.monotonic() + 60
                while not pathlib.Path(f"{other}-running").exists():
                    assert time.monotonic() < deadline, f"{other} never ran beside {me}"
                    time.sleep(0.01)


            def a() -> int:
                together("a", "b")
                return 1


            def b() -> int:
                together("b", "a")
                return 2
        """,
        ".zplan/cache/early-imports.json": '["hanglib"]',
    })
    Project(tmp_path / "vendor").write_all({
        "hanglib/__init__.py": """
            import time

            time.sleep(600)
        """,
        "hanglib-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: hanglib\nVersion: 1.0\n",
    })
    result = project.run("apply", "-auto-approve", "-parallelism", "2", env=cli_env(PYTHONPATH=str(tmp_path / "vendor")))
    assert result.code == 0, result  # (the guess may be stopped before it began to import: a busy machine)
    records = project.step_records()
    assert records["a"]["outputs"]["output"]["value"] == 1 and records["b"]["outputs"]["output"]["value"] == 2
