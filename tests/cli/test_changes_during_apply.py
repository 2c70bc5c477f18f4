"""What changes while an apply runs never ends up under a cache key that does not describe it.

Each case is made deterministic by a step that makes the change itself (edits another step's
code, a data file, its own source) at the moment a user's editor or a download would."""

from __future__ import annotations

import json
import os

import pytest

from tests.cli.helpers import LINES_MATERIALIZER, Project, cli_env, ran, reasons

HCL = """
pipeline "p" {
  step "a" {
    source = "steps/a.py:%(a)s"
  }
  step "b" {
    source = "steps/b.py:%(b)s"
    inputs = { x = step.a.outputs.output%(b_inputs)s }
  }
}
"""

A = '''
from pathlib import Path


def edit_b() -> int:  # an editor saving steps/b.py while the apply runs
    path = Path("steps/b.py")
    path.write_text(path.read_text().replace('"OLD"', '"NEW!"'))
    return 1


def edit_data() -> int:  # new data arriving while the apply runs
    Path("data/in.txt").write_text("v2, longer\\n")
    return 1


def nothing() -> int:
    return 1


def leave_traces() -> int:  # what one step could leave behind in its worker for the next
    import os, sys
    from steps import shared
    os.environ["LEFT_BY_A"] = "1"
    sys.path.append("/left/by/a")
    shared.SEEN.append("a")
    return 1
'''

B = '''
from pathlib import Path


def version(x: int) -> str:
    return "OLD"


def edits_itself(x: int) -> str:  # its own code edited while it runs
    path = Path(__file__)
    path.write_text(path.read_text() + "\\n# edited\\n")
    return "OLD"


def read(x: int, f: Path) -> str:
    return f.read_text()


def edits_reference(x: int, f: Path) -> str:  # new data arriving in the live file while it runs
    f.write_text("v2, longer\\n")
    return f.read_text()


def traces(x: int) -> list:
    import os, sys
    from steps import shared
    return [os.environ.get("LEFT_BY_A"), "/left/by/a" in sys.path, list(shared.SEEN)]
'''


def _project(tmp_path, a: str, b: str, b_inputs: str = "") -> Project:
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", HCL % {"a": a, "b": b, "b_inputs": b_inputs})
    p.write("steps/__init__.py", "")
    p.write("steps/a.py", A)
    p.write("steps/b.py", B)
    p.write("steps/shared.py", "SEEN = []\n")
    p.write("data/in.txt", "v1\n")
    return p


def _value(p: Project, step: str):
    return p.step_records()[step]["outputs"]["output"]["value"]


def test_code_edited_before_its_step_starts_is_what_runs_and_what_is_keyed(tmp_path):
    p = _project(tmp_path, "edit_b", "version")
    p.apply()
    assert _value(p, "b") == "NEW!"  # re-planned as it started: the edited code ran
    assert "No changes" in p.ok("plan").out  # ...and is cached under that code's key
    p.replace("steps/b.py", '"NEW!"', '"OLD"')
    doc = p.plan_json()
    assert reasons(doc)["b"] == ["code changed (b.version in steps/b.py)"]


def test_code_edited_while_its_step_runs_fails_the_step_and_is_not_cached(tmp_path):
    p = _project(tmp_path, "edit_b", "edits_itself")
    done = p.run("apply", "-auto-approve")
    assert done.code == 1
    assert "steps/b.py changed while the step ran" in done.text
    assert reasons(p.plan_json())["b"][0].startswith("previous run failed")


def test_a_saved_plan_refuses_a_step_whose_data_changed_during_the_apply(tmp_path):
    p = _project(tmp_path, "edit_data", "read", ', f = "data/in.txt"')
    p.ok("plan", "-out", "reviewed.plan")
    done = p.run("apply", "reviewed.plan")
    assert done.code == 1
    assert "input data data/in.txt of pipeline.p.step.b changed since the plan was made" in done.text
    assert p.step_records()["b"]["status"] == "failed"


def test_without_a_saved_plan_the_data_as_snapshotted_is_what_runs_and_is_keyed(tmp_path):
    p = _project(tmp_path, "edit_data", "read", ', f = "data/in.txt"')
    p.apply()
    assert _value(p, "b") == "v2, longer\n"
    assert "No changes" in p.ok("plan").out


