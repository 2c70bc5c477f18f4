"""What an apply starts while its plan reads a big new data input: reading it is the slow part of a
first apply (seconds for gigabytes from a disk), and the plan mostly waits for the disk meanwhile.

- The input is hashed through a clone where the file system can clone, and the clone becomes its
  snapshot (``zplan.artifacts.early_clones``): the bytes are read from the disk once.
- On a thread, the apply's own modules are imported, the step runner starts what it can (the
  local workers' forkserver boots), the metadata store is opened for writing (made if new) and
  git is asked about the project, instead of after the plan.

Best effort: what fails here is started again by the apply, which reports it.
"""

from __future__ import annotations

import threading

from zplan.artifacts.early_clones import EarlyClones

START_MIN_BYTES = 64 * 1024 * 1024  # a smaller input is read in a moment: nothing to overlap


class EarlyStart:
    """Hooked into ``planner``'s stat cache for one plan; ``join`` when the plan is made."""

    def __init__(self, planner) -> None:
        self._planner = planner
        self._thread: threading.Thread | None = None
        planner.stat_cache.clone_first = EarlyClones(self._store, self._start, START_MIN_BYTES).make

    def join(self) -> None:
        """Until the thread is done: the apply then imports nothing it half-imported."""
        if self._thread is not None:
            self._thread.join()

    def _store(self):
        """The stack's artifact store as the plan evaluated it; None while it is not known (made by a
        resource of this apply)."""
        from zplan.artifacts.base import ArtifactStore

        url = self._planner.stack_settings.get("artifact_store")
        return ArtifactStore.from_url(url, self._planner.project.root) if isinstance(url, str) else None

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._warm, name="zplan-early-start")
        self._thread.start()

    def _warm(self) -> None:
        settings = self._planner.stack_settings
        try:
            from zplan.apply.applier import step_runner
            from zplan.apply.recorder import open_early

            step_runner(settings).start_early()
            open_early(settings, self._planner.project.root)
        except Exception:  # started again by the apply, which reports what fails
            pass
