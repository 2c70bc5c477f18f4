"""TFX components built from a step's params as the worker builds them (zplan.tfx.runner)."""

from __future__ import annotations

import importlib
import json

import pytest

pytest.importorskip("tfx")

from zplan.tfx.runner import _build  # noqa: E402
from zplan.tfx.specs import COMPONENTS  # noqa: E402


def _component(name: str):
    component = COMPONENTS[name]
    return component, getattr(importlib.import_module(component.module), component.class_name)


def test_stats_options_are_made_from_the_params_object():
    """`stats_options = { num_top_values = 3 }` reached StatisticsGen as the map itself, which it
    serializes with .to_json(): the step failed at apply with AttributeError and a traceback."""
    component, cls = _component("StatisticsGen")
    node = _build(component, cls, {"stats_options": {"num_top_values": 3, "sample_rate": 0.5}}, {"examples": None})
    options = json.loads(node.exec_properties["stats_options_json"])
    assert (options["num_top_values"], options["_sample_rate"]) == (3, 0.5)
    with pytest.raises(ValueError, match="params.stats_options is not a valid StatsOptions: .*num_top_valuez"):
        _build(component, cls, {"stats_options": {"num_top_valuez": 3}}, {"examples": None})
