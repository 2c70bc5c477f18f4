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
