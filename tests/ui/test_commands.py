"""`zplan graph`, the Mermaid graph in the Markdown plan, `zplan ui -export`, the -host warning,
and the dashboard staying off the plan path."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.cli.helpers import QUICKSTART, cli_env, copy_project

STEPS = ("load", "split", "scale", "train", "evaluate")


def test_graph_dot_has_every_step_and_resource_with_its_edges(quickstart):
    out = quickstart.ok("graph").out
    assert out.startswith("digraph zplan {") and out.rstrip().endswith("}")
    for step in STEPS:
        assert f'"pipeline.training.step.{step}" [label="pipeline.training.step.{step}\\ncached"' in out
    assert '"resource.local_directory.reports" -> "pipeline.training.step.evaluate";' in out
    assert '"pipeline.training.step.scale" -> "pipeline.training.step.evaluate";' in out
    assert len(re.findall(r" -> ", out)) == 6


def test_graph_mermaid_shows_the_planned_actions(quickstart):
    out = quickstart.ok("graph", "-format", "mermaid").out
    assert out.startswith("graph LR\n")
    assert out.count("-->") == 6 and out.count(":::a_cached") == 5 and "classDef a_cached" in out


def test_graph_rejects_an_unknown_format(quickstart):
    result = quickstart.run("graph", "-format", "svg")
    assert result.code == 1 and "unknown graph format 'svg'" in result.err and "Traceback" not in result.err


def test_graph_of_a_configuration_with_a_mistake_names_its_file_and_line(tmp_path):
    project = copy_project(QUICKSTART, tmp_path / "quickstart")
    project.write("bad.zp.hcl", 'output "o" {\n  value = var.nope\n}\n')
    result = project.run("graph")
    assert result.code == 1 and "Traceback" not in result.err
    assert 'Error: bad.zp.hcl:2:11: reference to undeclared variable "nope"' in result.err, str(result)


def test_markdown_plan_embeds_a_mermaid_graph_of_the_changes(quickstart):
    out = quickstart.ok("plan", "-format", "markdown", "-var", "c=2.0").out
    block = out[out.index("```mermaid\n"):]
    block = block[: block.index("\n```", 10)]
    assert "pipeline.training.step.train<br/>run" in block and "pipeline.training.step.evaluate<br/>run" in block
    assert "pipeline.training.step.scale<br/>cached" in block  # a neighbour, for context
    assert "step.load" not in block  # neither changing nor next to a change
    assert out.index("```mermaid") < out.index("<details>")
    nothing = quickstart.ok("plan", "-format", "markdown").out
    assert "mermaid" not in nothing


def test_export_writes_linked_static_pages(quickstart, tmp_path):
    result = quickstart.ok("ui", "-export", str(tmp_path / "site"))
    assert "pages into" in result.out
    site = tmp_path / "site"
    names = {p.name for p in site.iterdir()}
    assert {"index.html", "run-1.html", "run-2.html", "plan.html", "resources.html", "outputs.html",
            "output-accuracy.html", "lineage-output-accuracy.html", "run-2-pipeline.training.step.train.html"} <= names
    assert not [n for n in names if n.startswith(".")]  # no staging folder left behind
    for page in site.glob("*.html"):
        for href in re.findall(r'href="([^"]+)"', page.read_text()):
            assert (site / href).exists(), f"{page.name} links to missing {href}"
    run2 = (site / "run-2.html").read_text()
    assert run2.count('<g class="node"') == 5 and 'data-status="cached"' in run2


def test_exposing_the_dashboard_prints_a_warning(quickstart):
    result = quickstart.run("ui", "-host", "0.0.0.0", "-port", "70000")
    assert "Warning: zplan ui listens on 0.0.0.0" in result.err
    assert result.code == 1 and "-port 70000 is not a port number" in result.err and "Traceback" not in result.err


@pytest.mark.parametrize("args", [
    ["plan", "-format", "markdown"],  # read by the quick launch: no command module at all
    ["-chdir", ".", "plan", "-format", "markdown"],  # the full command line: every command registered
])
def test_plan_never_imports_the_dashboard(quickstart, args):
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "zplan.cli", *args],
                          cwd=quickstart.root, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not {m for m in imported if m.split(".")[0] in ("starlette", "uvicorn", "jinja2", "playwright") or m.startswith("zplan.ui")}
    assert ("zplan.cli.ui_cmd" in imported) == (args[0] == "-chdir")  # registered by the full command line, its body not loaded


def test_a_taken_port_and_a_missing_project_are_clear_errors(quickstart, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = quickstart.run("ui", "-port", str(taken.getsockname()[1]), timeout=60)
    assert result.code == 1 and "cannot listen on 127.0.0.1:" in result.err and "Traceback" not in result.err
    from tests.cli.helpers import zplan

    empty = zplan(tmp_path, "ui", "-export", "site")
    assert empty.code == 1 and "no *.zp.hcl files" in empty.err and "Traceback" not in empty.err
    assert not (tmp_path / "site").exists()
