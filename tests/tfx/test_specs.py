"""zplan's table of TFX components (read by plan without importing TFX) matches TFX's own specs."""

from __future__ import annotations

import importlib
import inspect

import pytest

pytest.importorskip("tfx")

from zplan.tfx.specs import COMPONENTS  # noqa: E402


@pytest.mark.parametrize("name", sorted(COMPONENTS))
def test_the_table_matches_the_component_spec(name):
    component = COMPONENTS[name]
    cls = getattr(importlib.import_module(component.module), component.class_name)
    assert f"{cls.__module__}.{cls.__name__}" == component.class_path
    spec = cls.SPEC_CLASS
    assert {k: (v.type.TYPE_NAME, not v.optional) for k, v in spec.INPUTS.items()} == component.inputs
    assert {k: v.type.TYPE_NAME for k, v in spec.OUTPUTS.items()} == component.outputs
    accepted = set(inspect.signature(cls.__init__).parameters)
    assert set(component.params) | set(component.data_params) <= accepted
    assert set(component.code) <= set(component.params)
    assert {f for functions in component.hooks.values() for f in functions} <= accepted  # a hook TFX knows
    protos = {name: f"{p.type.__module__}.{p.type.__name__}" for name, p in spec.PARAMETERS.items() if name in component.protos}
    assert protos == component.protos  # the message class TFX parses each proto-typed param into
    for name, path in component.objects.items():  # a param TFX takes as an object, made from keyword arguments
        module, _, class_name = path.rpartition(".")
        assert name in accepted and inspect.isclass(getattr(importlib.import_module(module), class_name))
