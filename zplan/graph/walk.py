"""Run a DAG in dependency order, in parallel where the graph allows.

``walk`` is a pure scheduling function: the caller passes ``start(node)``, which
returns a ``concurrent.futures.Future`` (already finished for work done on the
spot, e.g. a cached step). A node starts when all its predecessors succeeded; a
failure marks everything downstream as skipped. Tested on graphs of integers.
"""

from __future__ import annotations

import concurrent.futures as cf
from typing import TYPE_CHECKING, Callable, Hashable, Iterable

if TYPE_CHECKING:
    from zplan.graph.dag import Dag

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


def walk(
    graph: "Dag",
    start: Callable[[Hashable], cf.Future],
    on_finish: Callable[[Hashable, str, cf.Future | None], None] = lambda n, s, f: None,
    nodes: Iterable[Hashable] | None = None,
    priority: Callable[[Hashable], object] = str,
) -> dict[Hashable, str]:
    """Run ``nodes`` (default: all) of ``graph``; returns node -> OK | FAILED | SKIPPED.

    A future that raises, or whose result is ``False`` or has ``ok == False``,
    counts as failed. ``on_finish`` sees each node once, in completion order.
    """
    todo = set(graph.nodes if nodes is None else nodes)
    waiting = {n: {p for p in graph.predecessors(n) if p in todo} for n in todo}
    outcome: dict[Hashable, str] = {}
    running: dict[cf.Future, Hashable] = {}
    started: set[Hashable] = set()

    def finish(node: Hashable, status: str, future: cf.Future | None) -> None:
        outcome[node] = status
        on_finish(node, status, future)
        for child in graph.successors(node):
            if child not in waiting:
                continue
            if status != OK:
                if child not in outcome:
                    finish(child, SKIPPED, None)
            else:
                waiting[child].discard(node)

    def launch_ready() -> None:
        ready = sorted((n for n, deps in waiting.items() if not deps and n not in outcome and n not in started), key=priority)
        for node in ready:
            started.add(node)
            try:
                future = start(node)
            except BaseException as exc:  # starting failed: treat like a failed run
                future = cf.Future()
                future.set_exception(exc)
            running[future] = node

    launch_ready()
    while running:
        done, _ = cf.wait(list(running), return_when=cf.FIRST_COMPLETED)
        for future in done:
            node = running.pop(future)
            failed = future.exception() is not None or _failed(future.result())
            finish(node, FAILED if failed else OK, future)
        launch_ready()
    return outcome


def _failed(result: object) -> bool:
    return result is False or getattr(result, "ok", True) is False


def done_future(value: object = True) -> cf.Future:
    future: cf.Future = cf.Future()
    future.set_result(value)
    return future
