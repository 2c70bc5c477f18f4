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


def test_an_output_no_step_computes_gets_no_history_or_lineage_link(quickstart, tmp_path):
    # The serving example's infer_url is such an output: a resource attribute, not a step output.
    project = quickstart.clone(tmp_path / "resource-output")
    project.write("dir.zp.hcl", 'output "reports_dir" {\n  value = resource.local_directory.reports.path\n}\n')
    project.apply()
    result = project.ok("ui", "-export", str(tmp_path / "site"))
    site = tmp_path / "site"
    assert "output-accuracy.html" in {p.name for p in site.iterdir()}
    outputs = (site / "outputs.html").read_text()
    assert "reports_dir" in outputs and "output-reports_dir.html" not in outputs and "lineage-output-reports_dir" not in outputs
    for page in site.glob("*.html"):
        for href in re.findall(r'href="([^"]+)"', page.read_text()):
            assert (site / href).exists(), f"{page.name} links to missing {href}"
    assert "pages into" in result.out


def test_ui_takes_no_color_as_every_printing_command_does(quickstart, tmp_path):
    result = quickstart.ok("ui", "-export", str(tmp_path / "site"), "-no-color")
    assert "pages into" in result.out and "\x1b" not in result.out


def test_an_export_of_the_newest_runs_links_only_to_pages_it_wrote(quickstart, tmp_path):
    # Every run is listed, only the newest get pages; lineage reaches artifacts of older runs.
    from zplan.ui.export import export

    site = tmp_path / "site"
    export(quickstart.root, None, site, max_runs=1)
    assert (site / "run-2.html").exists() and not (site / "run-1.html").exists()
    broken = [(page.name, href) for page in site.glob("*.html")
              for href in re.findall(r'href="([^"]+)"', page.read_text()) if not (site / href).exists()]
    assert broken == []
    assert re.search(r'<td class="num">\s*1\s*</td>', (site / "index.html").read_text())  # listed, not linked
    assert any("data/wine.csv" in p.read_text() for p in site.glob("lineage-*.html"))  # down to the snapshot


def test_an_export_into_a_file_or_an_unwritable_place_is_one_clear_error(quickstart, tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder\n")
    for dest in (tmp_path / "taken", tmp_path / "taken" / "site"):
        result = quickstart.run("ui", "-export", str(dest))
        assert result.code == 1 and "internal error" not in result.err and "Traceback" not in result.err, str(result)
        assert result.err.startswith("Error: cannot write the pages into") and str(dest) in result.err
    assert (tmp_path / "taken").read_text() == "a file, not a folder\n"


def test_an_export_refuses_the_flags_of_serving_rather_than_ignoring_them(quickstart, tmp_path):
    for flag, value in (("-port", "9000"), ("-host", "0.0.0.0")):
        result = quickstart.run("ui", "-export", str(tmp_path / "site"), flag, value)
        assert result.code == 1 and f"{flag} cannot be used with -export" in result.err and "Traceback" not in result.err, str(result)
    assert not (tmp_path / "site").exists()


def test_an_address_that_is_not_this_machines_is_named_as_the_problem(quickstart):
    result = quickstart.run("ui", "-host", "192.0.2.1", "-port", "18555", timeout=60)  # TEST-NET: no local interface
    assert result.code == 1 and "cannot listen on 192.0.2.1:18555" in result.err, str(result)
    error = result.err[result.err.index("Error:"):]
    assert "give -host an address of this machine" in error and "stop what uses it" not in error


def test_an_unknown_stack_is_refused_before_serving(quickstart):
    import subprocess as sp

    try:
        result = quickstart.run("ui", "-stack", "nope", "-port", "18557", timeout=30)
    except sp.TimeoutExpired:
        pytest.fail("zplan ui served a dashboard for a stack that does not exist")
    assert result.code == 1 and 'no stack named "nope"' in result.err and "serving" not in result.out, str(result)


def test_an_export_gives_each_step_output_the_lineage_of_its_own_step(tmp_path):
    # two steps that made the same content share one artifact: each step page links to its own lineage
    from tests.cli.helpers import Project

    project = Project(tmp_path / "twins")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "a" {\n    source = "s.py:a"\n  }\n'
                                 '  step "b" {\n    source = "s.py:b"\n  }\n}\n')
    project.write("s.py", "def a() -> int:\n    return 1\n\n\ndef b() -> int:\n    return 1\n")
    project.apply()
    project.ok("ui", "-export", str(tmp_path / "site"))
    site = tmp_path / "site"
    for step, other in (("a", "b"), ("b", "a")):
        [href] = re.findall(r'class="lineage-link" href="([^"]+)"', (site / f"run-1-pipeline.p.step.{step}.html").read_text())
        lineage = (site / href).read_text()
        assert f"pipeline.p.step.{step}" in lineage and f"pipeline.p.step.{other}" not in lineage


