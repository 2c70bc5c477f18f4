"""What every ``zplan`` command process shares, whichever parser read its flags (the quick
launch in zplan.cli.launch or the full command line in zplan.cli.app): the collector's
settings for a process that runs one command, and how a command ends (an exit code, and a
message, never a traceback, for a user's mistake)."""

from __future__ import annotations

import atexit
import gc
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, NoReturn

from zplan import diags

_ENDS_THE_PROCESS = False  # the command runs as the process's own (console script, `python -m zplan.cli`)
_kept: list = []  # what the command built, never freed when the process ends with it (``keep_until_exit``)
_exit_code: int | None = None  # set as a process that ends with its command exits (``_exit``)


def ends_the_process() -> bool:
    """Whether the process exits once this command returns (so it need not tidy up for later)."""
    return _ENDS_THE_PROCESS


@contextmanager
def command_settings(ends_the_process: bool) -> Iterator[None]:
    """The collector's settings while one command runs, restored after it for a caller that lives on.

    A command builds tens of thousands of long-lived objects (config, state records, the
    plan), nearly all acyclic: at the default threshold of 700 allocations the collector
    rescans them about 90 times on a 1,000-step plan, ~8 % of a no-change plan's CPU. Steps
    run in workers started from a fresh interpreter, with the default settings.
    """
    from zplan import pickled  # (not the configuration's loader: a kept plan shown again never loads it)
    from zplan.state import collector

    global _ENDS_THE_PROCESS
    if ends_the_process and None in (sys.stdin, sys.stdout, sys.stderr):  # (the import only when needed)
        from zplan.stdio import fill_closed_standard_streams

        fill_closed_standard_streams()
    pickled.FREEZE_LOADED_TREES = True
    collector.FREEZE_AFTER = ends_the_process
    saved = gc.get_threshold()
    gc.set_threshold(20_000, *saved[1:])
    _ENDS_THE_PROCESS = ends_the_process
    try:
        yield
    finally:
        _ENDS_THE_PROCESS = False
        # For a caller that lives on (a test, a notebook running a command), later loads freeze
        # nothing more. What this command froze stays so: unfreezing would make the collection at
        # interpreter exit scan it all, ~10 ms more for every command.
        pickled.FREEZE_LOADED_TREES = False
        collector.FREEZE_AFTER = False
        gc.set_threshold(*saved)


def run_guarded(command: Callable[[], int], root: Callable[[], Path | None]) -> NoReturn:
    """Run ``command`` and exit with the code it returns. User mistakes (diagnostics) are
    printed relative to ``root()`` and exit 1; an interruption exits 130; zplan's own bugs
    are shown in one line (ZPLAN_DEBUG=1 for the traceback) and exit 1."""
    _exit_cleanly_on_sigterm()
    try:
        code = command()
    except diags.DiagnosticError as exc:
        from zplan.render.console import print_diagnostics

        print_diagnostics(exc.diagnostics, root())
        sys.exit(1)
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        _ignore_signals_once_interrupted(130)
        sys.exit(130)
    except BrokenPipeError:  # the reader went away (`zplan state list | head`): nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        sys.exit(1)
    except Exception as exc:  # the project's own bugs: show them plainly, but still exit 1
        from zplan.state.backend import StateLockedError

        if isinstance(exc, StateLockedError):
            sys.stderr.write(f"Error: {exc}\n  {_locked_hint(exc.holder)}\n")
            sys.exit(1)
        if os.environ.get("ZPLAN_DEBUG"):
            raise
        sys.stderr.write(f"Error: internal error: {type(exc).__name__}: {exc}\n  (set ZPLAN_DEBUG=1 for the traceback and please report it)\n")
        sys.exit(1)
    _exit(code)


def no_color(asked: bool) -> bool:
    """-no-color, whichever reader took it: plain text from then on (no escape codes at all)."""
    if asked:
        from zplan.render.console import plain_output

        plain_output()
    return asked


