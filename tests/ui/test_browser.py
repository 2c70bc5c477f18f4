"""The dashboard in a real browser: Debian's Chromium, driven by Playwright, against `zplan ui`
serving the quickstart after two runs (the second with a changed param). Screenshots of every
page are kept under .zplan/ui-screenshots/ for CI to publish."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.cli.helpers import cli_env
from zplan.ui.svg_dag import COLORS

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / ".zplan" / "ui-screenshots"
RUN2 = {"load": "cached", "split": "cached", "scale": "cached", "train": "ran", "evaluate": "ran"}


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser's path; scripts/chromium installs Debian's package on a fresh machine."""
    done = subprocess.run([str(ROOT / "scripts" / "chromium")], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def server(quickstart):
    """`zplan ui` on a free loopback port, as a user starts it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "zplan.cli", "ui", "-port", str(port)], cwd=quickstart.root,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/api/graph", timeout=5).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"zplan ui did not start: {proc.communicate()}")
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("requestfailed", lambda req: errors.append(f"request failed: {req.url}"))
    yield opened
    context.close()
    assert errors == []


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert (SHOTS / f"{name}.png").stat().st_size > 5000


@pytest.mark.parametrize("name, path, heading", [
    ("runs", "/", "Runs"), ("run-1", "/runs/1", "Run 1"), ("run-2", "/runs/2", "Run 2"),
    ("plan", "/plan", "Plan"), ("resources", "/resources", "Resources"), ("outputs", "/outputs/accuracy", "Outputs: accuracy"),
    ("lineage", "/lineage/output/accuracy", "Lineage of output accuracy"),
])
def test_each_page_opens(page, server, name, path, heading):
    response = page.goto(server + path)
    assert response.status == 200
    assert page.locator("h1").first.inner_text().startswith(heading)
    assert page.locator("header a").count() == 4
    shot(page, name)


def test_the_run_graph_shows_five_nodes_coloured_after_a_param_change(page, server):
    page.goto(server + "/runs/2")
    nodes = page.locator("svg.dag g.node")
    assert nodes.count() == 5
    seen = {}
    for i in range(5):
        node = nodes.nth(i)
        step = node.get_attribute("data-address").rsplit(".", 1)[1]
        seen[step] = node.get_attribute("data-status")
        assert node.locator("rect").get_attribute("fill") == COLORS[seen[step]][0]
        assert node.locator("rect").bounding_box()["width"] > 100  # drawn, not just in the markup
    assert seen == RUN2
    assert page.locator("svg.dag path.edge").count() == 5


def test_click_a_node_then_through_to_lineage(page, server):
    page.goto(server + "/runs/2")
    page.locator('svg.dag g.node[data-address="pipeline.training.step.evaluate"]').click()
    page.wait_for_url("**/runs/2?step=pipeline.training.step.evaluate")
    detail = page.locator(".step-detail")
    assert "pipeline.training.step.evaluate" in detail.locator("h2").inner_text()
    assert "report_dir" in detail.locator("pre.params").inner_text()
    assert "cache key" in detail.inner_text() and "sklearn.pickle" in detail.inner_text()
    assert detail.locator("ul.reasons li").all_inner_texts() == ["input model changed"]  # the recorded reason
    shot(page, "run-2-evaluate")
    detail.locator("a.lineage-link").last.click()  # the evaluate step's output
    page.wait_for_url("**/lineage/*")
    graph = page.locator("svg.dag")
    assert graph.locator('g.node[data-status="snapshot"]').count() == 1
    assert "data/wine.csv" in graph.text_content()
    assert graph.locator("g.node").count() >= 10
    shot(page, "lineage-of-accuracy")
    graph.locator('g.node[data-status="ran"]', has_text="train").click()  # back to the run that made the model
    page.wait_for_url("**/runs/*?step=pipeline.training.step.train")


def test_runs_filter_form(page, server):
    page.goto(server + "/")
    assert page.locator("tr.run-row").count() == 2
    page.select_option("select[name=status]", "failed")
    page.click("button[type=submit]")
    page.wait_for_url("**/?*status=failed*")
    assert page.locator("tr.run-row").count() == 0 and "No runs match" in page.inner_text("main")