def test_a_reference_input_edited_while_its_step_runs_fails_the_step_and_is_not_cached(tmp_path):
    """Read in place, not snapshotted: its key is the content as the step started, its result may be of another."""
    p = _project(tmp_path, "nothing", "edits_reference", ', f = { path = "data/in.txt", snapshot = "reference" }')
    done = p.run("apply", "-auto-approve")
    assert done.code == 1
    assert "data/in.txt changed while the step ran" in done.text
    p.write("data/in.txt", "v1\n")  # back to the content the step's key was computed from
    assert reasons(p.plan_json())["b"][0].startswith("previous run failed")


@pytest.mark.parametrize("package", ["regular", "namespace"])
def test_a_step_starts_with_nothing_an_earlier_step_left_in_its_worker(tmp_path, package):
    """steps/ as a package, or as a folder without __init__.py (a namespace package, which stays loaded: it must not
    hand b the steps.shared a imported, its list as a left it)."""
    p = _project(tmp_path, "leave_traces", "traces")
    if package == "namespace":
        p.path("steps/__init__.py").unlink()
    p.apply("-parallelism", "1")  # one worker: b runs where a ran
    assert _value(p, "b") == [None, False, []]


def test_a_watchdog_a_step_left_armed_does_not_go_off_in_the_next_step_of_its_worker(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'pipeline "p" {\n  step "a" {\n    source = "steps.py:a"\n  }\n'
                           '  step "b" {\n    source     = "steps.py:b"\n    depends_on = [step.a]\n  }\n}\n')
    p.write("steps.py", "import faulthandler\nimport time\n\n\n"
                        "def a():  # a guard of its own, for work it expects to end within 1 s: it ends sooner and forgets it\n"
                        "    faulthandler.dump_traceback_later(1, exit=True)\n    return 1\n\n\n"
                        "def b():\n    time.sleep(1.5)\n    return 2\n")
    p.apply("-parallelism", "1")  # one worker: b runs where a ran
    assert _value(p, "b") == 2


def test_a_file_input_renamed_with_the_same_bytes_reruns_its_step_and_says_why(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'pipeline "p" {\n  step "n" {\n    source = "s.py:name"\n    inputs = { f = "data/a.csv" }\n  }\n}\n')
    p.write("s.py", "def name(f):\n    return f.name\n")
    p.write("data/a.csv", "x\n")
    p.write("data/b.txt", "x\n")
    p.apply()
    assert _value(p, "n") == "a.csv"
    p.replace("main.zp.hcl", "data/a.csv", "data/b.txt")
    assert reasons(p.plan_json())["n"] == ["input f: file name a.csv -> b.txt"]
    p.apply()
    assert _value(p, "n") == "b.txt"


@pytest.mark.parametrize("old, new, shown", [("1", "1.0", "params.c: 1 -> 1.0"), ("[1.0]", "[1]", "params.c: [1.0] -> [1]")])
def test_a_param_changing_between_int_and_float_is_named(tmp_path, old, new, shown):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'pipeline "p" {\n  step "s" {\n    source = "s.py:f"\n    params = { c = %s }\n  }\n}\n' % old)
    p.write("s.py", "def f(c):\n    return repr(c)\n")
    p.apply()
    p.replace("main.zp.hcl", f"c = {old}", f"c = {new}")
    assert reasons(p.plan_json())["s"] == [shown]


MATERIALIZED = '''
import zplan


class Reading:
    def __init__(self, value):
        self.value = value


@zplan.materializer(Reading, name="reading-as-text")
class ReadingMaterializer:
    def save(self, value, folder):
        (folder / "reading.txt").write_text(str(value.value))

    def load(self, folder):
        return Reading(int((folder / "reading.txt").read_text()))


@zplan.materializer(list, name="lists-as-text")
class ListMaterializer:  # for this module's own lists; any step running after it must not pick it up
    def save(self, value, folder):
        (folder / "list.txt").write_text(repr(value))

    def load(self, folder):
        return eval((folder / "list.txt").read_text())


def make():
    return Reading(21)
'''


