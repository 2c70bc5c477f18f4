"""A small directed graph with exactly what planning needs.

networkx is the field's graph library, but importing it costs a few hundred
milliseconds, which the no-change ``plan`` cannot afford. This class keeps the
same method names (``add_edge``, ``predecessors``, ``successors``, ``nodes``)
and converts to a ``networkx.DiGraph`` on demand (``to_networkx``) for
analysis or drawing.
"""

from __future__ import annotations

import heapq
from typing import Any, Hashable, Iterable, Iterator


class Dag:
    def __init__(self) -> None:
        self.nodes: dict[Hashable, dict[str, Any]] = {}
        self._succ: dict[Hashable, dict[Hashable, None]] = {}  # dicts keep insertion order
        self._pred: dict[Hashable, dict[Hashable, None]] = {}
        self._order: list[Hashable] | None = None  # topological_order's, until the graph changes

    def add_node(self, node: Hashable, **attrs: Any) -> None:
        if node not in self.nodes:
            self._order = None
            self.nodes[node] = {}
            self._succ[node] = {}
            self._pred[node] = {}
        self.nodes[node].update(attrs)

    def add_edge(self, u: Hashable, v: Hashable) -> None:
        if u not in self.nodes:
            self.add_node(u)
        if v not in self.nodes:
            self.add_node(v)
        self._order = None
        self._succ[u][v] = None
        self._pred[v][u] = None

    def predecessors(self, node: Hashable) -> Iterator[Hashable]:
        return iter(self._pred[node])

    def successors(self, node: Hashable) -> Iterator[Hashable]:
        return iter(self._succ[node])

    def __contains__(self, node: Hashable) -> bool:
        return node in self.nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def topological_order(self) -> list[Hashable]:
        """Dependencies first; ties broken by sorted order, so the result is stable. Worked out
        once until the graph changes: building it checks there is no cycle, the plan then walks it."""
        if self._order is None:
            self._order = self._topological_order()
        return list(self._order)

    def _topological_order(self) -> list[Hashable]:
        indegree = {n: len(p) for n, p in self._pred.items()}
        ready = [n for n, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            node = heapq.heappop(ready)
            order.append(node)
            for child in self._succ[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, child)
        if len(order) != len(self.nodes):
            raise ValueError("graph has a cycle")
        return order

    def find_cycle(self) -> list[Hashable] | None:
        """The nodes of one cycle, in order, or None for an acyclic graph."""
        WHITE, GREY, BLACK = 0, 1, 2
        colour = dict.fromkeys(self.nodes, WHITE)
        for root in sorted(self.nodes, key=str):
            if colour[root] != WHITE:
                continue
            stack = [(root, iter(self._succ[root]))]
            path = [root]
            colour[root] = GREY
            while stack:
                node, children = stack[-1]
                for child in children:
                    if colour[child] == GREY:
                        return path[path.index(child):]
                    if colour[child] == WHITE:
                        colour[child] = GREY
                        path.append(child)
                        stack.append((child, iter(self._succ[child])))
                        break
                else:
                    colour[node] = BLACK
                    path.pop()
                    stack.pop()
        return None

    def ancestors(self, node: Hashable) -> set[Hashable]:
        return self._reach(node, self._pred)

    def descendants(self, node: Hashable) -> set[Hashable]:
        return self._reach(node, self._succ)

    def _reach(self, node: Hashable, edges: dict) -> set[Hashable]:
        seen: set[Hashable] = set()
        todo = list(edges[node])
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(edges[n])
        return seen

    def edges(self) -> Iterable[tuple[Hashable, Hashable]]:
        return ((u, v) for u, vs in self._succ.items() for v in vs)

    def to_networkx(self):
        import networkx as nx

        g = nx.DiGraph()
        for n, attrs in self.nodes.items():
            g.add_node(n, **attrs)
        g.add_edges_from(self.edges())
        return g
