"""The step workers' pool started as the apply begins to plan, with one worker importing what the
project's last apply first imported early (``zplan.apply.warm_imports``).

In a chain the first step runs alone, and the step after it waits for the libraries an idle worker
imports meanwhile (pandas and scikit-learn: ~1.1 s); that import began only once the plan was made,
the run opened and the first step started (~0.15 s into the command). What the last apply imported
first is kept (``remember``), and the next apply's pool, started as it begins to plan (``start``),
imports it at once on a worker of its own; the apply's runner takes that pool (``take``).

The import is a guess until the plan asks for it: the pool stops it (``speculative``) rather than
keep a step waiting for its worker, and nothing is guessed for a pool of one worker, which the
first step needs. A pool no runner took is shut down with the apply (``discard``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (imported by every apply, the no-change one too: the pool's modules only when it starts)
    from zplan.apply.workers import WorkerPool

HINT = "early-imports.json"  # in the project's cache folder: the libraries, as ``ImportJob.imports`` names them

_pool: WorkerPool | None = None


def pool_size(parallelism: int | None) -> int:
    """The apply's number of workers (``Applier``: one per core unless told)."""
    return max(1, parallelism or os.cpu_count() or 1)


def start(project_root: Path, cache_dir: Path, parallelism: int | None) -> None:
    """Start the pool, its first worker importing the kept libraries, if some are kept and it may have two workers."""
    global _pool
    size = pool_size(parallelism)
    imports = read(cache_dir)
    if _pool is not None or size < 2 or not imports:
        return
    from zplan.apply.warm_imports import ImportJob, import_early, needs_of
    from zplan.apply.worker_launch import WORKER_PRELOAD
    from zplan.apply.workers import WorkerPool

    try:
        _pool = WorkerPool(size, preload=WORKER_PRELOAD)
    except (OSError, RuntimeError):  # (no pipe or thread to be had now: the runner's own pool reports it, if it still is so)
        return
    _pool.import_early(import_early, ImportJob(str(project_root), imports), needs_of(imports), speculative=True)


def take(size: int) -> WorkerPool | None:
    """The started pool, for a runner of ``size`` workers (another size: none, and it is discarded)."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None and pool.size != size:
        pool.shutdown(cancel=True, wait=True)
        return None
    return pool


def discard() -> None:
    """End the started pool if no runner took it (the plan had no step to run here, or failed)."""
    global _pool
    pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(cancel=True, wait=True)


def read(cache_dir: Path) -> tuple[str, ...]:
    import json

    try:
        found = json.loads((cache_dir / HINT).read_text())
    except (OSError, ValueError):
        return ()
    return tuple(found) if isinstance(found, list) and all(isinstance(x, str) for x in found) else ()


def remember(cache_dir: Path, imports: tuple[str, ...]) -> None:
    """Keep the libraries this apply first imported early, for the next (a cache: not synced, best effort)."""
    if not cache_dir.is_dir() or read(cache_dir) == imports:
        return
    import json

    from zplan.fsutil import atomic_write_text

    try:
        atomic_write_text(cache_dir / HINT, json.dumps(list(imports)), durable=False)
    except OSError:
        pass