def _materialized(tmp_path) -> Project:
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", (HCL % {"a": "make", "b": "double", "b_inputs": ""}).rstrip()[:-1]
            + '  step "c" {\n    source     = "steps/c.py:numbers"\n    depends_on = [step.a]\n  }\n}\n')
    p.write("steps/__init__.py", "")
    p.write("steps/a.py", MATERIALIZED)
    p.write("steps/b.py", "def double(x):\n    return x.value * 2\n")
    p.write("steps/c.py", "def numbers():\n    return [1, 2]\n")
    return p


def test_a_step_reads_an_input_of_a_materializer_only_the_producing_steps_module_registers(tmp_path):
    p = _materialized(tmp_path)
    p.apply("-parallelism", "1")
    assert _value(p, "b") == 42
    p.apply("-replace", "pipeline.p.step.b")  # a is cached: no step of this apply imported steps/a.py
    assert _value(p, "b") == 42


def test_a_step_reads_an_input_of_a_materializer_registered_on_a_class_of_another_module(tmp_path):
    """steps/mats.py registers a class steps/base.py defines: the input is loaded by importing steps/mats.py,
    whose import makes the registration, and the plan keys what a's output is stored by."""
    p = _materialized(tmp_path)
    p.write("steps/base.py", MATERIALIZED.replace('@zplan.materializer(Reading, name="reading-as-text")\n', "")
            .replace('@zplan.materializer(list, name="lists-as-text")\n', ""))
    p.write("steps/mats.py", 'import zplan\n\nfrom steps.base import Reading, ReadingMaterializer\n\n'
                             'zplan.materializer(Reading, name="reading-as-text")(ReadingMaterializer)\n')
    p.write("steps/a.py", "import steps.mats  # registers\nfrom steps.base import Reading\n\n\ndef make():\n    return Reading(21)\n")
    p.apply()
    assert p.step_records()["a"]["outputs"]["output"]["materializer_module"] == "steps.mats"
    assert _value(p, "b") == 42
    p.replace("steps/base.py", "(folder / \"reading.txt\").write_text(str(value.value))", "(folder / \"reading.txt\").write_text(str(value.value + 1))")
    assert reasons(p.plan_json())["a"] == ["output output: materializer reading-as-text code changed"]
    p.apply()
    assert _value(p, "b") == 44


def test_a_materializer_a_step_registered_is_gone_for_the_next_step_in_its_worker(tmp_path):
    p = _materialized(tmp_path)
    p.apply("-parallelism", "1")  # one worker: c runs where a ran
    assert p.step_records()["c"]["outputs"]["output"]["materializer"] == "json"


