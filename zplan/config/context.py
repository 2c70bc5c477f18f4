"""One evaluation of an expression: what the nodes of ``zplan.config.expr`` share while they compute.

Besides the resolver and its answers, a context carries the sensitivity marks
(Terraform's, at the grain of an operand): the resolver sets ``marks.read`` when
it answers with a sensitive value, and a node that may fail on an operand
evaluates it through ``marked`` to learn whether it came from one, so its error
says "(sensitive value)" instead of quoting it. For-expression variables bound
to values of a sensitive collection are ``hidden``: reading one is reading a
sensitive value.
"""

from __future__ import annotations

from typing import Any, Callable


class Marks:
    """Whether the evaluation under way has read a sensitive value (the resolver sets ``read``),
    and where a value made sensitive by ``sensitive()`` goes: ``keep`` adds it to the project's
    secrets, which are known by value (``zplan.config.scope``); None where there are none."""

    __slots__ = ("read", "keep")

    def __init__(self, keep: Callable[[Any], Any] | None = None) -> None:
        self.read = False
        self.keep = keep


class _Ctx:
    """The resolver, its answers so far (value and mark, by node), for-expression variables, the
    marks, and the set that collects the files functions read (``file()``...), when the caller keeps one."""

    __slots__ = ("resolve", "cache", "locals", "reads", "marks", "hidden", "folder")

    def __init__(self, resolve: Callable, cache: dict, locals_: dict, reads: set | None = None,
                 marks: Marks | None = None, hidden: frozenset = frozenset(), folder: str | None = None) -> None:
        self.resolve = resolve
        self.cache = cache
        self.locals = locals_
        self.reads = reads
        self.marks = marks if marks is not None else Marks()
        self.hidden = hidden
        self.folder = folder  # path.module where the expression is evaluated (None: no module, as in a template)

    def with_locals(self, names: dict, sensitive: bool = False) -> "_Ctx":
        """A context where ``names`` are bound; ``sensitive`` when their values came from a sensitive value."""
        hidden = self.hidden.union(names) if sensitive else self.hidden.difference(names) if self.hidden else self.hidden
        return _Ctx(self.resolve, self.cache, {**self.locals, **names}, self.reads, self.marks, hidden, self.folder)

    def marked(self, node: Any) -> tuple[Any, bool]:
        """The value of the expression ``node`` and whether computing it read a sensitive value."""
        marks = self.marks
        outer, marks.read = marks.read, False
        try:
            return node._eval(self), marks.read
        finally:
            marks.read = outer or marks.read
