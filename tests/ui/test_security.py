"""The dashboard never shows a secret, escapes every user text, keeps request paths inside the
project, answers only GET, and listens on loopback unless told otherwise."""

from __future__ import annotations

import os

import pytest
from starlette.testclient import TestClient

from zplan.ui.app import create_app
from zplan.ui.server import exposure_warning, is_loopback

from .conftest import SECRET, XSS


@pytest.fixture(scope="module")
def client(probe) -> TestClient:
    return TestClient(create_app(probe.root))


def every_page(client: TestClient) -> dict[str, str]:
    """Every page and JSON document the dashboard serves for the project, found by following its data."""
    paths = ["/", "/plan", "/resources", "/outputs", "/api/runs", "/api/plan", "/api/resources", "/api/outputs", "/api/graph"]
    for run in client.get("/api/runs").json()["runs"]:
        number = run["number"]
        paths += [f"/runs/{number}", f"/api/runs/{number}"]
        for node in client.get(f"/api/runs/{number}").json()["nodes"]:
            step = client.get(f"/api/runs/{number}", params={"step": node["address"]}).json()["step"]
            paths += [f"/runs/{number}?step={node['address']}", f"/api/runs/{number}?step={node['address']}"]
            paths += [f"/lineage/{a['id']}" for a in step["inputs"] + step["outputs"]]
    for output in client.get("/api/outputs").json()["outputs"]:
        if output["sensitive"]:
            continue  # listed, and linked to nothing (its own pages refuse it)
        paths += [f"/outputs/{output['name']}", f"/api/outputs/{output['name']}", f"/lineage/output/{output['name']}"]
    pages = {}
    for path in dict.fromkeys(paths):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        pages[path] = response.text
    return pages


def test_the_secret_is_on_no_page(client, probe):
    recorded = probe.read("token.txt") + probe.read("note.txt")
    assert SECRET in recorded  # the resources really hold it, so the pages had a chance to leak it
    assert any(SECRET in p.read_text(errors="replace") for p in probe.root.glob(".zplan/logs/**/*.log")) is False  # logs are redacted at write
    pages = every_page(client)
    assert len(pages) > 30
    leaking = [path for path, text in pages.items() if SECRET in text or SECRET.upper() in text]
    assert leaking == []
    step = pages["/runs/1?step=pipeline.probe.step.echo"]
    assert "(sensitive)" in step and "label=" in step  # the log is shown, its secret replaced
    assert "(sensitive)" in pages["/resources"]


def test_the_exported_pages_hold_no_secret_either(probe, tmp_path):
    from zplan.ui.export import export

    written = export(probe.root, None, tmp_path / "site")
    assert len(written) > 15 and (tmp_path / "site" / "index.html").exists()
    assert [p.name for p in written if SECRET in p.read_text()] == []
    assert [p.name for p in written if XSS in p.read_text()] == []


def test_html_in_a_param_is_escaped_everywhere(client):
    pages = every_page(client)
    html = {path: text for path, text in pages.items() if not path.startswith("/api/")}
    assert [path for path, text in html.items() if XSS in text or "<script" in text.lower()] == []
    step = html["/runs/1?step=pipeline.probe.step.echo"]
    assert "&lt;script&gt;alert(" in step  # shown, as text


def test_html_in_a_value_reads_as_written_not_as_json_escapes(client):
    # Values are shown as JSON: "<" must reach the reader as "<" (HTML-escaped), not as "\u003c".
    pages = every_page(client)
    html = {path: text for path, text in pages.items() if not path.startswith("/api/")}
    assert [path for path, text in html.items() if "\\u003c" in text or "\\u0026" in text] == []
    lineage = next(text for path, text in html.items() if path.startswith("/lineage/") and "echo" in text)
    assert "&#34;label&#34;: &#34;&lt;script&gt;alert(" in lineage


@pytest.mark.parametrize("file", ["../../../../etc/passwd", "/etc/passwd", "..%2F..%2Fetc%2Fpasswd", "steps/../../outside.zplan"])
def test_a_plan_path_cannot_leave_the_project(client, file):
    response = client.get("/api/plan", params={"file": file})
    assert response.status_code == 400
    assert "root:" not in response.text


def test_a_symlink_out_of_the_project_is_refused(probe, tmp_path):
    outside = tmp_path / "outside.zplan"
    outside.write_text('{"planfile_version": 1}')
    link = probe.root / "link.zplan"
    os.symlink(outside, link)
    try:
        response = TestClient(create_app(probe.root)).get("/api/plan", params={"file": "link.zplan"})
        assert response.status_code == 400 and "outside the project" in response.json()["error"]
    finally:
        link.unlink()


@pytest.mark.parametrize("path", ["/runs/1?step=../../../etc/passwd", "/lineage/output/..%2F..%2Fetc", "/outputs/..%2Fpasswd",
                                  "/runs/..%2F..%2Fetc", "/static/../../etc/passwd", "/../../etc/passwd"])
def test_other_paths_in_requests_lead_nowhere(client, path):
    response = client.get(path)
    assert response.status_code in (400, 404)
    assert "root:" not in response.text


def test_only_reading_is_allowed(client):
    for method in ("post", "put", "delete", "patch"):
        assert getattr(client, method)("/api/runs").status_code == 405


def test_loopback_by_default_and_a_warning_when_exposed(probe):
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert exposure_warning("127.0.0.1") is None
    assert "0.0.0.0" in exposure_warning("0.0.0.0") and "anyone" in exposure_warning("0.0.0.0")
    ui = probe.run("ui", "--help")
    assert "127.0.0.1" in ui.out


def test_a_page_reached_by_another_name_is_refused_on_loopback(probe):
    """On 127.0.0.1 the dashboard answered a request of any Host: a web page whose name an attacker
    makes resolve to 127.0.0.1 (DNS rebinding) could read runs, params and previews from the user's
    browser. Only this machine's own names are answered now."""
    import http.client
    import socket
    import subprocess
    import sys
    import time

    from tests.cli.helpers import cli_env

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "zplan.cli", "ui", "-port", str(port)], cwd=probe.root, env=cli_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def status(host: str) -> int:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", "/api/runs", headers={"Host": host})
            return conn.getresponse().status
        finally:
            conn.close()

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert status(f"127.0.0.1:{port}") == 200
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "zplan ui did not start"
                time.sleep(0.2)
        assert status(f"localhost:{port}") == 200 and status("localhost") == 200
        assert status(f"attacker.example:{port}") == 400 and status("127.0.0.1.attacker.example") == 400
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_a_sensitive_output_is_listed_as_sensitive_with_nothing_to_follow(client, probe):
    """The outputs page left a sensitive output out altogether, where `zplan output` lists it as
    <sensitive>: a user looking for it could not tell it was recorded."""
    assert "token_out = <sensitive>" in probe.ok("output").out
    listed = {o["name"]: o for o in client.get("/api/outputs").json()["outputs"]}
    assert listed["token_out"]["value"] == "(sensitive)" and listed["token_out"]["sensitive"] and not listed["token_out"]["traced"]
    page = client.get("/outputs").text
    assert "<td>token_out</td><td><i>(sensitive)</i></td>" in page and SECRET not in page
    assert '/outputs/token_out"' not in page and "/lineage/output/token_out" not in page
    for path in ("/outputs/token_out", "/api/outputs/token_out", "/lineage/output/token_out"):
        assert SECRET not in client.get(path).text, path
