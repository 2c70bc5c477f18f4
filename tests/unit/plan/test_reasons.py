"""Why a step reruns, decided by the step planner alone (no CLI, no apply)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from zplan.artifacts import materializers
from zplan.artifacts.materializers import declared_version, get_materializer
from zplan.artifacts.store import ArtifactStore
from zplan.hashing import hash_value
from zplan.plan import model as m
from zplan.plan import planner as planning
from zplan.plan.libraries import LibraryIndex
from zplan.state.model import State, StepRecord

from tests.unit.plan.inprocess import copy_pipeline, plan
from tests.unit.plan.test_libraries import install, upgrade

LOAD, SCALE, TOTAL = "pipeline.numbers.step.load", "pipeline.numbers.step.scale", "pipeline.numbers.step.total"


def _recorded(root: Path, failed: str | None = None, written_by: dict[str, str | dict] | None = None) -> State:
    """The state an apply would leave, made at the plan layer: each runnable step gets a
    stored artifact and a success record, until every step is cached (``failed`` fails instead;
    ``written_by``: address -> the built-in recorded for its output, or the record's fields; else json)."""
    state = State()
    for _ in range(5):
        made, planner, project = plan(root, state)
        runnable = [s for s in made.steps if s.action == m.RUN and s.cache_key]
        if not runnable:
            return state
        store = ArtifactStore.from_url("file://.zplan/artifacts", project.root)
        step_planner = planner.apply_inputs().step_planner
        for step in runnable:
            folder = root / ".zplan" / "out" / step.step
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "value.json").write_text(f'"{step.address} {step.cache_key}"')
            stored = store.put(folder)
            written = (written_by or {}).get(step.address, "json")
            if isinstance(written, str):
                written = {"materializer": written, "materializer_version": declared_version(written)}
            outputs = step_planner.with_materializer_code({"output": {"digest": stored.digest, "uri": stored.uri, **written}})
            status = "failed" if step.address == failed else "succeeded"
            record = StepRecord(status, step.cache_key, step_planner.fingerprint(step), outputs if status == "succeeded" else {}, 1,
                                "2026-01-01T00:00:00+00:00", "boom" if status == "failed" else None)
            state.put_step(made.store_key, step.address, record)
    return state


def _codes(made: m.Plan, address: str) -> list[str]:
    return [r.code.value for r in made.step(address).reasons]


def test_a_step_that_never_ran_says_so(tmp_path):
    made, _, _ = plan(copy_pipeline(tmp_path))
    assert _codes(made, LOAD) == ["never_ran"]


def test_a_step_with_cache_false_that_never_ran_says_so_too(tmp_path):
    """Its first plan is a "+ will run: never ran", not a rerun; the plans after say cache = false."""
    root = copy_pipeline(tmp_path)
    main = root / "main.zp.hcl"
    main.write_text(main.read_text().replace('source = "steps/data.py:load"', 'source = "steps/data.py:load"\n    cache  = false'))
    made, _, _ = plan(root)
    assert _codes(made, LOAD) == ["never_ran", "cache_disabled"]
    again, _, _ = plan(root, _recorded(root))
    assert _codes(again, LOAD) == ["cache_disabled"]


def test_a_step_with_cache_false_also_names_what_changed_since_it_last_ran(tmp_path):
    # "cache disabled" alone hid the param, code or input that changed as well
    root = copy_pipeline(tmp_path)
    main = root / "main.zp.hcl"
    main.write_text(main.read_text().replace('source = "steps/data.py:load"', 'source = "steps/data.py:load"\n    cache  = false'))
    state = _recorded(root)
    (root / "data" / "numbers.txt").write_text("1\n2\n")
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["cache = false: runs on every apply", "input raw changed (data/numbers.txt)"]


def test_recorded_steps_are_cached_and_say_where_from(tmp_path):
    root = copy_pipeline(tmp_path)
    again, _, _ = plan(root, _recorded(root))
    assert {s.action for s in again.steps} == {m.CACHED} and again.step(LOAD).cached_from.run == 1


def test_changed_data_is_an_input_change_naming_the_file(tmp_path):
    root = copy_pipeline(tmp_path)
    state = _recorded(root)
    (root / "data" / "numbers.txt").write_text("1\n2\n")
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["input raw changed (data/numbers.txt)"]


