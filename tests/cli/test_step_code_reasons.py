"""Through the real CLI: an edit anywhere a step's code reaches reruns it and the plan names what changed;
edits it does not reach, and upgrades of libraries it does not import, rerun nothing."""

from __future__ import annotations

import pytest

from tests.cli.helpers import Project, cli_env, plan_line, reasons, steps_by_action, with_local_stack

FILES = {
    "main.zp.hcl": with_local_stack("""
        pipeline "p" {
          step "load" {
            source = "steps/run.py:load"
            inputs = { raw = "data/numbers.txt" }
          }
          step "train" {
            source = "steps/run.py:train"
            inputs = { values = step.load.outputs.output }
          }
          step "split" {
            source = "steps/run.py:split"
            inputs = { values = step.load.outputs.output }
          }
          step "summary" {
            source = "steps/report.py:summary"
            inputs = { values = step.train.outputs.output }
          }
        }
    """),
    "data/numbers.txt": "1\n2\n3\n",
    "pkg/__init__.py": "",
    "pkg/sub/__init__.py": "",
    "pkg/sub/helpers.py": """
        FACTOR = 2.0


        def h(values):
            return [v * FACTOR for v in values]


        def unused(values):
            return values
    """,
    "steps/__init__.py": "",
    "steps/lib/__init__.py": "",
    "steps/lib/tools.py": """
        def total(values):
            return sum(values)
    """,
    "steps/run.py": """
        from pathlib import Path

        from pkg.sub import helpers


        def load(raw: Path) -> list:
            return [float(x) for x in raw.read_text().split()]


        def train(values: list) -> list:
            return helpers.h(values)


        def split(values: list) -> int:
            train = values[:2]  # a local named like the step above, not a use of it
            return len(train)
    """,
    # the one module importing the library: the steps of the others do not rerun when it changes
    "steps/report.py": """
        import tinylib

        from .lib import tools


        def summary(values: list) -> float:
            return tools.total(values) + tinylib.OFFSET
    """,
    # a third-party library as an installer leaves it, on the path through PYTHONPATH
    "vendor/tinylib/__init__.py": "OFFSET = 0\n",
    "vendor/tinylib-1.5.2.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinylib\nVersion: 1.5.2\n",
    "vendor/tinylib-1.5.2.dist-info/top_level.txt": "tinylib\n",
}


class Layout(Project):
    """The project above, run with its vendor folder on the path."""

    def run(self, *args: str, **kw):
        return super().run(*args, env=cli_env(PYTHONPATH=str(self.root / "vendor")), **kw)


@pytest.fixture(scope="module")
def applied_layout(tmp_path_factory) -> Layout:
    project = Layout(tmp_path_factory.mktemp("layout") / "project").write_all(FILES)
    project.apply()
    return project


@pytest.fixture
def layout(applied_layout, tmp_path) -> Layout:
    return applied_layout.clone(tmp_path / "project")


def test_a_helper_edit_names_the_function_and_file_in_the_plan(layout):
    layout.replace("pkg/sub/helpers.py", "v * FACTOR", "v * FACTOR + 1")
    result = layout.run("plan")
    assert "code changed (helpers.h in pkg/sub/helpers.py)" in plan_line(result, "train")
    doc = layout.plan_json()
    assert reasons(doc)["train"] == ["code changed (helpers.h in pkg/sub/helpers.py)"]
    assert steps_by_action(doc) == {"run": {"train", "summary"}, "cached": {"load", "split"}}


def test_a_relative_import_is_followed(layout):
    layout.replace("steps/lib/tools.py", "return sum(values)", "return sum(values) * 2")
    doc = layout.plan_json()
    assert reasons(doc)["summary"] == ["code changed (tools.total in steps/lib/tools.py)"]
    assert steps_by_action(doc)["run"] == {"summary"}


def test_a_local_named_like_an_edited_step_reruns_nothing_else(layout):
    layout.replace("steps/run.py", "return helpers.h(values)", "return helpers.h(values)[::-1]")
    doc = layout.plan_json()
    assert reasons(doc)["train"] == ["code changed (run.train in steps/run.py)"]
    assert steps_by_action(doc) == {"run": {"train", "summary"}, "cached": {"load", "split"}}


def test_an_edit_nothing_reaches_reruns_nothing(layout):
    layout.replace("pkg/sub/helpers.py", "return values", "return list(values)")
    assert layout.run("plan", "-detailed-exitcode").code == 0


def test_a_library_upgrade_reruns_the_steps_that_import_it_with_the_versions(layout):
    vendor = layout.root / "vendor"
    old = vendor / "tinylib-1.5.2.dist-info"
    meta = old / "METADATA"
    meta.write_text(meta.read_text().replace("1.5.2", "1.6.1"))
    old.rename(vendor / "tinylib-1.6.1.dist-info")
    result = layout.run("plan", "-detailed-exitcode")
    assert result.code == 2, str(result)
    assert "tinylib 1.5.2 -> 1.6.1" in plan_line(result, "summary")
    doc = layout.plan_json()
    assert reasons(doc)["summary"] == ["tinylib 1.5.2 -> 1.6.1"]
    assert [r["code"] for r in next(s for s in doc["steps"] if s["step"] == "summary")["reasons"]] == ["library_changed"]
    assert steps_by_action(doc) == {"run": {"summary"}, "cached": {"load", "train", "split"}}
    layout.apply()
    assert layout.run("plan", "-detailed-exitcode").code == 0



