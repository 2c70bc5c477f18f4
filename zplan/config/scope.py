"""Evaluating expressions: what ``var.x``, ``local.y``, ``step.a.outputs.b`` and
``resource.t.n.attr`` mean at a given moment.

Step outputs evaluate to ``StepOutputRef`` markers (the planner turns them into
graph edges and artifact hashes); resource attributes come from a callback so the
planner can answer with desired values, recorded outputs or ``UNKNOWN``.

Sensitivity follows Terraform's marks, at the grain of one evaluated expression:
an expression whose evaluation read a sensitive variable, a local computed from
one, a resource attribute answered as ``Sensitive`` or the output of a step with
sensitive outputs is sensitive as a whole, whatever templates, function calls,
collections or conditionals it went through (``eval_marked``). Only what the
evaluation actually read counts: the branch a conditional did not take does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from zplan import diags
from zplan.config.expr import Expr, Ref
from zplan.config.values import UNKNOWN
from zplan.config.model import Config
from zplan.secrets import Sensitive

# resource_value(type, name, attribute) -> value or UNKNOWN
ResourceLookup = Callable[[str, str, str], Any]


@dataclass(frozen=True)
class StepOutputRef:
    """A reference to one output of a step, kept symbolic until apply."""

    __zplan_symbolic__ = True

    pipeline: str
    step: str
    output: str

    @property
    def address(self) -> str:
        return f"pipeline.{self.pipeline}.step.{self.step}"

    def __str__(self) -> str:
        return f"step.{self.step}.outputs.{self.output}"


def resolve_step_refs(value: Any, lookup: Callable[[StepOutputRef], Any]) -> Any:
    """``value`` with every step output inside it (at any depth of maps and lists) replaced
    by ``lookup(ref)``: an output block may hold a map of step outputs, not only one."""
    if isinstance(value, StepOutputRef):
        return lookup(value)
    if isinstance(value, dict):
        return {k: resolve_step_refs(v, lookup) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [resolve_step_refs(v, lookup) for v in value]
    return value


class Scope:
    def __init__(
        self,
        config: Config,
        variables: Mapping[str, Any],
        resource_value: ResourceLookup | None = None,
    ) -> None:
        self.config = config
        self.variables = variables
        self.resource_value = resource_value or (lambda t, n, a: UNKNOWN)
        self._locals: dict[str, Any] = {}
        self._evaluating: list[str] = []
        self._read_sensitive = False  # the evaluation under way has read a sensitive value
        self._sensitive_locals: set[str] = set()
        self._marked: set[int] = set()  # ids of expressions whose last evaluation was sensitive
        # step address -> whether its outputs are sensitive (the step planner answers)
        self.step_is_sensitive: Callable[[str], bool] = lambda address: False

    def eval(self, expr: Expr, pipeline: str | None = None) -> Any:
        """Evaluate ``expr``; step references are allowed only when ``pipeline`` is given."""
        return self.eval_marked(expr, pipeline)[0]

    def eval_marked(self, expr: Expr, pipeline: str | None = None) -> tuple[Any, bool]:
        """The value of ``expr`` and whether it was computed from a sensitive value."""
        outer, self._read_sensitive = self._read_sensitive, False
        try:
            value = expr.evaluate(lambda ref: self._resolve(ref, pipeline))
        finally:
            sensitive, self._read_sensitive = self._read_sensitive, outer or self._read_sensitive
        (self._marked.add if sensitive else self._marked.discard)(id(expr))
        return value, sensitive

    def eval_command(self, expr: Expr, pipeline: str, placed: Mapping[str, str]) -> Any:
        """A script step's command, where ``input.NAME`` is the relative path input NAME is placed at."""

        def resolve(ref: Ref) -> Any:
            if ref.parts[0] != "input":
                return self._resolve(ref, pipeline)
            name = str(ref.parts[1]) if len(ref.parts) == 2 else None
            if name not in placed:
                raise diags.fail(f'unknown input "{_dotted(ref.parts)}"', f"this step's inputs: {', '.join(placed) or 'none'}", ref.range)
            return placed[name]

        return expr.evaluate(resolve)

    def params_source(self, ref: Ref) -> str | None:
        """``params.yaml:train.n_est`` when ``ref`` (``var.train.n_est``, ``local.p.train.n_est``) reads
        a value of a params file (``-var-file params.yaml``, ``params_file(...)``), else None."""
        if ref.parts[0] not in ("var", "local") or len(ref.parts) < 3:
            return None
        outer = self._read_sensitive
        try:
            value = self._variable(ref) if ref.parts[0] == "var" else self._local(ref)
        finally:
            self._read_sensitive = outer
        for part in ref.parts[2:-1]:
            if not isinstance(value, dict) or part not in value:
                return None
            value = value[part]
        origin = getattr(value, "params_origin", None)
        return f"{origin[0]}:{origin[1]}{ref.parts[-1]}" if origin and ref.parts[-1] in value else None

    def was_sensitive(self, expr: Expr) -> bool:
        """Whether the last evaluation of ``expr`` by this scope read a sensitive value."""
        return id(expr) in self._marked

    # -- references -------------------------------------------------------------------------
    def _resolve(self, ref: Ref, pipeline: str | None) -> Any:
        root, rest = ref.parts[0], ref.parts[1:]
        if root == "var":
            return _index(self._variable(ref), rest[1:], ref)
        if root == "local":
            return _index(self._local(ref), rest[1:], ref)
        if root == "step":
            return self._step_output(ref, pipeline)
        if root == "resource":
            return self._resource(ref)
        if root == "path" and rest[:1] == ("root",):
            return str(self.config.project_dir)
        raise diags.fail(
            f'unknown reference "{_dotted(ref.parts)}"',
            "references start with var., local., step.NAME.outputs., resource.TYPE.NAME. or path.root",
            ref.range,
        )

    def _variable(self, ref: Ref) -> Any:
        if len(ref.parts) < 2:
            raise diags.fail('"var" must be followed by a variable name', "e.g. var.env", ref.range)
        name = str(ref.parts[1])
        if name not in self.config.variables:
            raise diags.fail(f'reference to undeclared variable "{name}"', f'declare it: variable "{name}" {{ default = ... }}', ref.range)
        if self.config.variables[name].sensitive:
            self._read_sensitive = True
        return self.variables.get(name, UNKNOWN)

    def _local(self, ref: Ref) -> Any:
        if len(ref.parts) < 2:
            raise diags.fail('"local" must be followed by a name', "e.g. local.prefix", ref.range)
        name = str(ref.parts[1])
        if name in self._locals:
            self._read_sensitive |= name in self._sensitive_locals
            return self._locals[name]
        local = self.config.locals.get(name)
        if local is None:
            raise diags.fail(f'reference to undeclared local value "{name}"', "declare it inside a locals { } block", ref.range)
        if name in self._evaluating:
            cycle = " -> ".join(self._evaluating[self._evaluating.index(name):] + [name])
            raise diags.fail(f"local values refer to each other in a cycle: {cycle}", "break the cycle", local.range)
        self._evaluating.append(name)
        try:
            value, sensitive = self.eval_marked(local.expr)
        finally:
            self._evaluating.pop()
        self._locals[name] = value
        if sensitive:
            self._sensitive_locals.add(name)
        return value

    def _step_output(self, ref: Ref, pipeline: str | None) -> StepOutputRef:
        parts = ref.parts
        if pipeline is None:
            raise diags.fail(
                f'"{_dotted(parts)}" cannot be used here',
                "step outputs can be used only in a step's inputs (or in an output block)",
                ref.range,
            )
        if len(parts) != 4 or parts[2] not in ("outputs", "outs"):  # outs["model.pkl"]: a script step's out by path
            raise diags.fail(f'invalid step reference "{_dotted(parts)}"', 'write step.NAME.outputs.OUTPUT (or step.NAME.outs["PATH"])', ref.range)
        name, output = str(parts[1]), str(parts[3])
        if name not in self.config.pipelines[pipeline].steps:
            raise diags.fail(
                f'reference to undeclared step "{name}" in pipeline "{pipeline}"',
                f"declared steps: {', '.join(self.config.pipelines[pipeline].steps)}",
                ref.range,
            )
        found = StepOutputRef(pipeline, name, output)
        if self.step_is_sensitive(found.address):
            self._read_sensitive = True
        return found

    def _resource(self, ref: Ref) -> Any:
        parts = ref.parts
        if len(parts) < 4:
            raise diags.fail(f'invalid resource reference "{_dotted(parts)}"', "write resource.TYPE.NAME.ATTRIBUTE", ref.range)
        type_, name, attr = str(parts[1]), str(parts[2]), str(parts[3])
        if f"resource.{type_}.{name}" not in self.config.resources:
            raise diags.fail(f'reference to undeclared resource "{type_}.{name}"', f'declare it: resource "{type_}" "{name}" {{ ... }}', ref.range)
        value = self.resource_value(type_, name, attr)
        if isinstance(value, Sensitive):
            self._read_sensitive, value = True, value.value
        return _index(value, parts[4:], ref)


def _index(value: Any, parts: tuple, ref: Ref) -> Any:
    for part in parts:
        if value is UNKNOWN:
            return UNKNOWN
        try:
            value = value[part]
        except (KeyError, IndexError, TypeError):
            raise diags.fail(f'"{_dotted(ref.parts)}": no element {part!r}', "check the name or index", ref.range) from None
    return value


def _dotted(parts: tuple) -> str:
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in parts).replace(".[", "[")
