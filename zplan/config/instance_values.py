"""Instances as values: a step, resource or module instance read as an object whose attributes
are computed on use (``Lazy``), the instances of a for_each block (``InstanceMap``), and the
errors met reading them (a missing key, a missing element of ``each.value``, a module input its
variable's validations refuse). Used by ``zplan.config.scope``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from zplan import diags
from zplan.addrs import instance_key
from zplan.config.expr import Ref, element
from zplan.config.values import UNKNOWN, article, find_symbolic, type_name


class Lazy(dict):
    """An instance as a value (a step's outputs, a resource's attributes, a module's outputs):
    every key exists, and is computed on first use. When its keys are known (``names``: a
    module's outputs), ``complete`` computes them all, for a use of the value as a whole."""

    __slots__ = ("_get", "_names", "origin")  # a gather makes two per instance it reads: no __dict__ each
    made = 0  # how many with an origin so far: whether a for_each value may hold one (zplan.config.expand)

    def __init__(self, get: Callable[[str], Any], names: Callable[[], Iterable[str]] | None = None,
                 origin: "InstanceRef | None" = None) -> None:  # (dict.__new__ made it empty)
        self._get = get
        self._names = names
        self.origin = origin  # the resource or module instance it is, when it is one
        if origin is not None:
            Lazy.made += 1

    def __contains__(self, key: object) -> bool:
        return True

    def __missing__(self, key: str) -> Any:
        value = self[key] = self._get(key)
        return value

    # Read as a whole from Python (keys(), length(), jsonencode(), a for expression, merge()), it holds
    # every output: a module instance in module.m's map is read so, and was empty before it was completed.
    def __iter__(self):
        return dict.__iter__(self.complete())

    def __len__(self) -> int:
        return dict.__len__(self.complete())

    def keys(self):
        return dict.keys(self.complete())

    def values(self):
        return dict.values(self.complete())

    def items(self):
        return dict.items(self.complete())

    def complete(self) -> "Lazy":
        """Every key computed: the value as a whole (an output showing a module, jsonencode of it)."""
        if self._names is not None:
            for name in self._names():
                self[name]
            self._names = None
        return self



@dataclass(frozen=True)
class InstanceRef:
    """The each.value of a for_each over resource or module instances (``for_each = resource.t.d``):
    the instance, read anew where each.value is (its attributes as planned, then as applied), not
    as it was when the instances were made, before anything was planned."""

    kind: str  # "resource" | "module"
    address: str


class Rebound:
    """An each.value holding resource or module instances (``{ dir = d }`` for each d of resource.t.d): each
    ``InstanceRef`` in it is read anew where each.value is, as a whole one is."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def resolve(self, instance: Callable[[InstanceRef], Any]) -> Any:
        return _resolved(self.value, instance)


def rebindable(value: Any, inside: bool = False) -> Any:
    """``value`` as an each.value: a resource or module instance becomes its ``InstanceRef``; with ``inside``
    (the for_each read one), one inside it too, and the value a ``Rebound``."""
    if isinstance(value, Lazy) or not inside:
        return value.origin if isinstance(value, Lazy) and value.origin is not None else value
    found = _refs(value)
    return value if found is value else Rebound(found)


_REREAD = frozenset({InstanceRef, Rebound})  # each.values read anew where each.value is (each_value)


def _refs(value: Any) -> Any:
    """``value`` with each instance in it an ``InstanceRef`` (``value`` itself when it holds none)."""
    if isinstance(value, Lazy):
        return value.origin if value.origin is not None else value
    if isinstance(value, dict):
        items = {k: _refs(v) for k, v in value.items()}
        return value if all(items[k] is v for k, v in value.items()) else type(value)(items)
    if isinstance(value, (list, tuple)):
        found = [_refs(v) for v in value]
        return value if all(a is b for a, b in zip(found, value)) else type(value)(found)
    return value


def _resolved(value: Any, instance: Callable[[InstanceRef], Any]) -> Any:
    if isinstance(value, InstanceRef):
        return instance(value)
    if isinstance(value, dict) and not isinstance(value, Lazy):
        return type(value)({k: _resolved(v, instance) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return type(value)(_resolved(v, instance) for v in value)
    return value


def instances_in(value: Any) -> list[InstanceRef]:
    """The resource and module instances an each.value holds (``for_each = resource.t.d``): what a step reading it reads."""
    if type(value) not in _REREAD:
        return []
    found: list[InstanceRef] = []
    _resolved(value.value if type(value) is Rebound else value, found.append)
    return found


class StepOutputs(Lazy):
    """``step.a.outputs`` (or ``outs``) as a value: each output a reference when read. Every key
    reads, so where one output is meant it would pass for an object: its name says which step."""

    __slots__ = ("step", "attr")

    def __init__(self, get: Callable[[str], Any], step: str, attr: str) -> None:
        super().__init__(get)
        self.step, self.attr = step, attr

    def one_of_them(self) -> str:
        """How to name one of them: ``step.a.outputs.NAME``, ``step.a.outs["PATH"]``."""
        return f'step.{self.step}.outs["PATH"]' if self.attr == "outs" else f"step.{self.step}.outputs.NAME"


class StepInstance(Lazy):
    """One instance of a step with count / for_each as a value (``step.train["a"]``): only its outputs
    are read from it (``.outputs.score``); as a whole it lists none, as ``step.a.outputs`` does not."""

    __slots__ = ("step",)

    def __init__(self, get: Callable[[str], Any], step: str) -> None:
        super().__init__(get)
        self.step = step

    def one_of_them(self) -> str:
        return f"step.{self.step}.outputs.NAME"


def whole_step_outputs(value: Any) -> StepOutputs | StepInstance | None:
    """A ``step.a.outputs`` (or a step instance) inside ``value``, where one output is meant: read as a whole, it is ``{}``."""
    if isinstance(value, (StepOutputs, StepInstance)):
        return value
    items = dict.values(value) if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else ()
    return next((found for found in map(whole_step_outputs, items) if found is not None), None)

def complete_objects(value: Any) -> None:
    """Complete every ``Lazy`` with known keys inside ``value`` (C code such as ``json.dumps`` reads a
    dict's own entries, never ``__missing__``): what leaves an evaluation holds every output it shows."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, Lazy):
            item.complete()
        if isinstance(item, dict):
            pending.extend(dict.values(item))
        elif isinstance(item, (list, tuple)):
            pending.extend(item)


class InstanceMap(dict):
    """The instances of a for_each block by key; a splat (``step.train[*]``) takes its values."""

    __zplan_instances__ = True


def no_instance(found, base: str, parts: tuple, at: int, ref: Ref, attributes: Iterable[str] = ()) -> diags.DiagnosticError:
    """``step.a.outputs.x`` on a step with for_each names no instance; ``step.a["zz"]`` a missing one."""
    key = parts[at]
    shown = ", ".join(instance_key(k) for k in found.keys) or "none"
    head = dotted(parts[:at])
    # what follows a name is an attribute, not a key, when it cannot be one: the outputs of a step,
    # any name after a block with count (whose keys are numbers), an output of a module
    attribute = isinstance(key, str) and (key in ("outputs", "outs") if parts[0] == "step" else found.kind == "count" or key in attributes)
    if attribute:
        rest = dotted(parts[at:])
        example = instance_key(found.keys[0]) if found.keys else ("[0]" if found.kind == "count" else '["KEY"]')
        return diags.fail(f'"{dotted(parts)}": {base} is made with {found.kind}, so name one of its instances',
                          f"e.g. {head}{example}.{rest}, or {head}[*].{rest} for all of them; its instances: {shown}", ref.range)
    how = "an index as [0]" if found.kind == "count" else 'a key as ["KEY"]'
    rest = dotted(parts[at + 1 :])
    written = head + instance_key(key) + ("" if not rest or rest.startswith("[") else ".") + rest  # the key in brackets, as written
    return diags.fail(f'"{written}": {base} has no instance {instance_key(key)}',
                      f"it is made with {found.kind}: give {how} or [*] for all of them; its instances: {shown}", ref.range)


def validated_input(var, value: Any, source: str) -> Any:
    """A module input that passed its variable's validations (as a root variable's value must);
    one holding a step output is known only when the step runs, and is not checked."""
    if var.validations and find_symbolic(value) is None:
        from zplan.config.variable_checks import failed_validations  # here: few modules validate their inputs

        problems = failed_validations(var, value, source)
        if problems:
            raise diags.DiagnosticError(problems)
    return value


def each_value(each, ref: Ref, resource: Callable[[str, Ref], Any], module: Callable[[str, Ref], Any]) -> Any:
    """``each.value.a.b``; a missing element names the instance lacking it (the others may have it).
    Its elements are shown: a for_each computed from a secret is refused, so none is sensitive.
    ``resource`` and ``module`` read an instance the for_each went over (by address), as the caller sees it."""
    value = each.value
    if type(value) in _REREAD:  # (one look for the usual value, which holds no instance)
        instance = lambda i: resource(i.address, ref) if i.kind == "resource" else module(i.address, ref)  # noqa: E731
        value = instance(value) if type(value) is InstanceRef else value.resolve(instance)
    for part in ref.parts[2:]:
        if value is UNKNOWN:
            return UNKNOWN
        try:
            value = element(value, part)
        except LookupError:
            has = f"its elements: {', '.join(map(str, value))}" if isinstance(value, dict) else f"it is {article(type_name(value))} here"
            raise diags.fail(f'"{dotted(ref.parts)}": the each.value of instance {instance_key(each.key)} has no element {_show(part)}',
                             f"{has}; give every value of the for_each this element, or read it with lookup()/try()", ref.range) from None
    return value


def _show(part: str | int) -> str:
    return f'"{part}"' if isinstance(part, str) else f"[{part}]"


def dotted(parts: tuple) -> str:
    return ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in parts).replace(".[", "[")


def index_value(value: Any, parts: tuple, ref: Ref) -> Any:
    """``value[parts[0]][parts[1]]...``, as ``ref`` reads it (an error naming ``ref`` for a missing element)."""
    for part in parts:
        if value is UNKNOWN:
            return UNKNOWN
        try:
            value = element(value, part)
        except LookupError:
            raise diags.fail(f'"{dotted(ref.parts)}": no element {part!r}', _no_element_hint(value), ref.range) from None
    return value


def _no_element_hint(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return "check the name or index"
    return f"{article(type_name(value))} has no elements"

