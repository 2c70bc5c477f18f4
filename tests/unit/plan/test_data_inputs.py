"""What a data input may name: refused at plan, at the line of the step's ``inputs``, with what to do."""

from __future__ import annotations

import contextlib
import os
import signal
import socket

import pytest

from zplan.diags import DiagnosticError

from tests.unit.plan.inprocess import copy_pipeline, plan

INPUTS_LINE = 17  # inputs = { raw = "data/numbers.txt" } in the test pipeline


@contextlib.contextmanager
def _at_most(seconds: float):
    """Fails the test instead of hanging it (a plan that opens a FIFO blocks for ever)."""
    def expired(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _refused(root, *texts: str) -> str:
    with _at_most(10), pytest.raises(DiagnosticError) as caught:
        plan(root)
    d = caught.value.diagnostics[0]
    message = f"{d.summary}\n{d.detail}"
    assert d.range is not None and d.range.line == INPUTS_LINE, message
    for text in texts:
        assert text in message, message
    return message


def _input(root, value: str) -> None:
    hcl = root / "main.zp.hcl"
    hcl.write_text(hcl.read_text().replace('"data/numbers.txt"', value))


def test_a_link_to_nothing_inside_a_folder_is_named(tmp_path):
    root = copy_pipeline(tmp_path)
    os.makedirs(root / "data" / "sub")
    os.symlink("nowhere.txt", root / "data" / "sub" / "dangle")
    _input(root, '"data"')
    _refused(root, 'input "raw" (data) holds data/sub/dangle, a symbolic link to nowhere.txt, which does not exist',
             "remove or replace data/sub/dangle")


def test_a_loop_of_links_inside_a_folder_is_named_as_a_loop(tmp_path):
    root = copy_pipeline(tmp_path)
    os.symlink("b", root / "data" / "a")
    os.symlink("a", root / "data" / "b")
    _input(root, '"data"')
    _refused(root, 'input "raw" (data) holds data/a, a symbolic link to b, which leads back to it (a loop of links)',
             "remove or replace data/a")


def test_a_link_to_a_file_inside_a_folder_is_followed(tmp_path):
    root = copy_pipeline(tmp_path)
    os.symlink("numbers.txt", root / "data" / "same.txt")
    _input(root, '"data"')
    made, _, _ = plan(root)
    assert made.steps[0].inputs["raw"].digest


def test_a_fifo_inside_a_folder_is_refused_unopened(tmp_path):
    root = copy_pipeline(tmp_path)
    os.mkfifo(root / "data" / "pipe")
    _input(root, '"data"')
    _refused(root, "holds data/pipe, a named pipe (FIFO), not a file")


def test_a_socket_inside_a_folder_is_refused(tmp_path):
    root = copy_pipeline(tmp_path)
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "data" / "s.sock"))
        _input(root, '"data"')
        _refused(root, "holds data/s.sock, a socket, not a file")


def test_a_fifo_named_as_the_input_is_refused_at_plan(tmp_path):
    root = copy_pipeline(tmp_path)
    os.mkfifo(root / "data" / "pipe")
    _input(root, '"data/pipe"')
    _refused(root, 'input "raw" names data/pipe, a named pipe (FIFO), not a file or folder')


@pytest.mark.parametrize("value", ['""', '"."', '"./"', '".."'])
def test_a_folder_holding_the_state_folder_is_refused(tmp_path, value):
    root = copy_pipeline(tmp_path)
    (root / ".zplan").mkdir()
    _input(root, value)
    _refused(root, "a folder holding zplan's own state folder .zplan", 'name a data file or folder')


@pytest.mark.parametrize("value", ['".zplan"', '".zplan/state.json"', '"data/../.zplan"'])
def test_a_path_inside_the_state_folder_is_refused(tmp_path, value):
    root = copy_pipeline(tmp_path)
    (root / ".zplan").mkdir()
    (root / ".zplan" / "state.json").write_text("{}")
    _input(root, value)
    _refused(root, "inside zplan's own state folder .zplan")


def test_a_file_of_a_git_module_checked_out_under_the_state_folder_is_an_input(tmp_path):
    # "${path.module}/data.csv" in a git module: zplan init checks it out in .zplan/modules, which no apply writes
    root = copy_pipeline(tmp_path)
    (root / ".zplan" / "modules" / "0123abcd" / "sub").mkdir(parents=True)
    (root / ".zplan" / "modules" / "0123abcd" / "sub" / "data.csv").write_text("a,b\n")
    _input(root, '".zplan/modules/0123abcd/sub/data.csv"')
    made, _, _ = plan(root)
    assert made.steps[0].inputs["raw"].path == ".zplan/modules/0123abcd/sub/data.csv" and made.steps[0].inputs["raw"].digest


def test_a_folder_outside_the_project_is_still_an_input(tmp_path):
    root = copy_pipeline(tmp_path)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "x.txt").write_text("1\n")
    _input(root, '"../shared"')
    made, _, _ = plan(root)
    assert made.steps[0].inputs["raw"].digest


def test_a_path_built_from_path_module_is_shown_relative_to_the_project(tmp_path):
    # "${path.module}/x" is an absolute path: plans (reviewed in pull requests, made on other machines)
    # show it as the project path it names, as they show "modules/m/data.csv" written out
    root = copy_pipeline(tmp_path)
    _input(root, '"${path.module}/data/numbers.txt"')
    made, _, _ = plan(root)
    assert made.steps[0].inputs["raw"].path == "data/numbers.txt"