def test_a_materializer_a_library_beside_the_project_registered_is_gone_for_the_next_step_in_its_worker(tmp_path):
    """`common` lives in ../libs (on the path): b, which never imports it, must not store its list with
    it because a ran first in the same worker; c, which imports it again, must."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'pipeline "p" {\n' + "".join(
        f'  step "{s}" {{\n    source = "steps.py:{s}"\n{after}  }}\n'
        for s, after in (("a", ""), ("b", "    depends_on = [step.a]\n"), ("c", "    depends_on = [step.b]\n"))) + "}\n")
    p.write("steps.py", "def a():\n    import common.mats\n    return [1]\n\n\ndef b():\n    return [2]\n\n\n"
                        "def c():\n    import common.mats\n    return [3]\n")
    libs = tmp_path / "libs"
    (libs / "common").mkdir(parents=True)
    (libs / "common" / "__init__.py").write_text("")
    (libs / "common" / "mats.py").write_text(LINES_MATERIALIZER)
    env = cli_env(PYTHONPATH=os.pathsep.join(filter(None, (str(libs), os.environ.get("PYTHONPATH")))))
    done = p.run("apply", "-auto-approve", "-parallelism", "1", env=env)  # one worker: b and c run where a ran
    assert done.code == 0, str(done)
    stored = {step: record["outputs"]["output"]["materializer"] for step, record in p.step_records().items()}
    assert stored == {"a": "lines", "b": "json", "c": "lines"}


INSTALLED_STEPS = '''
def a():
    import acme_lines  # registers "lines" for lists
    return [1]


def b():
    return [2]


def c():
    import acme_tools  # imports acme_lines (loaded already in this worker)
    return [3]


def d():
    import acme_tools  # (loaded already: it imports acme_lines as c imported it)
    return [4]


def e(x):
    return x + [5]  # x is loaded with "lines": a new worker imports acme_lines for it


def f():
    return [6]
'''


def test_a_materializer_an_installed_library_registered_stores_only_the_outputs_of_steps_that_import_it(tmp_path):
    """An installed library stays loaded in its worker, with the materializer it registered: each step stores
    its list as it would in a new worker, by "lines" exactly when it imports the library (itself, through
    another installed library, or to load an input), whichever steps ran before it in the same worker."""
    p = Project(tmp_path / "p")
    steps = (("a", ""), ("b", ""), ("c", ""), ("d", ""), ("e", "    inputs = { x = step.a.outputs.output }\n"), ("f", ""))
    p.write("main.zp.hcl", _chain("steps.py", steps))
    p.write("steps.py", INSTALLED_STEPS)
    done = p.run("apply", "-auto-approve", "-parallelism", "1", env=_installed(tmp_path))  # one worker: each step runs where the others ran
    assert done.code == 0, str(done)
    stored = {step: record["outputs"]["output"]["materializer"] for step, record in p.step_records().items()}
    assert stored == {"a": "lines", "b": "json", "c": "lines", "d": "lines", "e": "lines", "f": "json"}


def _chain(source: str, steps: tuple[tuple[str, str], ...]) -> str:
    """A pipeline of ``steps`` (name, extra lines) from ``source``, each after the one before it."""
    names = [s for s, _ in steps]
    return 'pipeline "p" {\n' + "".join(
        f'  step "{s}" {{\n    source = "{source}:{s}"\n{extra}{f"    depends_on = [step.{names[i - 1]}]{chr(10)}" if i else ""}  }}\n'
        for i, (s, extra) in enumerate(steps)) + "}\n"


def _with_own_lines(tmp_path, steps: tuple[tuple[str, str], ...], code: str) -> Project:
    """A project whose steps/mats.py registers a "lines" of its own, applied in one worker beside acme_lines."""
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", _chain("steps/a.py", steps))
    p.write("steps/__init__.py", "")
    p.write("steps/mats.py", LINES_MATERIALIZER.replace("lines.txt", "own.txt"))
    p.write("steps/a.py", code)
    done = p.run("apply", "-auto-approve", "-parallelism", "1", env=_installed(tmp_path))  # one worker
    assert done.code == 0, str(done)
    return p


def _installed(tmp_path) -> dict[str, str]:
    """acme_lines (registering "lines") and acme_tools (importing it) installed in a site-packages folder: the environment to find them."""
    site = tmp_path / "venv" / "site-packages"
    for name, text in (("acme_lines", LINES_MATERIALIZER), ("acme_tools", "import acme_lines\n")):
        (site / name).mkdir(parents=True)
        (site / name / "__init__.py").write_text(text)
        (site / f"{name}-1.0.dist-info").mkdir()
        (site / f"{name}-1.0.dist-info" / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    return cli_env(PYTHONPATH=os.pathsep.join(filter(None, (str(site), os.environ.get("PYTHONPATH")))))


def test_a_project_materializer_named_as_an_installed_library_s_replaces_it_for_its_step_only(tmp_path):
    """b registers its own "lines" (steps/mats.py), replacing acme_lines' for its outputs; the steps after it in the
    same worker find acme_lines' again, to store (c) and to load (d) what acme_lines wrote, as in a new worker."""
    steps = (("a", ""), ("b", ""), ("c", ""), ("d", "    inputs = { x = step.a.outputs.output }\n"))
    p = _with_own_lines(tmp_path, steps, "def a():\n    import acme_lines\n    return [1]\n\n\ndef b():\n    import steps.mats\n"
                        "    return [2]\n\n\ndef c():\n    import acme_lines\n    return [3]\n\n\ndef d(x):\n    return x + [4]\n")
    stored = {step: record["outputs"]["output"].get("materializer_module") for step, record in p.step_records().items()}
    assert stored == {"a": "acme_lines", "b": "steps.mats", "c": "acme_lines", "d": "acme_lines"}


