"""What a killed apply or destroy leaves of its resources is found by the next command:
a service whose start was cut short is adopted (not started twice on the same port, not
forgotten by destroy), and a folder half deleted is removed."""

from __future__ import annotations

import socket

import pytest

from tests.cli.helpers import TESTDATA, Project, copy_project
from tests.cli.procs import alive, left_alive, start_zplan, wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def service(tmp_path) -> tuple[Project, str]:
    return copy_project(TESTDATA / "service", tmp_path / "service"), f"port={_free_port()}"


def _pid(project: Project) -> int:
    return int(project.read(".zplan/processes/web.pid"))


def test_a_service_whose_start_was_killed_is_adopted_then_destroyed(service):
    project, port = service
    apply = start_zplan(project.root, "apply", "-auto-approve", "-var", port, SERVE_DELAY="30")
    wait_for(lambda: project.path(".zplan/processes/web.pid").exists() or apply.poll() is not None, what="the service to start")
    apply.kill()  # while it waits for the service to become healthy
    apply.communicate(timeout=30)
    pid = _pid(project)
    assert alive(pid), "the service outlives the apply that started it (it is detached by design)"

    plan = project.plan_json("-var", port)
    web = next(r for r in plan["resources"] if r["address"] == "resource.local_process.web")
    assert web["action"] == "no-op", web  # found by its pid file: adopted, not created again
    assert "resource.local_process.web was left running by an apply killed" in project.ok("plan", "-var", port).err
    again = project.apply("-var", port)
    assert "port" not in again.err and "already in use" not in again.out, str(again)
    assert "resource.local_process.web" in project.state()["resources"]

    project.ok("destroy", "-auto-approve", "-var", port)
    assert not left_alive({pid}, 15), "destroy stopped the adopted service"


def test_a_leftover_service_started_with_other_settings_is_replaced(service):
    project, port = service
    apply = start_zplan(project.root, "apply", "-auto-approve", "-var", port, SERVE_DELAY="30")
    wait_for(lambda: project.path(".zplan/processes/web.pid").exists() or apply.poll() is not None, what="the service to start")
    apply.kill()
    apply.communicate(timeout=30)
    old = _pid(project)
    project.replace("main.zp.hcl", '"serve.py", "{port}"]', '"serve.py", "{port}", "--again"]')
    plan = project.plan_json("-var", port)
    web = next(r for r in plan["resources"] if r["address"] == "resource.local_process.web")
    assert web["action"] == "replace", web
    project.apply("-var", port)
    assert not left_alive({old}, 15) and alive(_pid(project))
    project.ok("destroy", "-auto-approve", "-var", port)


def test_a_folder_left_half_deleted_by_a_killed_destroy_is_removed_by_the_next_command(service):
    project, port = service
    project.apply("-var", port, "-target", "resource.local_directory.data")
    project.write("data/a/b.txt", "x" * 1000)
    # what a kill during destroy leaves: the folder renamed aside, its contents not yet removed
    project.path("data").rename(project.path(".data.deleting-0123abcd"))
    project.ok("plan", "-var", port)
    assert not list(project.root.glob(".data.deleting-*"))
