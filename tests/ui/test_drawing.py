"""The SVG drawings and file links, on plain values."""

from __future__ import annotations

import html
import re

from zplan.ui import svg_chart, svg_dag
from zplan.ui.links import FileLinks, ServerLinks


def test_layout_puts_each_node_after_everything_it_needs():
    edges = [("a", "b"), ("b", "c"), ("a", "c"), ("x", "c")]
    place = svg_dag.layout([svg_dag.Node(n, n, "ran") for n in "abcx"], edges)
    assert [place[n][0] for n in "abcx"] == [0, 1, 2, 1]  # x, needing nothing, sits just before c
    assert len({place[n] for n in "abcx"}) == 4  # no two nodes on one spot


def test_a_resource_only_the_last_step_uses_sits_beside_it():
    chain = [("load", "split"), ("split", "train"), ("train", "serve"), ("model_store", "serve"), ("bucket", "load")]
    nodes = [svg_dag.Node(n, n, "ran") for n in ("model_store", "bucket", "load", "split", "train", "serve")]
    place = svg_dag.layout(nodes, chain)
    column = {n: place[n][0] for n in place}
    assert column == {"bucket": 0, "load": 1, "split": 2, "train": 3, "model_store": 3, "serve": 4}
    svg = svg_dag.render(nodes, chain)
    assert not any(" L " in d for d in re.findall(r'class="edge" d="([^"]+)"', svg))  # every edge spans one column


def test_layout_survives_a_loop():
    place = svg_dag.layout([svg_dag.Node(n, n, "ran") for n in "ab"], [("a", "b"), ("b", "a")])
    assert set(place) == {"a", "b"}


def test_svg_escapes_labels_and_links():
    svg = svg_dag.render([svg_dag.Node("<x>", "<script>", "failed", "1 s", "/runs/1?step=<x>&a=1")], [])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&amp;a=1" in svg
    assert f'fill="{svg_dag.COLORS["failed"][0]}"' in svg


def test_long_edges_run_under_the_boxes():
    nodes = [svg_dag.Node(n, n, "ran") for n in "abc"]
    svg = svg_dag.render(nodes, [("a", "b"), ("b", "c"), ("a", "c")])
    paths = re.findall(r'class="edge" d="([^"]+)"', svg)
    assert len(paths) == 3 and sum(" L " in d for d in paths) == 1


def test_chart_plots_numbers_only():
    assert svg_chart.numeric(True) is None and svg_chart.numeric("0.9") is None and svg_chart.numeric(1) == 1.0
    svg = svg_chart.render([(1, 0.9), (2, 0.8), (3, 0.95)], "accuracy")
    assert svg.count('class="point"') == 3 and "run 2: 0.8" in svg
    assert "No run" in svg_chart.render([], "accuracy")


def test_file_links_are_plain_names_in_one_folder():
    links = FileLinks()
    assert links.run(3, "pipeline.p.step.s") == "run-3-pipeline.p.step.s.html"
    assert "/" not in links.outputs("../../etc") and "/" not in links.output_lineage("a/b")
    assert links.runs(before=40) == "runs-before-40.html" and links.runs() == "index.html"
    assert ServerLinks().runs("p q", "failed", 7) == "/?pipeline=p+q&status=failed&before=7"


def test_file_links_of_instances_differing_only_in_unsafe_characters_differ():
    # for_each keys are free text: two that clean up to the same name would share one exported page.
    links = FileLinks()
    names = {links.run(1, f'pipeline.p.step.s["{key}"]') for key in ("a/b", "a_b", "a b", "a?b")}
    assert len(names) == 4 and not any("/" in n or "?" in n or " " in n for n in names)
    assert links.run(3, "pipeline.p.step.s") == "run-3-pipeline.p.step.s.html"  # a plain address stays as it is


def test_long_labels_of_a_sweeps_instances_stay_apart():
    """A label over 22 characters kept its start: every instance of train_model["lr0.001-depth3"],
    ["lr0.001-depth5"]... was drawn as the same train_model["lr0.001-…, told apart only on hover."""
    keys = ("lr0.001-depth3", "lr0.001-depth5", "lr0.01-depth3")
    nodes = [svg_dag.Node(f'pipeline.p.step.train_model["{k}"]', f'train_model["{k}"]', "ran") for k in keys]
    labels = [html.unescape(t) for t in re.findall(r'font-weight="600">([^<]*)</text>', svg_dag.render(nodes, []))]
    assert labels == ['tra…["lr0.001-depth3"]', 'tra…["lr0.001-depth5"]', 'trai…["lr0.01-depth3"]']
    long_key = svg_dag._fitted('train["a-very-long-key-of-the-sweep-1"]')
    assert len(long_key) == 22 and long_key.startswith("train[") and long_key.endswith('sweep-1"]')
    assert svg_dag._fitted("load") == "load" and len(svg_dag._fitted("evaluate_on_the_holdout_set")) == 22
