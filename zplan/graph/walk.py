"""Run a DAG in dependency order, in parallel where the graph allows.

``walk`` is a pure scheduling function: the caller passes ``start(node)``, which
returns a ``concurrent.futures.Future`` (already finished for work done on the
spot, e.g. a cached step). A node starts when all its predecessors succeeded; a
failure marks everything downstream as skipped. Tested on graphs of integers.
"""

from __future__ import annotations

import concurrent.futures as cf
import heapq
import itertools
import queue
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
    stopping: Callable[[], bool] = lambda: False,
    idle: Callable[[], float | None] = lambda: None,
) -> dict[Hashable, str]:
    """Run ``nodes`` (default: all) of ``graph``; returns node -> OK | FAILED | SKIPPED.

    A future that raises, or whose result is ``False`` or has ``ok == False``,
    counts as failed. ``on_finish`` sees each node once, in completion order.
    Once ``stopping()`` is true nothing more starts: running nodes are waited
    for, and nodes not started are reported SKIPPED. ``idle()`` is called each
    time the walk is about to wait for a running node, every ready node started:
    work done there (writing records) holds up no node. It returns how long to
    wait before calling it again if no node ends meanwhile (None: until one does).
    """
    todo = set(graph.nodes if nodes is None else nodes)
    waiting = {n: {p for p in graph.predecessors(n) if p in todo} for n in todo}
    outcome: dict[Hashable, str] = {}
    ready: list[tuple[object, int, Hashable]] = []  # a heap, by priority
    order = itertools.count()
    completed: queue.SimpleQueue = queue.SimpleQueue()  # (node, future) as each one finishes
    running = 0

    def make_ready(node: Hashable) -> None:
        heapq.heappush(ready, (priority(node), next(order), node))

    def finish(node: Hashable, status: str, future: cf.Future | None) -> None:
        # Iterative, so a failure at the top of a long chain skips it without deep recursion.
        pending = [(node, status, future)]
        while pending:
            node, status, future = pending.pop()
            outcome[node] = status
            on_finish(node, status, future)
            for child in graph.successors(node):
                if child not in waiting or child in outcome:
                    continue
                if status != OK:
                    outcome[child] = SKIPPED  # claimed now, reported when popped
                    pending.append((child, SKIPPED, None))
                else:
                    waiting[child].discard(node)
                    if not waiting[child]:
                        make_ready(child)

    for node, deps in waiting.items():
        if not deps:
            make_ready(node)
    while True:
        while ready:
            node = heapq.heappop(ready)[2]
            if node in outcome:
                continue
            if stopping():
                finish(node, SKIPPED, None)
                continue
            try:
                future = start(node)
            except BaseException as exc:  # starting failed: treat like a failed run
                future = cf.Future()
                future.set_exception(exc)
            running += 1
            future.add_done_callback(lambda f, n=node: completed.put((n, f)))
        if not running:
            return outcome
        node, future = _next_done(completed, idle)
        running -= 1
        failed = future.exception() is not None or _failed(future.result())
        finish(node, FAILED if failed else OK, future)


def _next_done(completed: queue.SimpleQueue, idle: Callable[[], float | None]) -> tuple:
    while True:
        try:
            return completed.get(timeout=idle())
        except queue.Empty:
            continue


def _failed(result: object) -> bool:
    return result is False or getattr(result, "ok", True) is False


def done_future(value: object = True) -> cf.Future:
    future: cf.Future = cf.Future()
    future.set_result(value)
    return future


def failed_future(exc: BaseException) -> cf.Future:
    future: cf.Future = cf.Future()
    future.set_exception(exc)
    return future
