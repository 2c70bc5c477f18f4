"""A `zplan plan` process ends without freeing what it built (``process.keep_until_exit``), but
only when nothing else is left to run at exit: an exit handler or another thread means the usual
exit, which still ends the process without taking it apart once they are done. Its output is
flushed and its exit code kept either way."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from tests.cli.helpers import cli_env

_SCRIPT = textwrap.dedent(
    """
    import sys, threading, time
    from zplan.cli import process

    class Built:
        def __del__(self):
            sys.stdout.write("freed\\n")

    process._ENDS_THE_PROCESS = True  # as in the `zplan` process itself
    process.keep_until_exit(Built())
    {before}
    sys.stdout.write("plan printed")  # buffered: the exit must flush it
    process._exit({code})
    """
)


def _run(before: str = "", code: int = 3) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", _SCRIPT.format(before=before, code=code)], capture_output=True, text=True,
                          env=cli_env(), timeout=60)


def test_the_process_ends_at_once_with_its_output_flushed_and_its_code():
    done = _run()
    assert done.returncode == 3, done.stderr
    assert done.stdout == "plan printed"  # nothing freed: the kept object's __del__ never ran


def test_an_exit_handler_means_the_usual_exit_with_what_was_kept_freed_first():
    # freed before the exit, not left to the interpreter's last collection (which would walk it all)
    done = _run("import atexit; atexit.register(lambda: sys.stdout.write(' | handler ran'))")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "plan printedfreed\n | handler ran"


def test_another_thread_means_the_usual_exit():
    done = _run("threading.Thread(target=lambda: (time.sleep(0.3), sys.stdout.write(' | thread done'))).start()")
    assert done.returncode == 3, done.stderr
    assert done.stdout == "plan printedfreed\n | thread done"


_HELD = textwrap.dedent(
    """
    import atexit, builtins, sys, threading, time
    {first}
    from zplan.cli import process

    class Held:
        def __del__(self):
            sys.stdout.write(" | torn down")

    builtins.held = Held()  # referenced until the interpreter takes everything apart
    atexit.register(lambda: sys.stdout.write(" | handler ran"))
    threading.Thread(target=lambda: (time.sleep(0.3), sys.stdout.write(" | thread done"))).start()
    process._ENDS_THE_PROCESS = True
    sys.stdout.write("applied")
    process._exit(3)
    """
)


@pytest.mark.parametrize("first, torn_down", [("", False), ("atexit.register(lambda: None)", True)])
def test_after_its_threads_and_exit_handlers_the_process_ends_without_taking_itself_apart(first, torn_down):
    """The interpreter's teardown (every module and object freed: ~60-90 ms after an apply) is
    skipped once the threads are joined and the exit handlers have run; not when a handler was
    registered before zplan's, which would then not run."""
    done = subprocess.run([sys.executable, "-c", _HELD.format(first=first)], capture_output=True, text=True,
                          env=cli_env(), timeout=60)
    assert done.returncode == 3, done.stderr
    assert done.stdout == "applied | thread done | handler ran" + (" | torn down" if torn_down else "")


@pytest.mark.parametrize("other", ["", "import atexit; atexit.register(lambda: sys.stdout.write(' | handler ran'))"])
def test_zplans_own_exit_handlers_run_whichever_way_the_process_ends(other):
    # (the apply's forked helpers are ended so: zplan.apply.forkserver_early.end)
    done = _run(f"process.at_exit(lambda: sys.stdout.write(' | own ran')); {other}")
    assert done.returncode == 3, done.stderr
    assert done.stdout == ("plan printed | own ran" if not other else "plan printedfreed\n | handler ran | own ran")


def test_a_caller_that_lives_on_keeps_nothing_and_gets_system_exit(monkeypatch):
    from zplan.cli import process

    monkeypatch.setattr(process, "_kept", [])
    process.keep_until_exit(object())  # not the process's own command: nothing kept
    assert process._kept == []
    with pytest.raises(SystemExit) as exit_:
        process._exit(2)
    assert exit_.value.code == 2



@pytest.mark.parametrize("code", [130, 143])
def test_a_signal_during_the_exit_of_an_interrupted_command_prints_no_traceback(code):
    # the exit handler stands for the clean-up the interpreter runs as it exits (multiprocessing's,
    # objects freed) when the user presses Ctrl-C again, as an interrupted apply invites
    again = "os.kill(os.getpid(), signal.SIGINT), os.kill(os.getpid(), signal.SIGTERM), time.sleep(0.2)"
    done = _run(f"import atexit, os, signal; process._exit_cleanly_on_sigterm(); "
                f"atexit.register(lambda: ({again}, sys.stdout.write(' | clean-up done')))", code)
    assert done.returncode == code, done.stderr
    assert done.stdout.endswith(" | clean-up done"), done.stdout
    assert "Traceback" not in done.stderr and "Interrupt" not in done.stderr and "SystemExit" not in done.stderr, done.stderr