def test_a_changed_param_names_the_param_and_both_values(tmp_path):
    root = copy_pipeline(tmp_path)
    state = _recorded(root)
    (root / "main.zp.hcl").write_text((root / "main.zp.hcl").read_text().replace("default = 1.0", "default = 0.5"))
    again, _, _ = plan(root, state)
    params = [r for r in again.step(SCALE).reasons if r.code == m.PARAMS_CHANGED]
    assert [r.message for r in params] == ["params.c: 1 -> 0.5"]
    assert _codes(again, TOTAL) == ["upstream_reruns"]


def test_changed_code_and_a_previous_failure_are_both_reasons(tmp_path):
    root = copy_pipeline(tmp_path)
    state = _recorded(root, failed=LOAD)
    (root / "steps" / "data.py").write_text((root / "steps" / "data.py").read_text().replace("if clean(line)]", "if clean(line)][:100]"))
    again, _, _ = plan(root, state)
    assert _codes(again, LOAD) == ["previous_failed", "code_changed"]


def test_replace_forces_a_rerun_whatever_was_recorded(tmp_path):
    root = copy_pipeline(tmp_path)
    again, _, _ = plan(root, _recorded(root), replace=[LOAD])
    assert again.step(LOAD).action == m.RUN and _codes(again, LOAD) == ["replace_requested"]


COUNT = "pipeline.numbers.step.count"


def test_a_new_version_of_the_materializer_loading_an_input_reruns_the_step_naming_it(tmp_path, monkeypatch):
    root = copy_pipeline(tmp_path)
    state = _recorded(root, written_by={LOAD: "bytes"})
    monkeypatch.setattr(get_materializer("bytes"), "version", "2")  # a release fixing what bytes artifacts load as
    made, _, _ = plan(root, state)
    assert _codes(made, LOAD) == ["materializer_changed"]
    load = state.step_record(made.store_key, LOAD)
    load.outputs["output"]["materializer_version"] = "2"  # load ran again under the new version: the same digest
    state.put_step(made.store_key, LOAD, load)
    again, _, _ = plan(root, state)
    assert again.step(LOAD).action == m.CACHED
    for reader in (SCALE, COUNT):  # cached before: they got its output as the old version loaded it
        assert [r.message for r in again.step(reader).reasons] == ["input values: materializer bytes 1 -> 2"]
    assert _codes(again, TOTAL) == ["upstream_reruns"]


def _as_recorded_without(state: State, field: str) -> None:
    """``state`` as an earlier zplan recorded it, whose keys did not hold ``field``."""
    (key,) = state.doc["stores"]
    state.doc["stores"][key]["cache"].clear()
    for address, doc in list(state.doc["stores"][key]["steps"].items()):
        doc["fingerprint"].pop(field, None)
        record = StepRecord.from_doc(doc)
        state.put_step(key, address, dataclasses.replace(record, cache_key=hash_value(record.fingerprint)))


def test_steps_recorded_before_materializers_were_keyed_rerun_once_saying_why(tmp_path):
    root = copy_pipeline(tmp_path)
    state = _recorded(root)
    _as_recorded_without(state, "loaders")
    again, _, _ = plan(root, state)
    assert again.step(LOAD).action == m.CACHED
    assert [r.message for r in again.step(COUNT).reasons] == ["the materializers loading its inputs now count in the cache key (zplan upgrade)"]
    assert _codes(again, TOTAL) == ["upstream_reruns"]


MATERIALIZERS = '''
import zplan

from steps.text import number


@zplan.materializer(list, name="lines")
class Lines:
    def save(self, value, folder):
        (folder / "lines.txt").write_text("\\n".join(map(str, value)))

    def load(self, folder):
        return [number(line) for line in (folder / "lines.txt").read_text().splitlines()]
'''

BY_LINES = {"materializer": "lines", "materializer_version": "1", "materializer_module": "steps.mats"}  # as a worker records it


def _with_materializer(tmp_path) -> Path:
    root = copy_pipeline(tmp_path)
    (root / "steps" / "mats.py").write_text(MATERIALIZERS)
    (root / "steps" / "text.py").write_text("def number(line):\n    return float(line)\n")
    return root


def test_editing_the_code_of_a_materializer_of_the_project_reruns_what_it_wrote_and_what_read_it_naming_it(tmp_path):
    root = _with_materializer(tmp_path)
    state = _recorded(root, written_by={LOAD: BY_LINES})
    assert {s.action for s in plan(root, state)[0].steps} == {m.CACHED}
    (root / "steps" / "text.py").write_text("def number(line):\n    return round(float(line))\n")  # what its load calls
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["output output: materializer lines code changed"]
    for reader in (SCALE, COUNT):
        assert [r.message for r in again.step(reader).reasons] == [
            "input values changes (upstream load reruns)", "input values: materializer lines code changed"]


