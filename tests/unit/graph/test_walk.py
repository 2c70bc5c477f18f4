"""The parallel walk on graphs of plain integers, with a real thread pool as the runner."""

from __future__ import annotations

import concurrent.futures as cf
import threading
import time

import networkx as nx
import pytest

from zplan.graph.walk import FAILED, OK, SKIPPED, done_future, walk


class Recorder:
    """A runner: each node sleeps a little in a pool thread; records start and end order."""

    def __init__(self, pool: cf.ThreadPoolExecutor, fail: set[int] = frozenset(), seconds: float = 0.01) -> None:
        self.pool, self.fail, self.seconds = pool, set(fail), seconds
        self.started: list[int] = []
        self.finished: list[int] = []
        self.lock = threading.Lock()

    def start(self, node: int) -> cf.Future:
        with self.lock:
            self.started.append(node)
        return self.pool.submit(self._run, node)

    def _run(self, node: int) -> bool:
        time.sleep(self.seconds)
        with self.lock:
            self.finished.append(node)
        if node in self.fail:
            raise RuntimeError(f"node {node} failed")
        return True


@pytest.fixture
def pool():
    with cf.ThreadPoolExecutor(max_workers=4) as executor:
        yield executor


def diamond() -> nx.DiGraph:
    # 1 -> 2 -> 4, 1 -> 3 -> 4, 4 -> 5
    return nx.DiGraph([(1, 2), (1, 3), (2, 4), (3, 4), (4, 5)])


def test_every_node_starts_after_all_its_predecessors_finished(pool):
    graph = diamond()
    runner = Recorder(pool)
    outcome = walk(graph, runner.start)
    assert outcome == {n: OK for n in graph}
    for a, b in graph.edges:
        assert runner.finished.index(a) < runner.started.index(b)
    assert sorted(runner.started) == [1, 2, 3, 4, 5]  # each node once


def test_independent_nodes_run_at_the_same_time(pool):
    # 2 and 3 both wait on a barrier that only opens when both are running at once.
    graph = diamond()
    barrier = threading.Barrier(2, timeout=5)

    def start(node: int) -> cf.Future:
        return pool.submit(barrier.wait) if node in (2, 3) else done_future(True)

    outcome = walk(graph, start)
    assert outcome == {n: OK for n in graph}


def test_failure_skips_descendants_but_not_independent_branches(pool):
    # 1 -> 2 -> 3 -> 4 and, independent, 10 -> 11
    graph = nx.DiGraph([(1, 2), (2, 3), (3, 4), (10, 11)])
    runner = Recorder(pool, fail={2})
    seen: list[tuple[int, str]] = []
    outcome = walk(graph, runner.start, lambda n, s, f: seen.append((n, s)))
    assert outcome == {1: OK, 2: FAILED, 3: SKIPPED, 4: SKIPPED, 10: OK, 11: OK}
    assert 3 not in runner.started and 4 not in runner.started
    assert sorted(n for n, _ in seen) == sorted(graph.nodes)  # on_finish sees every node exactly once


def test_skip_reaches_a_join_whose_other_parent_succeeded(pool):
    graph = diamond()
    runner = Recorder(pool, fail={3})
    outcome = walk(graph, runner.start)
    assert outcome == {1: OK, 2: OK, 3: FAILED, 4: SKIPPED, 5: SKIPPED}
    assert runner.started.count(4) == 0


def test_false_results_and_not_ok_results_count_as_failures():
    class Result:
        ok = False

    graph = nx.DiGraph([(1, 2), (3, 4), (5, 6)])
    results = {1: False, 3: Result(), 5: "cached"}
    outcome = walk(graph, lambda n: done_future(results.get(n, True)))
    assert outcome == {1: FAILED, 2: SKIPPED, 3: FAILED, 4: SKIPPED, 5: OK, 6: OK}


def test_a_start_that_raises_is_a_failed_node():
    graph = nx.DiGraph([(1, 2)])
    graph.add_node(3)

    def start(node: int) -> cf.Future:
        if node == 1:
            raise OSError("cannot start")
        return done_future(True)

    futures = {}
    outcome = walk(graph, start, lambda n, s, f: futures.__setitem__(n, f))
    assert outcome == {1: FAILED, 2: SKIPPED, 3: OK}
    assert isinstance(futures[1].exception(), OSError)
    assert futures[2] is None  # skipped nodes never had a future


def test_only_the_chosen_nodes_run_and_outside_predecessors_are_not_waited_for(pool):
    graph = diamond()
    runner = Recorder(pool)
    outcome = walk(graph, runner.start, nodes=[4, 5])
    assert outcome == {4: OK, 5: OK}
    assert runner.started == [4, 5]


def test_ready_nodes_start_in_priority_order():
    graph = nx.DiGraph()
    graph.add_nodes_from([5, 3, 9, 1])
    order: list[int] = []

    def start(node: int) -> cf.Future:
        order.append(node)
        return done_future(True)

    walk(graph, start, priority=lambda n: -n)
    assert order == [9, 5, 3, 1]


def test_wide_graph_with_a_small_pool_finishes_everything():
    # 40 independent chains of 3 through a 2-thread pool: nothing lost, nothing run twice.
    graph = nx.DiGraph()
    for i in range(40):
        graph.add_edges_from([(i * 10, i * 10 + 1), (i * 10 + 1, i * 10 + 2)])
    with cf.ThreadPoolExecutor(max_workers=2) as small:
        runner = Recorder(small, seconds=0)
        outcome = walk(graph, runner.start)
    assert set(outcome.values()) == {OK} and len(outcome) == 120
    assert sorted(runner.started) == sorted(graph.nodes)


def test_once_stopping_nothing_new_starts_running_nodes_finish_and_the_rest_is_skipped(pool):
    # 0 -> 1 -> 2, and 3 alone; stop is asked while 0 and 3 run
    g = nx.DiGraph([(0, 1), (1, 2)])
    g.add_node(3)
    rec = Recorder(pool, seconds=0.2)
    stop = threading.Event()
    threading.Timer(0.05, stop.set).start()
    reported: dict[int, str] = {}
    outcome = walk(g, rec.start, lambda n, s, f: reported.setdefault(n, s), stopping=stop.is_set)
    assert sorted(rec.started) == [0, 3] and sorted(rec.finished) == [0, 3]
    assert outcome == reported == {0: OK, 3: OK, 1: SKIPPED, 2: SKIPPED}


def test_idle_runs_once_the_ready_nodes_started_and_again_after_the_time_it_asks_for(pool):
    """What the walk does while it waits (writing records) holds up no node a finished one made ready, and a
    long node does not hold it back: asked to, the walk calls it again while the node still runs."""
    graph = nx.DiGraph([(1, 2)])
    runner = Recorder(pool, seconds=0.3)
    seen: list[tuple[int, ...]] = []

    def idle() -> float:
        with runner.lock:
            seen.append(tuple(runner.started))
        return 0.05

    assert walk(graph, runner.start, idle=idle) == {1: OK, 2: OK}
    assert seen[0] == (1,) and (1, 2) in seen  # called with node 2 started, not between 1's end and 2's start
    assert seen.count((1,)) > 2 and seen.count((1, 2)) > 2  # again and again while each one ran
