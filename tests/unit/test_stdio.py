"""Closed standard streams become the null device, in this process and for its children."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent(
    """
    import os, subprocess, sys
    from zplan.stdio import fill_closed_standard_streams

    assert sys.stdout is None and sys.stdin is None
    fill_closed_standard_streams()
    print("dropped")  # no error: it goes to the null device
    sys.stdout.flush()
    with open("data.txt", "w") as f:
        assert f.fileno() > 2, f.fileno()  # a file opened later never takes a standard descriptor
    child = subprocess.run([sys.executable, "-c", "import os, sys; sys.stderr.write(os.readlink('/proc/self/fd/1'))"],
                           stderr=subprocess.PIPE, text=True)
    sys.stderr.write("child's stdout: " + child.stderr)
    """
)


def test_closed_streams_become_the_null_device_for_this_process_and_its_children(tmp_path):
    from tests.cli.helpers import closing

    done = subprocess.run(closing((0, 1), [sys.executable, "-c", _SCRIPT]), cwd=tmp_path, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"child's stdout: {os.devnull}"


def test_open_streams_are_left_alone(monkeypatch):
    from zplan.stdio import fill_closed_standard_streams

    before = sys.stdin, sys.stdout, sys.stderr
    fill_closed_standard_streams()
    assert (sys.stdin, sys.stdout, sys.stderr) == before