def test_a_materializer_of_the_project_is_keyed_by_its_own_code_not_by_the_rest_of_its_module(tmp_path):
    root = _with_materializer(tmp_path)
    state = _recorded(root, written_by={LOAD: BY_LINES})
    mats = root / "steps" / "mats.py"
    mats.write_text(mats.read_text() + "\n\ndef unrelated():\n    return 1\n")
    again, _, _ = plan(root, state)
    assert {s.action for s in again.steps} == {m.CACHED}


def _as_json(kind: str) -> dict:
    return {"materializer": "json", "materializer_version": declared_version("json"), "type": kind}  # as a worker records it


def _mats_imported_without_use(tmp_path):
    """load and scale import steps/mats.py, which registers nothing yet: every output recorded as JSON."""
    root = _with_materializer(tmp_path)
    mats = root / "steps" / "mats.py"
    mats.write_text("import zplan\n")
    data = root / "steps" / "data.py"
    data.write_text("import steps.mats  # registers how lists are stored\n" + data.read_text())
    state = _recorded(root, written_by={LOAD: _as_json("builtins.list"), SCALE: _as_json("builtins.list"), COUNT: _as_json("builtins.int")})
    return root, mats, state


def test_a_materializer_registered_by_a_module_the_step_imports_without_using_it_reruns_what_it_would_store(tmp_path):
    root, mats, state = _mats_imported_without_use(tmp_path)
    mats.write_text(MATERIALIZERS)  # a rerun of load or scale would store its list as lines.txt
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["output output: materializer for builtins.list is now lines"]
    assert [r.message for r in again.step(SCALE).reasons] == [
        "input values changes (upstream load reruns)", "output output: materializer for builtins.list is now lines"]
    assert [r.message for r in again.step(COUNT).reasons] == ["input values changes (upstream load reruns)"]  # it does not import it
    mats.write_text("import zplan\n")
    assert {s.action for s in plan(root, state)[0].steps} == {m.CACHED}


@pytest.mark.parametrize("statement", ["zplan.materializer(list, name=\"lines\")(Lines)", "Lines = zplan.materializer(list, name=\"lines\")(Lines)"])
def test_a_materializer_registered_by_calling_the_decorator_on_its_class_counts_as_one_registered_by_decorating_it(tmp_path, statement):
    root, mats, state = _mats_imported_without_use(tmp_path)
    mats.write_text(MATERIALIZERS.replace('@zplan.materializer(list, name="lines")\n', "") + f"\n\n{statement}\n")
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["output output: materializer for builtins.list is now lines"]


@pytest.mark.parametrize("imported, decorator", [
    ("from zplan import materializer as register", "register"),
    ("from zplan.artifacts.materializers import materializer as register", "register"),
    ("import zplan as z", "z.materializer"),
    ("import zplan\n\nregister = zplan.materializer", "register"),
])
def test_a_materializer_registered_through_another_name_of_the_decorator_counts_as_one_registered_by_its_own(tmp_path, imported, decorator):
    root, mats, state = _mats_imported_without_use(tmp_path)
    mats.write_text(MATERIALIZERS.replace("import zplan\n", f"{imported}\n").replace("@zplan.materializer(", f"@{decorator}("))
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["output output: materializer for builtins.list is now lines"]


def test_a_materializer_registered_on_a_class_the_module_imports_counts(tmp_path):
    root, mats, state = _mats_imported_without_use(tmp_path)
    (root / "steps" / "lines.py").write_text(MATERIALIZERS.replace('@zplan.materializer(list, name="lines")\n', ""))
    mats.write_text('import zplan\n\nfrom steps.lines import Lines\n\nzplan.materializer(list, name="lines")(Lines)\n')
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["output output: materializer for builtins.list is now lines"]


def test_an_edit_to_the_can_save_of_a_materializer_the_step_imports_reruns_it_as_what_it_would_store_may_change(tmp_path):
    """lines refuses short lists, so load's was stored as JSON; lines taking every list would store a rerun's."""
    root, mats, _ = _mats_imported_without_use(tmp_path)
    refusing = MATERIALIZERS.replace("class Lines:\n", "class Lines:\n    def can_save(self, value):\n        return len(value) > 1000\n\n")
    mats.write_text(refusing)
    state = _recorded(root, written_by={LOAD: _as_json("builtins.list"), SCALE: _as_json("builtins.list"), COUNT: _as_json("builtins.int")})
    mats.write_text(refusing.replace("> 1000", "> 0") + "\n# a comment\n")
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["materializer lines for list in steps/mats.py: its can_save changed (which values it stores)"]
    mats.write_text(refusing + "\n\ndef unrelated():\n    return 1\n")  # its can_save as it was: nothing to rerun
    assert {s.action for s in plan(root, state)[0].steps} == {m.CACHED}


