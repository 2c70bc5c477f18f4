"""The mistakes one plan finds in the configuration, gathered to be reported together."""

from __future__ import annotations

import re

from zplan import diags
from zplan.graph.dag import Dag


class PlanErrors:
    """The mistakes a plan finds, every one of them (as Terraform lists them all) but none twice:
    a block reading one that failed is not planned, as its own checks would only repeat that error,
    and the instances of a block that share a mistake are one message, counting the others."""

    def __init__(self, graph: Dag) -> None:
        self.graph = graph
        self.failed: set[str] = set()
        self.found: dict[tuple, list] = {}  # (where, what, what to do) -> [the first diagnostic, how many more, its block]

    def upstream_failed(self, addr: str) -> bool:
        if self.failed and any(p in self.failed for p in self.graph.predecessors(addr)):
            self.failed.add(addr)
            return True
        return False

    def add(self, addr: str, exc: diags.DiagnosticError) -> None:
        self.failed.add(addr)
        keys = _INSTANCE_KEY.findall(addr)
        for d in exc.diagnostics:
            seen = self.found.setdefault((str(d.range), _unkeyed(d.summary, keys), _unkeyed(d.detail, keys)), [d, 0, addr])
            # another instance of the block: counted, not repeated (another block: one mistake of them
            # both, a stack's setting say, said once)
            seen[1] += seen[2] != addr and _INSTANCE_KEY.sub("", seen[2]) == _INSTANCE_KEY.sub("", addr)

    def raise_if_any(self) -> None:
        if self.found:
            raise diags.DiagnosticError(_counted(d, more) for d, more, _ in self.found.values())


_INSTANCE_KEY = re.compile(r'\[(?:"(?:[^"\\]|\\.)*"|\d+)\]')  # ["key"] or [0] in an address


def _unkeyed(text: str, keys: list[str]) -> str:
    """``text`` without the instance keys of its block's address: the same mistake of two instances."""
    for key in keys:
        text = text.replace(key, "[]")
    return text


def _counted(d: diags.Diagnostic, more: int) -> diags.Diagnostic:
    if not more:
        return d
    also = f"(and {more} more instance{'s' if more > 1 else ''} of this block)"
    return diags.error(d.summary, f"{d.detail}\n{also}" if d.detail else also, d.range)
