"""The cycle collector in the `zplan` process: what a command builds is long-lived and acyclic, so
the process that ends with its command freezes it instead of rescanning it; a caller that lives on
(a test, a notebook) never gets its garbage frozen."""

from __future__ import annotations

import gc
import subprocess
import sys

from tests.cli.helpers import cli_env
from zplan.cli import process
from zplan.state import collector

# Counts the collections made while the run is opened (ML Metadata and protobuf imported, the store
# opened), and the objects the collector still watches after it: those the plan and the opening made
# live as long as the process and hold no garbage.
APPLY = (
    "import gc, sys\n"
    "from zplan.apply.applier import Applier\n"
    "seen = []\n"
    "gc.callbacks.append(lambda phase, info: seen.append(info['generation']) if phase == 'stop' else None)\n"
    "opening = Applier._open_run\n"
    "def counted(self):\n"
    "    before = len(seen)\n"
    "    opening(self)\n"
    "    print('collections while the run opened:', len(seen) - before, file=sys.stderr)\n"
    "    print('watched after:', len(gc.get_objects()), file=sys.stderr)\n"
    "Applier._open_run = counted\n"
    "sys.argv = ['zplan', 'apply', '-auto-approve']\n"
    "from zplan.cli.launch import main\n"
    "main()\n"
)


def test_opening_the_run_makes_no_collection_in_the_apply_process(project):
    done = subprocess.run([sys.executable, "-c", APPLY], cwd=project.root, capture_output=True, text=True,
                          env=cli_env(), timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Apply complete" in done.stdout
    assert "collections while the run opened: 0" in done.stderr, done.stderr
    watched = int(done.stderr.split("watched after:")[1].split()[0])
    assert watched < 20_000, done.stderr  # (~37,000 on this project when they are not frozen)


def test_a_pause_freezes_what_is_alive_only_in_a_process_ending_with_its_command():
    assert not collector.FREEZE_AFTER  # (a test process lives on)
    frozen = gc.get_freeze_count()
    try:
        with process.command_settings(ends_the_process=False):
            with collector.paused():
                kept = [[] for _ in range(100)]
            assert gc.get_freeze_count() == frozen  # a caller that lives on keeps its collector as it was
        with process.command_settings(ends_the_process=True):
            assert collector.FREEZE_AFTER
            with collector.paused():
                kept = [[] for _ in range(100)]
            assert gc.get_freeze_count() >= frozen + len(kept)
        assert not collector.FREEZE_AFTER and gc.isenabled()  # restored after the command
    finally:
        gc.unfreeze()  # (the test process goes on)


def test_the_command_modules_are_imported_with_the_collector_paused_and_frozen_only_for_the_process():
    frozen = gc.get_freeze_count()
    seen = []
    try:
        with collector.paused(freeze=False):  # as zplan.cli.launch imports a command for a caller that lives on
            seen.append(gc.isenabled())
        assert seen == [False] and gc.isenabled() and gc.get_freeze_count() == frozen
        with collector.paused(freeze=True):  # and for its own process
            pass
        assert gc.get_freeze_count() > frozen and gc.isenabled()
        gc.disable()  # a caller's own pause is left alone
        with collector.paused(freeze=True):
            seen.append(gc.isenabled())
        assert seen[-1] is False and not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