def test_a_materializer_registered_under_an_if_at_module_level_counts_as_one_registered_at_its_top(tmp_path):
    root, mats, state = _mats_imported_without_use(tmp_path)
    head, _, cls = MATERIALIZERS.partition("\n\n\n")
    mats.write_text(head + "\n\ntry:\n    import numpy\nexcept ImportError:\n    numpy = None\n\nif numpy is not None:\n"
                    + "".join(f"    {line}" if line else "" for line in cls.splitlines(keepends=True)))
    again, _, _ = plan(root, state)
    numpy, registered = [r.message for r in again.step(LOAD).reasons]  # importing numpy counts, used or not
    assert numpy.startswith("numpy (none) -> ") and registered == "output output: materializer for builtins.list is now lines"


def test_a_materializer_registered_by_the_module_loading_an_input_reruns_the_outputs_it_would_store(tmp_path):
    """The step's worker imports that module to load the input, so what it registers stores the step's outputs too."""
    root = _with_materializer(tmp_path)
    state = _recorded(root, written_by={LOAD: BY_LINES, SCALE: _as_json("builtins.list"), COUNT: _as_json("builtins.int")})
    mats = root / "steps" / "mats.py"
    mats.write_text(mats.read_text() + "\n\n@zplan.materializer(int, name=\"digits\")\nclass Digits:\n"
                    "    def save(self, value, folder): ...\n\n    def load(self, folder): ...\n")
    again, _, _ = plan(root, state)
    assert again.step(LOAD).action == m.CACHED  # its output is stored as before: its code imports no materializer
    assert [r.message for r in again.step(COUNT).reasons] == ["output output: materializer for builtins.int is now digits"]
    assert [r.message for r in again.step(SCALE).reasons] == [  # a plan cannot tell every type that may be an int: named
        "materializer digits for int in steps/mats.py is imported when it runs"]


def test_a_materializer_of_a_src_layout_package_of_the_project_is_keyed_by_its_version_and_code(tmp_path, monkeypatch):
    root = copy_pipeline(tmp_path)
    (root / "src" / "mylib").mkdir(parents=True)
    (root / "src" / "mylib" / "__init__.py").write_text("")
    (root / "src" / "mylib" / "mats.py").write_text(MATERIALIZERS.replace("from steps.text", "from mylib.text"))
    (root / "src" / "mylib" / "text.py").write_text("def number(line):\n    return float(line)\n")
    monkeypatch.syspath_prepend(str(root / "src"))  # as `pip install -e .` puts it
    state = _recorded(root, written_by={LOAD: {**BY_LINES, "materializer_module": "mylib.mats"}})
    (root / "src" / "mylib" / "text.py").write_text("def number(line):\n    return round(float(line))\n")
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["output output: materializer lines code changed"]
    mats = root / "src" / "mylib" / "mats.py"
    mats.write_text(mats.read_text().replace('name="lines")', 'name="lines", version="2")'))
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["output output: materializer lines 1 -> 2"]


def test_a_plan_reads_a_materializer_of_the_project_from_its_source_without_scanning_installed_plugins(tmp_path, monkeypatch):
    root = _with_materializer(tmp_path)
    state = _recorded(root, written_by={LOAD: BY_LINES})
    monkeypatch.setattr(materializers, "_plugins", None)  # as in a new process: no entry point read yet
    again, _, _ = plan(root, state)
    assert {s.action for s in again.steps} == {m.CACHED}
    assert materializers._plugins is None  # reading every installed package's entry points costs a no-change plan ~0.1 s


def test_steps_recorded_before_the_code_of_materializers_was_keyed_rerun_once_saying_why(tmp_path):
    root = _with_materializer(tmp_path)
    state = _recorded(root, written_by={LOAD: BY_LINES, SCALE: "json"})
    _as_recorded_without(state, "loader_code")
    again, _, _ = plan(root, state)
    assert again.step(LOAD).action == m.CACHED  # it reads no upstream output: its key is as it was
    for reader in (SCALE, COUNT):
        assert [r.message for r in again.step(reader).reasons] == [
            "the code of the project's materializers loading its inputs now counts in the cache key (zplan upgrade)"]
    load = state.step_record(again.store_key, LOAD)
    del load.outputs["output"]["materializer_code"]
    state.put_step(again.store_key, LOAD, load)
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == [
        "output output: the code of materializer lines now counts in the cache key (zplan upgrade)"]