def test_an_input_is_loaded_by_the_materializer_that_wrote_it_not_by_a_library_s_of_the_same_name(tmp_path):
    """a stores its list with steps/mats.py's "lines"; b, in the same worker, imports acme_lines, which registers a
    "lines" of its own and stays loaded: c loads a's output with the one that wrote it, as in a new worker."""
    steps = (("a", ""), ("b", ""), ("c", "    inputs = { x = step.a.outputs.output }\n"))
    p = _with_own_lines(tmp_path, steps, "def a():\n    import steps.mats\n    return [1]\n\n\ndef b():\n    import acme_lines\n"
                        "    return [2]\n\n\ndef c(x):\n    return len(x + [3])\n")
    assert _value(p, "c") == 2


def test_bumping_the_version_of_a_materializer_registered_in_step_code_reruns_what_it_wrote(tmp_path):
    p = _materialized(tmp_path)
    p.apply()
    p.replace("steps/a.py", 'name="reading-as-text")', 'name="reading-as-text", version="2")')
    assert reasons(p.plan_json())["a"] == ["output output: materializer reading-as-text 1 -> 2"]
    p.apply()
    assert "No changes" in p.ok("plan").out


def test_editing_the_load_side_of_a_materializer_registered_in_step_code_reruns_what_reads_it_without_a_version_bump(tmp_path):
    p = _materialized(tmp_path)
    p.apply()
    p.replace("steps/a.py", "return Reading(int((folder", "return Reading(1 + int((folder")
    doc = p.plan_json()
    assert reasons(doc)["a"] == ["output output: materializer reading-as-text code changed"]
    assert reasons(doc)["b"] == ["input x changes (upstream a reruns)", "input x: materializer reading-as-text code changed"]
    assert ran(p.apply()) == {"a", "b"}  # a's output comes out the same: b reruns all the same
    assert _value(p, "b") == 44
    assert "No changes" in p.ok("plan").out


ENCODED = '''
import zplan

from steps.codec import encode


class Reading:
    def __init__(self, value):
        self.value = value


@zplan.materializer(Reading, name="reading-encoded")
class ReadingMaterializer:
    def save(self, value, folder):
        (folder / "reading.txt").write_text(encode(value.value))

    def load(self, folder):
        return Reading(int((folder / "reading.txt").read_text().split()[-1]))
'''


def test_a_helper_of_a_materializer_edited_while_the_step_saving_through_it_runs_fails_the_step(tmp_path):
    p = Project(tmp_path / "p")
    p.write("main.zp.hcl", 'pipeline "p" {\n  step "a" {\n    source = "steps/a.py:make"\n  }\n}\n')
    p.write("steps/__init__.py", "")
    p.write("steps/mats.py", ENCODED)
    p.write("steps/codec.py", "def encode(n):\n    return str(n)\n")
    # the step's own code never reaches codec.py: only the materializer saving its value does
    p.write("steps/a.py", "from pathlib import Path\n\nfrom steps.mats import Reading\n\n\ndef make():\n"
                          "    Path('steps/codec.py').write_text('def encode(n):\\n    return f\"v2 {n}\"\\n')\n"
                          "    return Reading(21)\n")
    done = p.run("apply", "-auto-approve")
    assert done.code == 1 and "steps/codec.py changed while the step ran" in done.text
    assert reasons(p.plan_json())["a"] == ["previous run failed"]


def test_bumping_the_version_of_a_materializer_reruns_the_steps_that_load_what_it_wrote(tmp_path):
    p = _materialized(tmp_path)
    p.apply()
    # a fix to its load side: what it wrote is the same, what a reading step gets is not
    p.replace("steps/a.py", "return Reading(int((folder", "return Reading(1 + int((folder")
    p.replace("steps/a.py", 'name="reading-as-text")', 'name="reading-as-text", version="2")')
    assert reasons(p.plan_json())["b"] == ["input x changes (upstream a reruns)", "input x: materializer reading-as-text 1 -> 2"]
    assert ran(p.apply()) == {"a", "b"}  # a's output comes out the same: b reruns all the same
    assert _value(p, "b") == 44
    assert "No changes" in p.ok("plan").out
