"""The state lock, held by another real process, and the state serial across applies."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from tests.cli.helpers import Project, ran

HOLD_LOCK = """
import sys, time
from pathlib import Path
from zplan.state.backend import FileBackend

with FileBackend(Path(".zplan/state.json")).lock("apply") as info:
    print(info.id, flush=True)
    time.sleep(120)
"""


def test_a_held_lock_times_out_naming_the_holder_and_a_dead_holder_is_taken_over(applied: Project):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], cwd=applied.root, stdout=subprocess.PIPE, text=True)
    try:
        lock_id = holder.stdout.readline().strip()
        assert lock_id, "the holder did not take the lock"
        started = time.monotonic()
        result = applied.run("apply", "-auto-approve", "-lock-timeout", "1s", "-var", "c=2")
        assert time.monotonic() - started >= 1.0
        assert result.code == 1, str(result)
        assert "Traceback" not in result.err
        assert f"Error: state is locked: ID {lock_id}, apply by" in result.err
        assert f"(pid {holder.pid})" in result.err
        assert f"zplan force-unlock {lock_id}" in result.err
        assert ran(result) == set() and applied.state()["serial"] == 1
    finally:
        holder.kill()  # SIGKILL: no chance to clean up its lock info
        holder.wait()

    result = applied.apply("-var", "c=2")
    assert "Warning: taking over a stale state lock left by a process that is gone" in result.err
    assert f"ID {lock_id}" in result.err and f"(pid {holder.pid})" in result.err
    assert ran(result) == {"scale", "total"}
    assert applied.state()["serial"] == 2


def test_serial_grows_by_one_per_changing_apply_and_not_on_a_no_op(applied: Project):
    assert applied.state()["serial"] == 1
    applied.apply("-var", "c=3")
    assert applied.state()["serial"] == 2
    result = applied.apply("-var", "c=3")
    assert ran(result) == set() and "No changes" in result.out
    assert applied.state()["serial"] == 2
    applied.replace("data/numbers.txt", "4", "40")
    applied.apply("-var", "c=3")
    assert applied.state()["serial"] == 3


def test_a_no_op_apply_with_a_sensitive_output_keeps_the_serial_and_other_saved_plans(applied: Project):
    applied.write("secret.zp.hcl", 'variable "pw" {\n  default   = "hunter2"\n  sensitive = true\n}\n\n'
                                   'output "pw" {\n  value     = var.pw\n  sensitive = true\n}\n')
    applied.apply()
    serial = applied.state()["serial"]
    applied.ok("plan", "-var", "c=3", "-out", "later.zplan")
    result = applied.apply()  # the sealed output is the value planned: nothing to do
    assert "No changes. Nothing to apply." in result.out and applied.state()["serial"] == serial
    assert ran(applied.apply("later.zplan")) == {"scale", "total"}
    applied.replace("secret.zp.hcl", '"hunter2"', '"hunter3"')
    applied.apply("-var", "c=3")  # only the sealed output changes: recorded, and the serial moves on
    assert applied.state()["serial"] == serial + 2


def test_state_rm_of_a_step_says_it_forgets_resources_only_and_how_to_rerun_the_step(applied: Project):
    address = "pipeline.numbers.step.scale"
    assert address in applied.ok("state", "list").out
    result = applied.run("state", "rm", address)
    assert result.code == 1 and "Traceback" not in result.err, str(result)
    assert f"Error: {address} is a step: `zplan state rm` forgets resources only" in result.err
    assert f"zplan apply -replace {address}" in result.err
    assert address in applied.ok("state", "list").out


def test_state_push_puts_a_state_file_back_and_refuses_an_older_or_foreign_one_unless_forced(applied: Project):
    first = applied.state()
    applied.apply("-var", "c=2")
    applied.write("older.json", json.dumps(first))
    refused = applied.run("state", "push", "older.json")
    assert refused.code == 1 and "Traceback" not in refused.err, str(refused)
    assert "Error: cannot push older.json (serial 1) over newer state (serial 2)" in refused.err
    assert "records otherwise: pipeline.numbers.step.scale, pipeline.numbers.step.total" in refused.err
    applied.write("foreign.json", json.dumps({**first, "lineage": "of-another-project", "serial": 7}))
    foreign = applied.run("state", "push", "foreign.json")
    assert foreign.code == 1 and "its lineage of-another-project is not the stored state's" in foreign.err, str(foreign)
    applied.write("sibling.json", json.dumps({**first, "serial": 2}))  # written from the same state as the stored one
    sibling = applied.run("state", "push", "sibling.json")
    assert sibling.code == 1 and "cannot push sibling.json (serial 2) over another state of the same serial (serial 2)" in sibling.err, str(sibling)
    applied.write("damaged.json", "{}")
    damaged = applied.run("state", "push", "damaged.json")
    assert damaged.code == 1 and "damaged.json is damaged: it has no format_version" in damaged.err, str(damaged)
    assert applied.state()["serial"] == 2

    forced = applied.ok("state", "push", "-force", "older.json")  # a serial of its own: plans saved before are stale
    assert "Pushed older.json: the state is now serial 3." in forced.out
    assert applied.state() == {**first, "serial": 3}
    applied.write("same.json", json.dumps(applied.state()))
    assert "The stored state already holds what same.json holds: nothing was written." in applied.ok("state", "push", "same.json").out
    assert applied.state()["serial"] == 3


HOLD_FLOCK_ONLY = """
import fcntl, os, time
fd = os.open(".zplan/state.json.lock", os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(120)
"""


def test_force_unlock_refuses_a_lock_whose_holder_runs_and_keeps_its_info(applied: Project):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], cwd=applied.root, stdout=subprocess.PIPE, text=True)
    try:
        lock_id = holder.stdout.readline().strip()
        result = applied.run("force-unlock", "-force", lock_id)
        assert result.code == 1 and "Traceback" not in result.err, str(result)
        assert f"Error: the state lock {lock_id} is still held: apply by" in result.err
        assert f"(pid {holder.pid})" in result.err and "is running: it was not released" in result.err
        result = applied.run("apply", "-auto-approve", "-var", "c=2")
        assert result.code == 1 and f"ID {lock_id}, apply by" in result.err, "the holder's info is kept"
    finally:
        holder.kill()
        holder.wait()
    applied.ok("force-unlock", "-force", lock_id)  # a holder that is gone: its info is cleared
    assert (applied.root / ".zplan" / "state.json.lock").read_text() == ""


def test_a_lock_holder_that_wrote_no_info_is_never_named_by_a_placeholder_id(applied: Project):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_FLOCK_ONLY], cwd=applied.root, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        result = applied.run("apply", "-auto-approve", "-var", "c=2")
        assert result.code == 1 and "state is locked: an unknown holder" in result.err, str(result)
        assert "force-unlock" not in result.err and "wait for it (-lock-timeout 5m) and run the command again" in result.err
    finally:
        holder.kill()
        holder.wait()


def test_waiting_for_the_lock_is_said_once_in_a_log_not_every_second(applied: Project):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], cwd=applied.root, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip()
        result = applied.run("apply", "-auto-approve", "-lock-timeout", "3s", "-var", "c=2")
        assert result.code == 1, str(result)
        assert result.err.count("Waiting for the state lock") == 1, str(result)
    finally:
        holder.kill()
        holder.wait()


def test_state_push_replaces_a_damaged_state_only_with_force(applied: Project):
    good = applied.state()
    applied.write("good.json", json.dumps(good))
    applied.write(".zplan/state.json", json.dumps(good)[:100])  # cut short
    refused = applied.run("state", "push", "good.json")
    assert refused.code == 1 and "Traceback" not in refused.err, str(refused)
    assert "state.json is damaged: it is not valid JSON" in refused.err and "zplan state push -force good.json" in refused.err
    assert "Pushed good.json" in applied.ok("state", "push", "-force", "good.json").out
    assert applied.state() == good and "No changes." in applied.ok("plan").out