def test_a_new_version_of_a_library_an_input_is_loaded_with_reruns_the_step_though_its_code_never_imports_it(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    install(site, "pandas", "2.2.0", ["pandas"])
    install(site, "pyarrow", "17.0.0", ["pyarrow"])
    monkeypatch.setattr(planning, "LibraryIndex", lambda *args, **kwargs: LibraryIndex(paths=[str(site)]))  # this environment
    root = copy_pipeline(tmp_path)
    state = _recorded(root, written_by={LOAD: "pandas.arrow"})  # load returned a DataFrame: scale and count call its methods
    upgrade(site, "pandas", "2.2.0", "2.3.0", ["pandas"])
    again, _, _ = plan(root, state)
    assert again.step(LOAD).action == m.CACHED
    for reader in (SCALE, COUNT):
        assert [r.message for r in again.step(reader).reasons] == ["pandas 2.2.0 -> 2.3.0"]
    assert _codes(again, TOTAL) == ["upstream_reruns"]


def test_a_new_release_of_the_package_whose_materializer_loads_an_input_reruns_the_step(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    install(site, "fancy-frames", "1.0", ["fancyframes"])
    monkeypatch.setattr(planning, "LibraryIndex", lambda *args, **kwargs: LibraryIndex(paths=[str(site)]))  # this environment
    root = copy_pipeline(tmp_path)
    written = {"materializer": "fancy", "materializer_version": "1", "materializer_module": "fancyframes.store"}  # registered there
    state = _recorded(root, written_by={LOAD: written})
    upgrade(site, "fancy-frames", "1.0", "1.1", ["fancyframes"])
    again, _, _ = plan(root, state)
    for reader in (SCALE, COUNT):
        assert [r.message for r in again.step(reader).reasons] == ["fancy-frames 1.0 -> 1.1"]


def test_an_output_written_by_a_plugin_no_longer_installed_reruns_its_step(tmp_path, monkeypatch):
    """A rerun stores it through another materializer (or fails): the artifact is not what it would give."""
    class Fancy:
        name, version = "fancy", "1"

    root = copy_pipeline(tmp_path)
    monkeypatch.setattr(materializers, "_plugins", [Fancy()])  # found through the entry points of an installed package
    state = _recorded(root, written_by={LOAD: "fancy"})
    assert {s.action for s in plan(root, state)[0].steps} == {m.CACHED}
    monkeypatch.setattr(materializers, "_plugins", [])  # uninstalled
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["output output: materializer fancy is no longer installed"]


def test_a_new_pyarrow_reruns_a_step_reading_a_sharded_beam_dataset(tmp_path, monkeypatch):
    # zplan's own plugin materializer: the dataset it loads reads its shards with pyarrow
    site = tmp_path / "site-packages"
    install(site, "pyarrow", "17.0.0", ["pyarrow"])
    monkeypatch.setattr(planning, "LibraryIndex", lambda *args, **kwargs: LibraryIndex(paths=[str(site)]))  # this environment
    root = copy_pipeline(tmp_path)
    state = _recorded(root, written_by={LOAD: "beam.parquet_shards"})
    upgrade(site, "pyarrow", "17.0.0", "18.0.0", ["pyarrow"])
    again, _, _ = plan(root, state)
    for reader in (SCALE, COUNT):
        assert [r.message for r in again.step(reader).reasons] == ["pyarrow 17.0.0 -> 18.0.0"]


def test_a_param_from_path_root_recorded_as_this_machines_folder_reruns_once_naming_it(tmp_path):
    # an earlier zplan gave path.root as the project's absolute folder; now "." as in Terraform: the step
    # reruns once (its key changed), and the plan says so, never a result cached under the old value
    root = copy_pipeline(tmp_path)
    hcl = root / "main.zp.hcl"
    declared = hcl.read_text()
    hcl.write_text(declared.replace("params = { c = var.c }", f'params = {{ c = "{root}" }}'))
    state = _recorded(root)
    hcl.write_text(declared.replace("params = { c = var.c }", "params = { c = path.root }"))
    again, _, _ = plan(root, state)
    assert again.step(SCALE).action == m.RUN
    [reason] = again.step(SCALE).reasons
    assert reason.code == m.PARAMS_CHANGED and reason.message.startswith(f"params.c: '{str(root)[:20]}") and reason.message.endswith(" -> '.'")
