"""One address parser and matcher for -target, -exclude, -replace, state and lineage."""

from __future__ import annotations

import pytest

from zplan import addrs


@pytest.mark.parametrize("selector, address, expected", [
    ("local_directory.data", "resource.local_directory.data", True),
    ("resource.local_directory.data", "resource.local_directory.data", True),
    ("resource.local_directory.data", "resource.local_directory.data2", False),
    ("local_directory.data", "resource.local_directory.data2", False),
    ("pipeline.training", "pipeline.training.step.train", True),
    ("pipeline.training", "pipeline.training2.step.train", False),
    ("pipeline.training.step.train", "pipeline.training.step.train", True),
    ("pipeline.training.step.train", "pipeline.training.step.train_more", False),
    ("pipeline.training.step", "pipeline.training.step.train", False),
])
def test_matches_whole_segments_only(selector, address, expected):
    assert addrs.matches(address, selector) is expected


def test_parse_forms_and_errors():
    assert str(addrs.parse("local_file.cfg")) == "resource.local_file.cfg"
    assert addrs.parse("pipeline.p.step.s") == addrs.StepAddr("p", "s")
    for bad in ("nothing", "pipeline.p", "resource..x", "a.b.c.d.e"):
        with pytest.raises(ValueError):
            addrs.parse(bad)
    out = addrs.parse_output("pipeline.p.step.s.outputs.model")
    assert (str(out.step), out.output) == ("pipeline.p.step.s", "model")
    assert addrs.parse_output("pipeline.p.step.s").output == "output"


@pytest.mark.parametrize("text, step, output", [
    ("pipeline.dvc.step.train.outputs.model.txt", "pipeline.dvc.step.train", "model.txt"),  # as lineage's hint spells it
    ('pipeline.dvc.step.train.outs["data/features"]', "pipeline.dvc.step.train", "data/features"),  # as HCL reads it
    ('pipeline.dvc.step.train["a"].outputs["m-a.txt"]', 'pipeline.dvc.step.train["a"]', "m-a.txt"),
])
def test_a_script_steps_out_is_named_by_its_path(text, step, output):
    found = addrs.parse_output(text)
    assert (str(found.step), found.output) == (step, output)


@pytest.mark.parametrize("selector, address, expected", [
    ('pipeline.p.step.train["c=0.5"]', 'pipeline.p.step.train["c=0.5"]', True),
    ("pipeline.p.step.train", 'pipeline.p.step.train["c=0.5"]', True),  # no key: every instance
    ('pipeline.p.step.train["c=0.5"]', 'pipeline.p.step.train["c=0.9"]', False),
    ("local_directory.d", "resource.local_directory.d[0]", True),
    ("resource.local_directory.d[0]", "resource.local_directory.d[1]", False),
    ("module.region", 'module.region["eu"].pipeline.fit.step.train', True),
    ('module.region["eu"]', 'module.region["us"].resource.local_directory.results', False),
    ("module.region", "module.regional.resource.local_directory.results", False),
    ("module.a.pipeline.fit", "module.a.pipeline.fit.step.load", True),
    ("pipeline.fit", "module.a.pipeline.fit.step.load", False),
])
def test_matches_instances_and_modules(selector, address, expected):
    assert addrs.matches(address, selector) is expected


def test_instance_keys_and_module_paths_parse_to_their_canonical_spelling():
    step = addrs.parse('module.a["x.y"].module.b.pipeline.p.step.train["c=0.5"]')
    assert step == addrs.StepAddr("p", 'train["c=0.5"]', 'module.a["x.y"].module.b')
    assert str(addrs.parse("local_directory.d[3]")) == "resource.local_directory.d[3]"
    assert addrs.short_name('pipeline.p.step.train["c=0.5"]') == 'train["c=0.5"]'
    assert addrs.is_resource("module.m.resource.local_file.f[0]") and not addrs.is_resource("module.m.pipeline.p.step.s")
    for bad in ('pipeline.p.step.s["unterminated]', "resource.t.n[x]", 'pipeline.p["k"].step.s', "module.a"):
        with pytest.raises(ValueError):
            addrs.parse(bad)
    assert addrs.moved_to('resource.t.d["a"]', "resource.t.d", "module.m.resource.t.d") == 'module.m.resource.t.d["a"]'
    assert addrs.moved_to("resource.t.dd", "resource.t.d", "resource.t.e") is None


def test_the_name_a_provider_is_given_tells_the_instances_of_a_module_apart():
    assert addrs.instance_name('resource.local_model_server.api["eu"]') == 'api["eu"]'
    assert addrs.instance_name('module.serving["dev"].resource.local_model_server.server') == 'module.serving["dev"].server'
    assert addrs.instance_name('module.a.module.b[0].resource.t.n') == "module.a.module.b[0].n"