def _locked_hint(holder) -> str:
    """What to do about a held state lock: force-unlock is named only with its holder's real ID."""
    wait = "another zplan command holds the lock; wait for it (-lock-timeout 5m)"
    if holder is None:  # a holder that has not written who it is yet, or whose info was lost
        return f"{wait} and run the command again"
    return f"{wait} or, if its holder is gone for good, run `zplan force-unlock {holder.id}`"


def keep_until_exit(*objects) -> None:
    """Keep what a command built (its configuration, state and plan: millions of objects at 20,000
    steps) referenced until a process that ends with the command exits, so that it is never freed:
    freeing it one object at a time took ~7 % of such a plan. In any other caller, nothing."""
    if _ENDS_THE_PROCESS:
        _kept.extend(objects)


def _exit(code: int) -> NoReturn:
    """Exit with ``code``. A process ending with a command that kept what it built
    (``keep_until_exit``), with nothing left to run at exit (no exit handler, no other thread),
    flushes its output and ends at once, without taking that apart; otherwise, the usual way."""
    _ignore_signals_once_interrupted(code)
    threading = sys.modules.get("threading")
    alone = threading is None or threading.active_count() == 1
    handlers = getattr(atexit, "_ncallbacks", lambda: 1)()
    if _ENDS_THE_PROCESS and _kept and alone and handlers == _OWN_HANDLERS:
        _end_now(code)
    # The usual exit: what was kept is freed now, as the frames holding it would have; left to the
    # interpreter's exit, its last collection would walk all of it first (~0.3 s at 20,000 steps).
    _kept.clear()
    if _ENDS_THE_PROCESS:
        global _exit_code
        _exit_code = code  # (``_end_after_exit_handlers`` ends the process there)
    sys.exit(code)


def _end_after_exit_handlers() -> None:
    """The last exit handler of a process that ends with its command: ends it at once.

    By the time it runs, the interpreter has joined every thread and run every other exit handler
    (helper processes stopped, temporary files removed), and the command has closed what it wrote
    (state, records and artifacts are synced as they are written). What is left is taking apart
    every module and object, ML Metadata's and protobuf's included: ~60-90 ms at the end of an
    apply, which writes nothing."""
    if _exit_code is not None:
        _end_now(_exit_code)


def _end_now(code: int) -> None:
    """Flush the output and end the process with ``code``; returns only when the output cannot be
    flushed (a reader gone, a stream closed), which the usual exit then deals with."""
    while _quick_handlers:
        _quick_handlers.pop()()
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(code)


# Exit handlers run last-registered first: registered before any other, this one runs after them
# all. Were any registered earlier (an embedding program), they could not run after it: then not.
_OWN_HANDLERS = 0  # exit handlers zplan registered here (``_exit`` counts the others)
if getattr(atexit, "_ncallbacks", lambda: 1)() == 0:
    atexit.register(_end_after_exit_handlers)
    _OWN_HANDLERS = 1
_quick_handlers: list[Callable[[], None]] = []  # (``at_exit``)


def at_exit(handler: Callable[[], None]) -> None:
    """Run ``handler`` (quick) once as the process exits, also when it ends at once (``_end_now``, which
    skips the interpreter's exit handlers)."""
    global _OWN_HANDLERS

    def once() -> None:
        if handler in _quick_handlers:
            _quick_handlers.remove(handler)
            handler()

    atexit.register(once)
    _OWN_HANDLERS += 1
    _quick_handlers.append(handler)


def _ignore_signals_once_interrupted(code: int) -> None:
    """An interrupted command is over (an apply has stopped its steps and recorded them) and its
    process exits: a further Ctrl-C, which an apply's stop message invites, would otherwise stop
    whatever clean-up the interpreter was in and print its traceback."""
    import signal

    if _ENDS_THE_PROCESS and code in (128 + signal.SIGINT, 128 + signal.SIGTERM):
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)


def folder_or_none() -> Path | None:
    """The folder the command runs in, resolved, or None when it is gone (diagnostics then name
    files by their full paths)."""
    try:
        return Path.cwd().resolve()
    except OSError:
        return None


def _exit_cleanly_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C (locks released, temporary files removed) and exits 143;
    during an apply, the applier stops its steps first (zplan.apply.interrupts)."""
    import signal

    def terminate(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
