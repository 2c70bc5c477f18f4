"""A read-only .zplan folder (a bind mount remounted read-only, or no write permission): commands that
lock state say which folder and what to do, never "internal error"; commands that only read work.
A full disk (a small tmpfs mounted over .zplan, filled) fails the state write itself: the command says
which file and why, the state file is left whole, and an apply keeps what it could not record."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest

from zplan.diags import DiagnosticError
from zplan.state.backend import FileBackend

from .helpers import Project, Result, ran, with_full_disk, with_read_only

CHANGING = [("apply", "-auto-approve"), ("destroy", "-auto-approve"), ("state", "rm", "resource.local_directory.x"), ("gc", "-dry-run")]
READING = [("plan",), ("show",), ("output",), ("runs",), ("state", "list"), ("verify",)]


def _read_only(project: Project, *command: str) -> Result:
    """Run ``zplan COMMAND`` with .zplan read-only."""
    return with_read_only(project, ".zplan", *command)


@pytest.fixture
def ro(applied: Project) -> Project:
    if os.geteuid() == 0 and shutil.which("unshare") is None:
        pytest.skip("needs unshare to make a folder read-only as root")
    return applied


@pytest.mark.parametrize("command", CHANGING, ids=" ".join)
def test_commands_that_lock_state_name_the_read_only_folder(ro: Project, command):
    before = ro.path(".zplan/state.json").read_bytes()
    code, _, err = _read_only(ro, *command)
    assert code == 1 and "internal error" not in err and "Traceback" not in err, err
    assert f"cannot lock the state: {ro.path('.zplan')} is read-only" in err and "make it writable" in err, err
    assert ro.path(".zplan/state.json").read_bytes() == before


def test_force_unlock_of_a_gone_holder_names_the_read_only_folder(ro: Project):
    info = '{"id": "1b2c", "operation": "apply", "who": "me@here", "host": "here", "pid": 99999, "created": "2026-01-01T00:00:00+00:00"}'
    ro.write(".zplan/state.json.lock", info)  # left by a killed apply
    code, _, err = _read_only(ro, "force-unlock", "-force", "1b2c")
    assert code == 1 and "internal error" not in err and "Traceback" not in err, err
    assert f"cannot release the state lock: {ro.path('.zplan')} is read-only" in err and "make it writable" in err, err
    assert ro.read(".zplan/state.json.lock") == info


@pytest.mark.parametrize("command", READING, ids=" ".join)
def test_commands_that_only_read_still_work(ro: Project, command):
    result = _read_only(ro, *command)
    assert result.code == 0, str(result)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_the_lock_names_a_folder_it_cannot_write_in(tmp_path: Path, monkeypatch, code: int):
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr("zplan.state.backend.os.open", refuse)
    with pytest.raises(DiagnosticError, match=f"cannot lock the state: {tmp_path} is read-only"):
        with FileBackend(tmp_path / "state.json").lock("apply"):
            pass


def test_a_folder_without_write_permission_is_named_even_when_the_lock_file_is_writable(tmp_path: Path, monkeypatch):
    monkeypatch.setattr("zplan.state.backend.os.access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(DiagnosticError, match="this user may not write in it"):
        with FileBackend(tmp_path / "state.json").lock("apply"):
            pass


RESOURCE = 'resource "local_directory" "out" {\n  path = "out"\n}\n'
STORES_OUTSIDE = ('  artifact_store = "file://.zplan/artifacts"\n  metadata_store = "sqlite:///.zplan/metadata.db"\n',
                  '  artifact_store = "file://store/artifacts"\n  metadata_store = "sqlite:///store/metadata.db"\n')


def _no_leftovers(project: Project) -> None:
    """No temporary file of a failed write, no lock info: the next command finds the state as it was."""
    assert not [p.name for p in project.path(".zplan").iterdir() if p.name.endswith(".tmp")]
    assert project.read(".zplan/state.json.lock") == ""


def test_a_state_edit_on_a_full_disk_names_the_file_and_leaves_the_state_whole(applied: Project):
    applied.write("out.zp.hcl", RESOURCE)
    applied.apply()
    before = applied.path(".zplan/state.json").read_bytes()
    code, _, err = with_full_disk(applied, ".zplan", "state", "rm", "resource.local_directory.out")
    assert code == 1 and "internal error" not in err and "Traceback" not in err, err
    assert f"cannot record the state: writing {applied.path('.zplan/state.json.backup')}" in err, err
    assert "failed: No space left on device" in err and "free some space on the disk holding" in err, err
    assert "state.json was left as it was before this write" in err, err
    assert applied.path(".zplan/state.json").read_bytes() == before
    _no_leftovers(applied)
    assert "resource.local_directory.out" in applied.ok("state", "list").out


def test_a_lock_whose_info_cannot_be_written_on_a_full_disk_is_named_and_nothing_is_done(applied: Project):
    applied.write("out.zp.hcl", RESOURCE)
    applied.apply()
    before = applied.path(".zplan/state.json").read_bytes()
    code, _, err = with_full_disk(applied, ".zplan", "state", "rm", "resource.local_directory.out", free_kib=0)
    assert code == 1 and "internal error" not in err and "Traceback" not in err, err
    assert f"cannot lock the state: writing {applied.path('.zplan/state.json.lock')} (who holds the state lock) failed: No space left on device" in err, err
    assert "nothing was done, and state.json is as it was" in err, err
    assert applied.path(".zplan/state.json").read_bytes() == before
    _no_leftovers(applied)


def test_a_destroy_on_a_full_disk_keeps_what_it_could_not_record_and_names_it(applied: Project):
    applied.write("out.zp.hcl", RESOURCE)
    applied.apply()
    before = applied.path(".zplan/state.json").read_bytes()
    code, _, err = with_full_disk(applied, ".zplan", "destroy", "-auto-approve")
    assert code == 1 and "internal error" not in err and "Traceback" not in err, err
    # a destroy's message names the destroy: "run the apply again" would recreate what it destroyed
    assert "No space left on device; the destroy stopped, and these ran but are not recorded in state: resource.local_directory.out" in err, err
    assert "The state this destroy could not record" in err and "then run the destroy again" in err and "run the apply" not in err, err
    kept = applied.path("errored.state.json")  # .zplan is full: kept in the project folder
    assert f"is kept in {kept}: once that can be written, put it in place with `zplan state push {kept}`" in err, err
    assert applied.path(".zplan/state.json").read_bytes() == before and not applied.path("out").exists()
    _no_leftovers(applied)
    assert "resource.local_directory.out" not in json.loads(kept.read_text())["resources"]
    assert oct(kept.stat().st_mode & 0o777) == "0o600"  # private, as state
    assert "the state is now serial 3" in applied.ok("state", "push", str(kept)).out  # restored: the next plan knows the directory is gone
    assert applied.ok("destroy", "-auto-approve").out == "Destroy complete: 0 destroyed.\n"


def test_an_apply_on_a_full_disk_stops_and_keeps_the_steps_it_ran(applied: Project):
    applied.replace("main.zp.hcl", *STORES_OUTSIDE)  # state alone on the full disk
    applied.apply()
    code, out, err = with_full_disk(applied, ".zplan", "apply", "-auto-approve", "-var", "c=2")
    assert code == 1 and "internal error" not in err and "Traceback" not in err, err
    assert ran(Result(code, out, err)) == {"scale"}
    assert "pipeline.numbers.step.total: skipped (not started: the apply stopped, as state could not be written)" in out
    assert "these ran but are not recorded in state: pipeline.numbers.step.scale" in err, err
    _no_leftovers(applied)
    applied.path("errored.state.json").replace(applied.path(".zplan/state.json"))
    assert ran(applied.apply("-var", "c=2")) == {"total"}  # scale's run was kept


FILL_THE_DISK = '''def fill():
    """Fill the disk holding the metadata store, as another program might while the apply runs (the
    small one the test mounts: never more than 64 MiB, should the test run elsewhere)."""
    with open("meta/filler", "wb") as f:
        try:
            for _ in range(1024):
                f.write(bytes(65536))
                f.flush()
        except OSError:
            pass
    return 1
'''


def test_a_metadata_store_whose_disk_fills_during_the_apply_is_named_with_the_database_s_reason(project: Project):
    project.replace("main.zp.hcl", 'metadata_store = "sqlite:///.zplan/metadata.db"', 'metadata_store = "sqlite:///meta/metadata.db"')
    project.apply()
    project.write("steps/fill.py", FILL_THE_DISK)
    project.write("fill.zp.hcl", 'pipeline "disk" {\n  step "fill" {\n    source = "steps/fill.py:fill"\n  }\n}\n')
    code, _, err = with_full_disk(project, "meta", "apply", "-auto-approve", free_kib=2048)
    assert code == 1 and "internal error" not in err and "Transaction already open" not in err, err
    assert (f"Error: metadata store sqlite {project.path('meta/metadata.db')}: database or disk is full; the apply stopped there: "
            "these ran but are not recorded: pipeline.disk.step.fill\n") in err, err
    assert f"free some space on the disk holding {project.path('meta')}, then run the command again" in err, err
    (store,) = project.state()["stores"].values()  # state never names what ML Metadata could not record
    assert "pipeline.disk.step.fill" not in store["steps"]
    assert "   2  " in project.ok("runs").out  # (recorded interrupted: its apply could not finish it)


def test_a_metadata_store_whose_disk_fills_stops_the_apply_and_the_running_steps_finish(project: Project):
    """As a failed state write: nothing new starts, the step running beside the one that filled the
    disk finishes and is reported, and neither is named by state (ML Metadata has no execution of
    them): the next apply runs them again."""
    project.replace("main.zp.hcl", 'metadata_store = "sqlite:///.zplan/metadata.db"', 'metadata_store = "sqlite:///meta/metadata.db"')
    project.apply()
    project.write("steps/fill.py", FILL_THE_DISK + "\n\ndef slow():\n    import time\n    time.sleep(3)\n    return 2\n\n\n"
                                                   "def later(x):\n    return x\n")
    project.write("fill.zp.hcl", 'pipeline "disk" {\n  step "fill" {\n    source = "steps/fill.py:fill"\n  }\n'
                                 '  step "slow" {\n    source = "steps/fill.py:slow"\n  }\n'
                                 '  step "later" {\n    source = "steps/fill.py:later"\n    inputs = { x = step.fill.outputs.output }\n  }\n}\n')
    code, out, err = with_full_disk(project, "meta", "apply", "-auto-approve", free_kib=2048)
    assert code == 1 and "internal error" not in err and "Traceback" not in err, err
    assert ran(Result(code, out, err)) == {"fill", "slow"}, out
    assert "pipeline.disk.step.fill: done in " in out and "pipeline.disk.step.slow: done in " in out, out
    assert "pipeline.disk.step.later: skipped (not started: the apply stopped, as ML Metadata could not be written)" in out
    assert (f"Error: metadata store sqlite {project.path('meta/metadata.db')}: database or disk is full; the apply stopped there: "
            "these ran but are not recorded: pipeline.disk.step.fill, pipeline.disk.step.slow; pipeline.disk.step.later did not run") in err, err
    assert f"free some space on the disk holding {project.path('meta')}" in err and "what is not recorded runs again" in err
    (store,) = project.state()["stores"].values()
    assert not [a for a in store["steps"] if ".disk." in a] and not [e for e in store["cache"].values() if ".disk." in e["address"]]
    assert ran(project.apply()) == {"fill", "slow", "later"}