def test_a_saved_plan_is_refused_after_a_library_upgrade_naming_the_step_and_why(layout):
    assert layout.run("plan", "-out", "plan.zplan").code == 0
    vendor = layout.root / "vendor"
    meta = vendor / "tinylib-1.5.2.dist-info/METADATA"
    meta.write_text(meta.read_text().replace("1.5.2", "1.6.1"))
    (vendor / "tinylib-1.5.2.dist-info").rename(vendor / "tinylib-1.6.1.dist-info")
    refused = layout.run("apply", "plan.zplan")
    assert refused.code == 1 and "saved plan is stale" in refused.err
    assert "pipeline.p.step.summary: cached -> run: tinylib 1.5.2 -> 1.6.1" in refused.err, str(refused)


def test_a_library_s_own_requirements_are_keyed_and_named_when_they_change(layout):
    vendor = layout.root / "vendor"
    meta = vendor / "tinylib-1.5.2.dist-info/METADATA"
    meta.write_text(meta.read_text() + "Requires-Dist: tinydep>=1.0\nRequires-Dist: bigextra; extra == 'all'\n")
    layout.write("vendor/tinydep-1.0.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0.0\n")
    layout.write("vendor/bigextra-3.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: bigextra\nVersion: 3.0\n")
    # recorded before requirements were keyed: the plan says why it reruns (an extra's requirement never counts)
    assert reasons(layout.plan_json())["summary"] == ["the libraries it imports now key what they require too (zplan upgrade): tinydep"]
    layout.apply()
    (vendor / "tinydep-1.0.0.dist-info").rename(vendor / "tinydep-1.1.0.dist-info")
    meta = vendor / "tinydep-1.1.0.dist-info/METADATA"
    meta.write_text(meta.read_text().replace("1.0.0", "1.1.0"))
    doc = layout.plan_json()
    assert reasons(doc)["summary"] == ["tinydep 1.0.0 -> 1.1.0"]
    assert steps_by_action(doc) == {"run": {"summary"}, "cached": {"load", "train", "split"}}


SRC_LAYOUT = {
    "main.zp.hcl": 'pipeline "p" {\n  step "a" {\n    source = "steps.py:a"\n    params = { x = 2 }\n  }\n'
                   '  step "b" {\n    source = "steps.py:b"\n    inputs = { y = step.a.outputs.output }\n  }\n}\n',
    "steps.py": "from mylib.core import f\n\ndef a(x):\n    return f(x)\n\ndef b(y):\n    return f(y)\n",
    "src/mylib/__init__.py": "",
    "src/mylib/core.py": "def f(x):\n    return x * 2\n",
}


def test_a_src_layout_package_of_the_project_is_step_code(tmp_path):
    """`mylib` lives in src/ (on the path, as `pip install -e .` puts it): an edit there reruns the steps
    that call it, and a worker runs the edited code, not the module an earlier step imported."""
    p = Project(tmp_path / "p")
    for rel, text in SRC_LAYOUT.items():
        p.write(rel, text)
    env = cli_env(PYTHONPATH=str(p.path("src")))
    assert p.run("apply", "-auto-approve", "-parallelism", "1", env=env).code == 0
    p.replace("src/mylib/core.py", "x * 2", "x * 3")
    plan = p.run("plan", env=env)
    assert "will rerun: code changed (core.f in src/mylib/core.py)" in plan_line(plan, "a"), plan.out
    assert p.run("apply", "-auto-approve", "-parallelism", "1", env=env).code == 0
    assert p.run("output", env=env).code == 0
    assert p.step_records()["b"]["outputs"]["output"]["value"] == 2 * 3 * 3


def test_a_step_after_one_that_failed_is_not_said_to_lose_the_libraries_its_input_loads_with(tmp_path):
    """The upstream step's latest record is a failure, with no output to tell its materializer: the
    step's input is still loaded as last time, by pandas, which its own code does not import."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", """
pipeline "p" {
  step "make" {
    source = "steps.py:make"
    params = { n = 3 }
  }
  step "count" {
    source = "steps.py:count"
    inputs = { frame = step.make.outputs.output }
  }
}
""")
    p.write("steps.py", "import pandas as pd\n\n\ndef make(n: int) -> pd.DataFrame:\n    assert n > 0, 'n must be positive'\n"
                        "    return pd.DataFrame({'x': range(n)})\n\n\ndef count(frame) -> int:\n    return len(frame)\n")
    p.apply()
    p.replace("main.zp.hcl", "n = 3", "n = 0")
    assert p.run("apply", "-auto-approve").code == 1
    p.replace("main.zp.hcl", "n = 0", "n = 4")
    assert reasons(p.plan_json())["count"] == ["input frame changes (upstream make reruns)"]