def test_the_lineage_of_an_output_of_several_step_outputs_shows_each(tmp_path):
    """An output mapping a for_each step's instances traced only its first instance on the dashboard
    (served and exported), passing one instance's history off as the whole value's; `zplan lineage`
    already traced each."""
    from starlette.testclient import TestClient

    from tests.cli.helpers import Project
    from zplan.ui.app import create_app

    project = Project(tmp_path / "p")
    project.write("main.zp.hcl", 'pipeline "p" {\n  step "train" {\n    for_each = { a = 1, b = 2 }\n    source   = "s.py:train"\n'
                                 '    params   = { k = each.value }\n  }\n}\n\noutput "scores" {\n'
                                 '  value = { for k, v in step.train : k => v.outputs.output }\n}\n')
    project.write("s.py", "def train(k: int) -> float:\n    return k * 0.25\n")
    project.apply()
    page = TestClient(create_app(project.root)).get("/api/lineage/output/scores").json()
    steps = {n["address"]: n["params"] for n in page["nodes"] if n["kind"] == "execution"}
    assert steps == {'pipeline.p.step.train["a"]': {"k": 1}, 'pipeline.p.step.train["b"]': {"k": 2}}, page
    project.ok("ui", "-export", str(tmp_path / "site"))
    exported = (tmp_path / "site" / "lineage-output-scores.html").read_text()
    assert "train[&#34;a&#34;]" in exported and "train[&#34;b&#34;]" in exported
    broken = [(p.name, href) for p in (tmp_path / "site").glob("*.html")
              for href in re.findall(r'href="([^"]+)"', p.read_text()) if not (tmp_path / "site" / href).exists()]
    assert broken == []


def test_a_configuration_with_a_mistake_is_named_at_its_file_and_line_by_the_dashboard(tmp_path):
    """`zplan ui`, `zplan ui -export` and the served pages said "project: expected a value after
    "source ="" and not where: the file:line `zplan plan` gives was dropped."""
    import html
    import socket

    from starlette.testclient import TestClient

    from zplan.ui.app import create_app

    project = copy_project(QUICKSTART, tmp_path / "quickstart")
    client = TestClient(create_app(project.root))
    project.write("bad.zp.hcl", 'pipeline "x" {\n  step "y" {\n    source =\n  }\n}\n')
    with socket.socket() as probe:  # a free port: the project is opened before serving, and refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    for args in (("ui", "-port", str(port)), ("ui", "-export", str(tmp_path / "site"))):
        result = project.run(*args, timeout=60)
        assert result.code == 1 and "Traceback" not in result.err
        assert 'Error: bad.zp.hcl:3:5: expected a value after "source ="' in result.err, str(result)
    for path in ("/", "/api/runs", "/plan"):
        page = client.get(path)
        assert page.status_code == 400 and 'bad.zp.hcl:3:5: ' in html.unescape(page.text), path
    project.write("bad.zp.hcl", 'output "o" {\n  value = var.nope\n}\n')  # parsed, but the plan cannot be made
    page = client.get("/api/resources")
    assert page.status_code == 200 and page.json()["plan_error"].startswith("bad.zp.hcl:2:11: "), page.json()
