"""ML Metadata written by a helper process, for an apply of many steps.

ML Metadata's calls hold Python's GIL for their whole length: writing a batch of 600 executions is
~0.2 s in which no other thread of the apply runs, the one handing steps to the workers included,
so the workers wait. An apply of many steps (``zplan.apply.recorder.HELPER_MIN_STEPS``) sends its
records to this helper over a pipe instead: while the helper writes, the apply's main thread waits
for the answer without holding the GIL, and the workers are kept busy. (Up to ~1,000 tiny steps, the
helper's start, another interpreter importing ML Metadata, costs as much as it saves or more.)

Each call waits for its answer, so what is written when is as with the store in the apply's process:
state is written after the executions it names, and an error comes back as the store's own
diagnostic. The helper ignores the terminal's Ctrl-C and SIGTERM, as the apply still has the run
to finish then; it ends when its pipe closes, after the call it is in (a killed apply leaves no
half-made write behind).
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
from pathlib import Path

from zplan.diags import DiagnosticError, fail
from zplan.processes import ProcessId

_MAIN = "from zplan.metadata.helper import serve; serve()"
_CALLS = ("start_run", "record_executions", "finish_run")  # what an apply asks of its store


class MetadataHelper:
    """The stack's metadata store, opened for writing in a helper process: the calls an apply makes of
    a ``MetadataStore`` (``open_for_writing``, ``start_run``, ``record_executions``, ``finish_run``,
    ``close``) are sent there."""

    def __init__(self, url: str, project_root: Path, password: str | None) -> None:
        package_parent = str(Path(__file__).resolve().parents[2])  # this zplan, whatever put it on sys.path
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [package_parent, os.environ.get("PYTHONPATH")])))
        self._proc = subprocess.Popen([sys.executable, "-c", _MAIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        self._lock = threading.Lock()
        self._unanswered = 0
        self._send("open", str(url), str(project_root), password)  # the store opens while this process goes on

    def open_for_writing(self) -> None:
        """Until the store is open (made if new); raises what opening it raised."""
        with self._lock:
            self._answers()

    def start_run(self, *args, **kwargs) -> int:
        return self._call("start_run", *args, owner=ProcessId.current(), **kwargs)  # the run is this process's, not the helper's

    def record_executions(self, run: int, records: list) -> list[int]:
        return self._call("record_executions", run, list(records))

    def finish_run(self, *args, **kwargs) -> None:
        self._call("finish_run", *args, **kwargs)

    def close(self) -> None:
        """The helper ends once its pipe is closed: its exit is collected on a thread (it has nothing left to write)."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            try:
                self._proc.stdin.close()
            except OSError:  # (it ended already)
                pass
            threading.Thread(target=self._proc.wait, name="zplan-metadata-helper-exit", daemon=True).start()

    def _call(self, name: str, *args, **kwargs):
        with self._lock:
            self._send(name, *args, **kwargs)
            return self._answers()

    def _send(self, name: str, *args, **kwargs) -> None:
        try:
            pickle.dump((name, args, kwargs), self._proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            self._proc.stdin.flush()
        except (BrokenPipeError, ValueError):  # it ended: its exit is reported with the answer
            pass
        self._unanswered += 1

    def _answers(self):
        """Read every answer still owed (the first, the store's opening), the last being the latest call's;
        raise the first failure."""
        failure, result = None, None
        while self._unanswered:
            try:
                kind, value = pickle.load(self._proc.stdout)
            except (EOFError, OSError, pickle.UnpicklingError):
                self._unanswered = 0
                raise self._ended() from None
            self._unanswered -= 1
            if kind == "ok":
                result = value
            elif failure is None:
                failure = DiagnosticError(value) if kind == "diagnostics" else RuntimeError(value)
        if failure is not None:
            raise failure
        return result

    def _ended(self) -> DiagnosticError:
        code = self._proc.wait()
        how = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        return fail(f"the metadata store's helper process ended unexpectedly ({how})",
                    "run the command again; what it had not written was not recorded, and those steps run again next time")


def serve() -> None:
    """The helper's side: answer each call read from stdin, until it closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    calls, answers = sys.stdin.buffer, os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what a library prints goes to stderr, never into the answers
    store = None
    while True:
        try:
            name, args, kwargs = pickle.load(calls)
        except EOFError:
            return
        try:
            if name == "open":
                from zplan.metadata import MetadataStore

                store = MetadataStore.from_url(args[0], Path(args[1]), args[2])
                store.open_for_writing()
                answer = ("ok", None)
            elif name in _CALLS:  # (after "open", always the first call)
                answer = ("ok", getattr(store, name)(*args, **kwargs))
            else:
                answer = ("error", f"no such call: {name}")
        except DiagnosticError as exc:
            answer = ("diagnostics", exc.diagnostics)
        except Exception as exc:  # a bug: reported as one, with its type
            answer = ("error", f"{type(exc).__name__}: {exc}")
        pickle.dump(answer, answers, protocol=pickle.HIGHEST_PROTOCOL)
        answers.flush()
