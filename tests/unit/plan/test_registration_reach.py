"""What decides which materializer stores a step's outputs, followed past the module registering it:
the can_save a class inherits from another module, the helpers its can_save calls there, and a
registration made by a function of another module that the imported module calls as it runs."""

from __future__ import annotations

from zplan.plan import model as m

from tests.unit.plan.inprocess import plan
from tests.unit.plan.test_reasons import COUNT, LOAD, MATERIALIZERS, SCALE, _as_json, _mats_imported_without_use, _recorded

CAN_SAVE_CHANGED = "materializer lines for list in steps/mats.py: its can_save changed (which values it stores)"


def _recorded_with(root, files: dict[str, str]):
    """Write ``files`` (relative to steps/), then record every step with its output stored as JSON."""
    for rel, text in files.items():
        (root / "steps" / rel).write_text(text)
    return _recorded(root, written_by={LOAD: _as_json("builtins.list"), SCALE: _as_json("builtins.list"), COUNT: _as_json("builtins.int")})


def test_an_edit_to_a_helper_in_another_module_that_can_save_calls_reruns_the_step(tmp_path):
    root, _, _ = _mats_imported_without_use(tmp_path)
    deciding = MATERIALIZERS.replace("import zplan\n", "import zplan\n\nfrom steps.rules import long_enough\n").replace(
        "class Lines:\n", "class Lines:\n    def can_save(self, value):\n        return long_enough(value)\n\n")
    state = _recorded_with(root, {"mats.py": deciding, "rules.py": "def long_enough(value):\n    return len(value) > 1000\n"})
    assert {s.action for s in plan(root, state)[0].steps} == {m.CACHED}
    (root / "steps" / "rules.py").write_text("def long_enough(value):\n    return len(value) > 0\n")
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == [CAN_SAVE_CHANGED]


def test_an_edit_to_a_can_save_inherited_from_a_class_of_another_module_reruns_the_step(tmp_path):
    root, _, _ = _mats_imported_without_use(tmp_path)
    inheriting = MATERIALIZERS.replace("import zplan\n", "import zplan\n\nfrom steps.base import Refusing\n").replace(
        "class Lines:\n", "class Lines(Refusing):\n")
    state = _recorded_with(root, {"mats.py": inheriting, "base.py": "class Refusing:\n    def can_save(self, value):\n        return len(value) > 1000\n"})
    assert {s.action for s in plan(root, state)[0].steps} == {m.CACHED}
    (root / "steps" / "base.py").write_text("class Refusing:\n    def can_save(self, value):\n        return len(value) > 0\n")
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == [CAN_SAVE_CHANGED]


def test_a_registration_made_by_a_function_of_another_module_the_imported_module_calls_is_keyed(tmp_path):
    root, mats, state = _mats_imported_without_use(tmp_path)
    (root / "steps" / "common.py").write_text(MATERIALIZERS.replace('@zplan.materializer(list, name="lines")\n', "")
                                              + '\n\ndef register_all():\n    zplan.materializer(list, name="lines")(Lines)\n')
    mats.write_text("from steps import common\n\n\ndef later():\n    common.register_all()\n")  # not called as it is imported
    assert {s.action for s in plan(root, state)[0].steps} == {m.CACHED}
    mats.write_text("from steps import common\n\ncommon.register_all()\n")
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == ["output output: materializer for builtins.list is now lines"]
    assert again.step(COUNT).action == m.RUN and again.step(SCALE).action == m.RUN


def test_an_edit_to_a_method_of_its_class_that_can_save_calls_reruns_the_step(tmp_path):
    root, _, _ = _mats_imported_without_use(tmp_path)
    deciding = MATERIALIZERS.replace("class Lines:\n", "class Lines:\n    def can_save(self, value):\n        return self.fits(value)\n\n"
                                     "    def fits(self, value):\n        return len(value) > 1000\n\n")
    state = _recorded_with(root, {"mats.py": deciding})
    assert {s.action for s in plan(root, state)[0].steps} == {m.CACHED}
    (root / "steps" / "mats.py").write_text(deciding.replace("> 1000", "> 0"))
    again, _, _ = plan(root, state)
    assert [r.message for r in again.step(LOAD).reasons] == [CAN_SAVE_CHANGED]
